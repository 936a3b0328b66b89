package shopify

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shipwell/orderflow/internal/shopifysim"
)

const testToken = "shpat_0123456789abcdef_secret"

// fakeClock is the clock shared by the client and the simulator: Sleep advances it at once
// and records the wait, so throttling tests never really wait.
type fakeClock struct {
	mu     sync.Mutex
	t      time.Time
	sleeps []time.Duration
	// onSleep, when set, runs (without the lock) before each recorded sleep.
	onSleep func(d time.Duration)
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if c.onSleep != nil {
		c.onSleep(d)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
	c.sleeps = append(c.sleeps, d)
	return nil
}

func (c *fakeClock) Sleeps() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]time.Duration(nil), c.sleeps...)
}

// logBuffer collects log output for assertions.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// env is a client wired to a simulator over real HTTP.
type env struct {
	client *Client
	sim    *shopifysim.Server
	clock  *fakeClock
	logs   *logBuffer
	url    string
}

// newEnv starts a simulator and a client sharing a fake clock. tweak adjusts the config.
func newEnv(t *testing.T, simOpts shopifysim.Options, tweak func(*Config)) *env {
	t.Helper()
	clock := newFakeClock()
	simOpts.AccessToken = testToken
	simOpts.Now = clock.Now
	simOpts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	sim, err := shopifysim.New(simOpts)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	logs := &logBuffer{}
	cfg := Config{
		StoreURL:    srv.URL,
		AccessToken: testToken,
		Logger:      slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Now:         clock.Now,
		Sleep:       clock.Sleep,
		Jitter:      func() float64 { return 0 },
	}
	if tweak != nil {
		tweak(&cfg)
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if strings.Contains(logs.String(), testToken) {
			t.Errorf("the access token appears in the logs")
		}
	})
	return &env{client: c, sim: sim, clock: clock, logs: logs, url: srv.URL}
}

// seedOrder adds an order with one OPEN fulfillment order of the given lines at location.
func (e *env) seedOrder(t *testing.T, id, location string, lines ...shopifysim.FulfillmentOrderLine) shopifysim.Order {
	t.Helper()
	o, err := e.sim.AddOrder(shopifysim.Order{ID: id, FulfillmentOrders: []shopifysim.FulfillmentOrder{{LocationID: location, Lines: lines}}})
	if err != nil {
		t.Fatal(err)
	}
	return o
}

func intp(i int) *int { return &i }
