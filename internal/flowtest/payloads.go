// Package flowtest wires the whole product in-process for tests: the real HTTP handlers, the
// SQLite store and queue (or any order.Store), the in-process worker, the real warehouse and
// Shopify clients talking to the warehouse and Shopify SIMULATORS over loopback. It also builds
// signed Shopify webhook deliveries from the real payloads in testdata/.
package flowtest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/shipwell/orderflow/internal/sourcetree"
)

// RepoRoot returns the repository root (the directory holding go.mod).
func RepoRoot(t testing.TB) string {
	t.Helper()
	root, err := sourcetree.Root()
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// Fixture returns a webhook payload from testdata/shopify/webhooks, byte for byte.
func Fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(RepoRoot(t), "testdata", "shopify", "webhooks", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Edit decodes a payload (numbers kept exact), applies edits and encodes it again. Tests use
// it to build realistic states from Shopify's samples; the edited bytes are what gets signed.
func Edit(t testing.TB, body []byte, edits ...func(m map[string]any)) []byte {
	t.Helper()
	d := json.NewDecoder(bytes.NewReader(body))
	d.UseNumber()
	var m map[string]any
	if err := d.Decode(&m); err != nil {
		t.Fatal(err)
	}
	for _, e := range edits {
		e(m)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(m); err != nil {
		t.Fatal(err)
	}
	return bytes.TrimSpace(buf.Bytes())
}

// Common edits.

// Paid makes the order paid and not cancelled.
func Paid(m map[string]any) {
	m["financial_status"] = "paid"
	m["cancelled_at"] = nil
	m["cancel_reason"] = nil
	m["fulfillment_status"] = nil
}

// OrderID sets the order id (a JSON number with exactly these digits).
func OrderID(id string) func(map[string]any) {
	return func(m map[string]any) { m["id"] = json.Number(id) }
}

// UpdatedAt sets updated_at.
func UpdatedAt(ts string) func(map[string]any) {
	return func(m map[string]any) { m["updated_at"] = ts }
}

// ShipTo sets the shipping address's country and province codes.
func ShipTo(country, province string) func(map[string]any) {
	return func(m map[string]any) {
		a, _ := m["shipping_address"].(map[string]any)
		if a == nil {
			a = map[string]any{"name": "Test Buyer", "address1": "1 Example Street", "city": "Testville", "zip": "10115"}
		}
		a["country_code"], a["province_code"] = country, province
		m["shipping_address"] = a
	}
}

// Set sets a top-level field.
func Set(key string, v any) func(map[string]any) { return func(m map[string]any) { m[key] = v } }

// Cancelled marks the order cancelled at ts.
func Cancelled(ts string) func(map[string]any) {
	return func(m map[string]any) {
		m["cancelled_at"], m["updated_at"], m["cancel_reason"] = ts, ts, "customer"
	}
}

// Lines replaces the line items with SKU/quantity pairs (ids derived from base).
func Lines(base int64, skuQty ...any) func(map[string]any) {
	return func(m map[string]any) {
		var items []any
		for i := 0; i+1 < len(skuQty); i += 2 {
			items = append(items, map[string]any{
				"id": json.Number(fmt.Sprint(base + int64(i/2))), "sku": skuQty[i], "name": fmt.Sprint(skuQty[i]),
				"title": fmt.Sprint(skuQty[i]), "quantity": skuQty[i+1], "fulfillable_quantity": skuQty[i+1],
				"requires_shipping": true, "gift_card": false, "price": "10.00", "variant_id": nil,
			})
		}
		m["line_items"] = items
	}
}
