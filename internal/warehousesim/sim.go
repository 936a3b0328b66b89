package warehousesim

import (
	"bufio"
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Endpoint names, as used in Fault.Endpoint and Request.Endpoint.
const (
	EndpointFulfillments = "fulfillments" // POST /fulfillments
	EndpointCancel       = "cancel"       // POST /fulfillments/{id}/cancel
	EndpointInventory    = "inventory"    // GET /inventory
	EndpointOther        = "other"        // anything else (404 or 405)
)

// Defaults for Config fields left zero.
const (
	DefaultPageSize     = 100
	maxRequestBody      = 10 << 20
	defaultCallbackWait = 200 * time.Millisecond
)

// Config configures one simulated warehouse.
type Config struct {
	// Name names the warehouse in logs, headers and NewMux paths, e.g. "warehouse-east".
	// Default "warehouse".
	Name string
	// Key is the bearer key the simulator expects on API requests, and by default sends on
	// callbacks. Empty: the API accepts any request (logged at start).
	Key string
	// FulfillmentPrefix prefixes fulfillment ids ("WH-E-" gives WH-E-1, WH-E-2…). Default:
	// "SIM-" + the upper-cased name + "-".
	FulfillmentPrefix string
	// PageSize is the inventory feed page size. Default DefaultPageSize.
	PageSize int
	// InventoryBareArray serves the inventory feed as one bare JSON array instead of pages.
	InventoryBareArray bool
	// DuplicateStatus answers a repeated Idempotency-Key: 200 (default) or 409.
	DuplicateStatus int
	// DecrementStock lowers the stock of accepted items (never below zero).
	DecrementStock bool
	// Callback configures the callback to the product; it can be changed with SetCallback.
	Callback CallbackConfig
	// AdminKey, when set, is required as a bearer key on /_sim/ admin requests.
	AdminKey string
	// Logger receives the simulator's log lines; nil means slog.Default().
	Logger *slog.Logger
}

// Warehouse is one simulated warehouse: an http.Handler serving the warehouse API and the
// /_sim/ admin API. Its methods are safe for concurrent use. Close releases hanging requests
// and stops pending callbacks.
type Warehouse struct {
	name      string
	key       string
	adminKey  string
	prefix    string
	pageSize  int
	bareArray bool
	dupStatus int
	decrement bool
	log       *slog.Logger

	ctx    context.Context // cancelled by Close; bounds callbacks
	cancel context.CancelFunc
	done   chan struct{} // closed by Close; releases hangs and delays
	wg     sync.WaitGroup

	mu           sync.Mutex
	closed       bool
	seq          int
	requests     []*Request
	byKey        map[string]*fulfillment
	byID         map[string]*fulfillment
	order        []*fulfillment
	stock        map[string]int
	faults       []*ActiveFault
	hook         Hook
	callback     CallbackConfig
	callbackLog  []CallbackAttempt
	countsPerKey map[string]int
}

// Hook is per-request behaviour installed with SetHook. It runs before faults and normal
// handling, with the request body already read; it returns true when it has answered.
type Hook func(w http.ResponseWriter, r *http.Request, body []byte) bool

// Request is one API request as the simulator received and answered it.
type Request struct {
	At             time.Time `json:"at"`
	Method         string    `json:"method"`
	Path           string    `json:"path"`
	Endpoint       string    `json:"endpoint"`
	IdempotencyKey string    `json:"idempotencyKey,omitempty"`
	Authorized     bool      `json:"authorized"`
	Body           string    `json:"body,omitempty"`
	// Status is the answer; 0 when there was none (hang, reset, client gave up).
	Status int `json:"status"`
	// Fault describes the injected fault applied, if any.
	Fault         string `json:"fault,omitempty"`
	FulfillmentID string `json:"fulfillmentId,omitempty"`
	// Replay is true when the Idempotency-Key had already been accepted.
	Replay bool `json:"replay,omitempty"`
}

// Item is one line of an accepted fulfillment.
type Item struct {
	SKU        string `json:"sku"`
	Quantity   int    `json:"quantity"`
	Name       string `json:"name,omitempty"`
	LineItemID string `json:"lineItemId,omitempty"`
}

// Callback states of a Fulfillment.
const (
	CallbackOff       = "off"       // callbacks disabled or no URL when accepted
	CallbackPending   = "pending"   // scheduled
	CallbackSending   = "sending"   // attempts in progress
	CallbackDelivered = "delivered" // a 2xx answer
	CallbackFailed    = "failed"    // every attempt failed
	CallbackSkipped   = "skipped"   // cancelled before the callback
)

// Fulfillment is an order the simulated warehouse accepted.
type Fulfillment struct {
	ID              string          `json:"fulfillmentId"`
	IdempotencyKey  string          `json:"idempotencyKey"`
	ExternalOrderID string          `json:"externalOrderId"`
	OrderNumber     string          `json:"orderNumber,omitempty"`
	Items           []Item          `json:"items"`
	Body            json.RawMessage `json:"body"`
	AcceptedAt      time.Time       `json:"acceptedAt"`
	// Replays counts later requests with the same Idempotency-Key.
	Replays     int        `json:"replays"`
	Cancelled   bool       `json:"cancelled"`
	CancelledAt *time.Time `json:"cancelledAt,omitempty"`
	// Shipped is set when the callback starts; a shipped fulfillment cannot be cancelled.
	Shipped        bool   `json:"shipped"`
	TrackingNumber string `json:"trackingNumber"`
	Carrier        string `json:"carrier,omitempty"`
	TrackingURL    string `json:"trackingUrl,omitempty"`
	ShipmentID     string `json:"shipmentId"`
	Callback       string `json:"callback"`
}

// fulfillment is the stored form.
type fulfillment struct {
	Fulfillment
	timer *time.Timer // pending callback
}

// New returns a simulated warehouse configured by cfg.
func New(cfg Config) *Warehouse {
	name := cfg.Name
	if name == "" {
		name = "warehouse"
	}
	w := &Warehouse{
		name:         name,
		key:          cfg.Key,
		adminKey:     cfg.AdminKey,
		prefix:       cfg.FulfillmentPrefix,
		pageSize:     cfg.PageSize,
		bareArray:    cfg.InventoryBareArray,
		dupStatus:    cfg.DuplicateStatus,
		decrement:    cfg.DecrementStock,
		log:          cfg.Logger,
		done:         make(chan struct{}),
		byKey:        map[string]*fulfillment{},
		byID:         map[string]*fulfillment{},
		stock:        map[string]int{},
		countsPerKey: map[string]int{},
		callback:     cfg.Callback,
	}
	if w.prefix == "" {
		w.prefix = "SIM-" + strings.ToUpper(name) + "-"
	}
	if w.pageSize <= 0 {
		w.pageSize = DefaultPageSize
	}
	if w.dupStatus != http.StatusConflict {
		w.dupStatus = http.StatusOK
	}
	if w.log == nil {
		w.log = slog.Default()
	}
	w.log = w.log.With("simulator", "warehouse", "warehouse", name)
	w.ctx, w.cancel = context.WithCancel(context.Background())
	if w.key == "" {
		w.log.Warn("SIMULATOR warehouse: no key configured, API requests are not authenticated")
	}
	return w
}

// Name returns the warehouse name.
func (w *Warehouse) Name() string { return w.name }

// Close releases hanging requests, stops pending callbacks, cancels callbacks in flight and
// waits for them. The handler keeps answering (without callbacks) after Close.
func (w *Warehouse) Close() {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return
	}
	w.closed = true
	close(w.done)
	w.cancel()
	for _, f := range w.order {
		w.stopTimerLocked(f)
	}
	w.mu.Unlock()
	w.wg.Wait()
}

