package shopify

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/shipwell/orderflow/internal/order"
	"github.com/shipwell/orderflow/internal/shopifysim"
)

func f64(v float64) *float64 { return &v }

// seedStateOrder gives FulfillmentState something to read.
func seedStateOrder(t *testing.T, e *env) {
	t.Helper()
	e.seedOrder(t, "9001", "1", shopifysim.FulfillmentOrderLine{SKU: "A", Quantity: 2})
}

func TestThrottledWaitsRequestedMinusAvailableOverRestoreRate(t *testing.T) {
	e := newEnv(t, shopifysim.Options{}, nil)
	seedStateOrder(t, e)
	// The documented body: requested 752, available 552, restore 50 → wait 4 s.
	e.sim.InjectFaults(shopifysim.Fault{Kind: shopifysim.FaultThrottled, Requested: f64(752), Available: f64(552), RestoreRate: f64(50)})
	st, err := e.client.FulfillmentState(context.Background(), "9001")
	if err != nil {
		t.Fatal(err)
	}
	if len(st.FulfillmentOrders) != 1 {
		t.Errorf("state = %+v", st)
	}
	if got := e.clock.Sleeps(); len(got) == 0 || got[0] != 4*time.Second {
		t.Errorf("sleeps = %v, want first 4s", got)
	}
	if n := e.sim.Requests(); n != 2 {
		t.Errorf("%d requests, want 2", n)
	}
}

func TestPreemptiveWaitWhenTheBucketCannotAfford(t *testing.T) {
	e := newEnv(t, shopifysim.Options{RestoreRate: 100}, nil)
	seedStateOrder(t, e)
	ctx := context.Background()
	if _, err := e.client.FulfillmentState(ctx, "9001"); err != nil { // learns the bucket and the query's cost
		t.Fatal(err)
	}
	cost := e.client.bucket.costOf("OrderFulfillmentState")
	if cost < 100 {
		t.Fatalf("requested cost %v: too small for this test", cost)
	}
	// Drain Shopify's bucket; the next (cheap) answer tells the client.
	item, err := e.sim.AddInventoryItem(shopifysim.InventoryItem{SKU: "S-1", Available: map[string]int{"1": 3}})
	if err != nil {
		t.Fatal(err)
	}
	e.sim.SetBucket(200, -1)
	if _, err := e.client.Available(ctx, "1", []string{item.ID}); err != nil {
		t.Fatal(err)
	}
	if len(e.clock.Sleeps()) != 0 {
		t.Fatalf("waited before the bucket was low: %v", e.clock.Sleeps())
	}
	e.client.bucket.mu.Lock()
	avail := e.client.bucket.avail
	e.client.bucket.mu.Unlock()
	if avail >= cost {
		t.Fatalf("client sees %v available, want less than the cost %v", avail, cost)
	}
	if _, err := e.client.FulfillmentState(ctx, "9001"); err != nil {
		t.Fatal(err)
	}
	sleeps := e.clock.Sleeps()
	if len(sleeps) != 1 {
		t.Fatalf("sleeps = %v, want one pre-emptive wait", sleeps)
	}
	want := time.Duration((cost - avail) / 100 * float64(time.Second))
	if diff := sleeps[0] - want; diff < -time.Millisecond || diff > time.Millisecond {
		t.Errorf("waited %v, want (cost %v - available %v)/100 = %v", sleeps[0], cost, avail, want)
	}
	if n := e.sim.Requests(); n != 3 {
		t.Errorf("%d requests, want 3 (no THROTTLED round trip)", n)
	}
}

func TestRetryAfterOn429(t *testing.T) {
	for _, tt := range []struct {
		header string
		want   time.Duration
	}{{"2.0", 2 * time.Second}, {"0.5", 500 * time.Millisecond}, {"3", 3 * time.Second}} {
		t.Run(tt.header, func(t *testing.T) {
			e := newEnv(t, shopifysim.Options{}, nil)
			seedStateOrder(t, e)
			e.sim.InjectFaults(shopifysim.Fault{Kind: shopifysim.FaultHTTP, Status: 429, RetryAfter: tt.header,
				Body: `{"errors":"Exceeded 2 calls per second for api client. Reduce request rates to resume uninterrupted service."}`})
			if _, err := e.client.FulfillmentState(context.Background(), "9001"); err != nil {
				t.Fatal(err)
			}
			if got := e.clock.Sleeps(); len(got) != 1 || got[0] != tt.want {
				t.Errorf("sleeps = %v, want [%v]", got, tt.want)
			}
		})
	}
}

