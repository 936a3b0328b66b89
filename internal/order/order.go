// Package order holds the product's domain: the order record and its lifecycle, the jobs that
// move an order through dispatch, cancellation and fulfillment, and the interfaces the service
// needs from storage, queues, warehouses and Shopify. It depends on the standard library only;
// every adapter (sqlite, cosmos, servicebus, warehouse, shopify) implements these interfaces.
package order

import (
	"strings"
	"time"
)

// Status is where an order stands in its lifecycle.
type Status string

// The lifecycle (DESIGN.md §6): received → (held | queued) → dispatched → shipped → fulfilled,
// plus cancelled, dead-lettered and nothing-to-ship.
const (
	// StatusReceived: recorded, not yet dispatchable (for example awaiting payment).
	StatusReceived Status = "received"
	// StatusHeld: cannot be dispatched until someone fixes it; Reason says why.
	StatusHeld Status = "held"
	// StatusQueued: a dispatch job is queued for the routed warehouse.
	StatusQueued Status = "queued"
	// StatusDispatched: the warehouse accepted the order.
	StatusDispatched Status = "dispatched"
	// StatusShipped: the warehouse reported at least one shipment; lines may remain open.
	StatusShipped Status = "shipped"
	// StatusFulfilled: every shippable line is fulfilled in Shopify.
	StatusFulfilled Status = "fulfilled"
	// StatusCancelled: the order was cancelled; it is never dispatched again.
	StatusCancelled Status = "cancelled"
	// StatusDeadLettered: dispatch failed permanently or ran out of attempts.
	StatusDeadLettered Status = "dead-lettered"
	// StatusNothingToShip: the order has no line a warehouse must ship.
	StatusNothingToShip Status = "nothing-to-ship"
)

// Statuses lists every status, in lifecycle order.
var Statuses = []Status{StatusReceived, StatusHeld, StatusQueued, StatusDispatched, StatusShipped,
	StatusFulfilled, StatusCancelled, StatusDeadLettered, StatusNothingToShip}

// Valid reports whether s is one of the known statuses.
func (s Status) Valid() bool {
	for _, v := range Statuses {
		if s == v {
			return true
		}
	}
	return false
}

// Order is the record the product keeps for one Shopify order of one shop. It is stored as one
// document; Version is the store's optimistic-concurrency token and is managed by the store.
type Order struct {
	ID          string `json:"id"`      // record id, see RecordID
	Shop        string `json:"shop"`    // shop domain, e.g. acme.myshopify.com
	OrderID     string `json:"orderId"` // Shopify order id, decimal string
	Name        string `json:"name,omitempty"`
	OrderNumber int64  `json:"orderNumber,omitempty"`

	Status    Status `json:"status"`
	Reason    string `json:"reason,omitempty"`    // why held, waiting or dead-lettered
	Attention string `json:"attention,omitempty"` // something an operator must look at

	FinancialStatus string     `json:"financialStatus,omitempty"`
	CancelledAt     *time.Time `json:"cancelledAt,omitempty"`
	Currency        string     `json:"currency,omitempty"`
	TotalPrice      string     `json:"totalPrice,omitempty"` // decimal string, never a float
	Lines           []Line     `json:"lines,omitempty"`      // shippable lines only
	ShippingAddress *Address   `json:"shippingAddress,omitempty"`

	Route      string `json:"route,omitempty"` // warehouse name
	Priority   string `json:"priority,omitempty"`
	Generation int    `json:"generation,omitempty"` // bumped for every new dispatch job

	// WarehouseFulfillmentID is what the warehouse answered when it accepted the order.
	WarehouseFulfillmentID string     `json:"warehouseFulfillmentId,omitempty"`
	DispatchedAt           *time.Time `json:"dispatchedAt,omitempty"`
	CancelSent             bool       `json:"cancelSent,omitempty"`

	// UpdatedAt is the newest Shopify updated_at (or triggered-at) applied to this record.
	UpdatedAt time.Time `json:"updatedAt"`
	CreatedAt time.Time `json:"createdAt"`

	Events      []Event      `json:"events,omitempty"`
	Attempts    []Attempt    `json:"attempts,omitempty"`
	Shipments   []Shipment   `json:"shipments,omitempty"`
	DeadLetters []DeadLetter `json:"deadLetters,omitempty"`
	// Outbox holds jobs written with the record but not yet handed to the queue.
	Outbox []Job `json:"outbox,omitempty"`

	Version int64  `json:"-"`
	ETag    string `json:"-"`
}

// Line is one order line the product cares about.
type Line struct {
	LineItemID          string `json:"lineItemId"`
	VariantID           string `json:"variantId,omitempty"`
	SKU                 string `json:"sku"`
	Name                string `json:"name,omitempty"`
	Quantity            int    `json:"quantity"`
	FulfillableQuantity int    `json:"fulfillableQuantity"`
	RequiresShipping    bool   `json:"requiresShipping"`
	GiftCard            bool   `json:"giftCard,omitempty"`
	Price               string `json:"price,omitempty"` // unit price, decimal string, shop currency
	// NetAmount is price × quantity minus Shopify's own discount allocations for the line, as a
	// decimal string in the shop currency (for customs values and invoices; never re-derived
	// with floats, so the lines add up to Shopify's figures).
	NetAmount string `json:"netAmount,omitempty"`
}

// Shippable reports whether the line goes to a warehouse: it needs shipping, is not a gift
// card and still has a quantity to fulfil (refunded or already fulfilled units do not ship).
func (l Line) Shippable() bool { return l.RequiresShipping && !l.GiftCard && l.FulfillableQuantity > 0 }

