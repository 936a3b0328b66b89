package warehouse

import (
	"strconv"
	"testing"
)

// FuzzDecodeInventoryPage checks that no feed page makes the decoder panic, and that what it
// accepts is a non-negative quantity for a non-empty SKU.
func FuzzDecodeInventoryPage(f *testing.F) {
	for _, s := range []string{
		`{"items":[{"sku":"A-1","quantity":5}],"nextCursor":""}`,
		`[{"sku":"A","quantity":"7"}]`,
		`{"items":[{"sku":"A","quantity":1e2}],"nextCursor":3}`,
		`{"items":[{"sku":"A","quantity":-0.0}]}`,
		`{"items":null,"nextCursor":null}`,
		`[`, `{}`, ``, `"x"`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		items, _, err := decodeInventoryPage(body)
		if err != nil {
			return
		}
		for _, it := range items {
			if it.SKU == "" || it.Quantity < 0 {
				t.Fatalf("accepted %+v", it)
			}
		}
	})
}

// FuzzParseCount checks parseCount against strconv for plain integers and never panics.
func FuzzParseCount(f *testing.F) {
	for _, s := range []string{"0", "5", "5.0", "5e2", "-1", "1e999999999", "0.5", "2147483648"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := parseCount(s)
		if err != nil {
			return
		}
		if n < -maxCount || n > maxCount {
			t.Fatalf("parseCount(%q) = %d", s, n)
		}
		if v, perr := strconv.ParseInt(s, 10, 64); perr == nil && int(v) != n {
			t.Fatalf("parseCount(%q) = %d, strconv says %d", s, n, v)
		}
	})
}

// FuzzFulfillmentID checks that no answer body makes fulfillmentId extraction panic.
func FuzzFulfillmentID(f *testing.F) {
	for _, s := range []string{`{"fulfillmentId":"A"}`, `{"fulfillmentId":18446744073709551615}`, `{"fulfillmentId":{}}`, `[]`, ``} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		id, ok := fulfillmentID(body)
		if ok && id == "" {
			t.Fatalf("ok with an empty id for %q", body)
		}
	})
}
