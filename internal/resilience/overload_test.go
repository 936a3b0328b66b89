package resilience_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shipwell/orderflow/internal/httpapi"
	"github.com/shipwell/orderflow/internal/order"
	"github.com/shipwell/orderflow/internal/orderflow"
	"github.com/shipwell/orderflow/internal/routing"
	"github.com/shipwell/orderflow/internal/sqlite"
	"github.com/shipwell/orderflow/internal/webhook"
)

// slack is how late past its deadline an answer may still come (scheduling on a busy 2-core
// machine under -race, not product latency).
const slack = 300 * time.Millisecond

// gatedStore is the SQLite store with a Save that waits for a gate per order (a slow or stuck
// store), giving up when the request's context ends, as a store call bounded by the webhook
// deadline does.
type gatedStore struct {
	*sqlite.DB
	mu      sync.Mutex
	gates   map[string]chan struct{} // Shopify order id → closed when its Save may go on
	waiting atomic.Int64
}

func (s *gatedStore) gate(orderID string) chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.gates[orderID]
}

// hold makes the Saves of these orders wait until the returned function is called.
func (s *gatedStore) hold(ds ...*delivery) (release func()) {
	g := make(chan struct{})
	s.mu.Lock()
	for _, d := range ds {
		s.gates[d.OrderID] = g
	}
	s.mu.Unlock()
	var once sync.Once
	return func() { once.Do(func() { close(g) }) }
}

func (s *gatedStore) Save(ctx context.Context, o *order.Order) error {
	if g := s.gate(o.OrderID); g != nil {
		s.waiting.Add(1)
		defer s.waiting.Add(-1)
		select {
		case <-g:
		case <-ctx.Done():
			return fmt.Errorf("slow store (test): %w", ctx.Err())
		}
	}
	return s.DB.Save(ctx, o)
}

// overloadServer is the product's HTTP handler in-process on the gated store.
type overloadServer struct {
	url   string
	store *gatedStore
}

func newOverloadServer(t *testing.T, maxInFlight int, deadline, queueWait time.Duration) *overloadServer {
	t.Helper()
	db, err := sqlite.Open(filepath.Join(t.TempDir(), "orderflow.db"), sqlite.Options{LocalQueue: true})
	if err != nil {
		t.Fatal(err)
	}
	st := &gatedStore{DB: db, gates: map[string]chan struct{}{}}
	quiet := slog.New(slog.DiscardHandler)
	svc := &orderflow.Service{Store: st, Queue: db, Warehouses: map[string]orderflow.Warehouse{}, Route: routing.Default().Route,
		AllowedShop: shop, Log: quiet}
	v, err := webhook.NewVerifier(secret, "")
	if err != nil {
		t.Fatal(err)
	}
	s := &httpapi.Server{Service: svc, Verifier: v, Log: quiet, MaxInFlight: maxInFlight, Deadline: deadline, QueueWait: queueWait}
	s.SetReady(true)
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(func() {
		srv.Close()
		db.Close()
	})
	return &overloadServer{url: srv.URL, store: st}
}

// recorded reports whether the order is in the order log.
func (o *overloadServer) recorded(t *testing.T, d *delivery) bool {
	t.Helper()
	_, err := o.store.Get(context.Background(), order.RecordID(shop, d.OrderID))
	if err != nil && !errors.Is(err, order.ErrNotFound) {
		t.Fatal(err)
	}
	return err == nil
}

// sendAsync sends each delivery from its own goroutine; wait returns the answers.
func sendAsync(url string, ds []*delivery) (wait func() []answer) {
	c := newClient(true)
	out := make([]answer, len(ds))
	var wg sync.WaitGroup
	for i, d := range ds {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out[i] = send(c, url, d)
		}()
	}
	return func() []answer {
		wg.Wait()
		return out
	}
}

