package warehousesim

import "testing"

// FuzzValidate checks that no fulfillment body makes the simulator's validation panic, and that
// an accepted body has a decimal order id and positive quantities.
func FuzzValidate(f *testing.F) {
	f.Add([]byte(validBody))
	for _, s := range []string{`{}`, `[]`, `{"externalOrderId":1}`, `{"externalOrderId":"1","items":[{"sku":"A","quantity":1}],"shippingAddress":{"country":"US"}}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		oid, _, items, reason := validate(body)
		if reason != "" {
			return
		}
		if !allDigits(oid) || len(items) == 0 {
			t.Fatalf("accepted order id %q with %d items", oid, len(items))
		}
		for _, it := range items {
			if it.SKU == "" || it.Quantity <= 0 {
				t.Fatalf("accepted item %+v", it)
			}
		}
	})
}
