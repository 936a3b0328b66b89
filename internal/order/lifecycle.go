package order

import (
	"fmt"
	"strings"
	"time"
)

// Snapshot is an order as one Shopify webhook payload shows it, already decoded: ids as decimal
// strings, money as decimal strings.
type Snapshot struct {
	OrderID           string
	Name              string
	OrderNumber       int64
	FinancialStatus   string
	FulfillmentStatus string
	CancelledAt       *time.Time
	UpdatedAt         time.Time
	Currency          string
	TotalPrice        string
	Lines             []Line // every line, shippable or not
	ShippingAddress   *Address
	// Warnings name optional fields that were malformed and ignored (logged, never fatal).
	Warnings []string
}

// Delivery is the metadata of one webhook delivery.
type Delivery struct {
	Topic       string
	Shop        string
	WebhookID   string
	EventID     string
	APIVersion  string
	TriggeredAt time.Time
	ReceivedAt  time.Time
}

// Policy is what the lifecycle needs to know beyond the payload.
type Policy struct {
	// Route picks the warehouse for a shipping address; an error puts the order on hold.
	Route func(*Address) (string, error)
	// HighPriority reports whether a decimal total makes the order high priority.
	HighPriority func(total string) bool
}

// Webhook topics the lifecycle understands.
const (
	TopicOrdersCreate    = "orders/create"
	TopicOrdersPaid      = "orders/paid"
	TopicOrdersUpdated   = "orders/updated"
	TopicOrdersFulfilled = "orders/fulfilled"
	TopicOrdersCancelled = "orders/cancelled"
)

// Hold and wait reasons an operator sees.
const (
	ReasonNoAddress       = "shippable lines but no shipping address"
	ReasonAwaitingPayment = "awaiting payment"
)

// preDispatch reports whether the warehouse has not been asked for the order yet, so a newer
// payload may still change what is sent.
func (o *Order) preDispatch() bool {
	switch o.Status {
	case "", StatusReceived, StatusHeld, StatusQueued, StatusNothingToShip:
		return true
	}
	return false
}

// ApplyWebhook applies one order webhook to the record and returns the jobs to queue with it.
// A delivery whose payload is older than what the record reflects is kept in the history and
// changes nothing else. Cancellation wins over everything that comes after it.
func (o *Order) ApplyWebhook(d Delivery, s *Snapshot, p Policy) []Job {
	now := d.ReceivedAt
	ev := Event{Topic: d.Topic, Source: "webhook", WebhookID: d.WebhookID, EventID: d.EventID,
		TriggeredAt: d.TriggeredAt, UpdatedAt: s.UpdatedAt, ReceivedAt: now}
	if o.Status == "" {
		o.ID = RecordID(d.Shop, s.OrderID)
		o.Shop = d.Shop
		o.OrderID = s.OrderID
		o.CreatedAt = now
		o.Status = StatusReceived
	}
	at := s.UpdatedAt
	if at.IsZero() {
		at = d.TriggeredAt
	}
	if !at.IsZero() && at.Before(o.UpdatedAt) {
		ev.Note = fmt.Sprintf("stale: payload of %s is older than the record's %s; not applied",
			at.UTC().Format(time.RFC3339Nano), o.UpdatedAt.UTC().Format(time.RFC3339Nano))
		o.Events = append(o.Events, ev)
		return nil
	}
	if at.After(o.UpdatedAt) {
		o.UpdatedAt = at
	}
	ev.Applied = true
	before := o.Status
	jobs := o.apply(d.Topic, s, p, now)
	if o.Status != before {
		ev.Note = fmt.Sprintf("%s → %s", before, o.Status)
		if o.Reason != "" {
			ev.Note += ": " + o.Reason
		}
	}
	switch {
	case d.Topic == TopicOrdersCancelled && s.CancelledAt == nil:
		ev.Note = strings.TrimPrefix(ev.Note+"; topic says cancelled but the payload has no cancelled_at: treated as an update", "; ")
	case d.Topic == TopicOrdersFulfilled && s.FulfillmentStatus != "fulfilled":
		ev.Note = strings.TrimPrefix(ev.Note+"; topic says fulfilled but the payload's fulfillment_status is not: treated as an update", "; ")
	}
	o.Events = append(o.Events, ev)
	return jobs
}

