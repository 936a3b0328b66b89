package orderflow

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/shipwell/orderflow/internal/order"
)

// Process runs one queued job and says what the queue should do with it. It is idempotent: a
// job run twice (a redelivery, a crash between the effect and the acknowledgement) has one
// effect, because every outbound call carries an idempotency key and every job first checks the
// record's state.
func (s *Service) Process(ctx context.Context, j order.Job) order.Outcome {
	log := s.log().With("job", j.ID, "kind", j.Kind, "order_id", j.OrderID, "warehouse", j.Warehouse, "attempt", j.Attempt+1)
	o, err := s.Store.Get(ctx, j.Order)
	if errors.Is(err, order.ErrNotFound) {
		log.Error("job for an unknown order record; dropped")
		return order.Outcome{Kind: order.OutcomeDone, Reason: "unknown order record"}
	}
	if err != nil {
		log.Warn("read order failed; will retry", "error", err)
		return order.Outcome{Kind: order.OutcomeRetry, After: s.Backoff(j.Attempt + 1), Reason: err.Error()}
	}
	var out order.Outcome
	switch j.Kind {
	case order.JobDispatch:
		out = s.dispatch(ctx, o, j)
	case order.JobCancel:
		out = s.cancel(ctx, o, j)
	case order.JobFulfill:
		out = s.fulfill(ctx, o, j)
	default:
		out = order.Outcome{Kind: order.OutcomeDone, Reason: "unknown job kind " + string(j.Kind)}
	}
	switch out.Kind {
	case order.OutcomeDone:
		log.Info("job done", "detail", out.Reason)
	case order.OutcomeRetry:
		log.Warn("job will be retried", "after", out.After.String(), "reason", out.Reason)
	case order.OutcomeDeadLetter:
		log.Error("job dead-lettered", "reason", out.Reason)
	}
	return out
}

// failed turns an error into a retry or, when it is permanent or the attempts are used up, a
// dead letter recorded on the order together with the attempt.
func (s *Service) failed(ctx context.Context, j order.Job, kind order.JobKind, err error) order.Outcome {
	return s.failedFrom(ctx, nil, j, kind, err)
}

// failedFrom is failed starting from the record the caller already read (nil: read it).
func (s *Service) failedFrom(ctx context.Context, cur *order.Order, j order.Job, kind order.JobKind, err error) order.Outcome {
	n := j.Attempt + 1
	reason := err.Error()
	dead := order.IsPermanent(err) || n >= s.maxAttempts()
	if dead && !order.IsPermanent(err) {
		reason = fmt.Sprintf("gave up after %d attempts: %s", n, reason)
	}
	now := s.now()
	_, uerr := s.updateFrom(ctx, j.Order, cur, func(o *order.Order) ([]order.Job, error) {
		a := order.Attempt{Kind: kind, Warehouse: j.Warehouse, At: now, Attempt: n, Outcome: "retry", Detail: err.Error()}
		if dead {
			a.Outcome = "failed"
			o.DeadLetterJob(j, reason, now)
		}
		o.AddAttempt(a)
		return nil, nil
	})
	if uerr != nil {
		// The attempt could not be recorded; run the job again later rather than lose the dead letter.
		return order.Outcome{Kind: order.OutcomeRetry, After: s.Backoff(n), Reason: fmt.Sprintf("%s (and recording it failed: %v)", reason, uerr)}
	}
	if dead {
		return order.Outcome{Kind: order.OutcomeDeadLetter, Reason: reason}
	}
	after := max(s.Backoff(n), order.RetryAfter(err))
	return order.Outcome{Kind: order.OutcomeRetry, After: after, Reason: reason}
}

