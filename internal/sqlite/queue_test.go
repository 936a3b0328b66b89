package sqlite

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/shipwell/orderflow/internal/order"
	"github.com/shipwell/orderflow/internal/order/ordertest"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func jobIDs(js []order.Job) []string {
	var out []string
	for _, j := range js {
		out = append(out, j.ID)
	}
	return out
}

func TestQueueLeaseRetryComplete(t *testing.T) {
	ctx := context.Background()
	clk := &clock{t: time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)}
	db := open(t, Options{Now: clk.Now})
	a := order.Job{ID: "a", Kind: order.JobDispatch, Order: "o1", Warehouse: "east", Priority: order.PriorityNormal}
	b := order.Job{ID: "b", Kind: order.JobDispatch, Order: "o2", Warehouse: "west", Priority: order.PriorityHigh}
	c := order.Job{ID: "c", Kind: order.JobDispatch, Order: "o3", Warehouse: "east", Priority: order.PriorityNormal}
	if err := db.Enqueue(ctx, a, b, c, a); err != nil {
		t.Fatal(err)
	}
	if err := db.Enqueue(ctx, a); err != nil { // idempotent
		t.Fatal(err)
	}
	got, err := db.Lease(ctx, 10, time.Minute, []string{"west"})
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(jobIDs(got)) != "[a c]" {
		t.Fatalf("lease skipping west = %v, want [a c]", jobIDs(got))
	}
	got, _ = db.Lease(ctx, 10, time.Minute, nil)
	if fmt.Sprint(jobIDs(got)) != "[b]" {
		t.Fatalf("second lease = %v, want [b] (a and c are leased)", jobIDs(got))
	}
	// a fails transiently: back in 30 s with attempt 1.
	a.Attempt = 1
	if err := db.Retry(ctx, a, clk.Now().Add(30*time.Second), "503"); err != nil {
		t.Fatal(err)
	}
	if err := db.Complete(ctx, "b"); err != nil {
		t.Fatal(err)
	}
	if got, _ := db.Lease(ctx, 10, time.Minute, nil); len(got) != 0 {
		t.Fatalf("nothing should be due, got %v", jobIDs(got))
	}
	clk.Add(31 * time.Second)
	got, _ = db.Lease(ctx, 10, time.Minute, nil)
	if fmt.Sprint(jobIDs(got)) != "[a]" || got[0].Attempt != 1 {
		t.Fatalf("after backoff = %v (attempt %d), want [a] attempt 1", jobIDs(got), got[0].Attempt)
	}
	// c's worker crashed: its lease runs out and another worker takes it.
	clk.Add(2 * time.Minute)
	got, _ = db.Lease(ctx, 10, time.Minute, nil)
	if fmt.Sprint(jobIDs(got)) != "[a c]" {
		t.Fatalf("expired leases = %v, want [a c]", jobIDs(got))
	}
	if err := db.Release(ctx, "a", "c"); err != nil {
		t.Fatal(err)
	}
	got, _ = db.Lease(ctx, 1, time.Minute, nil)
	if len(got) != 1 {
		t.Fatalf("released jobs not leasable: %v", jobIDs(got))
	}
	stats, _ := db.JobStats(ctx)
	if stats["done"] != 1 || stats["leased"] != 1 || stats["ready"] != 1 {
		t.Fatalf("stats %v", stats)
	}
	// A completed job enqueued again is not run again.
	if err := db.Enqueue(ctx, b); err != nil {
		t.Fatal(err)
	}
	if got, _ := db.Lease(ctx, 10, time.Minute, nil); len(got) != 1 || got[0].ID == "b" {
		t.Fatalf("completed job re-ran: %v", jobIDs(got))
	}
}

func TestSaveWritesOrderAndJobsAtomically(t *testing.T) {
	ctx := context.Background()
	db := open(t, Options{LocalQueue: true})
	o := ordertest.NewOrder("acme.myshopify.com", "820982911946154508")
	o.Outbox = []order.Job{{ID: "dispatch:1", Kind: order.JobDispatch, Order: o.ID, OrderID: o.OrderID, Warehouse: "east"}}
	if err := db.Save(ctx, o); err != nil {
		t.Fatal(err)
	}
	if len(o.Outbox) != 0 {
		t.Fatal("outbox not absorbed")
	}
	// A conflicting save must not queue its jobs.
	stale := *o
	stale.Version = 99
	stale.Outbox = []order.Job{{ID: "dispatch:2", Kind: order.JobDispatch, Order: o.ID, Warehouse: "east"}}
	if err := db.Save(ctx, &stale); !errors.Is(err, order.ErrConflict) {
		t.Fatalf("stale save: %v", err)
	}
	got, err := db.Lease(ctx, 10, time.Minute, nil)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(jobIDs(got)) != "[dispatch:1]" || got[0].OrderID != "820982911946154508" {
		t.Fatalf("queued %v", got)
	}
	select {
	case <-db.Wake():
	default:
		t.Fatal("no wake-up after queuing")
	}
}