// Address is a shipping address. It is customer data: never log it whole (see Summary).
type Address struct {
	Name         string `json:"name,omitempty"`
	Company      string `json:"company,omitempty"`
	Address1     string `json:"address1,omitempty"`
	Address2     string `json:"address2,omitempty"`
	City         string `json:"city,omitempty"`
	Province     string `json:"province,omitempty"`
	ProvinceCode string `json:"provinceCode,omitempty"`
	Zip          string `json:"zip,omitempty"`
	Country      string `json:"country,omitempty"`
	CountryCode  string `json:"countryCode,omitempty"`
	Phone        string `json:"phone,omitempty"`
}

// Summary is the part of the address that may appear in logs: country and province codes.
func (a *Address) Summary() string {
	if a == nil {
		return "none"
	}
	if a.ProvinceCode == "" {
		return a.CountryCode
	}
	return a.CountryCode + "-" + a.ProvinceCode
}

// Event is one thing that happened to the order: a webhook delivery, a callback, an operator action.
type Event struct {
	Topic       string    `json:"topic"`
	Source      string    `json:"source"` // webhook, callback, operator, worker
	WebhookID   string    `json:"webhookId,omitempty"`
	EventID     string    `json:"eventId,omitempty"`
	TriggeredAt time.Time `json:"triggeredAt,omitzero"`
	UpdatedAt   time.Time `json:"updatedAt,omitzero"` // the payload's updated_at
	ReceivedAt  time.Time `json:"receivedAt"`
	Applied     bool      `json:"applied"`
	Note        string    `json:"note,omitempty"`
}

// Attempt is one call to a warehouse and its answer.
type Attempt struct {
	Kind      JobKind   `json:"kind"`
	Warehouse string    `json:"warehouse"`
	At        time.Time `json:"at"`
	Attempt   int       `json:"attempt"`
	Outcome   string    `json:"outcome"` // ok, retry, failed
	Detail    string    `json:"detail,omitempty"`
}

// Shipment is one shipment a warehouse reported through the callback.
type Shipment struct {
	Key            string         `json:"key"` // dedupe key, see ShipmentKey
	Warehouse      string         `json:"warehouse"`
	TrackingNumber string         `json:"trackingNumber,omitempty"`
	Carrier        string         `json:"carrier,omitempty"`
	TrackingURL    string         `json:"trackingUrl,omitempty"`
	FulfillmentID  string         `json:"fulfillmentId,omitempty"` // warehouse's id
	ShipmentID     string         `json:"shipmentId,omitempty"`
	Items          []ShipmentItem `json:"items,omitempty"` // nil: everything open at the location
	ReportedAt     time.Time      `json:"reportedAt"`
	// ShopifyFulfillmentID is set once the Shopify fulfillment exists.
	ShopifyFulfillmentID string   `json:"shopifyFulfillmentId,omitempty"`
	Notes                []string `json:"notes,omitempty"`
}

// ShipmentItem is a SKU and quantity in a shipment.
type ShipmentItem struct {
	SKU      string `json:"sku"`
	Quantity int    `json:"quantity"`
}

// ShipmentKey is the identity of a reported shipment: the warehouse's shipment id when it sends
// one, otherwise its fulfillment id with the tracking number.
func ShipmentKey(warehouse, shipmentID, fulfillmentID, trackingNumber string) string {
	switch {
	case shipmentID != "":
		return warehouse + "/s/" + shipmentID
	default:
		return warehouse + "/t/" + fulfillmentID + "/" + trackingNumber
	}
}

// DeadLetter is a job that will not be retried automatically, with the reason.
type DeadLetter struct {
	Job    Job       `json:"job"`
	Reason string    `json:"reason"`
	At     time.Time `json:"at"`
}

// Shipment returns the shipment with key k, or nil.
func (o *Order) Shipment(k string) *Shipment {
	for i := range o.Shipments {
		if o.Shipments[i].Key == k {
			return &o.Shipments[i]
		}
	}
	return nil
}

// SeenDelivery reports whether the record already holds this delivery: the same webhook id, or the
// same Shopify event id for the same topic (a second subscription delivering the same event).
func (o *Order) SeenDelivery(topic, webhookID, eventID string) bool {
	for _, e := range o.Events {
		if e.Source != "webhook" {
			continue
		}
		if webhookID != "" && e.WebhookID == webhookID {
			return true
		}
		if eventID != "" && e.EventID == eventID && e.Topic == topic {
			return true
		}
	}
	return false
}

// GID returns the order's Shopify GraphQL id.
func (o *Order) GID() string { return "gid://shopify/Order/" + o.OrderID }

// maxAttempts bounds the attempt history kept in a record.
const maxAttempts = 50

// AddAttempt appends a to the attempt history, keeping the newest entries.
func (o *Order) AddAttempt(a Attempt) {
	o.Attempts = append(o.Attempts, a)
	if n := len(o.Attempts); n > maxAttempts {
		o.Attempts = append([]Attempt(nil), o.Attempts[n-maxAttempts:]...)
	}
}

// RecordID derives the record id from the shop domain and the numeric order id. It never uses
// the order name (#1001) and contains only [A-Za-z0-9._-], so it is safe as a Cosmos DB id.
func RecordID(shop, orderID string) string {
	return sanitize(shop) + "-" + sanitize(orderID)
}

func sanitize(s string) string {
	s = strings.ToLower(s)
	var b strings.Builder
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '.', r == '-', r == '_':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	return b.String()
}
