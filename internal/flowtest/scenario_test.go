package flowtest_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shipwell/orderflow/internal/flowtest"
	"github.com/shipwell/orderflow/internal/order"
	"github.com/shipwell/orderflow/internal/shopifysim"
	"github.com/shipwell/orderflow/internal/warehousesim"
)

// A scenario replays signed deliveries, callbacks and Shopify-side changes through the real
// HTTP handlers and asserts the final record, the warehouse requests and the Shopify mutations.
type scenario struct {
	name string
	// noWorker: jobs wait in the queue until a step starts the worker.
	noWorker bool
	// noCallback: the warehouses do not call back on their own.
	noCallback bool
	// shopify seeds the Shopify simulator (default: one OPEN fulfillment order at the
	// warehouse-east location holding every shippable line).
	shopify func(t *testing.T, h *flowtest.Harness, body []byte)
	steps   []step
	want    want
}

type step struct {
	name string
	do   func(t *testing.T, h *flowtest.Harness, s *state)
}

// state carries values between steps.
type state struct {
	answers []flowtest.Response
	seeded  bool // Shopify knows the order
}

// seed creates the order in the Shopify simulator from the first payload delivered, with one
// OPEN fulfillment order at warehouse-east's location, unless the scenario seeded it itself.
func (s *state) seed(h *flowtest.Harness, body []byte) {
	if !s.seeded {
		h.SeedShopify(body, flowtest.East)
		s.seeded = true
	}
}

type want struct {
	status       order.Status
	route        string
	reason       string // substring
	attention    string // substring
	dispatches   int    // distinct warehouse orders (Idempotency-Keys) across warehouses
	requests     int    // POST /fulfillments requests (-1: don't check)
	cancels      int    // POST /fulfillments/{id}/cancel requests
	fulfillments int    // fulfillmentCreate calls applied in Shopify
	answers      []string
	check        func(t *testing.T, h *flowtest.Harness, o *order.Order)
}

const sid = "820982911946154508" // the official sample's id, above 2^53

func base(t testing.TB, edits ...func(map[string]any)) []byte {
	return flowtest.Edit(t, flowtest.Fixture(t, "orders_create.json"),
		append([]func(map[string]any){flowtest.Paid, flowtest.UpdatedAt("2026-12-03T10:00:00Z")}, edits...)...)
}

func at(min int) func(map[string]any) {
	return flowtest.UpdatedAt(time.Date(2026, 12, 3, 10, min, 0, 0, time.UTC).Format(time.RFC3339))
}

func deliver(topic, webhookID string, edits ...func(map[string]any)) step {
	return step{name: "deliver " + topic + " " + webhookID, do: func(t *testing.T, h *flowtest.Harness, s *state) {
		body := base(t, edits...)
		s.seed(h, body)
		r := h.Send(flowtest.Delivery{Topic: topic, Body: body, WebhookID: webhookID})
		if r.Status != 200 {
			t.Fatalf("%s: %d %s", topic, r.Status, r.Raw)
		}
		s.answers = append(s.answers, r)
	}}
}

func deliverEvent(topic, webhookID, eventID string, edits ...func(map[string]any)) step {
	return step{name: "deliver " + topic + " event " + eventID, do: func(t *testing.T, h *flowtest.Harness, s *state) {
		body := base(t, edits...)
		s.seed(h, body)
		r := h.Send(flowtest.Delivery{Topic: topic, Body: body, WebhookID: webhookID, EventID: eventID})
		if r.Status != 200 {
			t.Fatalf("%s: %d %s", topic, r.Status, r.Raw)
		}
		s.answers = append(s.answers, r)
	}}
}

