package shopifysim

import (
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Order is an order seeded into the simulator with its fulfillment orders. IDs may be given as
// decimal strings or gids; empty ids are assigned. Methods return it with gids filled in.
type Order struct {
	ID                string             `json:"id"`
	Name              string             `json:"name,omitempty"`
	Cancelled         bool               `json:"cancelled,omitempty"`
	FulfillmentOrders []FulfillmentOrder `json:"fulfillmentOrders"`
}

// FulfillmentOrder is a group of an order's lines assigned to one location.
type FulfillmentOrder struct {
	ID         string                 `json:"id"`
	Status     string                 `json:"status"`     // OPEN (default), IN_PROGRESS, ON_HOLD, CLOSED, ...
	LocationID string                 `json:"locationId"` // numeric or gid; required
	Lines      []FulfillmentOrderLine `json:"lines"`
}

// FulfillmentOrderLine is a fulfillment order line item.
type FulfillmentOrderLine struct {
	ID         string `json:"id"`         // FulfillmentOrderLineItem id
	LineItemID string `json:"lineItemId"` // the order's LineItem id
	SKU        string `json:"sku"`
	Title      string `json:"title,omitempty"`
	Quantity   int    `json:"quantity"`            // totalQuantity
	Remaining  *int   `json:"remaining,omitempty"` // remainingQuantity; nil means Quantity
}

// Fulfillment is a fulfillment created through fulfillmentCreate.
type Fulfillment struct {
	ID             string          `json:"id"`
	OrderID        string          `json:"orderId"`
	Status         string          `json:"status"`
	TrackingNumber string          `json:"trackingNumber,omitempty"`
	TrackingURL    string          `json:"trackingUrl,omitempty"`
	Company        string          `json:"company,omitempty"`
	NotifyCustomer bool            `json:"notifyCustomer"`
	Lines          []FulfilledLine `json:"lines"`
	CreatedAt      time.Time       `json:"createdAt"`
}

// FulfilledLine is a quantity of one fulfillment order line in a fulfillment.
type FulfilledLine struct {
	FulfillmentOrderID     string `json:"fulfillmentOrderId"`
	FulfillmentOrderLineID string `json:"fulfillmentOrderLineItemId"`
	LineItemID             string `json:"lineItemId"`
	SKU                    string `json:"sku"`
	Quantity               int    `json:"quantity"`
}

// InventoryItem is a product variant's inventory item with its stock per location.
type InventoryItem struct {
	ID        string         `json:"id"`        // InventoryItem id
	VariantID string         `json:"variantId"` // ProductVariant id
	SKU       string         `json:"sku"`
	Untracked bool           `json:"untracked,omitempty"`
	Available map[string]int `json:"available"` // location id → available; the item is stocked at these
}

// WebhookSubscription is a webhook subscription in the simulator.
type WebhookSubscription struct {
	ID            string    `json:"id"`
	Topic         string    `json:"topic"` // GraphQL enum, e.g. ORDERS_CREATE
	URI           string    `json:"uri"`
	Format        string    `json:"format"`
	Filter        *string   `json:"filter"`
	IncludeFields []string  `json:"includeFields"`
	Namespaces    []string  `json:"metafieldNamespaces"`
	Name          string    `json:"name,omitempty"`
	CreatedAt     time.Time `json:"createdAt"`
	UpdatedAt     time.Time `json:"updatedAt"`
}

// Mutation is one executed mutation field, for tests that assert exact effects.
type Mutation struct {
	Field          string          `json:"field"` // e.g. inventorySetQuantities
	Arguments      json.RawMessage `json:"arguments"`
	IdempotencyKey string          `json:"idempotencyKey,omitempty"`
	Outcome        string          `json:"outcome"` // applied, replayed, userErrors, error
	At             time.Time       `json:"at"`
}

// internal state -------------------------------------------------------------------------

type simOrder struct {
	id        string
	name      string
	cancelled bool
	fos       []*simFO
	createdAt time.Time
}

type simFO struct {
	id        string
	orderID   string
	status    string
	heldFrom  string // status before a hold
	location  string
	lines     []*simFOLine
	updatedAt time.Time
}

type simFOLine struct {
	id, lineItemID, sku, title string
	total, remaining           int
}

type simItem struct {
	id, variantID, productID, sku string
	tracked                       bool
	available                     map[string]int // location → available
	onHand                        map[string]int
}

type simLocation struct{ id, name string }

type idemRecord struct {
	args    string // canonical JSON of the field's arguments
	payload obj
}

// numeric extracts the number of an id given as digits or as gid://shopify/<typ>/<n>.
func numeric(typ, id string) (string, error) {
	id = strings.TrimSpace(id)
	if rest, ok := strings.CutPrefix(id, "gid://shopify/"); ok {
		t, n, ok := strings.Cut(rest, "/")
		if !ok || t != typ {
			return "", fmt.Errorf("%q is not a %s id", id, typ)
		}
		id = n
	}
	if _, err := strconv.ParseUint(id, 10, 64); err != nil {
		return "", fmt.Errorf("invalid %s id %q", typ, id)
	}
	return id, nil
}

func gid(typ, n string) string { return "gid://shopify/" + typ + "/" + n }

// newID returns a fresh numeric id (13 digits, like real stores today).
func (s *Server) newID() string {
	s.seq++
	return strconv.FormatInt(s.seq, 10)
}

// idOr returns the number of id, or a fresh one when id is empty.
func (s *Server) idOr(typ, id string) (string, error) {
	if id == "" {
		return s.newID(), nil
	}
	return numeric(typ, id)
}

func (s *Server) ensureLocation(id string) {
	if _, ok := s.locations[id]; !ok {
		name := "Simulated location " + id
		if len(s.locations) == 0 {
			name = "Shop location"
		}
		s.locations[id] = &simLocation{id: id, name: name}
	}
}

// AddLocation adds (or renames) a location.
func (s *Server) AddLocation(id, name string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n, err := numeric("Location", id)
	if err != nil {
		return "", err
	}
	s.locations[n] = &simLocation{id: n, name: name}
	return gid("Location", n), nil
}

// AddOrder seeds an order with its fulfillment orders and returns it with gids. Every
// fulfillment order needs a location (added when new); status defaults to OPEN.
func (s *Server) AddOrder(o Order) (Order, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	id, err := s.idOr("Order", o.ID)
	if err != nil {
		return Order{}, err
	}
	if _, dup := s.orders[id]; dup {
		return Order{}, fmt.Errorf("order %s already exists", id)
	}
	so := &simOrder{id: id, name: o.Name, cancelled: o.Cancelled, createdAt: s.now()}
	if so.name == "" {
		so.name = "#" + strconv.Itoa(1000+len(s.orders)+1)
	}
	for _, fo := range o.FulfillmentOrders {
		foID, err := s.idOr("FulfillmentOrder", fo.ID)
		if err != nil {
			return Order{}, err
		}
		if _, dup := s.fos[foID]; dup {
			return Order{}, fmt.Errorf("fulfillment order %s already exists", foID)
		}
		if fo.LocationID == "" {
			return Order{}, fmt.Errorf("fulfillment order %s: a location is required", foID)
		}
		loc, err := numeric("Location", fo.LocationID)
		if err != nil {
			return Order{}, err
		}
		s.ensureLocation(loc)
		status := strings.ToUpper(fo.Status)
		if status == "" {
			status = "OPEN"
		}
		sfo := &simFO{id: foID, orderID: id, status: status, location: loc, updatedAt: s.now()}
		for _, l := range fo.Lines {
			lid, err := s.idOr("FulfillmentOrderLineItem", l.ID)
			if err != nil {
				return Order{}, err
			}
			liid, err := s.idOr("LineItem", l.LineItemID)
			if err != nil {
				return Order{}, err
			}
			rem := l.Quantity
			if l.Remaining != nil {
				rem = *l.Remaining
			}
			if l.Quantity < 0 || rem < 0 || rem > l.Quantity {
				return Order{}, fmt.Errorf("fulfillment order line %s: want 0 <= remaining <= quantity", lid)
			}
			title := l.Title
			if title == "" {
				title = l.SKU
			}
			sfo.lines = append(sfo.lines, &simFOLine{id: lid, lineItemID: liid, sku: l.SKU, title: title, total: l.Quantity, remaining: rem})
		}
		so.fos = append(so.fos, sfo)
		s.fos[foID] = sfo
	}
	if so.cancelled {
		for _, fo := range so.fos {
			fo.status = "CLOSED"
		}
	}
	s.orders[id] = so
	s.log.Info("SIMULATOR shopify: order seeded", "order", id, "fulfillmentOrders", len(so.fos))
	return s.exportOrder(so), nil
}

// AddOrderFromWebhook seeds an order from a Shopify orders/create webhook body, with one OPEN
// fulfillment order at locationID holding every line that requires shipping (gift cards
// excluded) with its fulfillable quantity. IDs are decoded as json.Number: ids above 2^53 stay
// exact.
func (s *Server) AddOrderFromWebhook(body []byte, locationID string) (Order, error) {
	var w struct {
		ID        json.Number `json:"id"`
		Name      string      `json:"name"`
		LineItems []struct {
			ID                  json.Number  `json:"id"`
			SKU                 *string      `json:"sku"`
			Title               string       `json:"title"`
			Name                string       `json:"name"`
			Quantity            json.Number  `json:"quantity"`
			FulfillableQuantity *json.Number `json:"fulfillable_quantity"`
			RequiresShipping    *bool        `json:"requires_shipping"`
			GiftCard            bool         `json:"gift_card"`
		} `json:"line_items"`
	}
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.UseNumber()
	if err := dec.Decode(&w); err != nil {
		return Order{}, fmt.Errorf("decode order webhook: %w", err)
	}
	if w.ID == "" {
		return Order{}, errors.New("order webhook has no id")
	}
	fo := FulfillmentOrder{LocationID: locationID}
	for _, li := range w.LineItems {
		if li.GiftCard || (li.RequiresShipping != nil && !*li.RequiresShipping) {
			continue
		}
		qty, err := strconv.Atoi(li.Quantity.String())
		if err != nil {
			return Order{}, fmt.Errorf("line item %s: quantity %q", li.ID, li.Quantity)
		}
		if li.FulfillableQuantity != nil {
			if fq, err := strconv.Atoi(li.FulfillableQuantity.String()); err == nil {
				qty = fq
			}
		}
		if qty <= 0 {
			continue
		}
		sku := ""
		if li.SKU != nil {
			sku = *li.SKU
		}
		title := li.Name
		if title == "" {
			title = li.Title
		}
		fo.Lines = append(fo.Lines, FulfillmentOrderLine{LineItemID: li.ID.String(), SKU: sku, Title: title, Quantity: qty})
	}
	o := Order{ID: w.ID.String(), Name: w.Name}
	if len(fo.Lines) > 0 {
		o.FulfillmentOrders = []FulfillmentOrder{fo}
	}
	return s.AddOrder(o)
}

// Order returns a seeded order's current state.
func (s *Server) Order(id string) (Order, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n, err := numeric("Order", id)
	if err != nil {
		return Order{}, false
	}
	o, ok := s.orders[n]
	if !ok {
		return Order{}, false
	}
	return s.exportOrder(o), true
}

func (s *Server) exportOrder(o *simOrder) Order {
	out := Order{ID: gid("Order", o.id), Name: o.name, Cancelled: o.cancelled, FulfillmentOrders: []FulfillmentOrder{}}
	for _, fo := range o.fos {
		e := FulfillmentOrder{ID: gid("FulfillmentOrder", fo.id), Status: fo.status, LocationID: gid("Location", fo.location), Lines: []FulfillmentOrderLine{}}
		for _, l := range fo.lines {
			rem := l.remaining
			e.Lines = append(e.Lines, FulfillmentOrderLine{
				ID: gid("FulfillmentOrderLineItem", l.id), LineItemID: gid("LineItem", l.lineItemID),
				SKU: l.sku, Title: l.title, Quantity: l.total, Remaining: &rem,
			})
		}
		out.FulfillmentOrders = append(out.FulfillmentOrders, e)
	}
	return out
}

// CancelOrder cancels an order as the merchant would: its fulfillment orders become CLOSED
// (remaining quantities unchanged, as observed live).
func (s *Server) CancelOrder(id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	n, err := numeric("Order", id)
	if err != nil {
		return err
	}
	o, ok := s.orders[n]
	if !ok {
		return fmt.Errorf("order %s not found", id)
	}
	o.cancelled = true
	for _, fo := range o.fos {
		fo.status = "CLOSED"
		fo.updatedAt = s.now()
	}
	return nil
}

// HoldFulfillmentOrder puts a fulfillment order ON_HOLD (fulfillmentCreate then fails).
func (s *Server) HoldFulfillmentOrder(id string) error {
	return s.withFO(id, func(fo *simFO) error {
		if fo.status == "CLOSED" || fo.status == "CANCELLED" {
			return fmt.Errorf("fulfillment order %s is %s", fo.id, fo.status)
		}
		if fo.status != "ON_HOLD" {
			fo.heldFrom, fo.status = fo.status, "ON_HOLD"
		}
		return nil
	})
}

// ReleaseHold releases a fulfillment order's hold (back to its previous status).
func (s *Server) ReleaseHold(id string) error {
	return s.withFO(id, func(fo *simFO) error {
		if fo.status != "ON_HOLD" {
			return fmt.Errorf("fulfillment order %s is not on hold", fo.id)
		}
		fo.status = fo.heldFrom
		if fo.status == "" {
			fo.status = "OPEN"
		}
		return nil
	})
}

func (s *Server) withFO(id string, fn func(*simFO) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	n, err := numeric("FulfillmentOrder", id)
	if err != nil {
		return err
	}
	fo, ok := s.fos[n]
	if !ok {
		return fmt.Errorf("fulfillment order %s not found", id)
	}
	if err := fn(fo); err != nil {
		return err
	}
	fo.updatedAt = s.now()
	return nil
}

// Fulfillments returns the fulfillments created so far (all orders when orderID is empty).
func (s *Server) Fulfillments(orderID string) []Fulfillment {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := ""
	if orderID != "" {
		n, _ = numeric("Order", orderID)
	}
	out := []Fulfillment{}
	for _, f := range s.fulfillments {
		if n == "" || f.OrderID == gid("Order", n) {
			out = append(out, f)
		}
	}
	return out
}

// AddInventoryItem seeds an inventory item (and its product variant) with its stock. Duplicate
// SKUs are allowed, as in Shopify.
func (s *Server) AddInventoryItem(it InventoryItem) (InventoryItem, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	id, err := s.idOr("InventoryItem", it.ID)
	if err != nil {
		return InventoryItem{}, err
	}
	if _, dup := s.items[id]; dup {
		return InventoryItem{}, fmt.Errorf("inventory item %s already exists", id)
	}
	vid, err := s.idOr("ProductVariant", it.VariantID)
	if err != nil {
		return InventoryItem{}, err
	}
	si := &simItem{id: id, variantID: vid, productID: s.newID(), sku: it.SKU, tracked: !it.Untracked,
		available: map[string]int{}, onHand: map[string]int{}}
	for loc, q := range it.Available {
		ln, err := numeric("Location", loc)
		if err != nil {
			return InventoryItem{}, err
		}
		s.ensureLocation(ln)
		si.available[ln] = q
		si.onHand[ln] = q
	}
	s.items[id] = si
	s.itemOrder = append(s.itemOrder, id)
	return s.exportItem(si), nil
}

func (s *Server) exportItem(si *simItem) InventoryItem {
	out := InventoryItem{ID: gid("InventoryItem", si.id), VariantID: gid("ProductVariant", si.variantID), SKU: si.sku,
		Untracked: !si.tracked, Available: map[string]int{}}
	for loc, q := range si.available {
		out.Available[gid("Location", loc)] = q
	}
	return out
}

// InventoryItems returns every inventory item with its stock.
func (s *Server) InventoryItems() []InventoryItem {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]InventoryItem, 0, len(s.itemOrder))
	for _, id := range s.itemOrder {
		out = append(out, s.exportItem(s.items[id]))
	}
	return out
}

