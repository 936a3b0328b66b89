package cosmos_test

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/shipwell/orderflow/internal/cosmos"
	"github.com/shipwell/orderflow/internal/cosmos/cosmostest"
	"github.com/shipwell/orderflow/internal/order"
	"github.com/shipwell/orderflow/internal/order/ordertest"
)

// throttledStore opens a store on a fresh container; faults injected with its PathPrefix only
// hit this test.
func throttledStore(t *testing.T, mod func(*cosmos.Config)) (*cosmos.Store, *cosmostest.Container, *cosmostest.Server) {
	t.Helper()
	srv := cosmostest.Start(t)
	srv.RequireSimulator(t)
	c := srv.NewContainer(t, recommended)
	cfg := config(t, srv, c)
	if mod != nil {
		mod(&cfg)
	}
	return open(t, cfg), c, srv
}

// 429s are retried after x-ms-retry-after-ms and the operation succeeds, for every kind of
// request the store sends.
func TestThrottleRetriedThenSucceeds(t *testing.T) {
	t.Parallel()
	s, c, srv := throttledStore(t, nil)
	o := ordertest.NewOrder(shop, "1")
	for _, tc := range []struct {
		name, method string
		op           func() error
	}{
		{"create", http.MethodPost, func() error { return s.Save(ctx(t), o) }},
		{"read", http.MethodGet, func() error { _, err := s.Get(ctx(t), o.ID); return err }},
		{"replace", http.MethodPut, func() error { return s.Save(ctx(t), o) }},
		{"query", http.MethodPost, func() error {
			got, err := s.FindByOrderID(ctx(t), "1")
			if err == nil && len(got) != 1 {
				return errors.New("query found nothing")
			}
			return err
		}},
	} {
		before := s.Stats()
		srv.InjectFault(t, cosmostest.Fault{Status: http.StatusTooManyRequests, Count: 2, RetryAfter: 20 * time.Millisecond,
			PathPrefix: c.PathPrefix(), Method: tc.method})
		if err := tc.op(); err != nil {
			t.Fatalf("%s through two 429s: %v", tc.name, err)
		}
		after := s.Stats()
		if n := after.Throttled - before.Throttled; n != 2 {
			t.Errorf("%s: %d throttled responses counted, want 2", tc.name, n)
		}
		if n := after.Requests - before.Requests; n != 3 {
			t.Errorf("%s: %d requests, want 3 (two 429s and the retry)", tc.name, n)
		}
	}
	if got, err := s.Get(ctx(t), o.ID); err != nil || got.Version != 2 {
		t.Fatalf("after throttled writes: version %v, %v", got, err)
	}
}

// A 429 storm ends in ErrThrottled carrying the requested wait, after MaxThrottleRetries
// retries, MaxThrottleWait in total, or at once when the caller's deadline is nearer than the
// wait: never a hang, never a context timeout.
func TestThrottleGivesUp(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name       string
		mod        func(*cosmos.Config)
		faults     int
		retryAfter time.Duration
		deadline   time.Duration
		throttled  int64
	}{
		{"retries used up", func(c *cosmos.Config) { c.MaxThrottleRetries = 3 }, 4, 20 * time.Millisecond, 30 * time.Second, 4},
		{"total wait used up", func(c *cosmos.Config) { c.MaxThrottleWait = 100 * time.Millisecond }, 2, 80 * time.Millisecond, 30 * time.Second, 2},
		{"wait beyond the deadline", nil, 1, 10 * time.Second, 2 * time.Second, 1},
		{"no retries", func(c *cosmos.Config) { c.MaxThrottleRetries = -1 }, 1, 20 * time.Millisecond, 30 * time.Second, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s, c, srv := throttledStore(t, tc.mod)
			srv.InjectFault(t, cosmostest.Fault{Status: http.StatusTooManyRequests, Count: tc.faults, RetryAfter: tc.retryAfter,
				PathPrefix: c.PathPrefix(), Method: http.MethodPost})
			cx, cancel := context.WithTimeout(context.Background(), tc.deadline)
			defer cancel()
			err := s.Save(cx, ordertest.NewOrder(shop, "1"))
			if !errors.Is(err, cosmos.ErrThrottled) || errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("Save = %v, want ErrThrottled", err)
			}
			if got := order.RetryAfter(err); got != tc.retryAfter {
				t.Errorf("RetryAfter = %s, want %s", got, tc.retryAfter)
			}
			if n := s.Stats().Throttled; n != tc.throttled {
				t.Errorf("%d throttled responses, want %d", n, tc.throttled)
			}
			// All injected faults were used; the store works again.
			if err := s.Save(ctx(t), ordertest.NewOrder(shop, "2")); err != nil {
				t.Fatalf("after the storm: %v", err)
			}
		})
	}
}