func (o *Order) apply(topic string, s *Snapshot, p Policy, now time.Time) []Job {
	if s.FinancialStatus != "" {
		o.FinancialStatus = s.FinancialStatus
	}
	if o.preDispatch() {
		o.refresh(s) // the record is built from any topic's full payload
	}
	// State comes from the signed payload, never from the topic header alone (headers are not
	// covered by the HMAC, so a replayed body under another topic must not cancel an order).
	if s.CancelledAt != nil {
		return o.Cancel(*s.CancelledAt, now)
	}
	if o.Status == StatusCancelled {
		return nil
	}
	if s.FulfillmentStatus == "fulfilled" {
		o.fulfilledInShopify()
		return nil
	}
	if !o.preDispatch() {
		return nil
	}
	return o.evaluate(p, now)
}

// refresh copies the payload's view of the order into the record.
func (o *Order) refresh(s *Snapshot) {
	o.Name = s.Name
	o.OrderNumber = s.OrderNumber
	o.Currency = s.Currency
	o.TotalPrice = s.TotalPrice
	o.ShippingAddress = s.ShippingAddress
	o.Lines = o.Lines[:0]
	for _, l := range s.Lines {
		if l.Shippable() {
			o.Lines = append(o.Lines, l)
		}
	}
	if len(o.Lines) == 0 {
		o.Lines = nil
	}
}

// evaluate decides whether the order can be dispatched and, when it can, queues it.
func (o *Order) evaluate(p Policy, now time.Time) []Job {
	if len(o.Lines) == 0 {
		o.setStatus(StatusNothingToShip, "no line requires shipping")
		return nil
	}
	var hold []string
	if o.ShippingAddress == nil {
		hold = append(hold, ReasonNoAddress)
	}
	var noSKU []string
	for _, l := range o.Lines {
		if strings.TrimSpace(l.SKU) == "" {
			noSKU = append(noSKU, fmt.Sprintf("%s (%s)", l.LineItemID, l.Name))
		}
	}
	if len(noSKU) > 0 {
		hold = append(hold, "line without SKU: "+strings.Join(noSKU, ", "))
	}
	if len(hold) > 0 {
		o.setStatus(StatusHeld, strings.Join(hold, "; "))
		return nil
	}
	wh, err := p.Route(o.ShippingAddress)
	if err != nil {
		o.setStatus(StatusHeld, "no route: "+err.Error())
		return nil
	}
	switch o.FinancialStatus {
	case "paid", "authorized", "partially_refunded":
	case "refunded", "voided":
		o.setStatus(StatusHeld, "payment "+o.FinancialStatus)
		return nil
	default:
		fs := o.FinancialStatus
		if fs == "" {
			fs = "unknown"
		}
		o.setStatus(StatusReceived, ReasonAwaitingPayment+" (financial_status "+fs+")")
		return nil
	}
	if o.Status == StatusQueued && o.Route == wh {
		return nil // already queued there; the job reads the latest record when it runs
	}
	o.Route = wh
	o.Priority = PriorityNormal
	if p.HighPriority != nil && p.HighPriority(o.TotalPrice) {
		o.Priority = PriorityHigh
	}
	o.Generation++
	o.setStatus(StatusQueued, "")
	return []Job{NewDispatchJob(o, now)}
}

func (o *Order) setStatus(s Status, reason string) {
	o.Status = s
	o.Reason = reason
}

