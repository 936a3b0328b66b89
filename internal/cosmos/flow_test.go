package cosmos_test

import (
	"context"
	"testing"

	"github.com/shipwell/orderflow/internal/flowtest"
	"github.com/shipwell/orderflow/internal/order"
)

// The whole order flow (signed webhooks over HTTP, routing, dispatch to the warehouse
// simulators, their callbacks, the Shopify fulfillment) with the order log in Cosmos DB and the
// queue outside it: every route reaches "fulfilled" with one warehouse order and one Shopify
// fulfillment, a duplicate delivery changes nothing, and no outbox is left pending.
func TestWholeFlowOnCosmos(t *testing.T) {
	t.Parallel()
	s, _, _ := newStore(t)
	h := flowtest.New(t, flowtest.Options{Store: s})
	official := flowtest.Fixture(t, "orders_create.json")
	for _, c := range []struct {
		id, country, province, warehouse string
	}{
		{"5123456789013", "US", "NY", flowtest.East},
		{"5123456789014", "US", "CA", flowtest.West},
		{"5123456789015", "DE", "", flowtest.Intl},
	} {
		body := flowtest.Edit(t, official, flowtest.Paid, flowtest.UpdatedAt("2026-12-03T10:00:00-05:00"),
			flowtest.OrderID(c.id), flowtest.ShipTo(c.country, c.province))
		h.SeedShopify(body, c.warehouse)
		d := flowtest.Delivery{Topic: "orders/create", Body: body, WebhookID: "wh-" + c.id}
		if r := h.Send(d); r.Status != 200 || r.Body["orderStatus"] != "queued" {
			t.Fatalf("order %s: %d %s", c.id, r.Status, r.Raw)
		}
		if r := h.Send(d); r.Status != 200 || r.Body["status"] != "duplicate" {
			t.Fatalf("duplicate of %s: %d %s", c.id, r.Status, r.Raw)
		}
		o := h.WaitStatus(c.id, order.StatusFulfilled)
		if o.Route != c.warehouse || len(o.Shipments) != 1 || o.Shipments[0].ShopifyFulfillmentID == "" {
			t.Fatalf("order %s: route %s shipments %+v", c.id, o.Route, o.Shipments)
		}
		n := 0
		for _, f := range h.Warehouses[c.warehouse].Orders() {
			if f.ExternalOrderID == c.id {
				n++
			}
		}
		if n != 1 || len(h.Shopify.Fulfillments(c.id)) != 1 {
			t.Fatalf("order %s: %d warehouse orders, %d Shopify fulfillments, want 1 and 1", c.id, n, len(h.Shopify.Fulfillments(c.id)))
		}
	}
	h.Idle()
	if pending, err := s.List(context.Background(), order.Filter{PendingOutbox: true}); err != nil || len(pending) != 0 {
		t.Fatalf("pending outbox after the flow: %d records, %v", len(pending), err)
	}
	if got, err := s.List(context.Background(), order.Filter{Status: order.StatusFulfilled}); err != nil || len(got) != 3 {
		t.Fatalf("fulfilled records: %d, %v", len(got), err)
	}
}
