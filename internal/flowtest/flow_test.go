package flowtest_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/shipwell/orderflow/internal/flowtest"
	"github.com/shipwell/orderflow/internal/order"
	"github.com/shipwell/orderflow/internal/warehousesim"
	"github.com/shipwell/orderflow/internal/webhook"
)

// TestWholeFlow takes real Shopify payloads through intake, routing, dispatch, the warehouse
// callback and the Shopify fulfillment.
func TestWholeFlow(t *testing.T) {
	h := flowtest.New(t, flowtest.Options{})
	official := flowtest.Fixture(t, "orders_create.json")

	// The official sample as Shopify serves it is cancelled (cancelled_at set): never shipped.
	r := h.Send(flowtest.Delivery{Topic: "orders/create", Body: official})
	if r.Status != 200 || r.Body["orderStatus"] != "cancelled" {
		t.Fatalf("official sample: %d %s", r.Status, r.Raw)
	}

	cases := []struct {
		name, id, warehouse string
		edits               []func(map[string]any)
	}{
		{"official sample, paid (ids above 2^53)", "820982911946154508", flowtest.East, nil},
		{"US east", "5123456789013", flowtest.East, []func(map[string]any){flowtest.OrderID("5123456789013"), flowtest.ShipTo("US", "NY")}},
		{"US west", "5123456789014", flowtest.West, []func(map[string]any){flowtest.OrderID("5123456789014"), flowtest.ShipTo("US", "CA")}},
		{"international", "5123456789015", flowtest.Intl, []func(map[string]any){flowtest.OrderID("5123456789015"), flowtest.ShipTo("DE", "")}},
	}
	for _, c := range cases {
		// A second shop order for the official sample's id would collide: the cancelled one
		// above is the same order, so the paid variant uses its own id.
		if c.id == "820982911946154508" {
			c.id = "820982911946154599"
			c.edits = []func(map[string]any){flowtest.OrderID(c.id)}
		}
		body := flowtest.Edit(t, official, append([]func(map[string]any){flowtest.Paid, flowtest.UpdatedAt("2026-12-03T10:00:00-05:00")}, c.edits...)...)
		h.SeedShopify(body, c.warehouse)
		r := h.Send(flowtest.Delivery{Topic: "orders/create", Body: body})
		if r.Status != 200 || r.Body["status"] != "recorded" || r.Body["orderStatus"] != "queued" {
			t.Fatalf("%s: %d %s", c.name, r.Status, r.Raw)
		}
		o := h.WaitStatus(c.id, order.StatusFulfilled)
		if o.Route != c.warehouse || len(o.Shipments) != 1 || o.Shipments[0].ShopifyFulfillmentID == "" {
			t.Fatalf("%s: route %s shipments %+v", c.name, o.Route, o.Shipments)
		}
		wh := h.Warehouses[c.warehouse]
		f, ok := findByOrder(wh, c.id)
		if !ok {
			t.Fatalf("%s: warehouse %s has no order %s", c.name, c.warehouse, c.id)
		}
		if f.IdempotencyKey != order.IdempotencyKey(order.RecordID(flowtest.Shop, c.id), c.warehouse) {
			t.Fatalf("%s: idempotency key %q", c.name, f.IdempotencyKey)
		}
		// The warehouse received every id as an exact decimal string.
		var sent struct {
			ExternalOrderID string `json:"externalOrderId"`
			Items           []struct {
				SKU        string `json:"sku"`
				LineItemID string `json:"lineItemId"`
			} `json:"items"`
		}
		if err := json.Unmarshal(f.Body, &sent); err != nil || sent.ExternalOrderID != c.id {
			t.Fatalf("%s: warehouse body %s", c.name, f.Body)
		}
		if !strings.Contains(string(f.Body), `"lineItemId":"976318377106520349"`) {
			t.Fatalf("%s: big line item id not exact in %s", c.name, f.Body)
		}
		// Money travels as exact decimal strings in one currency.
		for _, m := range []string{`"totalPrice":"404.95"`, `"currency":"USD"`, `"price":"89.99"`, `"netAmount":"89.99"`} {
			if !strings.Contains(string(f.Body), m) {
				t.Fatalf("%s: %s missing in %s", c.name, m, f.Body)
			}
		}
		fs := h.Shopify.Fulfillments(c.id)
		if len(fs) != 1 || fs[0].TrackingNumber != warehousesim.TrackingNumber(c.warehouse, c.id) {
			t.Fatalf("%s: Shopify fulfillments %+v", c.name, fs)
		}
	}

	// Nothing was sent for the cancelled original.
	if _, ok := findByOrder(h.Warehouses[flowtest.East], "820982911946154508"); ok {
		t.Fatal("the cancelled official sample reached a warehouse")
	}

	// The real draft order without a shipping address is held, with the reason.
	draft := flowtest.Fixture(t, "realworld_2025-01_orders_create_draft_order_no_shipping_address.json")
	r = h.Send(flowtest.Delivery{Topic: "orders/create", Body: draft})
	if r.Status != 200 || r.Body["orderStatus"] != "held" || !strings.Contains(r.Raw, "no shipping address") {
		t.Fatalf("draft order: %d %s", r.Status, r.Raw)
	}
}

