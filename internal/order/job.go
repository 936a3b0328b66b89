package order

import (
	"fmt"
	"strconv"
	"time"
)

// JobKind says what a job does.
type JobKind string

// The job kinds.
const (
	// JobDispatch sends the order to its warehouse.
	JobDispatch JobKind = "dispatch"
	// JobCancel asks the warehouse to cancel a dispatched order.
	JobCancel JobKind = "cancel"
	// JobFulfill creates the Shopify fulfillment for a reported shipment.
	JobFulfill JobKind = "fulfill"
)

// Job is one unit of queued work. It travels as JSON (the Service Bus message body, the SQLite
// queue row); every id in it is a string so that 64-bit ids survive any JSON decoder.
type Job struct {
	ID         string    `json:"id"`
	Kind       JobKind   `json:"kind"`
	Order      string    `json:"order"`   // order record id
	OrderID    string    `json:"orderId"` // Shopify order id, for logs
	Shop       string    `json:"shop"`
	Warehouse  string    `json:"warehouse"`
	Generation int       `json:"generation,omitempty"`
	Shipment   string    `json:"shipment,omitempty"`
	Priority   string    `json:"priority,omitempty"` // "high" or "normal"
	Attempt    int       `json:"attempt"`            // attempts already made
	CreatedAt  time.Time `json:"createdAt"`
}

// Priority values.
const (
	PriorityHigh   = "high"
	PriorityNormal = "normal"
)

// NewDispatchJob is the job that sends o to its routed warehouse. Its id is deterministic per
// order, warehouse and generation, so the same decision never queues twice.
func NewDispatchJob(o *Order, now time.Time) Job {
	return Job{
		ID:         fmt.Sprintf("dispatch:%s:%s:%d", o.ID, o.Route, o.Generation),
		Kind:       JobDispatch,
		Order:      o.ID,
		OrderID:    o.OrderID,
		Shop:       o.Shop,
		Warehouse:  o.Route,
		Generation: o.Generation,
		Priority:   o.Priority,
		CreatedAt:  now,
	}
}

// NewCancelJob is the job that cancels o's dispatched fulfillment at its warehouse.
func NewCancelJob(o *Order, now time.Time) Job {
	return Job{
		ID:        fmt.Sprintf("cancel:%s:%s", o.ID, o.Route),
		Kind:      JobCancel,
		Order:     o.ID,
		OrderID:   o.OrderID,
		Shop:      o.Shop,
		Warehouse: o.Route,
		Priority:  PriorityHigh,
		CreatedAt: now,
	}
}

// NewFulfillJob is the job that creates the Shopify fulfillment for shipment key.
func NewFulfillJob(o *Order, key string, now time.Time) Job {
	return Job{
		ID:        "fulfill:" + o.ID + ":" + key,
		Kind:      JobFulfill,
		Order:     o.ID,
		OrderID:   o.OrderID,
		Shop:      o.Shop,
		Warehouse: o.Route,
		Shipment:  key,
		Priority:  PriorityHigh,
		CreatedAt: now,
	}
}

// Replayed returns a copy of j to run again from its first attempt under a new id (replay).
func (j Job) Replayed(gen int, now time.Time) Job {
	j.Attempt = 0
	j.CreatedAt = now
	j.ID = j.ID + ":replay" + strconv.Itoa(gen)
	return j
}

// IdempotencyKey is the key sent to the warehouse: stable per order and warehouse, so a retry,
// a redelivery or an operator replay never creates a second warehouse order.
func IdempotencyKey(recordID, warehouse string) string { return recordID + ":" + warehouse }

// Outcome is what processing a job decided.
type Outcome struct {
	Kind   OutcomeKind
	After  time.Duration // for OutcomeRetry: wait at least this long
	Reason string
}

// OutcomeKind classifies an Outcome.
type OutcomeKind int

// The outcome kinds.
const (
	// OutcomeDone: the job is finished (or had nothing left to do); remove it.
	OutcomeDone OutcomeKind = iota
	// OutcomeRetry: a transient failure; run the job again after Outcome.After.
	OutcomeRetry
	// OutcomeDeadLetter: a permanent failure, already recorded on the order; remove the job.
	OutcomeDeadLetter
)

func (k OutcomeKind) String() string {
	switch k {
	case OutcomeDone:
		return "done"
	case OutcomeRetry:
		return "retry"
	case OutcomeDeadLetter:
		return "dead-letter"
	}
	return "unknown"
}
