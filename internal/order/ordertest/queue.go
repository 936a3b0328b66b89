package ordertest

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/shipwell/orderflow/internal/order"
)

// QueueHarness is a queue under test and a view of what a consumer would receive from it.
type QueueHarness struct {
	Queue order.Queue
	// Take returns the jobs a consumer receives now, each once, and consumes them (for a broker,
	// the harness models duplicate detection on the message id the queue chose).
	Take func(t *testing.T) []order.Job
	// Scheduled returns when each job queued for later becomes available, by job id.
	Scheduled func(t *testing.T) map[string]time.Time
}

// RunQueueContract runs the contract every order.Queue must meet: jobs arrive whole (64-bit
// ids exact), once per job id however often they are enqueued, and scheduled jobs wait.
func RunQueueContract(t *testing.T, newQueue func(t *testing.T) QueueHarness) {
	ctx := context.Background()
	job := func(id string) order.Job {
		return order.Job{ID: id, Kind: order.JobDispatch, Order: "acme.myshopify.com-820982911946154508",
			OrderID: "820982911946154508", Shop: "acme.myshopify.com", Warehouse: "warehouse-east", Generation: 2,
			Priority: order.PriorityHigh, Attempt: 0, CreatedAt: time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)}
	}
	ids := func(js []order.Job) []string {
		var out []string
		for _, j := range js {
			out = append(out, j.ID)
		}
		slices.Sort(out)
		return out
	}

	t.Run("JobsArriveWholeAndOnce", func(t *testing.T) {
		h := newQueue(t)
		a, b := job("dispatch:acme.myshopify.com-820982911946154508:warehouse-east:2"), job("cancel:acme.myshopify.com-820982911946154508:warehouse-east")
		b.Kind = order.JobCancel
		if err := h.Queue.Enqueue(ctx, a, b, a); err != nil {
			t.Fatal(err)
		}
		if err := h.Queue.Enqueue(ctx, a); err != nil { // a retried webhook publishes again
			t.Fatal(err)
		}
		got := h.Take(t)
		if !slices.Equal(ids(got), ids([]order.Job{a, b})) {
			t.Fatalf("took %v, want %v", ids(got), ids([]order.Job{a, b}))
		}
		for _, j := range got {
			want := a
			if j.ID == b.ID {
				want = b
			}
			if j.Kind != want.Kind || j.OrderID != "820982911946154508" || j.Order != want.Order || j.Warehouse != want.Warehouse ||
				j.Generation != 2 || j.Priority != order.PriorityHigh || !j.CreatedAt.Equal(want.CreatedAt) {
				t.Fatalf("job arrived as %+v, sent %+v", j, want)
			}
		}
		if err := h.Queue.Enqueue(ctx, a); err != nil {
			t.Fatal(err)
		}
		if again := h.Take(t); len(again) != 0 {
			t.Fatalf("a job already delivered was delivered again: %v", ids(again))
		}
		if err := h.Queue.Enqueue(ctx); err != nil {
			t.Fatalf("empty enqueue: %v", err)
		}
	})

	t.Run("ScheduledJobsWait", func(t *testing.T) {
		h := newQueue(t)
		r := job("dispatch:x:warehouse-east:1:retry1")
		r.Attempt = 1
		at := time.Now().Add(time.Hour).Truncate(time.Millisecond)
		if err := h.Queue.Schedule(ctx, r, at); err != nil {
			t.Fatal(err)
		}
		if got := h.Take(t); len(got) != 0 {
			t.Fatalf("a job scheduled an hour ahead is available now: %v", ids(got))
		}
		when, ok := h.Scheduled(t)[r.ID]
		if !ok || when.Sub(at).Abs() > time.Second {
			t.Fatalf("scheduled %v (found %v), want %v", when, ok, at)
		}
	})
}