// SetStock sets the feed quantity of one SKU; a negative quantity removes the SKU.
func (w *Warehouse) SetStock(sku string, qty int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if qty < 0 {
		delete(w.stock, sku)
		return
	}
	w.stock[sku] = qty
}

// ReplaceStock replaces the whole feed with levels.
func (w *Warehouse) ReplaceStock(levels map[string]int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.stock = make(map[string]int, len(levels))
	for k, v := range levels {
		if v >= 0 {
			w.stock[k] = v
		}
	}
}

// Stock returns a copy of the feed.
func (w *Warehouse) Stock() map[string]int {
	w.mu.Lock()
	defer w.mu.Unlock()
	m := make(map[string]int, len(w.stock))
	for k, v := range w.stock {
		m[k] = v
	}
	return m
}

// SetHook installs h (nil removes it).
func (w *Warehouse) SetHook(h Hook) {
	w.mu.Lock()
	w.hook = h
	w.mu.Unlock()
}

// Requests returns every API request received, oldest first.
func (w *Warehouse) Requests() []Request {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make([]Request, len(w.requests))
	for i, r := range w.requests {
		out[i] = *r
	}
	return out
}

// Orders returns the distinct accepted fulfillments (one per Idempotency-Key), in the order
// they were accepted.
func (w *Warehouse) Orders() []Fulfillment {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make([]Fulfillment, len(w.order))
	for i, f := range w.order {
		out[i] = f.copy()
	}
	return out
}

