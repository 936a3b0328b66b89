package webhook

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shopspring/decimal"

	"github.com/shipwell/orderflow/internal/order"
)

func fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "testdata", "shopify", "webhooks", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestDecodeOfficialSampleKeepsBigIDsExact(t *testing.T) {
	s, err := DecodeOrder(fixture(t, "orders_create.json"))
	if err != nil {
		t.Fatal(err)
	}
	if s.OrderID != "820982911946154508" || s.Name != "#9999" || s.OrderNumber != 1234 {
		t.Fatalf("ids: %q %q %d", s.OrderID, s.Name, s.OrderNumber)
	}
	if s.TotalPrice != "404.95" || s.Currency != "USD" || s.FinancialStatus != "voided" {
		t.Fatalf("money/status: %q %q %q", s.TotalPrice, s.Currency, s.FinancialStatus)
	}
	if s.CancelledAt == nil || s.UpdatedAt.IsZero() {
		t.Fatalf("times: cancelled %v updated %v", s.CancelledAt, s.UpdatedAt)
	}
	wantLines := map[string]string{"487817672276298554": "SKU2006-001", "976318377106520349": "SKU2006-020",
		"789012345678901234": "LENS-PROTECT-2YR"}
	got := map[string]string{}
	for _, l := range s.Lines {
		got[l.LineItemID] = l.SKU
		if l.VariantID != "" {
			t.Fatalf("variant_id null decoded as %q", l.VariantID)
		}
	}
	for id, sku := range wantLines {
		if got[id] != sku {
			t.Fatalf("line %s sku = %q, want %q (all: %v)", id, got[id], sku, got)
		}
	}
	a := s.ShippingAddress
	if a == nil || a.CountryCode != "US" || a.ProvinceCode != "KY" || a.Name != "Steve Shipper" || a.Address2 != "" {
		t.Fatalf("address %+v", a)
	}
}

func TestDecodeRealWorldOrders(t *testing.T) {
	tests := []struct {
		file      string
		id        string
		financial string
		address   bool
		lines     int
		cancelled bool
	}{
		{"realworld_2025-01_orders_create_hkd.json", "6198424240428", "paid", false, 4, false},
		{"realworld_2025-01_orders_create_draft_order_no_shipping_address.json", "6200407294252", "paid", false, 2, false},
		{"realworld_2025-01_orders_cancelled_hkd.json", "6198821716268", "refunded", true, 1, true},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			s, err := DecodeOrder(fixture(t, tc.file))
			if err != nil {
				t.Fatal(err)
			}
			if s.OrderID != tc.id || s.FinancialStatus != tc.financial || (s.ShippingAddress != nil) != tc.address ||
				len(s.Lines) != tc.lines || (s.CancelledAt != nil) != tc.cancelled {
				t.Fatalf("got id %s fin %s addr %v lines %d cancelled %v", s.OrderID, s.FinancialStatus,
					s.ShippingAddress != nil, len(s.Lines), s.CancelledAt != nil)
			}
			for _, l := range s.Lines {
				if l.SKU != "" {
					t.Fatalf("sku %q, want empty", l.SKU)
				}
			}
		})
	}
}

