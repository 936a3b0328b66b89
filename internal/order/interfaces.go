package order

import (
	"context"
	"time"
)

// Store keeps order records and the few other things the product must not lose. Every
// implementation (SQLite, Cosmos DB) passes the same contract tests (ordertest.RunStoreContract).
type Store interface {
	// Get reads one order record by record id; ErrNotFound when there is none.
	Get(ctx context.Context, id string) (*Order, error)
	// FindByOrderID returns the records of a Shopify order id (one per shop).
	FindByOrderID(ctx context.Context, orderID string) ([]*Order, error)
	// Save creates the record when o.Version is 0 and otherwise replaces it only if it is still
	// at o.Version (ErrConflict when it is not, or when a record to create exists). On success
	// it updates o.Version. A store that owns the queue (the SQLite default) moves o.Outbox into
	// its queue in the same transaction and leaves o.Outbox empty.
	Save(ctx context.Context, o *Order) error
	// List returns records matching f, newest first.
	List(ctx context.Context, f Filter) ([]*Order, error)

	// RecordReceipt stores a delivery that is not part of an order record (quarantined payloads,
	// inventory webhooks). It reports false when (shop, webhook id) was already recorded.
	RecordReceipt(ctx context.Context, r Receipt) (bool, error)
	// ListReceipts returns recorded receipts of one kind, newest first.
	ListReceipts(ctx context.Context, kind string, limit int) ([]Receipt, error)

	// AcquireLease takes the named lease for holder until ttl passes; ErrLeaseHeld when
	// another holder has it. The same holder may renew.
	AcquireLease(ctx context.Context, name, holder string, ttl time.Duration) error
	// ReleaseLease gives the lease up if holder has it.
	ReleaseLease(ctx context.Context, name, holder string) error
	// PutState and GetState keep small named values (the last inventory sync, for example).
	PutState(ctx context.Context, key string, value []byte) error
	// GetState returns ErrNotFound for an unknown key.
	GetState(ctx context.Context, key string) ([]byte, error)

	// Ping checks the store answers.
	Ping(ctx context.Context) error
	Close() error
}

// Filter selects order records for List.
type Filter struct {
	Status        Status // empty: any
	DeadLettered  bool   // only records with dead letters
	PendingOutbox bool   // only records with jobs not yet handed to the queue
	Attention     bool   // only records flagged for the operator
	Limit         int    // 0: a default
}

// Receipt kinds.
const (
	ReceiptQuarantine = "quarantine" // valid signature, unusable payload
	ReceiptInventory  = "inventory"  // inventory_levels/update
	ReceiptIgnored    = "ignored"    // a topic the product does not act on
)

// Receipt is a recorded webhook delivery that did not become part of an order record.
type Receipt struct {
	Shop       string    `json:"shop"`
	WebhookID  string    `json:"webhookId"`
	Topic      string    `json:"topic"`
	Kind       string    `json:"kind"`
	Reason     string    `json:"reason,omitempty"`
	Body       []byte    `json:"body,omitempty"`
	ReceivedAt time.Time `json:"receivedAt"`
}

// Queue hands jobs to whatever runs them: the SQLite queue's in-process worker, or Service Bus
// and the fulfillment-router function.
type Queue interface {
	// Enqueue queues jobs to run now. Idempotent on Job.ID: a job already queued (or already
	// run, within the queue's duplicate-detection window) is not queued twice.
	Enqueue(ctx context.Context, jobs ...Job) error
	// Schedule queues j to run at the given time (a retry with backoff). j.ID must be new.
	Schedule(ctx context.Context, j Job, at time.Time) error
}