func (s *Service) dispatch(ctx context.Context, o *order.Order, j order.Job) order.Outcome {
	switch {
	case o.Status != order.StatusQueued:
		return order.Outcome{Kind: order.OutcomeDone, Reason: "not dispatched: order is " + string(o.Status)}
	case j.Generation != o.Generation || j.Warehouse != o.Route:
		return order.Outcome{Kind: order.OutcomeDone, Reason: "superseded by a newer routing decision"}
	}
	wh, ok := s.Warehouses[o.Route]
	if !ok || wh.Client == nil {
		return s.failed(ctx, j, order.JobDispatch, order.Permanent(fmt.Errorf("warehouse %q is not configured", o.Route)))
	}
	fid, err := wh.Client.Dispatch(ctx, o, order.IdempotencyKey(o.ID, o.Route))
	if err != nil {
		return s.failedFrom(ctx, o, j, order.JobDispatch, err)
	}
	now := s.now()
	_, err = s.updateFrom(ctx, o.ID, o, func(o *order.Order) ([]order.Job, error) {
		o.AddAttempt(order.Attempt{Kind: order.JobDispatch, Warehouse: j.Warehouse, At: now, Attempt: j.Attempt + 1,
			Outcome: "ok", Detail: "fulfillmentId " + fid})
		return o.Dispatched(fid, now), nil
	})
	if err != nil {
		// The warehouse has it; running the job again is harmless (same Idempotency-Key).
		return order.Outcome{Kind: order.OutcomeRetry, After: s.Backoff(j.Attempt + 1), Reason: "record dispatch: " + err.Error()}
	}
	return order.Outcome{Kind: order.OutcomeDone, Reason: "dispatched, fulfillmentId " + fid}
}

func (s *Service) cancel(ctx context.Context, o *order.Order, j order.Job) order.Outcome {
	if o.Status != order.StatusCancelled {
		// Only the record decides: a cancel job for an order that is not cancelled (forged, or
		// stale) does nothing.
		return order.Outcome{Kind: order.OutcomeDone, Reason: "not cancelled at the warehouse: order is " + string(o.Status)}
	}
	if o.WarehouseFulfillmentID == "" {
		return order.Outcome{Kind: order.OutcomeDone, Reason: "nothing to cancel at the warehouse"}
	}
	wh, ok := s.Warehouses[j.Warehouse]
	if !ok || wh.Client == nil {
		return s.failed(ctx, j, order.JobCancel, order.Permanent(fmt.Errorf("warehouse %q is not configured", j.Warehouse)))
	}
	if err := wh.Client.Cancel(ctx, o.WarehouseFulfillmentID, order.IdempotencyKey(o.ID, j.Warehouse)+":cancel"); err != nil {
		return s.failed(ctx, j, order.JobCancel, err)
	}
	now := s.now()
	if _, err := s.update(ctx, o.ID, func(o *order.Order) ([]order.Job, error) {
		o.AddAttempt(order.Attempt{Kind: order.JobCancel, Warehouse: j.Warehouse, At: now, Attempt: j.Attempt + 1,
			Outcome: "ok", Detail: "cancelled fulfillmentId " + o.WarehouseFulfillmentID})
		return nil, nil
	}); err != nil {
		return order.Outcome{Kind: order.OutcomeRetry, After: s.Backoff(j.Attempt + 1), Reason: "record cancel: " + err.Error()}
	}
	return order.Outcome{Kind: order.OutcomeDone, Reason: "cancelled at the warehouse"}
}