func concurrently(n int, topic, webhookID string, edits ...func(map[string]any)) step {
	return step{name: fmt.Sprintf("%d concurrent copies", n), do: func(t *testing.T, h *flowtest.Harness, s *state) {
		body := base(t, edits...)
		s.seed(h, body)
		var wg sync.WaitGroup
		var mu sync.Mutex
		for range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r := h.Send(flowtest.Delivery{Topic: topic, Body: body, WebhookID: webhookID})
				mu.Lock()
				s.answers = append(s.answers, r)
				mu.Unlock()
			}()
		}
		wg.Wait()
	}}
}

func waitStatus(st order.Status) step {
	return step{name: "wait " + string(st), do: func(t *testing.T, h *flowtest.Harness, s *state) { h.WaitStatus(sid, st) }}
}

func waitIdle() step {
	return step{name: "wait idle", do: func(t *testing.T, h *flowtest.Harness, s *state) { h.Idle() }}
}

func startWorker() step {
	return step{name: "start worker", do: func(t *testing.T, h *flowtest.Harness, s *state) { h.StartWorker() }}
}

func callback(shipment string, items ...any) step {
	return step{name: "callback " + shipment, do: func(t *testing.T, h *flowtest.Harness, s *state) {
		body := map[string]any{"externalOrderId": sid, "trackingNumber": "TRK-" + shipment, "carrier": "UPS",
			"trackingUrl": "https://www.ups.com/track?tracknum=TRK-" + shipment, "shipmentId": shipment}
		if len(items) > 0 {
			var its []any
			for i := 0; i < len(items); i += 2 {
				its = append(its, map[string]any{"sku": items[i], "quantity": items[i+1]})
			}
			body["items"] = its
		}
		r := h.Callback(flowtest.Key(flowtest.East), body)
		if r.Status != 200 {
			t.Fatalf("callback: %d %s", r.Status, r.Raw)
		}
		s.answers = append(s.answers, r)
	}}
}

func shopify(name string, f func(t *testing.T, sim *shopifysim.Server)) step {
	return step{name: name, do: func(t *testing.T, h *flowtest.Harness, s *state) { f(t, h.Shopify) }}
}

func sleep(d time.Duration) step {
	return step{name: "sleep", do: func(*testing.T, *flowtest.Harness, *state) { time.Sleep(d) }}
}

// seedFOs seeds Shopify with fulfillment orders given as location → SKU quantities.
func seedFOs(fos ...shopifysim.FulfillmentOrder) func(t *testing.T, h *flowtest.Harness, body []byte) {
	return func(t *testing.T, h *flowtest.Harness, body []byte) {
		if _, err := h.Shopify.AddOrder(shopifysim.Order{ID: sid, FulfillmentOrders: fos}); err != nil {
			t.Fatal(err)
		}
	}
}

func foLine(id, lineItemID, sku string, qty int) shopifysim.FulfillmentOrderLine {
	return shopifysim.FulfillmentOrderLine{ID: id, LineItemID: lineItemID, SKU: sku, Quantity: qty}
}

var twoLines = flowtest.Lines(976318377106520349, "SKU-A", 2, "SKU-B", 1)

