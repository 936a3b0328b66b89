package orderflow_test

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/shipwell/orderflow/internal/order"
	"github.com/shipwell/orderflow/internal/orderflow"
	"github.com/shipwell/orderflow/internal/routing"
	"github.com/shipwell/orderflow/internal/sqlite"
)

// flakyQueue fails its first `fails` sends, then records jobs (deduplicated by id, as Service Bus
// duplicate detection does).
type flakyQueue struct {
	mu    sync.Mutex
	fails int
	got   map[string]int
}

func (q *flakyQueue) Enqueue(_ context.Context, jobs ...order.Job) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.fails > 0 {
		q.fails--
		return errors.New("service bus unavailable")
	}
	for _, j := range jobs {
		q.got[j.ID]++
	}
	return nil
}

func (q *flakyQueue) Schedule(ctx context.Context, j order.Job, _ time.Time) error {
	return q.Enqueue(ctx, j)
}

// TestQueueOutage: the order is written before the message is sent; when the send fails the
// webhook fails (Shopify retries), and the retry — recognised as a duplicate — sends the job.
// The sweep covers a crash between the two writes.
func TestQueueOutage(t *testing.T) {
	ctx := context.Background()
	db, err := sqlite.Open(filepath.Join(t.TempDir(), "db"), sqlite.Options{}) // the queue is outside the store
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	q := &flakyQueue{fails: 1, got: map[string]int{}}
	s := &orderflow.Service{Store: db, Queue: q, Route: routing.Default().Route, AllowedShop: "acme.myshopify.com"}
	body := []byte(`{"id":820982911946154508,"financial_status":"paid","updated_at":"2026-12-03T10:00:00Z","total_price":"10.00",
		"line_items":[{"id":1,"sku":"A","quantity":1,"requires_shipping":true,"price":"10.00"}],
		"shipping_address":{"country_code":"US","province_code":"NY","name":"A","address1":"1 St","city":"NYC","zip":"10001"}}`)
	d := order.Delivery{Topic: order.TopicOrdersCreate, Shop: "acme.myshopify.com", WebhookID: "w1"}

	if _, err := s.Intake(ctx, d, body); err == nil {
		t.Fatal("intake succeeded while the queue was down")
	}
	pending, _ := db.List(ctx, order.Filter{PendingOutbox: true})
	if len(pending) != 1 || len(pending[0].Outbox) != 1 {
		t.Fatalf("the order and its unsent job were not recorded: %d pending", len(pending))
	}
	res, err := s.Intake(ctx, d, body) // Shopify's retry
	if err != nil || res.Outcome != orderflow.Duplicate {
		t.Fatalf("retry: %+v %v", res, err)
	}
	if len(q.got) != 1 {
		t.Fatalf("queue got %v", q.got)
	}
	if pending, _ := db.List(ctx, order.Filter{PendingOutbox: true}); len(pending) != 0 {
		t.Fatal("outbox not cleared after sending")
	}

	// A crash after the order write, before the send: the sweep sends it.
	q.fails = 1
	d2 := d
	d2.WebhookID = "w2"
	body2 := []byte(`{"id":5,"financial_status":"paid","line_items":[{"id":1,"sku":"A","quantity":1}],"shipping_address":{"country_code":"DE"}}`)
	if _, err := s.Intake(ctx, d2, body2); err == nil {
		t.Fatal("second intake succeeded while the queue was down")
	}
	n, err := s.SweepOutbox(ctx)
	if err != nil || n != 1 || len(q.got) != 2 {
		t.Fatalf("sweep: %d %v, queue %v", n, err, q.got)
	}
	for id, c := range q.got {
		if c != 1 {
			t.Fatalf("job %s sent %d times", id, c)
		}
	}
}