func findByOrder(w *warehousesim.Warehouse, orderID string) (warehousesim.Fulfillment, bool) {
	for _, f := range w.Orders() {
		if f.ExternalOrderID == orderID {
			return f, true
		}
	}
	return warehousesim.Fulfillment{}, false
}

func TestBadInput(t *testing.T) {
	h := flowtest.New(t, flowtest.Options{MaxAttempts: 3})
	ctx := context.Background()
	body := flowtest.Edit(t, flowtest.Fixture(t, "orders_create.json"), flowtest.Paid, flowtest.OrderID("7000000000001"))

	t.Run("wrong or missing signature is 401 and records nothing", func(t *testing.T) {
		for _, sig := range []string{"-", "abc", "%%%not-base64%%%", strings.Repeat("A", 44), signOther(body)} {
			r := h.Send(flowtest.Delivery{Topic: "orders/create", Body: body, Signature: sig})
			if r.Status != 401 {
				t.Fatalf("signature %q: %d %s", sig, r.Status, r.Raw)
			}
		}
		if _, err := h.Store.Get(ctx, order.RecordID(flowtest.Shop, "7000000000001")); err == nil {
			t.Fatal("a rejected delivery was recorded")
		}
	})

	t.Run("valid signature, unusable payload is quarantined with 200", func(t *testing.T) {
		for _, b := range []string{"not json at all", `{"name":"#1001"}`, `[]`} {
			r := h.Send(flowtest.Delivery{Topic: "orders/create", Body: []byte(b)})
			if r.Status != 200 || r.Body["status"] != "quarantined" {
				t.Fatalf("%q: %d %s", b, r.Status, r.Raw)
			}
		}
		q, err := h.Store.ListReceipts(ctx, order.ReceiptQuarantine, 10)
		if err != nil || len(q) != 3 {
			t.Fatalf("quarantine: %d %v", len(q), err)
		}
	})

	t.Run("another shop is refused", func(t *testing.T) {
		r := h.Send(flowtest.Delivery{Topic: "orders/create", Body: body, Shop: "evil.myshopify.com"})
		if r.Status != 403 {
			t.Fatalf("%d %s", r.Status, r.Raw)
		}
	})

	t.Run("an order with no line items needs nothing", func(t *testing.T) {
		b := flowtest.Edit(t, body, flowtest.OrderID("7000000000002"), flowtest.Set("line_items", []any{}))
		r := h.Send(flowtest.Delivery{Topic: "orders/create", Body: b})
		if r.Status != 200 || r.Body["orderStatus"] != "nothing-to-ship" {
			t.Fatalf("%d %s", r.Status, r.Raw)
		}
	})

	t.Run("oversized body is 413", func(t *testing.T) {
		big := make([]byte, 11<<20)
		r := h.Send(flowtest.Delivery{Topic: "orders/create", Body: big})
		if r.Status != 413 {
			t.Fatalf("%d", r.Status)
		}
	})

	t.Run("callbacks: no key, unknown order, wrong warehouse, bad body", func(t *testing.T) {
		b := flowtest.Edit(t, body, flowtest.OrderID("7000000000003"))
		h.SeedShopify(b, flowtest.East)
		east := h.Warehouses[flowtest.East]
		saved := east.CallbackSettings()
		off := saved
		off.Disabled = true
		east.SetCallback(off)
		defer east.SetCallback(saved)
		if r := h.Send(flowtest.Delivery{Topic: "orders/create", Body: b}); r.Status != 200 {
			t.Fatal(r.Raw)
		}
		h.WaitStatus("7000000000003", order.StatusDispatched)
		ok := map[string]any{"externalOrderId": "7000000000003", "trackingNumber": "1Z1", "carrier": "UPS"}
		for _, tc := range []struct {
			key    string
			body   any
			status int
		}{
			{"", ok, 401},
			{"not-a-key", ok, 401},
			{flowtest.Key(flowtest.West), ok, 403},
			{flowtest.Key(flowtest.East), map[string]any{"externalOrderId": "7999999999999", "trackingNumber": "1Z1"}, 404},
			{flowtest.Key(flowtest.East), map[string]any{"externalOrderId": "#1001", "trackingNumber": "1Z1"}, 400},
			{flowtest.Key(flowtest.East), map[string]any{"externalOrderId": "7000000000003"}, 400},
			{flowtest.Key(flowtest.East), map[string]any{"externalOrderId": "7000000000003", "trackingNumber": "1Z1", "items": []any{map[string]any{"sku": "A", "quantity": -1}}}, 400},
			{flowtest.Key(flowtest.East), "just a string", 400},
			{flowtest.Key(flowtest.East), ok, 200},
			{flowtest.Key(flowtest.East), ok, 200}, // the same shipment again
		} {
			if r := h.Callback(tc.key, tc.body); r.Status != tc.status {
				t.Fatalf("callback %v with key %q: %d %s", tc.body, tc.key, r.Status, r.Raw)
			}
		}
		o := h.WaitStatus("7000000000003", order.StatusFulfilled)
		if len(o.Shipments) != 1 || len(h.Shopify.Fulfillments("7000000000003")) != 1 {
			t.Fatalf("shipments %d, Shopify fulfillments %d", len(o.Shipments), len(h.Shopify.Fulfillments("7000000000003")))
		}
	})

	t.Run("warehouse answering 500 is retried, then dead-lettered with the reason", func(t *testing.T) {
		west := h.Warehouses[flowtest.West]
		if err := west.InjectFault(warehousesim.Fault{Endpoint: "fulfillments", Status: 500, Count: 100}); err != nil {
			t.Fatal(err)
		}
		defer west.ClearFaults()
		b := flowtest.Edit(t, body, flowtest.OrderID("7000000000004"), flowtest.ShipTo("US", "CA"))
		if r := h.Send(flowtest.Delivery{Topic: "orders/create", Body: b}); r.Status != 200 {
			t.Fatal(r.Raw)
		}
		o := h.WaitStatus("7000000000004", order.StatusDeadLettered)
		if len(o.Attempts) != 3 || !strings.Contains(o.Reason, "gave up after 3 attempts") || !strings.Contains(o.Reason, "500") {
			t.Fatalf("attempts %d reason %q", len(o.Attempts), o.Reason)
		}
		if n := len(west.Requests()); n != 3 {
			t.Fatalf("warehouse saw %d requests, want 3", n)
		}
	})

	t.Run("warehouse 400 is dead-lettered at once", func(t *testing.T) {
		intl := h.Warehouses[flowtest.Intl]
		if err := intl.InjectFault(warehousesim.Fault{Endpoint: "fulfillments", Status: 422, Count: 1}); err != nil {
			t.Fatal(err)
		}
		b := flowtest.Edit(t, body, flowtest.OrderID("7000000000005"), flowtest.ShipTo("FR", ""))
		h.Send(flowtest.Delivery{Topic: "orders/create", Body: b})
		o := h.WaitStatus("7000000000005", order.StatusDeadLettered)
		if len(o.Attempts) != 1 || !strings.Contains(o.Reason, "422") {
			t.Fatalf("attempts %d reason %q", len(o.Attempts), o.Reason)
		}
		// The operator replays it once the warehouse is fixed.
		if n, err := h.Service.Replay(ctx, o.ID, ""); err != nil || n != 1 {
			t.Fatalf("replay: %d %v", n, err)
		}
		h.WaitFor("7000000000005", 10*time.Second, "dispatched after replay", func(o *order.Order) bool {
			return o.Status == order.StatusDispatched || o.Status == order.StatusShipped || o.Status == order.StatusFulfilled
		})
	})

	t.Run("Shopify userErrors dead-letter the fulfillment with the message", func(t *testing.T) {
		b := flowtest.Edit(t, body, flowtest.OrderID("7000000000006"))
		sim := h.SeedShopify(b, flowtest.East)
		if err := h.Shopify.CancelOrder(sim.ID); err != nil { // its fulfillment orders are CLOSED
			t.Fatal(err)
		}
		h.Send(flowtest.Delivery{Topic: "orders/create", Body: b})
		o := h.WaitFor("7000000000006", 10*time.Second, "fulfillment outcome", func(o *order.Order) bool {
			return len(o.Shipments) == 1 && (o.Attention != "" || len(o.DeadLetters) > 0)
		})
		if !strings.Contains(o.Attention, "CLOSED") && !strings.Contains(o.Attention, "closed") {
			t.Fatalf("attention %q dead letters %+v", o.Attention, o.DeadLetters)
		}
	})
}

func signOther(body []byte) string {
	return webhook.Sign("some-other-secret", body)
}