func TestLifecycleScenarios(t *testing.T) {
	cancelAt := func(min int) func(map[string]any) {
		return flowtest.Cancelled(time.Date(2026, 12, 3, 10, min, 0, 0, time.UTC).Format(time.RFC3339))
	}
	scenarios := []scenario{
		{name: "duplicate delivery is acknowledged without a second effect",
			steps: []step{deliver("orders/create", "w1"), waitStatus(order.StatusFulfilled), deliver("orders/create", "w1"), waitIdle()},
			want:  want{status: order.StatusFulfilled, route: flowtest.East, dispatches: 1, requests: 1, fulfillments: 1, answers: []string{"recorded", "duplicate"}}},
		{name: "five concurrent copies dispatch once",
			steps: []step{concurrently(5, "orders/create", "w1"), waitStatus(order.StatusFulfilled), waitIdle()},
			want:  want{status: order.StatusFulfilled, dispatches: 1, requests: 1, fulfillments: 1}},
		{name: "a second subscription delivering the same event changes nothing",
			steps: []step{deliverEvent("orders/create", "w1", "e1"), deliverEvent("orders/create", "w2", "e1"), waitStatus(order.StatusFulfilled), waitIdle()},
			want:  want{status: order.StatusFulfilled, dispatches: 1, requests: 1, fulfillments: 1, answers: []string{"recorded", "duplicate"}}},
		{name: "the same event under another topic is a real delivery",
			steps: []step{deliverEvent("orders/create", "w1", "e1", flowtest.Set("financial_status", "pending")),
				deliverEvent("orders/paid", "w2", "e1", at(1)), waitStatus(order.StatusFulfilled), waitIdle()},
			want: want{status: order.StatusFulfilled, dispatches: 1, requests: 1, fulfillments: 1, answers: []string{"recorded", "recorded"}}},
		{name: "paid before create builds the record from the paid payload",
			steps: []step{deliver("orders/paid", "w2", at(5)), deliver("orders/create", "w1", flowtest.Set("financial_status", "pending")),
				waitStatus(order.StatusFulfilled), waitIdle()},
			want: want{status: order.StatusFulfilled, dispatches: 1, requests: 1, fulfillments: 1, answers: []string{"recorded", "stale"}}},
		{name: "a late retry never moves the order back to an old address",
			noWorker: true, noCallback: true,
			steps: []step{deliver("orders/create", "w1", at(0)), deliver("orders/paid", "w2", at(5), flowtest.ShipTo("US", "CA")),
				deliver("orders/create", "w1-retry", at(0)), startWorker(), waitIdle()},
			want: want{status: order.StatusDispatched, route: flowtest.West, dispatches: 1, requests: 1, answers: []string{"recorded", "recorded", "stale"},
				check: func(t *testing.T, h *flowtest.Harness, o *order.Order) {
					if o.ShippingAddress.ProvinceCode != "CA" || len(h.Warehouses[flowtest.East].Requests()) != 0 {
						t.Fatalf("address %s, east requests %d", o.ShippingAddress.Summary(), len(h.Warehouses[flowtest.East].Requests()))
					}
				}}},
		{name: "cancel arriving first: never dispatched",
			steps: []step{deliver("orders/cancelled", "w2", cancelAt(5)), deliver("orders/create", "w1"), waitIdle()},
			want:  want{status: order.StatusCancelled, dispatches: 0, requests: 0, answers: []string{"recorded", "stale"}}},
		{name: "cancel while the dispatch job is queued: never dispatched",
			noWorker: true,
			steps:    []step{deliver("orders/create", "w1"), deliver("orders/cancelled", "w2", cancelAt(5)), startWorker(), waitIdle()},
			want:     want{status: order.StatusCancelled, dispatches: 0, requests: 0}},
		{name: "cancel after dispatch cancels at the warehouse",
			noCallback: true,
			steps:      []step{deliver("orders/create", "w1"), waitStatus(order.StatusDispatched), deliver("orders/cancelled", "w2", cancelAt(5)), waitIdle()},
			want: want{status: order.StatusCancelled, dispatches: 1, requests: 1, cancels: 1,
				check: func(t *testing.T, h *flowtest.Harness, o *order.Order) {
					f, _ := h.Warehouses[flowtest.East].Order(o.WarehouseFulfillmentID)
					if !f.Cancelled {
						t.Fatal("the warehouse fulfillment is not cancelled")
					}
				}}},
		{name: "a cancel job for an order that is not cancelled does nothing",
			noCallback: true,
			steps: []step{deliver("orders/create", "w1"), waitStatus(order.StatusDispatched),
				step{name: "forged cancel job", do: func(t *testing.T, h *flowtest.Harness, s *state) {
					o := h.Order(sid)
					if err := h.DB.Enqueue(context.Background(), order.NewCancelJob(o, time.Now())); err != nil {
						t.Fatal(err)
					}
				}}, waitIdle()},
			want: want{status: order.StatusDispatched, dispatches: 1, requests: 1, cancels: 0}},
		{name: "cancel after shipping is flagged for the operator",
			steps: []step{deliver("orders/create", "w1"), waitStatus(order.StatusFulfilled), deliver("orders/cancelled", "w2", cancelAt(5)), waitIdle()},
			want:  want{status: order.StatusFulfilled, attention: "cancelled after shipping", dispatches: 1, requests: 1, cancels: 0, fulfillments: 1}},
		{name: "pending waits for orders/paid",
			steps: []step{deliver("orders/create", "w1", flowtest.Set("financial_status", "pending")), waitIdle(),
				step{name: "still waiting", do: func(t *testing.T, h *flowtest.Harness, s *state) {
					if o := h.Order(sid); o.Status != order.StatusReceived || !strings.Contains(o.Reason, "awaiting payment") {
						t.Fatalf("%s %q", o.Status, o.Reason)
					}
				}},
				deliver("orders/paid", "w2", at(3)), waitStatus(order.StatusFulfilled), waitIdle()},
			want: want{status: order.StatusFulfilled, dispatches: 1, requests: 1, fulfillments: 1}},
		{name: "authorized orders dispatch",
			steps: []step{deliver("orders/create", "w1", flowtest.Set("financial_status", "authorized")), waitStatus(order.StatusFulfilled), waitIdle()},
			want:  want{status: order.StatusFulfilled, dispatches: 1, requests: 1, fulfillments: 1}},
		{name: "fulfilled by hand before dispatch stops the dispatch",
			noWorker: true,
			steps: []step{deliver("orders/create", "w1"), deliver("orders/fulfilled", "w2", at(4), flowtest.Set("fulfillment_status", "fulfilled")),
				startWorker(), waitIdle()},
			want: want{status: order.StatusFulfilled, reason: "outside the product", dispatches: 0, requests: 0}},
		{name: "messy order: only shippable non-gift-card lines ship, ids and money exact",
			steps: []step{deliver("orders/create", "w1", flowtest.Set("customer", nil), flowtest.Set("total_price", json.Number("1234.50")),
				func(m map[string]any) {
					m["id"] = "820982911946154508" // a string-typed id
					items := m["line_items"].([]any)
					items[0].(map[string]any)["gift_card"] = true
					items[1].(map[string]any)["requires_shipping"] = false
					items[2].(map[string]any)["price"] = ""
					items[3].(map[string]any)["variant_id"] = nil
				}), waitStatus(order.StatusFulfilled), waitIdle()},
			want: want{status: order.StatusFulfilled, dispatches: 1, requests: 1, fulfillments: 1,
				check: func(t *testing.T, h *flowtest.Harness, o *order.Order) {
					f := h.Warehouses[flowtest.East].Orders()[0]
					var skus []string
					for _, it := range f.Items {
						skus = append(skus, it.SKU)
					}
					if strings.Join(skus, ",") != "CASE-LEATHER-PREM,SKU2006-020,SKU2006-035" || f.ExternalOrderID != sid {
						t.Fatalf("warehouse got %v for %s", skus, f.ExternalOrderID)
					}
					if !strings.Contains(string(f.Body), `"lineItemId":"976318377106520349"`) || o.TotalPrice != "1234.50" || o.Priority != order.PriorityHigh {
						t.Fatalf("body %s total %s priority %s", f.Body, o.TotalPrice, o.Priority)
					}
					if fs := h.Shopify.Fulfillments(sid); len(fs) != 1 || fs[0].OrderID != "gid://shopify/Order/"+sid {
						t.Fatalf("Shopify fulfillments %+v", fs)
					}
				}}},
		{name: "line without SKU holds the order",
			steps: []step{deliver("orders/create", "w1", func(m map[string]any) { m["line_items"].([]any)[0].(map[string]any)["sku"] = nil }), waitIdle()},
			want:  want{status: order.StatusHeld, reason: "line without SKU: 487817672276298554", dispatches: 0, requests: 0}},
		{name: "held order released by a fixed address",
			steps: []step{deliver("orders/create", "w1", flowtest.Set("shipping_address", nil)),
				deliver("orders/paid", "w2", at(2)), waitStatus(order.StatusFulfilled), waitIdle()},
			want: want{status: order.StatusFulfilled, dispatches: 1, requests: 1, fulfillments: 1}},
		{name: "fulfillment orders: other location left alone, closed skipped, quantities capped",
			noCallback: true,
			shopify: seedFOs(
				shopifysim.FulfillmentOrder{ID: "901", LocationID: flowtest.LocEast, Lines: []shopifysim.FulfillmentOrderLine{foLine("9011", "976318377106520349", "SKU-A", 2)}},
				shopifysim.FulfillmentOrder{ID: "902", LocationID: flowtest.LocWest, Lines: []shopifysim.FulfillmentOrderLine{foLine("9021", "976318377106520350", "SKU-B", 1)}},
				shopifysim.FulfillmentOrder{ID: "903", Status: "CLOSED", LocationID: flowtest.LocEast, Lines: []shopifysim.FulfillmentOrderLine{foLine("9031", "976318377106520350", "SKU-B", 1)}}),
			steps: []step{deliver("orders/create", "w1", twoLines), waitStatus(order.StatusDispatched), callback("S1", "SKU-A", 3, "SKU-B", 1), waitIdle()},
			want: want{status: order.StatusFulfilled, dispatches: 1, requests: 1, fulfillments: 1,
				check: func(t *testing.T, h *flowtest.Harness, o *order.Order) {
					notes := strings.Join(o.Shipments[0].Notes, "; ")
					for _, n := range []string{"902 (1 open) is at location 1002", "903 is CLOSED", "over-shipment: 1 × SKU-A", "over-shipment: 1 × SKU-B"} {
						if !strings.Contains(notes, n) {
							t.Errorf("notes %q lack %q", notes, n)
						}
					}
					fs := h.Shopify.Fulfillments(sid)
					if len(fs) != 1 || len(fs[0].Lines) != 1 || fs[0].Lines[0].Quantity != 2 || !strings.HasSuffix(fs[0].Lines[0].FulfillmentOrderID, "/901") {
						t.Fatalf("Shopify fulfillment %+v", fs)
					}
				}}},
		{name: "fulfillment order on hold: retried after release",
			noCallback: true,
			shopify: seedFOs(shopifysim.FulfillmentOrder{ID: "911", Status: "ON_HOLD", LocationID: flowtest.LocEast,
				Lines: []shopifysim.FulfillmentOrderLine{foLine("9111", "976318377106520349", "SKU-A", 2)}}),
			steps: []step{deliver("orders/create", "w1", twoLines), waitStatus(order.StatusDispatched), callback("S1"),
				sleep(300 * time.Millisecond),
				step{name: "still waiting for the hold", do: func(t *testing.T, h *flowtest.Harness, s *state) {
					if o := h.Order(sid); o.Status != order.StatusShipped || len(h.Shopify.Fulfillments(sid)) != 0 || len(o.DeadLetters) != 0 {
						t.Fatalf("%s, %d fulfillments, %d dead letters", o.Status, len(h.Shopify.Fulfillments(sid)), len(o.DeadLetters))
					}
				}},
				shopify("release the hold", func(t *testing.T, sim *shopifysim.Server) {
					if err := sim.ReleaseHold("911"); err != nil {
						t.Fatal(err)
					}
				}),
				waitStatus(order.StatusFulfilled), waitIdle()},
			want: want{status: order.StatusFulfilled, dispatches: 1, requests: 1, fulfillments: 1}},
		{name: "partial shipments give partial fulfillments and the status follows",
			noCallback: true,
			steps: []step{deliver("orders/create", "w1", twoLines), waitStatus(order.StatusDispatched),
				callback("S1", "SKU-A", 1), waitIdle(),
				step{name: "partly fulfilled", do: func(t *testing.T, h *flowtest.Harness, s *state) {
					if o := h.Order(sid); o.Status != order.StatusShipped || o.Shipments[0].ShopifyFulfillmentID == "" {
						t.Fatalf("after the first parcel: %s %+v", o.Status, o.Shipments)
					}
				}},
				callback("S2", "SKU-A", 1, "SKU-B", 1), waitIdle()},
			want: want{status: order.StatusFulfilled, dispatches: 1, requests: 1, fulfillments: 2}},
		{name: "the same shipment reported again creates one Shopify fulfillment",
			noCallback: true,
			steps: []step{deliver("orders/create", "w1", twoLines), waitStatus(order.StatusDispatched),
				callback("S1"), callback("S1"), waitIdle(), callback("S1"), waitIdle()},
			want: want{status: order.StatusFulfilled, dispatches: 1, requests: 1, fulfillments: 1, answers: []string{"recorded", "accepted", "duplicate", "duplicate"}}},
	}
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			opts := flowtest.Options{NoWorker: sc.noWorker}
			if sc.noCallback {
				opts.CallbackDelay = -1
			}
			h := flowtest.New(t, opts)
			s := &state{}
			if sc.shopify != nil {
				sc.shopify(t, h, nil)
				s.seeded = true
			}
			for _, st := range sc.steps {
				st.do(t, h, s)
			}
			o := h.Order(sid)
			w := sc.want
			if o.Status != w.status || (w.route != "" && o.Route != w.route) || !strings.Contains(o.Reason, w.reason) ||
				!strings.Contains(o.Attention, w.attention) || (w.attention == "" && o.Attention != "") {
				b, _ := json.MarshalIndent(o, "", "  ")
				t.Fatalf("final record: status %s route %s reason %q attention %q; want %s %s %q %q\n%s",
					o.Status, o.Route, o.Reason, o.Attention, w.status, w.route, w.reason, w.attention, b)
			}
			dispatches, requests, cancels := 0, 0, 0
			for _, wh := range h.Warehouses {
				dispatches += len(wh.Orders())
				for _, r := range wh.Requests() {
					switch r.Endpoint {
					case warehousesim.EndpointFulfillments:
						requests++
					case warehousesim.EndpointCancel:
						cancels++
					}
				}
				for k, keys := range wh.KeysByOrder() {
					if len(keys) > 1 {
						t.Errorf("order %s reached %s under %d keys", k, wh.Name(), len(keys))
					}
				}
			}
			if dispatches != w.dispatches || (w.requests >= 0 && requests != w.requests) || cancels != w.cancels {
				t.Errorf("warehouse: %d orders, %d requests, %d cancels; want %d, %d, %d", dispatches, requests, cancels, w.dispatches, w.requests, w.cancels)
			}
			created := 0
			for _, m := range h.Shopify.Mutations() {
				if m.Field == "fulfillmentCreate" && m.Outcome == "applied" {
					created++
				}
			}
			if created != w.fulfillments || len(h.Shopify.Fulfillments(sid)) != w.fulfillments {
				t.Errorf("Shopify: %d fulfillmentCreate applied, %d fulfillments; want %d", created, len(h.Shopify.Fulfillments(sid)), w.fulfillments)
			}
			if w.answers != nil {
				var got []string
				for _, a := range s.answers {
					got = append(got, fmt.Sprint(a.Body["status"]))
				}
				counts := func(xs []string) map[string]int {
					m := map[string]int{}
					for _, x := range xs {
						m[x]++
					}
					return m
				}
				if fmt.Sprint(counts(got)) != fmt.Sprint(counts(w.answers)) {
					t.Errorf("answers %v, want %v", got, w.answers)
				}
			}
			if w.check != nil {
				w.check(t, h, o)
			}
		})
	}
}