func TestServerErrorsBackOffExponentially(t *testing.T) {
	e := newEnv(t, shopifysim.Options{}, nil)
	seedStateOrder(t, e)
	e.sim.InjectFaults(shopifysim.Fault{Kind: shopifysim.FaultHTTP, Status: 503, Body: `{"errors":"unavailable"}`, Times: 2},
		shopifysim.Fault{Kind: shopifysim.FaultDrop})
	if _, err := e.client.FulfillmentState(context.Background(), "9001"); err != nil {
		t.Fatal(err)
	}
	// Jitter 0: half of 250ms·2^n.
	want := []time.Duration{125 * time.Millisecond, 250 * time.Millisecond, 500 * time.Millisecond}
	if got := e.clock.Sleeps(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("sleeps = %v, want %v", got, want)
	}
	if n := e.sim.Requests(); n != 4 {
		t.Errorf("%d requests, want 4", n)
	}
}

func TestBackoffJitterStaysInRange(t *testing.T) {
	c := &Client{maxWait: 30 * time.Second, jitter: func() float64 { return 0.999 }}
	for attempt, full := range []time.Duration{250 * time.Millisecond, 500 * time.Millisecond, time.Second} {
		if d := c.backoff(attempt); d < full/2 || d >= full {
			t.Errorf("attempt %d: %v outside [%v, %v)", attempt, d, full/2, full)
		}
	}
	if d := c.backoff(40); d > 30*time.Second {
		t.Errorf("backoff not capped: %v", d)
	}
}

func TestRetriesAreBounded(t *testing.T) {
	e := newEnv(t, shopifysim.Options{}, func(c *Config) { c.MaxRetries = 3 })
	seedStateOrder(t, e)
	e.sim.InjectFaults(shopifysim.Fault{Kind: shopifysim.FaultHTTP, Status: 502, Body: `bad gateway`, Times: 100})
	_, err := e.client.FulfillmentState(context.Background(), "9001")
	var he *HTTPError
	if !errors.As(err, &he) || he.StatusCode != 502 {
		t.Fatalf("err = %v, want the 502", err)
	}
	if order.IsPermanent(err) {
		t.Error("a 502 after retries must stay transient (the job retries later)")
	}
	if order.RetryAfter(err) <= 0 {
		t.Error("no RetryAfter on the final error")
	}
	if n := e.sim.Requests(); n != 4 {
		t.Errorf("%d requests, want 4 (1 + 3 retries)", n)
	}
}

func TestMissingExtensionsNeverPanicOrStall(t *testing.T) {
	e := newEnv(t, shopifysim.Options{}, nil)
	seedStateOrder(t, e)
	ctx := context.Background()
	// An answer without extensions, then a THROTTLED error without any cost block.
	e.sim.InjectFaults(shopifysim.Fault{Kind: shopifysim.FaultNoExtensions},
		shopifysim.Fault{Kind: shopifysim.FaultGraphQLError, Code: "THROTTLED", Message: "Throttled"})
	if _, err := e.client.FulfillmentState(ctx, "9001"); err != nil {
		t.Fatal(err)
	}
	if e.client.bucket.known {
		t.Error("bucket marked known without a throttleStatus")
	}
	if _, err := e.client.FulfillmentState(ctx, "9001"); err != nil {
		t.Fatal(err)
	}
	if got := e.clock.Sleeps(); len(got) != 1 || got[0] != 125*time.Millisecond {
		t.Errorf("sleeps = %v, want one backoff of 125ms", got)
	}
}