func TestGroupCommitIsolatesFailures(t *testing.T) {
	ctx := context.Background()
	db := open(t, Options{LocalQueue: true, MaxBatch: 64})
	const n = 200
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			o := ordertest.NewOrder("acme.myshopify.com", fmt.Sprint(i%100)) // every id twice
			o.Outbox = []order.Job{{ID: fmt.Sprintf("job-%d", i), Kind: order.JobDispatch, Order: o.ID}}
			errs[i] = db.Save(ctx, o)
		}()
	}
	wg.Wait()
	ok, conflicts := 0, 0
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case errors.Is(err, order.ErrConflict):
			conflicts++
		default:
			t.Fatal(err)
		}
	}
	if ok != 100 || conflicts != 100 {
		t.Fatalf("ok %d conflicts %d, want 100/100", ok, conflicts)
	}
	jobs, _ := db.Lease(ctx, 1000, time.Minute, nil)
	if len(jobs) != 100 {
		t.Fatalf("jobs queued = %d, want 100 (one per created order, none from conflicting saves)", len(jobs))
	}
}

func TestReopenKeepsData(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "orderflow.db")
	db, err := Open(path, Options{LocalQueue: true})
	if err != nil {
		t.Fatal(err)
	}
	o := ordertest.NewOrder("acme.myshopify.com", "5")
	o.Outbox = []order.Job{{ID: "j5", Kind: order.JobDispatch, Order: o.ID}}
	if err := db.Save(ctx, o); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if err := db.Save(ctx, o); !errors.Is(err, ErrClosed) {
		t.Fatalf("save after close: %v", err)
	}
	db, err = Open(path, Options{LocalQueue: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Get(ctx, o.ID); err != nil {
		t.Fatal(err)
	}
	if jobs, _ := db.Lease(ctx, 10, time.Minute, nil); len(jobs) != 1 {
		t.Fatalf("job lost across reopen: %v", jobs)
	}
}

func TestOpenBadDataDir(t *testing.T) {
	_, err := Open("/proc/nope/orderflow.db", Options{})
	if err == nil {
		t.Fatal("opened a database under /proc")
	}
}

func TestReclaimLeases(t *testing.T) {
	ctx := context.Background()
	db := open(t, Options{})
	if err := db.Enqueue(ctx, order.Job{ID: "a", Kind: order.JobDispatch, Order: "o", Warehouse: "w"}); err != nil {
		t.Fatal(err)
	}
	if got, _ := db.Lease(ctx, 1, time.Hour, nil); len(got) != 1 {
		t.Fatal("not leased")
	}
	if got, _ := db.Lease(ctx, 1, time.Hour, nil); len(got) != 0 {
		t.Fatal("leased twice")
	}
	// The process that leased it died; the next one reclaims it at start-up.
	if n, err := db.ReclaimLeases(ctx); err != nil || n != 1 {
		t.Fatalf("reclaimed %d, %v", n, err)
	}
	if got, _ := db.Lease(ctx, 1, time.Hour, nil); len(got) != 1 || got[0].ID != "a" {
		t.Fatalf("after reclaim: %v", got)
	}
}

func TestQueueContract(t *testing.T) {
	ordertest.RunQueueContract(t, func(t *testing.T) ordertest.QueueHarness {
		db := open(t, Options{LocalQueue: true})
		return ordertest.QueueHarness{
			Queue: db,
			Take: func(t *testing.T) []order.Job {
				js, err := db.Lease(context.Background(), 100, time.Minute, nil)
				if err != nil {
					t.Fatal(err)
				}
				for _, j := range js {
					if err := db.Complete(context.Background(), j.ID); err != nil {
						t.Fatal(err)
					}
				}
				return js
			},
			Scheduled: func(t *testing.T) map[string]time.Time {
				rows, err := db.r.Query("SELECT id, run_at FROM jobs WHERE state = 'ready'")
				if err != nil {
					t.Fatal(err)
				}
				defer rows.Close()
				out := map[string]time.Time{}
				for rows.Next() {
					var id string
					var at int64
					if err := rows.Scan(&id, &at); err != nil {
						t.Fatal(err)
					}
					out[id] = time.UnixMilli(at)
				}
				return out
			},
		}
	})
}