func TestDecodeMessyShapes(t *testing.T) {
	tests := []struct {
		name  string
		body  string
		check func(t *testing.T, s orderView)
	}{
		{"string ids and numeric money", `{"id":"18446744073709551615","total_price":404.95,"line_items":[{"id":"5","quantity":"2","sku":null,"price":12,"requires_shipping":true}]}`,
			func(t *testing.T, s orderView) {
				if s.id != "18446744073709551615" || s.total != "404.95" || s.lineQty != 2 || s.linePrice != "12" || s.lineSKU != "" {
					t.Fatalf("%+v", s)
				}
			}},
		{"empty money and null customer", `{"id":1,"total_price":"","customer":null,"line_items":[{"id":2,"quantity":1,"price":"","variant_id":null}]}`,
			func(t *testing.T, s orderView) {
				if s.total != "" || s.linePrice != "" {
					t.Fatalf("%+v", s)
				}
			}},
		{"garbage price does not fail the order", `{"id":1,"total_price":"12,50","line_items":[{"id":2,"quantity":1,"price":"n/a"}]}`,
			func(t *testing.T, s orderView) {
				if s.total != "" || s.linePrice != "" {
					t.Fatalf("%+v", s)
				}
			}},
		{"missing fulfillable_quantity falls back to quantity", `{"id":1,"line_items":[{"id":2,"quantity":3}]}`,
			func(t *testing.T, s orderView) {
				if s.lineFulfillable != 3 || !s.lineShipping {
					t.Fatalf("%+v", s)
				}
			}},
		{"no line items", `{"id":1,"line_items":[]}`, func(t *testing.T, s orderView) {
			if s.lines != 0 {
				t.Fatalf("%+v", s)
			}
		}},
		{"shipping address from first and last name", `{"id":1,"shipping_address":{"first_name":"Ana","last_name":"Test","country_code":"de","province_code":null}}`,
			func(t *testing.T, s orderView) {
				if s.addrName != "Ana Test" || s.country != "DE" {
					t.Fatalf("%+v", s)
				}
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := DecodeOrder([]byte(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, view(s))
		})
	}
}

func TestDecodeUnusable(t *testing.T) {
	tests := []struct {
		name string
		body string
		want error
	}{
		{"not json", "hello", ErrNotJSON},
		{"empty", "", ErrNotJSON},
		{"array", "[1]", ErrNotJSON},
		{"truncated", `{"id":1,`, ErrNotJSON},
		{"trailing data", `{"id":1} {"id":2}`, ErrNotJSON},
		{"no id", `{"name":"#1"}`, ErrNoOrderID},
		{"zero id", `{"id":0}`, ErrNoOrderID},
		{"leading zero", `{"id":"0820982911946154508"}`, ErrNoOrderID},
		{"negative id", `{"id":-5}`, ErrNoOrderID},
		{"float id", `{"id":8.2e17}`, ErrNoOrderID},
		{"name instead of id", `{"id":"#1001"}`, ErrNoOrderID},
		{"object id", `{"id":{"a":1}}`, ErrNotJSON},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := DecodeOrder([]byte(tc.body))
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestDecodeInventory(t *testing.T) {
	inv, err := DecodeInventory(fixture(t, "realworld_2020_inventory_levels_update_available_null.json"))
	if err != nil {
		t.Fatal(err)
	}
	if inv.InventoryItemID != "271878346596884015" || inv.Available != nil {
		t.Fatalf("%+v", inv)
	}
	inv, err = DecodeInventory(fixture(t, "inventory_levels_update.json"))
	if err != nil || inv.Available == nil {
		t.Fatalf("%+v %v", inv, err)
	}
}

type orderView struct {
	id, total, linePrice, lineSKU, addrName, country string
	lines, lineQty, lineFulfillable                  int
	lineShipping                                     bool
}

func view(o *order.Snapshot) orderView {
	v := orderView{id: o.OrderID, total: o.TotalPrice, lines: len(o.Lines)}
	if len(o.Lines) > 0 {
		l := o.Lines[0]
		v.linePrice, v.lineSKU, v.lineQty, v.lineFulfillable, v.lineShipping = l.Price, l.SKU, l.Quantity, l.FulfillableQuantity, l.RequiresShipping
	}
	if o.ShippingAddress != nil {
		v.addrName, v.country = o.ShippingAddress.Name, o.ShippingAddress.CountryCode
	}
	return v
}

// TestMoneyIsExact is failure mode C15: per-line net values from Shopify's own allocations add
// up to Shopify's total to the cent; float rounding would make 3.03.
func TestMoneyIsExact(t *testing.T) {
	body := `{"id":1,"currency":"EUR","total_discounts":"10.00","total_price":"3.05",
	 "line_items":[{"id":1,"quantity":1,"price":"4.35","discount_allocations":[{"amount":"3.34"}]},
	               {"id":2,"quantity":1,"price":"4.35","discount_allocations":[{"amount":"3.33"}]},
	               {"id":3,"quantity":1,"price":4.35,"discount_allocations":[{"amount":3.33}]}],
	 "shipping_lines":[]}`
	s, err := DecodeOrder([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	sum := decimal.Zero
	var nets []string
	for _, l := range s.Lines {
		nets = append(nets, l.NetAmount)
		sum = sum.Add(decimal.RequireFromString(l.NetAmount))
	}
	if strings.Join(nets, ",") != "1.01,1.02,1.02" || !sum.Equal(decimal.RequireFromString(s.TotalPrice)) {
		t.Fatalf("nets %v sum %s total %s", nets, sum, s.TotalPrice)
	}
	q, err := DecodeOrder([]byte(`{"id":1,"total_price":"x","line_items":[{"id":1,"quantity":2,"price":"n/a"}]}`))
	if err != nil || len(q.Warnings) != 2 || q.Lines[0].NetAmount != "" {
		t.Fatalf("warnings %v net %q err %v", q.Warnings, q.Lines[0].NetAmount, err)
	}
}

func TestDecodeToleratesBOM(t *testing.T) {
	s, err := DecodeOrder(append([]byte("\xef\xbb\xbf"), fixture(t, "orders_create.json")...))
	if err != nil || s.OrderID != "820982911946154508" {
		t.Fatalf("%v %v", s, err)
	}
}
