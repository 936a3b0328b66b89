package cosmos_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shipwell/orderflow/internal/cosmos"
	"github.com/shipwell/orderflow/internal/cosmos/cosmostest"
	"github.com/shipwell/orderflow/internal/order"
	"github.com/shipwell/orderflow/internal/order/ordertest"
	"github.com/shipwell/orderflow/internal/orderflow"
	"github.com/shipwell/orderflow/internal/routing"
)

// roundTrips runs op and returns how many HTTP requests the store sent to Cosmos DB.
func roundTrips(t *testing.T, s *cosmos.Store, op func() error) int64 {
	t.Helper()
	before := s.Stats().Requests
	if err := op(); err != nil {
		t.Fatal(err)
	}
	return s.Stats().Requests - before
}

// Cosmos round trips per store operation, in steady state (the SDK's account read on the first
// request is done by Open). The counts come from the store's own counter, checked against the
// simulator's request counter on a dedicated server.
func TestRoundTripsPerOperation(t *testing.T) {
	t.Parallel()
	requireLocalSimulator(t)
	srv := cosmostest.StartDedicated(t, cosmostest.Options{})
	c := srv.NewContainer(t, recommended)
	s := open(t, config(t, srv, c))
	serverBefore := srv.Stats(t).Requests
	storeBefore := s.Stats().Requests

	o := ordertest.NewOrder(shop, "1")
	var got *order.Order
	for _, tc := range []struct {
		name string
		want int64
		op   func() error
	}{
		{"Save (create)", 1, func() error { return s.Save(ctx(t), o) }},
		{"Get", 1, func() error { var err error; got, err = s.Get(ctx(t), o.ID); return err }},
		{"Save (replace, If-Match)", 1, func() error { return s.Save(ctx(t), got) }},
		{"Save (stale: 412)", 1, func() error {
			if err := s.Save(ctx(t), o); err == nil {
				return fmt.Errorf("stale save succeeded")
			}
			return nil
		}},
		{"FindByOrderID", 1, func() error { _, err := s.FindByOrderID(ctx(t), "1"); return err }},
		{"List (first: the SDK reads partition key ranges)", 4, func() error { _, err := s.List(ctx(t), order.Filter{}); return err }},
		{"List (query ids + ReadManyItems)", 2, func() error { _, err := s.List(ctx(t), order.Filter{}); return err }},
		{"List (nothing matches)", 1, func() error { _, err := s.List(ctx(t), order.Filter{DeadLettered: true}); return err }},
		{"RecordReceipt (new)", 1, func() error {
			_, err := s.RecordReceipt(ctx(t), order.Receipt{Shop: shop, WebhookID: "w", Kind: order.ReceiptInventory})
			return err
		}},
		{"RecordReceipt (duplicate: 409)", 1, func() error {
			_, err := s.RecordReceipt(ctx(t), order.Receipt{Shop: shop, WebhookID: "w", Kind: order.ReceiptInventory})
			return err
		}},
		{"AcquireLease", 2, func() error { return s.AcquireLease(ctx(t), "l", "me", time.Minute) }},
		{"AcquireLease (held by another)", 1, func() error {
			if err := s.AcquireLease(ctx(t), "l", "you", time.Minute); err == nil {
				return fmt.Errorf("lease taken twice")
			}
			return nil
		}},
		{"ReleaseLease", 2, func() error { return s.ReleaseLease(ctx(t), "l", "me") }},
		{"PutState", 1, func() error { return s.PutState(ctx(t), "k", []byte("v")) }},
		{"GetState", 1, func() error { _, err := s.GetState(ctx(t), "k"); return err }},
		{"Ping", 1, func() error { return s.Ping(ctx(t)) }},
	} {
		n := roundTrips(t, s, tc.op)
		t.Logf("round trips: %-34s %d", tc.name, n)
		if n != tc.want {
			t.Errorf("%s: %d round trips, want %d", tc.name, n, tc.want)
		}
	}
	// The simulator saw exactly the requests the store counted (plus the first Stats call).
	storeN := s.Stats().Requests - storeBefore
	serverN := int64(srv.Stats(t).Requests - serverBefore - 1)
	if serverN != storeN {
		t.Errorf("the simulator received %d requests, the store counted %d", serverN, storeN)
	}
}

// memQueue is an order.Queue that keeps jobs in memory.
type memQueue struct {
	mu   sync.Mutex
	jobs []order.Job
}

func (q *memQueue) Enqueue(_ context.Context, jobs ...order.Job) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.jobs = append(q.jobs, jobs...)
	return nil
}

func (q *memQueue) Schedule(ctx context.Context, j order.Job, _ time.Time) error {
	return q.Enqueue(ctx, j)
}