// TestOverloadShedsWith503 fills MAX_IN_FLIGHT_REQUESTS with webhooks stuck in a slow store and
// sends more: the excess is answered 503 with Retry-After after the queue wait (about a second,
// well under Shopify's 5 s) and not recorded; the stuck ones, released before their deadline,
// are answered 200 and recorded; the shed ones, redelivered, are recorded.
func TestOverloadShedsWith503(t *testing.T) {
	const (
		maxInFlight = 4
		deadline    = 3 * time.Second
		queueWait   = time.Second
	)
	o := newOverloadServer(t, maxInFlight, deadline, queueWait)
	held := makeOrders(t, maxInFlight, 7600000000000)
	excess := makeOrders(t, 8, 7600000000100)
	release := o.store.hold(held...)
	defer release()

	waitHeld := sendAsync(o.url, held)
	waitUntil(t, 5*time.Second, func() (bool, string) {
		n := o.store.waiting.Load()
		return n == maxInFlight, fmt.Sprintf("%d of %d requests in the store", n, maxInFlight)
	})
	began := time.Now()
	shed := sendAsync(o.url, excess)()
	shedIn := time.Since(began)
	release()
	heldAnswers := waitHeld()

	for i, a := range shed {
		ra, err := strconv.Atoi(a.RetryAfter)
		switch {
		case a.Status != http.StatusServiceUnavailable || err != nil || ra < 1:
			t.Errorf("excess order %s: %s, Retry-After %q; want 503 with Retry-After", excess[i].OrderID, a, a.RetryAfter)
		case a.Took < queueWait-50*time.Millisecond || a.Took > queueWait+slack:
			t.Errorf("excess order %s: shed after %s, want after the queue wait %s", excess[i].OrderID, a.Took, queueWait)
		}
		if o.recorded(t, excess[i]) {
			t.Errorf("excess order %s was answered 503 but recorded", excess[i].OrderID)
		}
	}
	requireOutcome(t, held, heldAnswers, "recorded")
	for i, a := range heldAnswers {
		if a.Took > deadline+slack {
			t.Errorf("held order %s answered after %s, past the deadline %s", held[i].OrderID, a.Took, deadline)
		}
		if !o.recorded(t, held[i]) {
			t.Errorf("held order %s was answered 200 but is not recorded", held[i].OrderID)
		}
	}
	// Shopify retries a 503: the redelivery is taken in.
	again := sendAsync(o.url, excess)()
	requireOutcome(t, excess, again, "recorded")
	t.Logf("%d excess requests shed with 503 + Retry-After in %s (each after ~%s); %d held requests answered 200 recorded once released; "+
		"redelivered excess recorded", len(excess), shedIn.Round(time.Millisecond), queueWait, len(held))
}

// TestOverloadDeadline makes the store hang: every webhook is answered 503 (so that Shopify
// retries) within its deadline, counted from when the request arrived, including the time it
// waited for a slot, and nothing is recorded. A late answer is a failure at Shopify and, if it
// is a 200, a duplicate in the making.
func TestOverloadDeadline(t *testing.T) {
	cases := []struct {
		name        string
		maxInFlight int
		deadline    time.Duration
		queueWait   time.Duration
		// first are sent first and released after release (0: never); then rest are sent.
		first, rest int
		release     time.Duration
	}{
		{name: "every slot stuck", maxInFlight: 4, deadline: 1500 * time.Millisecond, queueWait: time.Second, first: 4, rest: 0},
		{name: "waited for a slot, then stuck", maxInFlight: 1, deadline: 1500 * time.Millisecond, queueWait: time.Second,
			first: 1, rest: 2, release: 800 * time.Millisecond},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			o := newOverloadServer(t, c.maxInFlight, c.deadline, c.queueWait)
			first := makeOrders(t, c.first, 7700000000000)
			rest := makeOrders(t, c.rest, 7700000000100)
			releaseFirst := o.store.hold(first...)
			defer releaseFirst()
			releaseRest := o.store.hold(rest...)
			defer releaseRest()

			waitFirst := sendAsync(o.url, first)
			waitUntil(t, 5*time.Second, func() (bool, string) {
				n := o.store.waiting.Load()
				return n == int64(c.first), fmt.Sprintf("%d of %d requests in the store", n, c.first)
			})
			waitRest := sendAsync(o.url, rest)
			if c.release > 0 {
				time.Sleep(c.release)
				releaseFirst()
			}
			firstAnswers, restAnswers := waitFirst(), waitRest()

			for i, a := range firstAnswers {
				want := http.StatusServiceUnavailable
				if c.release > 0 {
					want = http.StatusOK
				}
				if a.Status != want || a.Took > c.deadline+slack {
					t.Errorf("first order %s: %s, want %d within the deadline %s", first[i].OrderID, a, want, c.deadline)
				}
				if o.recorded(t, first[i]) != (want == http.StatusOK) {
					t.Errorf("first order %s: answered %d, recorded %v", first[i].OrderID, a.Status, !(want == http.StatusOK))
				}
			}
			for i, a := range restAnswers {
				if a.Status != http.StatusServiceUnavailable || a.Took > c.deadline+slack {
					t.Errorf("order %s: %s, want 503 within the deadline %s of its arrival", rest[i].OrderID, a, c.deadline)
				}
				if o.recorded(t, rest[i]) {
					t.Errorf("order %s answered %d but recorded", rest[i].OrderID, a.Status)
				}
			}
			t.Logf("deadline %s, queue wait %s: first %v; then %v", c.deadline, c.queueWait, tooks(firstAnswers), tooks(restAnswers))
		})
	}
}

func tooks(as []answer) []string {
	var out []string
	for _, a := range as {
		out = append(out, fmt.Sprintf("%d after %s", a.Status, a.Took.Round(10*time.Millisecond)))
	}
	return out
}