// Cancel applies a cancellation: before dispatch the order simply never ships; after dispatch
// the warehouse is asked to cancel; after shipping the operator is told.
func (o *Order) Cancel(at, now time.Time) []Job {
	if o.CancelledAt == nil {
		o.CancelledAt = &at
	}
	switch o.Status {
	case StatusCancelled:
		return nil
	case StatusShipped, StatusFulfilled:
		o.Attention = "cancelled after shipping: the parcel has already left the warehouse"
		return nil
	case StatusDispatched:
		o.setStatus(StatusCancelled, "cancelled after dispatch")
		return o.cancelAtWarehouse(now)
	}
	o.setStatus(StatusCancelled, "cancelled before dispatch")
	return nil
}

// cancelAtWarehouse returns the warehouse cancel job, once.
func (o *Order) cancelAtWarehouse(now time.Time) []Job {
	if o.CancelSent {
		return nil
	}
	if o.WarehouseFulfillmentID == "" {
		o.Attention = "cancelled after dispatch, but the warehouse gave no fulfillment id: cancel it at " + o.Route + " by hand"
		return nil
	}
	o.CancelSent = true
	return []Job{NewCancelJob(o, now)}
}

// Dispatched records the warehouse's acceptance. If the order was cancelled while the warehouse
// call was in flight, it returns the cancel job.
func (o *Order) Dispatched(fulfillmentID string, now time.Time) []Job {
	o.WarehouseFulfillmentID = fulfillmentID
	o.DispatchedAt = &now
	if o.Status == StatusCancelled {
		return o.cancelAtWarehouse(now)
	}
	if o.Status == StatusFulfilled {
		o.Attention = "fulfilled in Shopify while the warehouse accepted it: check the warehouse does not ship twice"
		return nil
	}
	if o.Status == StatusQueued || o.Status == StatusDeadLettered {
		o.setStatus(StatusDispatched, "")
	}
	return nil
}

func (o *Order) fulfilledInShopify() {
	switch o.Status {
	case StatusFulfilled:
	case StatusDispatched:
		o.Attention = "fulfilled in Shopify while the warehouse has the order: check the warehouse does not ship twice"
		o.setStatus(StatusFulfilled, "fulfilled in Shopify")
	case StatusShipped:
		o.setStatus(StatusFulfilled, "")
	default:
		o.setStatus(StatusFulfilled, "fulfilled in Shopify outside the product; not dispatched")
	}
}

// DeadLetterJob records a job that will not be retried. A dead dispatch also moves the order to
// dead-lettered (unless it was cancelled or fulfilled meanwhile).
func (o *Order) DeadLetterJob(j Job, reason string, now time.Time) {
	o.DeadLetters = append(o.DeadLetters, DeadLetter{Job: j, Reason: reason, At: now})
	if j.Kind == JobDispatch && o.Status == StatusQueued {
		o.setStatus(StatusDeadLettered, reason)
		return
	}
	if j.Kind != JobDispatch {
		o.Attention = fmt.Sprintf("%s job dead-lettered: %s", j.Kind, reason)
	}
}

// Replay moves the dead letters (all of them, or the one whose job id is jobID) back to the
// outbox, and returns how many it moved.
func (o *Order) Replay(jobID string, now time.Time) int {
	var keep []DeadLetter
	n, dropped := 0, 0
	for _, dl := range o.DeadLetters {
		if jobID != "" && dl.Job.ID != jobID {
			keep = append(keep, dl)
			continue
		}
		j := dl.Job
		if j.Kind == JobDispatch {
			if o.Status != StatusDeadLettered {
				dropped++ // cancelled or fulfilled meanwhile: nothing to send
				continue
			}
			o.Generation++
			j = NewDispatchJob(o, now)
			o.setStatus(StatusQueued, "")
		} else {
			j = j.Replayed(len(o.Events), now)
		}
		o.Outbox = append(o.Outbox, j)
		n++
	}
	o.DeadLetters = keep
	if n > 0 || dropped > 0 {
		o.Events = append(o.Events, Event{Topic: "replay", Source: "operator", ReceivedAt: now, Applied: true,
			Note: fmt.Sprintf("%d dead letter(s) replayed, %d dropped (order is %s)", n, dropped, o.Status)})
	}
	return n
}