func TestRestoreRateZeroIsBounded(t *testing.T) {
	t.Run("THROTTLED reporting restoreRate 0", func(t *testing.T) {
		e := newEnv(t, shopifysim.Options{}, nil)
		seedStateOrder(t, e)
		e.sim.InjectFaults(shopifysim.Fault{Kind: shopifysim.FaultThrottled, RestoreRate: f64(0), Available: f64(0), Times: 2})
		if _, err := e.client.FulfillmentState(context.Background(), "9001"); err != nil {
			t.Fatal(err)
		}
		if got := e.clock.Sleeps(); fmt.Sprint(got) != fmt.Sprint([]time.Duration{125 * time.Millisecond, 250 * time.Millisecond}) {
			t.Errorf("sleeps = %v, want backoff waits", got)
		}
	})
	t.Run("a bucket that never refills", func(t *testing.T) {
		e := newEnv(t, shopifysim.Options{RestoreRate: -1}, func(c *Config) { c.MaxRetries = 2 })
		seedStateOrder(t, e)
		ctx := context.Background()
		if _, err := e.client.FulfillmentState(ctx, "9001"); err != nil {
			t.Fatal(err)
		}
		// Drained, and nothing refills it: Shopify says THROTTLED forever.
		e.sim.SetBucket(10, -1)
		_, err := e.client.FulfillmentState(ctx, "9001")
		var ge *GraphQLError
		if !errors.As(err, &ge) || ge.Code() != CodeThrottled {
			t.Fatalf("err = %v, want THROTTLED after bounded retries", err)
		}
		if order.IsPermanent(err) || order.RetryAfter(err) <= 0 {
			t.Errorf("want a transient error with RetryAfter, got %v", err)
		}
		if n := e.sim.Requests(); n != 4 {
			t.Errorf("%d requests, want 1 + 3 (the call and 2 retries)", n)
		}
		var total time.Duration
		for _, d := range e.clock.Sleeps() {
			total += d
		}
		if total > 5*time.Second {
			t.Errorf("waited %v in total", total)
		}
	})
}

func TestWaitsRespectTheContextDeadline(t *testing.T) {
	e := newEnv(t, shopifysim.Options{}, nil)
	seedStateOrder(t, e)
	e.sim.InjectFaults(shopifysim.Fault{Kind: shopifysim.FaultThrottled, Requested: f64(900), Available: f64(0), RestoreRate: f64(100)})
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_, err := e.client.FulfillmentState(ctx, "9001")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want DeadlineExceeded", err)
	}
	if got := order.RetryAfter(err); got != 9*time.Second {
		t.Errorf("RetryAfter = %v, want the 9s Shopify asked for", got)
	}
	if len(e.clock.Sleeps()) != 0 {
		t.Errorf("slept %v although the deadline was nearer", e.clock.Sleeps())
	}

	cancelled, cancelNow := context.WithCancel(context.Background())
	cancelNow()
	if _, err := e.client.FulfillmentState(cancelled, "9001"); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled context: err = %v", err)
	}
}

func TestBucketTakeLeavesReserveForHighPriority(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	b := newBucket(0.25)
	b.observe(now, "Op", &costInfo{RequestedQueryCost: 100, ThrottleStatus: &struct {
		MaximumAvailable   float64 `json:"maximumAvailable"`
		CurrentlyAvailable float64 `json:"currentlyAvailable"`
		RestoreRate        float64 `json:"restoreRate"`
	}{1000, 300, 100}})
	// Low: needs 100 + 250 reserve, has 300 → waits 0.5s.
	if d := b.take(now, PriorityLow, 100); d != 500*time.Millisecond {
		t.Errorf("low take = %v, want 500ms", d)
	}
	// High: 300 ≥ 100 → goes, spends.
	if d := b.take(now, PriorityHigh, 100); d != 0 {
		t.Errorf("high take = %v, want 0", d)
	}
	if b.avail != 200 {
		t.Errorf("avail = %v, want 200", b.avail)
	}
	// A high-priority call waiting makes low ones yield even when they could afford it.
	later := now.Add(10 * time.Second) // full again
	b.addHighWaiting(1)
	if d := b.take(later, PriorityLow, 10); d != yieldWait {
		t.Errorf("low take while high waits = %v, want %v", d, yieldWait)
	}
	b.addHighWaiting(-1)
	if d := b.take(later, PriorityLow, 10); d != 0 {
		t.Errorf("low take = %v, want 0", d)
	}
	// Unknown bucket or restoreRate 0: never waits.
	if d := newBucket(0.25).take(now, PriorityLow, 5000); d != 0 {
		t.Errorf("unknown bucket waits %v", d)
	}
}