// Warehouse is one warehouse's API (DESIGN.md §5.2).
type Warehouse interface {
	// Dispatch sends the order's shippable lines; it returns the warehouse's fulfillment id.
	// A conflict (the warehouse already has it) is success. Errors marked Permanent must not be
	// retried; others carry RetryAfter when the warehouse asked for a wait.
	Dispatch(ctx context.Context, o *Order, idempotencyKey string) (string, error)
	// Cancel cancels a dispatched fulfillment.
	Cancel(ctx context.Context, fulfillmentID, idempotencyKey string) error
	// Inventory reads the warehouse's whole stock feed.
	Inventory(ctx context.Context) ([]Stock, error)
}

// Stock is a warehouse's quantity of one SKU.
type Stock struct {
	SKU      string `json:"sku"`
	Quantity int    `json:"quantity"`
}

// Shopify is what the product needs from the Shopify Admin API.
type Shopify interface {
	// FulfillmentState reads an order's fulfillment orders and existing fulfillments.
	FulfillmentState(ctx context.Context, orderGID string) (*FulfillmentState, error)
	// CreateFulfillment creates one fulfillment and returns its id. userErrors come back as a
	// Permanent error.
	CreateFulfillment(ctx context.Context, r FulfillmentRequest) (string, error)
}

// FulfillmentState is an order's fulfillment orders and fulfillments as Shopify has them.
type FulfillmentState struct {
	OrderGID          string
	FulfillmentOrders []FulfillmentOrder
	Fulfillments      []Fulfillment
}

// FulfillmentOrder is a Shopify fulfillment order: a group of lines assigned to one location.
type FulfillmentOrder struct {
	ID         string // gid
	Status     string // OPEN, IN_PROGRESS, ON_HOLD, SCHEDULED, INCOMPLETE, CLOSED, CANCELLED
	LocationID string // gid of the assigned location
	Lines      []FulfillmentOrderLine
}

// FulfillmentOrderLine is one line of a fulfillment order.
type FulfillmentOrderLine struct {
	ID                string // FulfillmentOrderLineItem gid (not the LineItem id)
	LineItemID        string // LineItem gid
	SKU               string
	TotalQuantity     int
	RemainingQuantity int
}

// Fulfillment is an existing Shopify fulfillment.
type Fulfillment struct {
	ID              string
	Status          string
	TrackingNumbers []string
}

// FulfillmentRequest is one fulfillmentCreate call: fulfillment orders of one order at one
// location, with tracking.
type FulfillmentRequest struct {
	Orders         []FulfillmentOrderLines
	TrackingNumber string
	Company        string
	URL            string
	NotifyCustomer bool
}

// FulfillmentOrderLines names a fulfillment order and, optionally, which of its lines to
// fulfil; nil Lines means everything remaining on it.
type FulfillmentOrderLines struct {
	FulfillmentOrderID string
	Lines              []FulfillmentLineQuantity
}

// FulfillmentLineQuantity is a fulfillment order line item and a quantity.
type FulfillmentLineQuantity struct {
	ID       string
	Quantity int
}

// InventoryCatalog is what the inventory sync needs from Shopify.
type InventoryCatalog interface {
	// FindBySKU returns, for each SKU, the inventory items whose SKU matches exactly (Shopify's
	// search is fuzzy; implementations filter). A SKU with no entry is unknown; with two or more,
	// ambiguous.
	FindBySKU(ctx context.Context, skus []string) (map[string][]InventoryItem, error)
	// Available returns the available quantity of each item at a location; items not stocked
	// there are absent from the map.
	Available(ctx context.Context, locationID string, itemIDs []string) (map[string]int, error)
	// SetAvailable sets absolute available quantities (at most 250 per call) with
	// compare-and-swap on ChangeFrom and the idempotency key.
	SetAvailable(ctx context.Context, key string, changes []InventoryChange) error
}

// InventoryItem is a Shopify inventory item found by SKU.
type InventoryItem struct {
	ID        string // gid
	SKU       string
	VariantID string
	Tracked   bool
}

// InventoryChange is one quantity to set.
type InventoryChange struct {
	InventoryItemID string
	LocationID      string
	Quantity        int
	ChangeFrom      *int // nil: skip the compare (not used by the sync)
	SKU             string
}
