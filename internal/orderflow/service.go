// Package orderflow is the product's service layer: it takes verified webhook deliveries into the
// order log, runs the queued jobs (dispatch to the warehouse, warehouse cancel, Shopify
// fulfillment), takes warehouse callbacks, and lets an operator replay dead letters. It talks to
// the world only through the interfaces of package order, so the same code runs on SQLite or
// Cosmos DB, with the in-process worker or Service Bus.
package orderflow

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/shopspring/decimal"

	"github.com/shipwell/orderflow/internal/order"
)

// Warehouse is a configured warehouse: its API client, its bearer key (which also authenticates
// its callbacks) and the Shopify location it ships from.
type Warehouse struct {
	Name       string
	Client     order.Warehouse
	Key        string
	LocationID string // gid://shopify/Location/N
}

// Service coordinates the order lifecycle. Fill the exported fields, then call the methods; it
// is safe for concurrent use.
type Service struct {
	Store      order.Store
	Queue      order.Queue
	Shopify    order.Shopify
	Warehouses map[string]Warehouse
	Route      func(*order.Address) (string, error)
	// AllowedShop, when set, is the only shop whose webhooks are accepted.
	AllowedShop string
	// HighPriorityAbove is the order total above which an order is high priority (default 500).
	HighPriorityAbove decimal.Decimal
	MaxAttempts       int           // attempts before a job is dead-lettered (default 8)
	RetryBase         time.Duration // first retry delay (default 2 s)
	RetryMax          time.Duration // longest retry delay (default 10 min)
	// HoldRetry is how often a shipment waiting for a fulfillment order hold to be released
	// checks again (default 5 min).
	HoldRetry time.Duration
	Log       *slog.Logger
	Now       func() time.Time
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC()
	}
	return time.Now().UTC()
}

func (s *Service) log() *slog.Logger {
	if s.Log != nil {
		return s.Log
	}
	return slog.Default()
}

func (s *Service) policy() order.Policy {
	limit := s.HighPriorityAbove
	if limit.IsZero() {
		limit = decimal.NewFromInt(500)
	}
	return order.Policy{
		Route: s.Route,
		HighPriority: func(total string) bool {
			d, err := decimal.NewFromString(total)
			return err == nil && d.GreaterThan(limit)
		},
	}
}

func (s *Service) maxAttempts() int {
	if s.MaxAttempts > 0 {
		return s.MaxAttempts
	}
	return 8
}

// Backoff returns the wait before attempt number n+1 after n failed attempts: exponential from
// RetryBase, capped at RetryMax, with jitter (half fixed, half random) so that many orders
// failing together do not retry together.
func (s *Service) Backoff(n int) time.Duration {
	base, max := s.RetryBase, s.RetryMax
	if base <= 0 {
		base = 2 * time.Second
	}
	if max <= 0 {
		max = 10 * time.Minute
	}
	d := base
	for i := 1; i < n && d < max; i++ {
		d *= 2
	}
	d = min(d, max)
	return d/2 + time.Duration(rand.Int64N(int64(d/2)+1))
}

// errNoChange is returned by an update function to stop without saving.
var errNoChange = errors.New("no change")

// update reads the record, applies fn and saves, retrying on write conflicts; jobs fn returns go
// into the record's outbox in the same write and are then handed to the queue.
func (s *Service) update(ctx context.Context, id string, fn func(o *order.Order) ([]order.Job, error)) (*order.Order, error) {
	return s.updateFrom(ctx, id, nil, fn)
}

// updateFrom is update starting from cur, a copy of the record the caller already read (saving
// a round trip); a conflict re-reads it.
func (s *Service) updateFrom(ctx context.Context, id string, cur *order.Order, fn func(o *order.Order) ([]order.Job, error)) (*order.Order, error) {
	for try := 0; ; try++ {
		o := cur
		cur = nil
		if o == nil {
			var err error
			if o, err = s.Store.Get(ctx, id); err != nil {
				return nil, err
			}
		}
		jobs, err := fn(o)
		if errors.Is(err, errNoChange) {
			return o, nil
		}
		if err != nil {
			return o, err
		}
		o.Outbox = append(o.Outbox, jobs...)
		err = s.Store.Save(ctx, o)
		if errors.Is(err, order.ErrConflict) && try < 50 {
			continue
		}
		if err != nil {
			return nil, err
		}
		return o, s.publish(ctx, o)
	}
}

// publish hands the record's outbox to the queue and then clears it from the record. A store
// that owns the queue has already absorbed the outbox, so there is nothing to do.
func (s *Service) publish(ctx context.Context, o *order.Order) error {
	if len(o.Outbox) == 0 {
		return nil
	}
	jobs := slices.Clone(o.Outbox)
	if err := s.Queue.Enqueue(ctx, jobs...); err != nil {
		return fmt.Errorf("queue jobs of order %s: %w", o.OrderID, err)
	}
	sent := map[string]bool{}
	for _, j := range jobs {
		sent[j.ID] = true
	}
	// First try with the record as saved (no extra read); re-read only after a conflict.
	cur := cloneOrder(o)
	for try := 0; try < 50; try++ {
		if cur == nil {
			var err error
			if cur, err = s.Store.Get(ctx, o.ID); err != nil {
				return fmt.Errorf("clear outbox of order %s: %w", o.OrderID, err)
			}
		}
		n := len(cur.Outbox)
		cur.Outbox = slices.DeleteFunc(cur.Outbox, func(j order.Job) bool { return sent[j.ID] })
		if len(cur.Outbox) == n {
			*o = *cur
			return nil
		}
		err := s.Store.Save(ctx, cur)
		if errors.Is(err, order.ErrConflict) {
			cur = nil
			continue
		}
		if err != nil {
			// The jobs are queued; a later sweep re-sends them, which the queue deduplicates.
			return fmt.Errorf("clear outbox of order %s: %w", o.OrderID, err)
		}
		*o = *cur
		return nil
	}
	return fmt.Errorf("clear outbox of order %s: too many conflicts", o.OrderID)
}

// cloneOrder copies a record deeply enough to edit its outbox without touching the original.
func cloneOrder(o *order.Order) *order.Order {
	c := *o
	c.Outbox = slices.Clone(o.Outbox)
	return &c
}

// SweepOutbox re-sends jobs that were written with their orders but not confirmed as queued (a
// crash or a queue outage between the two). Safe to run at any time and from any instance.
func (s *Service) SweepOutbox(ctx context.Context) (int, error) {
	os, err := s.Store.List(ctx, order.Filter{PendingOutbox: true, Limit: 500})
	if err != nil {
		return 0, fmt.Errorf("sweep outbox: %w", err)
	}
	n := 0
	var errs []error
	for _, o := range os {
		k := len(o.Outbox)
		if err := s.publish(ctx, o); err != nil {
			errs = append(errs, err)
			continue
		}
		n += k
	}
	return n, errors.Join(errs...)
}