func (q *memQueue) take() []order.Job {
	q.mu.Lock()
	defer q.mu.Unlock()
	jobs := q.jobs
	q.jobs = nil
	return jobs
}

// okWarehouse accepts every dispatch.
type okWarehouse struct{}

func (okWarehouse) Dispatch(_ context.Context, o *order.Order, _ string) (string, error) {
	return "WH-" + o.OrderID, nil
}
func (okWarehouse) Cancel(context.Context, string, string) error     { return nil }
func (okWarehouse) Inventory(context.Context) ([]order.Stock, error) { return nil, nil }

// Cosmos round trips of the whole flow: a webhook taken in by orderflow with this store and a
// queue that is not the store (Service Bus in production), the dispatch job run by the worker,
// and the warehouse callback. The figures are logged for the README; the bounds are today's
// counts, so a change in orderflow that adds round trips shows up here.
func TestRoundTripsPerWebhookAndDispatch(t *testing.T) {
	t.Parallel()
	s, _, _ := newStore(t)
	// A paid order shipping to Kentucky (warehouse-east), with ids above 2^53.
	paid := []byte(`{"id":820982911946154508,"name":"#1001","order_number":1001,"financial_status":"paid",
		"updated_at":"2026-12-03T10:00:00-05:00","currency":"USD","total_price":"598.94",
		"line_items":[{"id":466157049,"variant_id":39072856,"sku":"IPOD2008PINK","name":"IPod Nano - 8gb",
			"quantity":1,"fulfillable_quantity":1,"requires_shipping":true,"gift_card":false,"price":"199.00"}],
		"shipping_address":{"name":"Steve Shipper","address1":"123 Shipping Street","city":"Shippington",
			"province_code":"KY","zip":"40003","country_code":"US"}}`)
	q := &memQueue{}
	svc := &orderflow.Service{Store: s, Queue: q, Route: routing.Default().Route, AllowedShop: shop,
		Warehouses: map[string]orderflow.Warehouse{"warehouse-east": {Name: "warehouse-east", Client: okWarehouse{}, Key: "k"}},
		Log:        slog.New(slog.NewTextHandler(io.Discard, nil))}
	delivery := func(topic, id string) order.Delivery {
		return order.Delivery{Topic: topic, Shop: shop, WebhookID: id, TriggeredAt: time.Now()}
	}
	var lines []string
	measure := func(name string, max int64, op func() error) {
		t.Helper()
		n := roundTrips(t, s, op)
		lines = append(lines, fmt.Sprintf("%-44s %d", name, n))
		if n > max {
			t.Errorf("%s: %d round trips, more than %d", name, n, max)
		}
	}
	intake := func(topic, id string, b []byte, want string) func() error {
		return func() error {
			res, err := svc.Intake(ctx(t), delivery(topic, id), b)
			if err == nil && res.Outcome != want {
				err = fmt.Errorf("%s %s: outcome %s (%s), want %s", topic, id, res.Outcome, res.Reason, want)
			}
			return err
		}
	}
	measure("webhook orders/create (new order, queued)", 2, intake(order.TopicOrdersCreate, "w-1", paid, orderflow.Recorded))
	jobs := q.take()
	if len(jobs) != 1 || jobs[0].Kind != order.JobDispatch {
		t.Fatalf("queued %+v, want one dispatch job", jobs)
	}
	measure("webhook orders/create (duplicate delivery)", 2, // create attempted first (409), then read
		intake(order.TopicOrdersCreate, "w-1", paid, orderflow.Duplicate))
	measure("webhook orders/paid (update, nothing queued)", 2, intake(order.TopicOrdersPaid, "w-2", paid, orderflow.Recorded))
	measure("webhook inventory_levels/update (receipt)", 1, intake("inventory_levels/update", "w-3",
		[]byte(`{"inventory_item_id":271878346596884015,"location_id":24826418,"available":6}`), orderflow.Recorded))
	measure("dispatch job (worker)", 3, func() error {
		if out := svc.Process(ctx(t), jobs[0]); out.Kind != order.OutcomeDone {
			return fmt.Errorf("dispatch outcome %+v", out)
		}
		return nil
	})
	measure("warehouse callback (shipment)", 5, func() error {
		_, err := svc.HandleCallback(ctx(t), "warehouse-east", orderflow.Callback{ExternalOrderID: "820982911946154508",
			TrackingNumber: "1Z999AA10123456784", Carrier: "UPS", ShipmentID: "S-1"})
		return err
	})
	o, err := s.Get(ctx(t), order.RecordID(shop, "820982911946154508"))
	if err != nil || o.Status != order.StatusShipped || len(o.Outbox) != 0 {
		t.Fatalf("after the flow: %v %v, outbox %d", o.Status, err, len(o.Outbox))
	}
	t.Logf("Cosmos round trips:\n%s", strings.Join(lines, "\n"))
}