// SetStock sets an item's available quantity at a location, stocking it there if needed
// (like a merchant editing stock in the admin).
func (s *Server) SetStock(itemID, locationID string, available int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	in, err := numeric("InventoryItem", itemID)
	if err != nil {
		return err
	}
	ln, err := numeric("Location", locationID)
	if err != nil {
		return err
	}
	it, ok := s.items[in]
	if !ok {
		return fmt.Errorf("inventory item %s not found", itemID)
	}
	s.ensureLocation(ln)
	it.onHand[ln] += available - it.available[ln]
	it.available[ln] = available
	return nil
}

// Available returns an item's available quantity at a location; false when not stocked there.
func (s *Server) Available(itemID, locationID string) (int, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	in, err1 := numeric("InventoryItem", itemID)
	ln, err2 := numeric("Location", locationID)
	if err1 != nil || err2 != nil {
		return 0, false
	}
	it, ok := s.items[in]
	if !ok {
		return 0, false
	}
	q, ok := it.available[ln]
	return q, ok
}

// Mutations returns the log of executed mutation fields, oldest first.
func (s *Server) Mutations() []Mutation {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Mutation(nil), s.mutations...)
}

// AddWebhookSubscription seeds a subscription (e.g. one made by an earlier deployment).
func (s *Server) AddWebhookSubscription(topic, uri string) WebhookSubscription {
	s.mu.Lock()
	defer s.mu.Unlock()
	w := &WebhookSubscription{ID: gid("WebhookSubscription", s.newID()), Topic: topic, URI: uri, Format: "JSON",
		IncludeFields: []string{}, Namespaces: []string{}, CreatedAt: s.now(), UpdatedAt: s.now()}
	s.webhooks = append(s.webhooks, w)
	return *w
}

// WebhookSubscriptions returns the subscriptions, oldest first.
func (s *Server) WebhookSubscriptions() []WebhookSubscription {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]WebhookSubscription, 0, len(s.webhooks))
	for _, w := range s.webhooks {
		out = append(out, *w)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].CreatedAt.Before(out[j].CreatedAt) })
	return out
}
