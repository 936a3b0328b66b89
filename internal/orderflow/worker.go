package orderflow

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/shipwell/orderflow/internal/order"
)

// LocalQueue is the in-process queue the Worker drains; the SQLite default implements it.
type LocalQueue interface {
	Lease(ctx context.Context, n int, ttl time.Duration, skipWarehouses []string) ([]order.Job, error)
	Complete(ctx context.Context, id string) error
	Retry(ctx context.Context, j order.Job, at time.Time, reason string) error
	Release(ctx context.Context, ids ...string) error
	Wake() <-chan struct{}
	NextRunAt(ctx context.Context) (time.Time, error)
}

// Worker runs queued jobs in-process (standalone mode): a bounded number at once, a bounded
// number per warehouse so that one slow or dead warehouse never holds up the others.
type Worker struct {
	Queue   LocalQueue
	Process func(context.Context, order.Job) order.Outcome
	// Concurrency is how many jobs run at once (default 8).
	Concurrency int
	// PerWarehouse is how many of them may go to one warehouse (default Concurrency/2, at least 1).
	PerWarehouse int
	// LeaseTTL must exceed the longest job; a crashed worker's jobs run again after it (default 2 min).
	LeaseTTL time.Duration
	// Poll is the longest idle wait between queue checks (default 1 s).
	Poll time.Duration
	// Grace is how long in-flight jobs may finish after Run's context ends (default 10 s).
	Grace time.Duration
	Log   *slog.Logger
}

func (w *Worker) defaults() {
	if w.Concurrency <= 0 {
		w.Concurrency = 8
	}
	if w.PerWarehouse <= 0 {
		w.PerWarehouse = max(1, w.Concurrency/2)
	}
	if w.LeaseTTL <= 0 {
		w.LeaseTTL = 2 * time.Minute
	}
	if w.Poll <= 0 {
		w.Poll = time.Second
	}
	if w.Grace <= 0 {
		w.Grace = 10 * time.Second
	}
	if w.Log == nil {
		w.Log = slog.Default()
	}
}

// Run drains the queue until ctx ends, then lets in-flight jobs finish (up to Grace).
func (w *Worker) Run(ctx context.Context) {
	w.defaults()
	// Jobs run under their own context, cancelled only when the grace period after ctx runs out.
	jobCtx, cancelJobs := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelJobs()

	var mu sync.Mutex
	running := 0
	perWH := map[string]int{}
	slotFree := make(chan struct{}, 1)
	var wg sync.WaitGroup

	for ctx.Err() == nil {
		mu.Lock()
		free := w.Concurrency - running
		var skip []string
		for wh, n := range perWH {
			if n >= w.PerWarehouse {
				skip = append(skip, wh)
			}
		}
		mu.Unlock()

		var jobs []order.Job
		if free > 0 {
			var err error
			jobs, err = w.Queue.Lease(ctx, free, w.LeaseTTL, skip)
			if err != nil && ctx.Err() == nil {
				w.Log.Error("lease jobs", "error", err)
			}
		}
		// One lease may return more jobs for a warehouse than its share (a backlog, or a wave of
		// retries falling due together): give the excess back so that a slow or dead warehouse
		// never holds more than PerWarehouse slots.
		var excess []string
		for _, j := range jobs {
			mu.Lock()
			if perWH[j.Warehouse] >= w.PerWarehouse {
				mu.Unlock()
				excess = append(excess, j.ID)
				continue
			}
			running++
			perWH[j.Warehouse]++
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				w.run(jobCtx, j)
				mu.Lock()
				running--
				perWH[j.Warehouse]--
				mu.Unlock()
				select {
				case slotFree <- struct{}{}:
				default:
				}
			}()
		}
		if len(excess) > 0 {
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			if err := w.Queue.Release(rctx, excess...); err != nil {
				w.Log.Error("release jobs over the per-warehouse share", "jobs", len(excess), "error", err)
			}
			cancel()
		}
		if len(jobs) == free && free > 0 {
			continue // there may be more ready right now (for other warehouses, if some went back)
		}
		wait := w.Poll
		if at, err := w.Queue.NextRunAt(ctx); err == nil && !at.IsZero() {
			if d := time.Until(at); d < wait {
				wait = max(d, 5*time.Millisecond)
			}
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
		case <-w.Queue.Wake():
		case <-slotFree:
		case <-t.C:
		}
		t.Stop()
	}

	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(w.Grace):
		w.Log.Warn("shutdown: cancelling in-flight jobs after the grace period")
		cancelJobs()
		<-done
	}
}

// run processes one job and settles it. Settlement uses a fresh context so that a shutdown does
// not lose the outcome; if settlement fails anyway the lease runs out and the job runs again,
// which is harmless because jobs are idempotent.
func (w *Worker) run(ctx context.Context, j order.Job) {
	out := w.Process(ctx, j)
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	var err error
	switch out.Kind {
	case order.OutcomeRetry:
		j.Attempt++
		err = w.Queue.Retry(sctx, j, time.Now().Add(out.After), out.Reason)
	default:
		err = w.Queue.Complete(sctx, j.ID)
	}
	if err != nil {
		w.Log.Error("settle job", "job", j.ID, "outcome", out.Kind.String(), "error", err)
	}
}