func (s *Service) fulfill(ctx context.Context, o *order.Order, j order.Job) order.Outcome {
	sh := o.Shipment(j.Shipment)
	switch {
	case sh == nil:
		return order.Outcome{Kind: order.OutcomeDone, Reason: "unknown shipment"}
	case sh.ShopifyFulfillmentID != "":
		return order.Outcome{Kind: order.OutcomeDone, Reason: "already fulfilled as " + sh.ShopifyFulfillmentID}
	case o.Status == order.StatusCancelled:
		return order.Outcome{Kind: order.OutcomeDone, Reason: "order cancelled; not fulfilled"}
	case s.Shopify == nil:
		return s.failed(ctx, j, order.JobFulfill, order.Permanent(errors.New("Shopify is not configured (SHOPIFY_STORE_URL, SHOPIFY_ACCESS_TOKEN)")))
	}
	wh := s.Warehouses[sh.Warehouse]
	if wh.LocationID == "" {
		return s.failed(ctx, j, order.JobFulfill, order.Permanent(fmt.Errorf("warehouse %q has no Shopify location (set locationId in ROUTING_CONFIG or SHOPIFY_LOCATION_ID)", sh.Warehouse)))
	}
	st, err := s.Shopify.FulfillmentState(ctx, o.GID())
	if err != nil {
		return s.failed(ctx, j, order.JobFulfill, fmt.Errorf("read fulfillment orders: %w", err))
	}
	if id := existingFulfillment(st, sh.TrackingNumber); id != "" {
		// Created before a crash or by an earlier run whose record update was lost: adopt it.
		return s.recordFulfillment(ctx, o, j, id, []string{"adopted existing Shopify fulfillment with the same tracking number"}, st, nil)
	}
	p := planFulfillment(st, wh.LocationID, o, sh)
	if len(p.req.Orders) == 0 {
		if p.onHold {
			return s.holdWait(ctx, j, p.notes)
		}
		notes := append(p.notes, "nothing open at "+sh.Warehouse+"'s location to fulfil")
		_, err := s.update(ctx, o.ID, func(o *order.Order) ([]order.Job, error) {
			if sh := o.Shipment(j.Shipment); sh != nil {
				sh.Notes = notes
			}
			o.Attention = "shipment " + j.Shipment + ": " + strings.Join(notes, "; ")
			return nil, nil
		})
		if err != nil {
			return order.Outcome{Kind: order.OutcomeRetry, After: s.Backoff(j.Attempt + 1), Reason: err.Error()}
		}
		return order.Outcome{Kind: order.OutcomeDone, Reason: strings.Join(notes, "; ")}
	}
	p.req.TrackingNumber, p.req.Company, p.req.URL = sh.TrackingNumber, sh.Carrier, sh.TrackingURL
	p.req.NotifyCustomer = true
	id, err := s.Shopify.CreateFulfillment(ctx, p.req)
	if err != nil {
		return s.failed(ctx, j, order.JobFulfill, fmt.Errorf("fulfillmentCreate: %w", err))
	}
	return s.recordFulfillment(ctx, o, j, id, p.notes, st, &p)
}

func (s *Service) holdWait(ctx context.Context, j order.Job, notes []string) order.Outcome {
	now := s.now()
	_, err := s.update(ctx, j.Order, func(o *order.Order) ([]order.Job, error) {
		o.AddAttempt(order.Attempt{Kind: order.JobFulfill, Warehouse: j.Warehouse, At: now, Attempt: j.Attempt + 1,
			Outcome: "retry", Detail: strings.Join(notes, "; ")})
		return nil, nil
	})
	if err != nil {
		return order.Outcome{Kind: order.OutcomeRetry, After: s.Backoff(j.Attempt + 1), Reason: err.Error()}
	}
	wait := s.HoldRetry
	if wait <= 0 {
		wait = 5 * time.Minute
	}
	return order.Outcome{Kind: order.OutcomeRetry, After: wait, Reason: strings.Join(notes, "; ")}
}

func (s *Service) recordFulfillment(ctx context.Context, o *order.Order, j order.Job, id string, notes []string, st *order.FulfillmentState, p *plan) order.Outcome {
	now := s.now()
	complete := p != nil && p.completes
	if p == nil {
		complete = openAt(st, s.Warehouses[j.Warehouse].LocationID) == 0
	}
	_, err := s.update(ctx, o.ID, func(o *order.Order) ([]order.Job, error) {
		sh := o.Shipment(j.Shipment)
		if sh == nil || sh.ShopifyFulfillmentID != "" {
			return nil, errNoChange
		}
		sh.ShopifyFulfillmentID = id
		sh.Notes = append(sh.Notes, notes...)
		o.AddAttempt(order.Attempt{Kind: order.JobFulfill, Warehouse: j.Warehouse, At: now, Attempt: j.Attempt + 1,
			Outcome: "ok", Detail: "Shopify fulfillment " + id})
		if complete && (o.Status == order.StatusShipped || o.Status == order.StatusDispatched) {
			o.Status, o.Reason = order.StatusFulfilled, ""
		}
		return nil, nil
	})
	if err != nil {
		// Shopify has the fulfillment; the retry adopts it by its tracking number.
		return order.Outcome{Kind: order.OutcomeRetry, After: s.Backoff(j.Attempt + 1), Reason: "record fulfillment: " + err.Error()}
	}
	return order.Outcome{Kind: order.OutcomeDone, Reason: "Shopify fulfillment " + id}
}

func existingFulfillment(st *order.FulfillmentState, tracking string) string {
	if tracking == "" {
		return ""
	}
	for _, f := range st.Fulfillments {
		if strings.EqualFold(f.Status, "cancelled") {
			continue
		}
		for _, n := range f.TrackingNumbers {
			if n == tracking {
				return f.ID
			}
		}
	}
	return ""
}
