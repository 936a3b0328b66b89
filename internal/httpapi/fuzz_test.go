package httpapi_test

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/shipwell/orderflow/internal/httpapi"
	"github.com/shipwell/orderflow/internal/orderflow"
)

// FuzzDecodeCallback feeds arbitrary bodies to the warehouse callback decoder (DESIGN.md §5.3).
// No body may make it panic; a body it accepts has only positive, bounded item quantities; and
// what it accepts is stable: the decoded callback, written back as a §5.3 body with string ids,
// decodes to the same callback.
//
// The seed corpus (below and in testdata/fuzz/FuzzDecodeCallback) runs with every `go test`;
// explore with `go test -run '^$' -fuzz FuzzDecodeCallback ./internal/httpapi/`.
func FuzzDecodeCallback(f *testing.F) {
	for _, s := range []string{
		`{"externalOrderId":"820982911946154508","trackingNumber":"1Z999AA10123456784","carrier":"UPS",` +
			`"trackingUrl":"https://www.ups.com/track?tracknum=1Z999AA10123456784","fulfillmentId":"WH-E-1","shipmentId":"S-1",` +
			`"items":[{"sku":"IPOD2008PINK","quantity":1}]}`,
		`{"externalOrderId":820982911946154508,"trackingNumber":"1Z1","fulfillmentId":12345678901234567890}`,
		`{"externalOrderId":"1","items":[]}`,
		`{"externalOrderId":"1","items":null}`,
		`{"externalOrderId":"1","items":[{"sku":"A","quantity":"2"}]}`,
		`{"externalOrderId":"1","items":[{"sku":"A","quantity":0},{"sku":"B","quantity":-1},{"sku":"C","quantity":1.5},{"sku":"D","quantity":1e3}]}`,
		`{"externalOrderId":"1","items":[{"sku":"A","quantity":1000001}]}`,
		`{"externalOrderId":"1","items":[{"sku":7,"quantity":1}]}`,
		`{"externalOrderId":{"id":"1"}}`,
		`{"externalOrderId":true}`,
		`{"externalOrderId":["1"]}`,
		`{"externalOrderId":"1","items":{"sku":"A"}}`,
		`{"externalOrderId":"\u00e9\ud800","carrier":"\u0000"}`,
		"{\"externalOrderId\":\"\xff\xfe\"}",
		`{"externalOrderId":"1"} trailing`,
		`{"externalOrderId":"1","externalOrderId":"2"}`,
		`[]`, `null`, `"x"`, `0`, ``, `{`, `{"items":[{"quantity":9223372036854775808}]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		cb, err := httpapi.DecodeCallback(body)
		if err != nil {
			return
		}
		for i, it := range cb.Items {
			if it.Quantity <= 0 || it.Quantity > 1_000_000 {
				t.Fatalf("accepted items[%d].quantity %d", i, it.Quantity)
			}
		}
		again, err := httpapi.DecodeCallback(encode(t, cb))
		if err != nil {
			t.Fatalf("re-encoded callback %+v refused: %v", cb, err)
		}
		if !reflect.DeepEqual(cb, again) {
			t.Fatalf("not stable:\nfirst  %+v\nsecond %+v", cb, again)
		}
	})
}

// encode writes cb back as a §5.3 body with string ids.
func encode(t *testing.T, cb orderflow.Callback) []byte {
	type item struct {
		SKU      string `json:"sku"`
		Quantity int    `json:"quantity"`
	}
	body := struct {
		ExternalOrderID string  `json:"externalOrderId"`
		TrackingNumber  string  `json:"trackingNumber"`
		Carrier         string  `json:"carrier"`
		TrackingURL     string  `json:"trackingUrl"`
		FulfillmentID   string  `json:"fulfillmentId"`
		ShipmentID      string  `json:"shipmentId"`
		Items           *[]item `json:"items,omitempty"`
	}{cb.ExternalOrderID, cb.TrackingNumber, cb.Carrier, cb.TrackingURL, cb.FulfillmentID, cb.ShipmentID, nil}
	if cb.Items != nil {
		items := make([]item, 0, len(cb.Items))
		for _, it := range cb.Items {
			items = append(items, item{it.SKU, it.Quantity})
		}
		body.Items = &items
	}
	b, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
