package orderflow

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/shipwell/orderflow/internal/order"
	"github.com/shipwell/orderflow/internal/webhook"
)

// IntakeResult says what happened to a delivery.
type IntakeResult struct {
	Outcome  string `json:"status"` // recorded, duplicate, stale, quarantined, ignored
	OrderID  string `json:"orderId,omitempty"`
	RecordID string `json:"recordId,omitempty"`
	Order    string `json:"orderStatus,omitempty"`
	Reason   string `json:"reason,omitempty"`
}

// Intake outcomes.
const (
	Recorded    = "recorded"
	Duplicate   = "duplicate"
	Stale       = "stale"
	Quarantined = "quarantined"
	Ignored     = "ignored"
)

// ErrForeignShop is returned for a delivery from a shop other than AllowedShop.
var ErrForeignShop = errors.New("webhook from a shop this deployment does not serve")

// Intake takes one verified delivery into the order log. It returns only after the outcome is
// durable; an error means nothing was acknowledged and Shopify should retry (5xx).
func (s *Service) Intake(ctx context.Context, d order.Delivery, body []byte) (IntakeResult, error) {
	if d.Shop == "" {
		d.Shop = s.AllowedShop
	}
	if s.AllowedShop != "" && d.Shop != s.AllowedShop {
		return IntakeResult{}, fmt.Errorf("%w: %s", ErrForeignShop, d.Shop)
	}
	if d.Shop == "" {
		d.Shop = "unknown-shop"
	}
	if d.ReceivedAt.IsZero() {
		d.ReceivedAt = s.now()
	}
	switch d.Topic {
	case order.TopicOrdersCreate, order.TopicOrdersPaid, order.TopicOrdersUpdated,
		order.TopicOrdersFulfilled, order.TopicOrdersCancelled:
		return s.intakeOrder(ctx, d, body)
	case "inventory_levels/update":
		return s.intakeReceipt(ctx, d, body, order.ReceiptInventory, "")
	default:
		return s.intakeReceipt(ctx, d, nil, order.ReceiptIgnored, "topic not handled: "+d.Topic)
	}
}

func (s *Service) intakeReceipt(ctx context.Context, d order.Delivery, body []byte, kind, reason string) (IntakeResult, error) {
	if kind == order.ReceiptInventory {
		if inv, err := webhook.DecodeInventory(body); err != nil {
			kind, reason = order.ReceiptQuarantine, err.Error()
		} else {
			body = nil // the hourly sync is the source of truth; keep only the fact
			reason = fmt.Sprintf("item %s at location %s", inv.InventoryItemID, inv.LocationID)
		}
	}
	isNew, err := s.Store.RecordReceipt(ctx, order.Receipt{Shop: d.Shop, WebhookID: d.WebhookID, Topic: d.Topic,
		Kind: kind, Reason: reason, Body: body, ReceivedAt: d.ReceivedAt})
	if err != nil {
		return IntakeResult{}, fmt.Errorf("record %s delivery %s: %w", d.Topic, d.WebhookID, err)
	}
	res := IntakeResult{Outcome: Recorded, Reason: reason}
	switch {
	case !isNew:
		res.Outcome = Duplicate
	case kind == order.ReceiptQuarantine:
		res.Outcome = Quarantined
		s.log().Warn("webhook quarantined", "topic", d.Topic, "webhook_id", d.WebhookID, "reason", reason)
	case kind == order.ReceiptIgnored:
		res.Outcome = Ignored
	}
	return res, nil
}

func (s *Service) intakeOrder(ctx context.Context, d order.Delivery, body []byte) (IntakeResult, error) {
	snap, err := webhook.DecodeOrder(body)
	if err != nil {
		return s.intakeReceipt(ctx, d, body, order.ReceiptQuarantine, err.Error())
	}
	if len(snap.Warnings) > 0 {
		s.log().Warn("webhook payload has malformed optional fields (ignored)", "topic", d.Topic, "webhook_id", d.WebhookID,
			"order_id", snap.OrderID, "warnings", snap.Warnings)
	}
	id := order.RecordID(d.Shop, snap.OrderID)
	res := IntakeResult{OrderID: snap.OrderID, RecordID: id}
	pol := s.policy()
	for try := 0; ; try++ {
		var o *order.Order
		var err error
		if try == 0 && d.Topic == order.TopicOrdersCreate {
			// Most orders/create deliveries are the order's first: try to create the record
			// without reading it first; an existing one makes Save conflict, and we read it.
			o = &order.Order{}
		} else if o, err = s.Store.Get(ctx, id); errors.Is(err, order.ErrNotFound) {
			o, err = &order.Order{}, nil
		}
		if err != nil {
			return res, fmt.Errorf("intake order %s: %w", snap.OrderID, err)
		}
		if o.SeenDelivery(d.Topic, d.WebhookID, d.EventID) {
			res.Outcome, res.Order = Duplicate, string(o.Status)
			// A crash or queue outage may have left jobs unsent: Shopify's retry is our cue.
			if err := s.publish(ctx, o); err != nil {
				return res, err
			}
			return res, nil
		}
		jobs := o.ApplyWebhook(d, snap, pol)
		o.Outbox = append(o.Outbox, jobs...)
		err = s.Store.Save(ctx, o)
		if errors.Is(err, order.ErrConflict) && try < 50 {
			continue // a concurrent delivery for the same order; re-read and re-apply
		}
		if err != nil {
			return res, fmt.Errorf("intake order %s: %w", snap.OrderID, err)
		}
		last := o.Events[len(o.Events)-1]
		res.Outcome, res.Order, res.Reason = Recorded, string(o.Status), o.Reason
		if !last.Applied {
			res.Outcome, res.Reason = Stale, last.Note
		}
		s.log().Info("webhook recorded", "topic", d.Topic, "webhook_id", d.WebhookID, "order_id", snap.OrderID,
			"outcome", res.Outcome, "status", o.Status, "route", o.Route, "destination", o.ShippingAddress.Summary(),
			slog.Int("jobs", len(jobs)))
		if err := s.publish(ctx, o); err != nil {
			return res, err
		}
		return res, nil
	}
}