// Order returns the fulfillment with the given id.
func (w *Warehouse) Order(id string) (Fulfillment, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	f, ok := w.byID[id]
	if !ok {
		return Fulfillment{}, false
	}
	return f.copy(), true
}

// CountByKey returns, per Idempotency-Key, how many POST /fulfillments requests carried it,
// whatever the answer (faulted and replayed requests included).
func (w *Warehouse) CountByKey() map[string]int {
	w.mu.Lock()
	defer w.mu.Unlock()
	m := make(map[string]int, len(w.countsPerKey))
	for k, v := range w.countsPerKey {
		m[k] = v
	}
	return m
}

// KeysByOrder returns, per externalOrderId, the Idempotency-Keys of its accepted fulfillments.
// More than one key for an order means the warehouse holds it twice.
func (w *Warehouse) KeysByOrder() map[string][]string {
	w.mu.Lock()
	defer w.mu.Unlock()
	m := map[string][]string{}
	for _, f := range w.order {
		m[f.ExternalOrderID] = append(m[f.ExternalOrderID], f.IdempotencyKey)
	}
	return m
}

// Reset forgets requests, orders, callback attempts and faults; stock and settings stay.
// Fulfillment ids keep counting up, so ids are never reused.
func (w *Warehouse) Reset() {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, f := range w.order {
		w.stopTimerLocked(f)
	}
	w.requests = nil
	w.byKey = map[string]*fulfillment{}
	w.byID = map[string]*fulfillment{}
	w.order = nil
	w.faults = nil
	w.callbackLog = nil
	w.countsPerKey = map[string]int{}
}

func (f *fulfillment) copy() Fulfillment {
	c := f.Fulfillment
	c.Items = append([]Item(nil), f.Items...)
	c.Body = append(json.RawMessage(nil), f.Body...)
	if f.CancelledAt != nil {
		t := *f.CancelledAt
		c.CancelledAt = &t
	}
	return c
}

// ServeHTTP serves the warehouse API and, under /_sim/, the admin API.
func (w *Warehouse) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	rw.Header().Set("X-Simulator", "warehouse")
	rw.Header().Set("X-Simulator-Warehouse", w.name)
	if r.URL.Path == "/_sim" || strings.HasPrefix(r.URL.Path, "/_sim/") {
		w.serveAdmin(rw, r)
		return
	}
	w.serveAPI(rw, r)
}

// route classifies a request; id is the unescaped fulfillment id for cancel.
func route(r *http.Request) (endpoint, id string, allowed string) {
	p := r.URL.EscapedPath()
	switch {
	case p == "/fulfillments":
		return EndpointFulfillments, "", http.MethodPost
	case p == "/inventory":
		return EndpointInventory, "", http.MethodGet
	case strings.HasPrefix(p, "/fulfillments/") && strings.HasSuffix(p, "/cancel"):
		raw := strings.TrimSuffix(strings.TrimPrefix(p, "/fulfillments/"), "/cancel")
		if raw == "" || strings.Contains(raw, "/") {
			return EndpointOther, "", ""
		}
		id, err := url.PathUnescape(raw)
		if err != nil {
			return EndpointOther, "", ""
		}
		return EndpointCancel, id, http.MethodPost
	}
	return EndpointOther, "", ""
}

func (w *Warehouse) serveAPI(rw http.ResponseWriter, r *http.Request) {
	endpoint, id, allowed := route(r)
	body, tooBig := readBody(r)
	rec := &Request{
		At:             time.Now(),
		Method:         r.Method,
		Path:           r.URL.EscapedPath(),
		Endpoint:       endpoint,
		IdempotencyKey: r.Header.Get("Idempotency-Key"),
		Authorized:     w.authorized(r),
		Body:           string(body),
	}
	w.mu.Lock()
	w.requests = append(w.requests, rec)
	if endpoint == EndpointFulfillments && r.Method == http.MethodPost && rec.IdempotencyKey != "" {
		w.countsPerKey[rec.IdempotencyKey]++
	}
	hook := w.hook
	w.mu.Unlock()

	sw := &statusWriter{ResponseWriter: rw}
	defer func() {
		w.mu.Lock()
		rec.Status = sw.status
		w.mu.Unlock()
	}()

	if hook != nil && hook(sw, r, body) {
		w.setFault(rec, "hook")
		if sw.status == 0 && !sw.hijacked {
			sw.WriteHeader(http.StatusOK)
		}
		return
	}
	if f := w.takeFault(endpoint); f != nil {
		w.setFault(rec, f.String())
		if !w.applyFault(sw, r, f, func(dst http.ResponseWriter) {
			w.handle(dst, r, endpoint, id, allowed, body, tooBig, rec)
		}) {
			return
		}
	}
	w.handle(sw, r, endpoint, id, allowed, body, tooBig, rec)
}

// handle answers a request normally.
func (w *Warehouse) handle(rw http.ResponseWriter, r *http.Request, endpoint, id, allowed string, body []byte, tooBig bool, rec *Request) {
	if endpoint == EndpointOther {
		writeError(rw, http.StatusNotFound, "no such endpoint (warehouse SIMULATOR)")
		return
	}
	if r.Method != allowed {
		rw.Header().Set("Allow", allowed)
		writeError(rw, http.StatusMethodNotAllowed, "method not allowed")
		return
	}
	if !rec.Authorized {
		rw.Header().Set("WWW-Authenticate", `Bearer realm="warehouse-simulator"`)
		writeError(rw, http.StatusUnauthorized, "missing or wrong bearer key")
		return
	}
	if tooBig {
		writeError(rw, http.StatusRequestEntityTooLarge, "request body too large")
		return
	}
	switch endpoint {
	case EndpointFulfillments:
		w.acceptFulfillment(rw, r, body, rec)
	case EndpointCancel:
		w.cancelFulfillment(rw, r, id, rec)
	case EndpointInventory:
		w.serveInventory(rw, r)
	}
}

func (w *Warehouse) authorized(r *http.Request) bool {
	if w.key == "" {
		return true
	}
	got := r.Header.Get("Authorization")
	want := "Bearer " + w.key
	return subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}

// fulfillmentBody is what POST /fulfillments must carry; ids are checked to be strings.
type fulfillmentBody struct {
	ExternalOrderID json.RawMessage `json:"externalOrderId"`
	OrderNumber     json.Number     `json:"orderNumber"`
	Items           []struct {
		SKU        string          `json:"sku"`
		Quantity   json.Number     `json:"quantity"`
		Name       string          `json:"name"`
		LineItemID json.RawMessage `json:"lineItemId"`
	} `json:"items"`
	ShippingAddress *struct {
		Country string `json:"country"`
	} `json:"shippingAddress"`
}

// validate checks a fulfillment body and returns the order id and items, or a reason.
func validate(body []byte) (string, string, []Item, string) {
	var b fulfillmentBody
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&b); err != nil {
		return "", "", nil, "body is not a valid JSON object: " + err.Error()
	}
	if dec.More() {
		return "", "", nil, "trailing data after the JSON object"
	}
	if len(b.ExternalOrderID) == 0 || string(b.ExternalOrderID) == "null" {
		return "", "", nil, "missing externalOrderId"
	}
	var oid string
	if json.Unmarshal(b.ExternalOrderID, &oid) != nil {
		return "", "", nil, "externalOrderId must be a decimal string, got " + truncate(string(b.ExternalOrderID), 40)
	}
	if oid == "" || !allDigits(oid) {
		return "", "", nil, "externalOrderId must be a decimal string"
	}
	if b.OrderNumber != "" {
		if _, err := strconv.ParseInt(string(b.OrderNumber), 10, 64); err != nil {
			return "", "", nil, "orderNumber must be an integer"
		}
	}
	if len(b.Items) == 0 {
		return "", "", nil, "missing items"
	}
	items := make([]Item, 0, len(b.Items))
	for i, it := range b.Items {
		if it.SKU == "" {
			return "", "", nil, fmt.Sprintf("items[%d]: missing sku", i)
		}
		q, err := strconv.Atoi(string(it.Quantity))
		if err != nil || q <= 0 {
			return "", "", nil, fmt.Sprintf("items[%d]: quantity must be a positive integer", i)
		}
		var lid string
		if len(it.LineItemID) > 0 && string(it.LineItemID) != "null" && json.Unmarshal(it.LineItemID, &lid) != nil {
			return "", "", nil, fmt.Sprintf("items[%d]: lineItemId must be a string", i)
		}
		items = append(items, Item{SKU: it.SKU, Quantity: q, Name: it.Name, LineItemID: lid})
	}
	if b.ShippingAddress == nil {
		return "", "", nil, "missing shippingAddress"
	}
	if strings.TrimSpace(b.ShippingAddress.Country) == "" {
		return "", "", nil, "shippingAddress: missing country"
	}
	return oid, string(b.OrderNumber), items, ""
}

func (w *Warehouse) acceptFulfillment(rw http.ResponseWriter, r *http.Request, body []byte, rec *Request) {
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		writeError(rw, http.StatusUnsupportedMediaType, "Content-Type must be application/json")
		return
	}
	key := rec.IdempotencyKey
	if key == "" {
		writeError(rw, http.StatusBadRequest, "missing Idempotency-Key header")
		return
	}
	oid, num, items, reason := validate(body)
	if reason != "" {
		writeError(rw, http.StatusBadRequest, reason)
		return
	}
	w.mu.Lock()
	if f, ok := w.byKey[key]; ok {
		f.Replays++
		rec.Replay = true
		rec.FulfillmentID = f.ID
		id := f.ID
		w.mu.Unlock()
		w.log.Info("SIMULATOR warehouse: repeated Idempotency-Key, same fulfillment", "fulfillment_id", id, "order_id", oid)
		writeJSON(rw, w.dupStatus, map[string]any{"fulfillmentId": id, "duplicate": true})
		return
	}
	w.seq++
	f := &fulfillment{Fulfillment: Fulfillment{
		ID:              w.prefix + strconv.Itoa(w.seq),
		IdempotencyKey:  key,
		ExternalOrderID: oid,
		OrderNumber:     num,
		Items:           items,
		Body:            append(json.RawMessage(nil), body...),
		AcceptedAt:      time.Now(),
	}}
	f.TrackingNumber = TrackingNumber(w.name, oid)
	f.ShipmentID = "S-" + f.ID
	w.byKey[key] = f
	w.byID[f.ID] = f
	w.order = append(w.order, f)
	rec.FulfillmentID = f.ID
	if w.decrement {
		for _, it := range items {
			if q, ok := w.stock[it.SKU]; ok {
				w.stock[it.SKU] = max(0, q-it.Quantity)
			}
		}
	}
	w.scheduleCallbackLocked(f)
	id := f.ID
	w.mu.Unlock()
	w.log.Info("SIMULATOR warehouse: fulfillment accepted", "fulfillment_id", id, "order_id", oid, "items", len(items))
	writeJSON(rw, http.StatusCreated, map[string]any{"fulfillmentId": id, "status": "accepted"})
}

func (w *Warehouse) cancelFulfillment(rw http.ResponseWriter, r *http.Request, id string, rec *Request) {
	if rec.IdempotencyKey == "" {
		writeError(rw, http.StatusBadRequest, "missing Idempotency-Key header")
		return
	}
	w.mu.Lock()
	f, ok := w.byID[id]
	if !ok {
		w.mu.Unlock()
		writeError(rw, http.StatusNotFound, "unknown fulfillment")
		return
	}
	rec.FulfillmentID = f.ID
	switch {
	case f.Cancelled:
		w.mu.Unlock()
		writeJSON(rw, http.StatusConflict, map[string]any{"error": "already cancelled", "fulfillmentId": id})
		return
	case f.Shipped:
		w.mu.Unlock()
		writeJSON(rw, http.StatusUnprocessableEntity, map[string]any{"error": "already shipped", "fulfillmentId": id})
		return
	}
	now := time.Now()
	f.Cancelled = true
	f.CancelledAt = &now
	if f.Callback == CallbackPending {
		f.Callback = CallbackSkipped
	}
	w.stopTimerLocked(f)
	w.mu.Unlock()
	w.log.Info("SIMULATOR warehouse: fulfillment cancelled", "fulfillment_id", id)
	writeJSON(rw, http.StatusOK, map[string]any{"fulfillmentId": id, "status": "cancelled"})
}

// StockItem is one entry of the inventory feed.
type StockItem struct {
	SKU      string `json:"sku"`
	Quantity int    `json:"quantity"`
}

func (w *Warehouse) sortedStock() []StockItem {
	w.mu.Lock()
	items := make([]StockItem, 0, len(w.stock))
	for k, v := range w.stock {
		items = append(items, StockItem{SKU: k, Quantity: v})
	}
	w.mu.Unlock()
	sort.Slice(items, func(i, j int) bool { return items[i].SKU < items[j].SKU })
	return items
}

func (w *Warehouse) serveInventory(rw http.ResponseWriter, r *http.Request) {
	items := w.sortedStock()
	if w.bareArray {
		writeJSON(rw, http.StatusOK, items)
		return
	}
	offset := 0
	if c := r.URL.Query().Get("cursor"); c != "" {
		n, err := strconv.Atoi(strings.TrimPrefix(c, "c"))
		if !strings.HasPrefix(c, "c") || err != nil || n < 0 || n > len(items) {
			writeError(rw, http.StatusBadRequest, "invalid cursor")
			return
		}
		offset = n
	}
	end := min(offset+w.pageSize, len(items))
	next := ""
	if end < len(items) {
		next = "c" + strconv.Itoa(end)
	}
	writeJSON(rw, http.StatusOK, map[string]any{"items": items[offset:end], "nextCursor": next})
}

// readBody reads up to maxRequestBody bytes; tooBig reports a larger body.
func readBody(r *http.Request) ([]byte, bool) {
	if r.Body == nil {
		return nil, false
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, maxRequestBody+1))
	if err != nil {
		return b, false
	}
	if len(b) > maxRequestBody {
		return nil, true
	}
	return b, false
}

func writeJSON(rw http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		b = []byte(`{"error":"encode response"}`)
	}
	rw.Header().Set("Content-Type", "application/json")
	rw.WriteHeader(status)
	rw.Write(append(b, '\n'))
}

func writeError(rw http.ResponseWriter, status int, reason string) {
	writeJSON(rw, status, map[string]string{"error": reason})
}

// statusWriter records the status written and whether the connection was hijacked.
type statusWriter struct {
	http.ResponseWriter
	status   int
	hijacked bool
}

func (s *statusWriter) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

// Hijack takes over the connection (used by the reset faults and by hooks).
func (s *statusWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c, b, err := http.NewResponseController(s.ResponseWriter).Hijack()
	if err == nil {
		s.hijacked = true
	}
	return c, b, err
}

// Unwrap lets http.ResponseController reach the underlying writer (Hijack, Flush).
func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// errClosed is returned for actions on a closed simulator.
var errClosed = errors.New("warehouse simulator closed")
