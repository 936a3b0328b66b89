package shopify

import (
	"context"
	"sync"
	"time"
)

// defaultCost is the requested cost assumed for an operation before Shopify has reported one
// (extensions.cost.requestedQueryCost replaces it after the first answer).
const defaultCost = 50

// yieldWait is how long a low-priority call waits before looking again while a high-priority
// call is waiting for the bucket.
const yieldWait = 100 * time.Millisecond

// bucket is the client's picture of Shopify's cost bucket (a leaky bucket: maximumAvailable
// points, refilled at restoreRate points per second), updated from every answer's
// extensions.cost.throttleStatus and from the points the client itself spends.
type bucket struct {
	mu      sync.Mutex
	known   bool // an answer has reported the bucket
	max     float64
	avail   float64
	rate    float64
	at      time.Time
	reserve float64 // share of max that low-priority calls leave untouched

	highWaiting int                // high-priority calls waiting in acquire
	cost        map[string]float64 // last requested cost per operation
}

func newBucket(reserve float64) *bucket {
	return &bucket{reserve: reserve, cost: map[string]float64{}}
}

// observe records an answer's extensions.cost. A missing block changes nothing.
func (b *bucket) observe(now time.Time, op string, ci *costInfo) {
	if ci == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if ci.RequestedQueryCost > 0 {
		b.cost[op] = ci.RequestedQueryCost
	}
	ts := ci.ThrottleStatus
	if ts == nil || ts.MaximumAvailable <= 0 {
		return
	}
	b.known = true
	b.max = ts.MaximumAvailable
	b.avail = min(ts.CurrentlyAvailable, ts.MaximumAvailable)
	b.rate = ts.RestoreRate
	b.at = now
}

// costOf returns the requested cost expected for op.
func (b *bucket) costOf(op string) float64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	if c, ok := b.cost[op]; ok {
		return c
	}
	return defaultCost
}

// available estimates the points available at now.
func (b *bucket) available(now time.Time) float64 {
	a := b.avail + now.Sub(b.at).Seconds()*b.rate
	return min(a, b.max)
}

// take decides whether a call of the given cost and priority may be sent at now. When it may,
// it spends the points in the estimate and returns 0; otherwise it returns how long to wait.
// With no usable picture of the bucket (no answer yet, restoreRate 0) it never waits: the
// THROTTLED handling covers that case.
func (b *bucket) take(now time.Time, p Priority, cost float64) time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.known || b.rate <= 0 || b.max <= 0 {
		return 0
	}
	cost = min(cost, b.max)
	need := cost
	if p == PriorityLow {
		if b.highWaiting > 0 {
			return yieldWait
		}
		need += min(b.reserve*b.max, b.max-cost)
	}
	a := b.available(now)
	if a >= need {
		b.avail = a - cost
		b.at = now
		return 0
	}
	d := time.Duration((need - a) / b.rate * float64(time.Second))
	return max(d, time.Millisecond)
}

func (b *bucket) addHighWaiting(n int) {
	b.mu.Lock()
	b.highWaiting += n
	b.mu.Unlock()
}

// acquire waits until the bucket can afford cl (or the total pre-emptive wait reaches twice
// MaxWait: then the call is sent anyway and Shopify's answer decides). High-priority calls
// that have to wait make low-priority ones wait too, so the inventory sync cannot starve
// fulfillment.
func (c *Client) acquire(ctx context.Context, cl call) error {
	cost := c.bucket.costOf(cl.op)
	waiting := false
	defer func() {
		if waiting {
			c.bucket.addHighWaiting(-1)
		}
	}()
	var waited time.Duration
	for {
		d := c.bucket.take(c.now(), cl.priority, cost)
		if d == 0 || waited >= 2*c.maxWait {
			if c.onAdmit != nil {
				c.onAdmit(cl.op)
			}
			return nil
		}
		if cl.priority == PriorityHigh && !waiting {
			waiting = true
			c.bucket.addHighWaiting(1)
		}
		d = c.capWait(d)
		c.log.Debug("shopify: waiting for the cost bucket", "op", cl.op, "priority", cl.priority.String(), "wait", d)
		if err := c.wait(ctx, cl.op, d); err != nil {
			return err
		}
		waited += d
	}
}