// TestLowPriorityYieldsToWaitingHighPriority runs the real acquire loop: a high-priority call
// blocks in its wait; a low-priority call that could afford its cost must not go first.
func TestLowPriorityYieldsToWaitingHighPriority(t *testing.T) {
	clock := newFakeClock()
	entered, release, highAdmitted := make(chan struct{}), make(chan struct{}), make(chan struct{})
	var once, releaseOnce sync.Once
	c, err := New(Config{StoreURL: "acme.myshopify.com", AccessToken: "t", Now: clock.Now, Logger: discard()})
	if err != nil {
		t.Fatal(err)
	}
	yields := 0
	c.sleep = func(ctx context.Context, d time.Duration) error {
		if d != yieldWait { // the high-priority call's first wait blocks until released
			once.Do(func() { close(entered); <-release })
			return clock.Sleep(ctx, d)
		}
		yields++
		switch {
		case yields == 5:
			releaseOnce.Do(func() { close(release) })
		case yields > 5:
			// Let the released high-priority call run before fake time moves on (with fake
			// sleeps the yielding loop could otherwise outrun the scheduler).
			select {
			case <-highAdmitted:
			case <-time.After(5 * time.Second):
			}
		}
		return clock.Sleep(ctx, d)
	}
	c.bucket.observe(clock.Now(), "High", &costInfo{RequestedQueryCost: 300, ThrottleStatus: &struct {
		MaximumAvailable   float64 `json:"maximumAvailable"`
		CurrentlyAvailable float64 `json:"currentlyAvailable"`
		RestoreRate        float64 `json:"restoreRate"`
	}{1000, 400, 100}})
	c.bucket.cost["Low"] = 10

	var mu sync.Mutex
	var admitted []string
	c.onAdmit = func(op string) {
		mu.Lock()
		admitted = append(admitted, op)
		mu.Unlock()
		if op == "High" {
			close(highAdmitted)
		}
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		// 400 available, but the high call is made to need 600: it waits.
		c.bucket.mu.Lock()
		c.bucket.cost["High"] = 600
		c.bucket.mu.Unlock()
		if err := c.acquire(context.Background(), call{op: "High", priority: PriorityHigh}); err != nil {
			t.Error(err)
		}
	}()
	<-entered
	if err := c.acquire(context.Background(), call{op: "Low", priority: PriorityLow}); err != nil {
		t.Fatal(err)
	}
	releaseOnce.Do(func() { close(release) }) // in case the low call never yielded
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	if fmt.Sprint(admitted) != "[High Low]" {
		t.Errorf("admission order %v, want [High Low]", admitted)
	}
	if yields < 5 {
		t.Errorf("low-priority call yielded %d times", yields)
	}
}

// TestInventorySyncCannotStarveFulfillment drains the bucket with low-priority inventory
// calls: they stop at the reserve and wait, while a fulfillment read still goes at once.
func TestInventorySyncCannotStarveFulfillment(t *testing.T) {
	e := newEnv(t, shopifysim.Options{BucketSize: 1000, RestoreRate: 10}, func(c *Config) { c.ReserveFactor = 0.5 })
	seedStateOrder(t, e)
	item, err := e.sim.AddInventoryItem(shopifysim.InventoryItem{SKU: "S-1", Available: map[string]int{"1": 0}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := e.client.FulfillmentState(ctx, "9001"); err != nil { // learn the bucket
		t.Fatal(err)
	}
	calls := 0
	for len(e.clock.Sleeps()) == 0 {
		if calls++; calls > 200 {
			t.Fatal("the inventory sync never hit the reserve")
		}
		err := e.client.SetAvailable(ctx, fmt.Sprintf("k-%d", calls), []order.InventoryChange{
			{InventoryItemID: item.ID, LocationID: "1", Quantity: calls, ChangeFrom: intp(calls - 1)}})
		if err != nil {
			t.Fatal(err)
		}
	}
	// The call that waited went only when the reserve (500) plus its cost was available again.
	if avail := e.sim.BucketAvailable(); avail < 500 {
		t.Errorf("inventory calls left %v points, want at least the 500 reserve", avail)
	}
	before := len(e.clock.Sleeps())
	if _, err := e.client.FulfillmentState(ctx, "9001"); err != nil {
		t.Fatal(err)
	}
	if got := e.clock.Sleeps(); len(got) != before {
		t.Errorf("fulfillment read waited %v behind the inventory sync", got[before:])
	}
	if n := e.sim.Requests(); n != calls+2 {
		t.Errorf("%d requests for %d calls: something was THROTTLED", n, calls+2)
	}
}

func discard() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }
