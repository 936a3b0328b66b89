package orderflow

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"strings"

	"github.com/shipwell/orderflow/internal/order"
)

// Callback is a warehouse's shipment report (DESIGN.md §5.3).
type Callback struct {
	ExternalOrderID string
	TrackingNumber  string
	Carrier         string
	TrackingURL     string
	FulfillmentID   string
	ShipmentID      string
	Items           []order.ShipmentItem // nil: everything open at the warehouse's location
}

// CallbackResult is the answer to a callback.
type CallbackResult struct {
	Status               string `json:"status"` // accepted, duplicate, flagged
	OrderID              string `json:"orderId"`
	Shipment             string `json:"shipment"`
	ShopifyFulfillmentID string `json:"shopifyFulfillmentId,omitempty"`
	Detail               string `json:"detail,omitempty"`
}

// Callback errors, mapped to HTTP statuses by the handler.
var (
	ErrUnauthenticated = errors.New("no warehouse key matches")              // 401
	ErrUnknownOrder    = errors.New("unknown order")                         // 404
	ErrWrongWarehouse  = errors.New("order was routed to another warehouse") // 403
	ErrBadCallback     = errors.New("invalid callback")                      // 400
)

// WarehouseForKey returns the warehouse whose bearer key is key, comparing in constant time.
func (s *Service) WarehouseForKey(key string) (string, error) {
	key = strings.TrimSpace(key)
	found := ""
	if key != "" {
		for name, w := range s.Warehouses {
			if w.Key != "" && subtle.ConstantTimeCompare([]byte(w.Key), []byte(key)) == 1 {
				found = name
			}
		}
	}
	if found == "" {
		return "", ErrUnauthenticated
	}
	return found, nil
}

// findOrder finds the record a warehouse refers to by Shopify order id.
func (s *Service) findOrder(ctx context.Context, orderID, warehouse string) (*order.Order, error) {
	if s.AllowedShop != "" {
		o, err := s.Store.Get(ctx, order.RecordID(s.AllowedShop, orderID))
		if errors.Is(err, order.ErrNotFound) {
			return nil, fmt.Errorf("%w %s", ErrUnknownOrder, orderID)
		}
		return o, err
	}
	os, err := s.Store.FindByOrderID(ctx, orderID)
	if err != nil {
		return nil, err
	}
	if len(os) == 0 {
		return nil, fmt.Errorf("%w %s", ErrUnknownOrder, orderID)
	}
	for _, o := range os {
		if o.Route == warehouse {
			return o, nil
		}
	}
	return os[0], nil
}

// HandleCallback records a shipment a warehouse reported and queues its Shopify fulfillment.
// The same shipment reported again changes nothing.
func (s *Service) HandleCallback(ctx context.Context, warehouse string, cb Callback) (CallbackResult, error) {
	cb.ExternalOrderID = strings.TrimSpace(cb.ExternalOrderID)
	cb.TrackingNumber = strings.TrimSpace(cb.TrackingNumber)
	switch {
	case cb.ExternalOrderID == "" || strings.Trim(cb.ExternalOrderID, "0123456789") != "":
		return CallbackResult{}, fmt.Errorf("%w: externalOrderId must be the Shopify order id (digits)", ErrBadCallback)
	case cb.TrackingNumber == "" && cb.ShipmentID == "":
		return CallbackResult{}, fmt.Errorf("%w: trackingNumber is required", ErrBadCallback)
	}
	for _, it := range cb.Items {
		if strings.TrimSpace(it.SKU) == "" || it.Quantity <= 0 {
			return CallbackResult{}, fmt.Errorf("%w: every item needs a sku and a positive quantity", ErrBadCallback)
		}
	}
	o, err := s.findOrder(ctx, cb.ExternalOrderID, warehouse)
	if err != nil {
		return CallbackResult{}, err
	}
	if o.Route != warehouse {
		return CallbackResult{}, fmt.Errorf("%w: order %s is routed to %q, not %q", ErrWrongWarehouse, o.OrderID, o.Route, warehouse)
	}
	key := order.ShipmentKey(warehouse, cb.ShipmentID, cb.FulfillmentID, cb.TrackingNumber)
	res := CallbackResult{OrderID: o.OrderID, Shipment: key}
	now := s.now()
	_, err = s.update(ctx, o.ID, func(o *order.Order) ([]order.Job, error) {
		if sh := o.Shipment(key); sh != nil {
			res.Status, res.ShopifyFulfillmentID = "duplicate", sh.ShopifyFulfillmentID
			return nil, errNoChange
		}
		o.Shipments = append(o.Shipments, order.Shipment{Key: key, Warehouse: warehouse, TrackingNumber: cb.TrackingNumber,
			Carrier: cb.Carrier, TrackingURL: cb.TrackingURL, FulfillmentID: cb.FulfillmentID, ShipmentID: cb.ShipmentID,
			Items: cb.Items, ReportedAt: now})
		ev := order.Event{Topic: "shipment", Source: "callback", ReceivedAt: now, Applied: true,
			Note: fmt.Sprintf("%s reported shipment %s (%s %s)", warehouse, key, cb.Carrier, cb.TrackingNumber)}
		defer func() { o.Events = append(o.Events, ev) }()
		if o.Status == order.StatusCancelled {
			o.Attention = "warehouse " + warehouse + " reported a shipment for a cancelled order"
			ev.Applied, res.Status, res.Detail = false, "flagged", "order is cancelled; the shipment is recorded for the operator"
			return nil, nil
		}
		res.Status = "accepted"
		if o.Status != order.StatusFulfilled {
			o.Status, o.Reason = order.StatusShipped, ""
		}
		return []order.Job{order.NewFulfillJob(o, key, now)}, nil
	})
	if err != nil {
		return res, fmt.Errorf("record shipment %s of order %s: %w", key, cb.ExternalOrderID, err)
	}
	s.log().Info("warehouse callback", "warehouse", warehouse, "order_id", o.OrderID, "shipment", key, "status", res.Status)
	return res, nil
}
