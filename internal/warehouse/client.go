// Package warehouse is the HTTP client for a warehouse API (DESIGN.md §5.2). A *Client talks to
// one warehouse and implements order.Warehouse: Dispatch sends an order's shippable lines,
// Cancel cancels a dispatched fulfillment, Inventory reads the stock feed.
//
// Error classification follows the contract, so the worker can decide between retry and
// dead letter without knowing HTTP:
//
//   - 2xx: success.
//   - 409 on dispatch: the warehouse already has the order (success); on cancel: it is already
//     cancelled (success).
//   - other 4xx: permanent (order.IsPermanent reports true); the error names the status and a
//     short, sanitized snippet of the body.
//   - 5xx, 429, timeouts, connection errors, unreadable bodies: transient; a 429 or 503 with a
//     Retry-After header carries the wait (order.RetryAfter).
//
// Errors name the warehouse and the order or fulfillment id. They never contain the bearer key
// or the shipping address, and the client never logs either.
package warehouse

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/shipwell/orderflow/internal/order"
)

// Defaults for Config fields left zero.
const (
	// DefaultTimeout bounds one HTTP request (one page, for the inventory feed).
	DefaultTimeout = 10 * time.Second
	// DefaultMaxResponseBytes bounds the body read from one response.
	DefaultMaxResponseBytes = 8 << 20
	// DefaultMaxPages bounds the number of inventory pages followed.
	DefaultMaxPages = 1000
	// MaxRetryAfter caps the wait taken from a Retry-After header.
	MaxRetryAfter = time.Hour
	// snippetLen bounds the response body excerpt kept in an error.
	snippetLen = 200
)

// Config configures a Client for one warehouse.
type Config struct {
	// Name is the warehouse name (e.g. "warehouse-east"); it appears in errors and logs.
	Name string
	// BaseURL is the warehouse API root, e.g. https://wh.example.com/api. Paths such as
	// /fulfillments are appended to it; a query string on it is kept on every request.
	BaseURL string
	// Key is the bearer key sent as "Authorization: Bearer {Key}". Required.
	Key string
	// HTTPClient sends the requests; nil means a client that does not follow redirects and
	// has no overall timeout of its own (Timeout bounds each request).
	HTTPClient *http.Client
	// Timeout bounds each request; 0 means DefaultTimeout.
	Timeout time.Duration
	// MaxResponseBytes bounds each response body read; 0 means DefaultMaxResponseBytes.
	MaxResponseBytes int64
	// MaxPages bounds the inventory pages followed; 0 means DefaultMaxPages.
	MaxPages int
	// Logger receives debug lines per request (never the key or the address); nil discards.
	Logger *slog.Logger
}

// Client is the API client of one warehouse. It is safe for concurrent use.
type Client struct {
	name     string
	base     *url.URL
	key      string
	hc       *http.Client
	timeout  time.Duration
	maxBody  int64
	maxPages int
	log      *slog.Logger
}

var _ order.Warehouse = (*Client)(nil)

// New returns a client for the warehouse described by cfg. An empty or invalid BaseURL, or an
// empty or malformed Key, is an error naming the warehouse.
func New(cfg Config) (*Client, error) {
	name := cfg.Name
	if name == "" {
		name = "(unnamed)"
	}
	if strings.TrimSpace(cfg.BaseURL) == "" {
		return nil, fmt.Errorf("warehouse %s: no API base URL configured", name)
	}
	u, err := url.Parse(strings.TrimSpace(cfg.BaseURL))
	if err != nil {
		return nil, fmt.Errorf("warehouse %s: invalid API base URL", name)
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("warehouse %s: API base URL must be an absolute http(s) URL", name)
	}
	if u.User != nil {
		return nil, fmt.Errorf("warehouse %s: API base URL must not contain credentials; use the key setting", name)
	}
	u.Fragment, u.RawFragment = "", ""
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawPath = strings.TrimRight(u.RawPath, "/")
	if cfg.Key == "" {
		return nil, fmt.Errorf("warehouse %s: no API key configured", name)
	}
	if !validHeaderValue(cfg.Key) {
		return nil, fmt.Errorf("warehouse %s: API key contains characters not allowed in an HTTP header", name)
	}
	c := &Client{
		name:     name,
		base:     u,
		key:      cfg.Key,
		hc:       cfg.HTTPClient,
		timeout:  cfg.Timeout,
		maxBody:  cfg.MaxResponseBytes,
		maxPages: cfg.MaxPages,
		log:      cfg.Logger,
	}
	if c.hc == nil {
		// Redirects are not part of the contract: a 3xx surfaces as a permanent error instead
		// of turning a POST into a GET somewhere else.
		c.hc = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	if c.timeout <= 0 {
		c.timeout = DefaultTimeout
	}
	if c.maxBody <= 0 {
		c.maxBody = DefaultMaxResponseBytes
	}
	if c.maxPages <= 0 {
		c.maxPages = DefaultMaxPages
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	c.log = c.log.With("warehouse", name)
	return c, nil
}

// Name returns the warehouse name the client was configured with.
func (c *Client) Name() string { return c.name }

// DispatchRequest is the body of POST {base}/fulfillments. The seed fields (DESIGN.md §5.2) are
// externalOrderId, orderNumber, items (sku, quantity, name, lineItemId) and shippingAddress
// (name, address1, address2, city, state, zip, country). Additions, all omitted when empty:
//
//   - orderName: the Shopify order name, e.g. "#1001";
//   - priority: "high" or "normal" (high when the order total is above the threshold);
//   - currency: the shop currency of totalPrice and the item prices (ISO 4217);
//   - totalPrice: the order total as a decimal string (never a float);
//   - items[].price: the unit price as a decimal string;
//   - items[].netAmount: price × quantity minus Shopify's discount allocations for the line, a
//     decimal string in the same currency (the lines' declared values, exact);
//   - shippingAddress.company and shippingAddress.phone, for the carrier label.
//
// Every id is a decimal string; orderNumber is a JSON integer.
type DispatchRequest struct {
	ExternalOrderID string          `json:"externalOrderId"`
	OrderNumber     int64           `json:"orderNumber"`
	OrderName       string          `json:"orderName,omitempty"`
	Priority        string          `json:"priority,omitempty"`
	Currency        string          `json:"currency,omitempty"`
	TotalPrice      string          `json:"totalPrice,omitempty"`
	Items           []DispatchItem  `json:"items"`
	ShippingAddress ShippingAddress `json:"shippingAddress"`
}

// DispatchItem is one line of a DispatchRequest.
type DispatchItem struct {
	SKU        string `json:"sku"`
	Quantity   int    `json:"quantity"`
	Name       string `json:"name"`
	LineItemID string `json:"lineItemId"`
	Price      string `json:"price,omitempty"`
	NetAmount  string `json:"netAmount,omitempty"`
}

// ShippingAddress is the address of a DispatchRequest. State is the province code and Country
// the ISO country code (falling back to the province and country names when the codes are
// missing).
type ShippingAddress struct {
	Name     string `json:"name"`
	Company  string `json:"company,omitempty"`
	Address1 string `json:"address1"`
	Address2 string `json:"address2"`
	City     string `json:"city"`
	State    string `json:"state"`
	Zip      string `json:"zip"`
	Country  string `json:"country"`
	Phone    string `json:"phone,omitempty"`
}

// NewDispatchRequest builds the warehouse body for o: its Lines (the record keeps shippable
// lines only) with quantity = FulfillableQuantity, or Quantity when that is 0; lines left with
// no quantity are skipped. An order without id, items or shipping address is an error.
func NewDispatchRequest(o *order.Order) (*DispatchRequest, error) {
	if o == nil {
		return nil, errors.New("no order")
	}
	if o.OrderID == "" {
		return nil, errors.New("order has no Shopify order id")
	}
	if o.ShippingAddress == nil {
		return nil, errors.New("order has no shipping address")
	}
	r := &DispatchRequest{
		ExternalOrderID: o.OrderID,
		OrderNumber:     o.OrderNumber,
		OrderName:       o.Name,
		Priority:        o.Priority,
		Currency:        o.Currency,
		TotalPrice:      o.TotalPrice,
		Items:           []DispatchItem{},
	}
	for _, l := range o.Lines {
		q := l.FulfillableQuantity
		if q == 0 {
			q = l.Quantity
		}
		if q <= 0 {
			continue
		}
		if l.SKU == "" {
			return nil, fmt.Errorf("line %s has no SKU", l.LineItemID)
		}
		r.Items = append(r.Items, DispatchItem{SKU: l.SKU, Quantity: q, Name: l.Name, LineItemID: l.LineItemID, Price: l.Price, NetAmount: l.NetAmount})
	}
	if len(r.Items) == 0 {
		return nil, errors.New("order has no lines to ship")
	}
	a := o.ShippingAddress
	r.ShippingAddress = ShippingAddress{
		Name:     a.Name,
		Company:  a.Company,
		Address1: a.Address1,
		Address2: a.Address2,
		City:     a.City,
		State:    firstNonEmpty(a.ProvinceCode, a.Province),
		Zip:      a.Zip,
		Country:  firstNonEmpty(a.CountryCode, a.Country),
		Phone:    a.Phone,
	}
	return r, nil
}

// Dispatch sends o's shippable lines to the warehouse with the given Idempotency-Key and returns
// the warehouse's fulfillment id. A 409 (already there) is success: the id is taken from the
// body when it has one, otherwise Dispatch returns "" and nil. A 2xx whose body has no usable
// fulfillmentId is also success with "" (logged as a warning): the warehouse has the order, and
// a retry would only repeat the same answer.
func (c *Client) Dispatch(ctx context.Context, o *order.Order, idempotencyKey string) (string, error) {
	id := "(none)"
	if o != nil && o.OrderID != "" {
		id = o.OrderID
	}
	wrap := func(err error) error {
		return fmt.Errorf("warehouse %s: dispatch order %s: %w", c.name, id, err)
	}
	if err := checkIdempotencyKey(idempotencyKey); err != nil {
		return "", wrap(order.Permanent(err))
	}
	req, err := NewDispatchRequest(o)
	if err != nil {
		return "", wrap(order.Permanent(err))
	}
	body, err := json.Marshal(req)
	if err != nil {
		return "", wrap(order.Permanent(fmt.Errorf("encode request: %w", err)))
	}
	res, err := c.do(ctx, http.MethodPost, c.endpoint("fulfillments"), "", body, idempotencyKey)
	if err != nil {
		return "", wrap(err)
	}
	log := c.log.With("order_id", id, "status", res.status)
	switch {
	case res.status >= 200 && res.status < 300:
		fid, ok := fulfillmentID(res.body)
		if !ok {
			log.Warn("warehouse accepted the order without a usable fulfillmentId")
		}
		log.Debug("warehouse dispatch accepted", "fulfillment_id", fid)
		return fid, nil
	case res.status == http.StatusConflict:
		fid, _ := fulfillmentID(res.body)
		log.Info("warehouse already has the order (409)", "fulfillment_id", fid)
		return fid, nil
	}
	return "", wrap(c.statusError(res, redactions(o)))
}

// Cancel asks the warehouse to cancel fulfillment fulfillmentID with the given Idempotency-Key.
// Answers: 2xx cancelled; 409 already cancelled (success); 404 the warehouse does not know the
// fulfillment (permanent: retrying cannot help, an operator must look); other 4xx permanent
// (e.g. 422 already shipped); 5xx, 429 and transport failures transient.
func (c *Client) Cancel(ctx context.Context, fulfillmentID, idempotencyKey string) error {
	wrap := func(err error) error {
		return fmt.Errorf("warehouse %s: cancel fulfillment %q: %w", c.name, truncate(fulfillmentID, 100), err)
	}
	if fulfillmentID == "" || fulfillmentID == "." || fulfillmentID == ".." {
		return wrap(order.Permanent(errors.New("invalid fulfillment id")))
	}
	if err := checkIdempotencyKey(idempotencyKey); err != nil {
		return wrap(order.Permanent(err))
	}
	res, err := c.do(ctx, http.MethodPost, c.endpoint("fulfillments", fulfillmentID, "cancel"), "", nil, idempotencyKey)
	if err != nil {
		return wrap(err)
	}
	switch {
	case res.status >= 200 && res.status < 300:
		c.log.Debug("warehouse cancel accepted", "fulfillment_id", fulfillmentID)
		return nil
	case res.status == http.StatusConflict:
		c.log.Info("warehouse fulfillment already cancelled (409)", "fulfillment_id", fulfillmentID)
		return nil
	}
	return wrap(c.statusError(res, nil))
}

// Inventory reads the whole stock feed: GET {base}/inventory, then ?cursor= while the page's
// nextCursor is non-empty. A page may also be a bare JSON array of items (the last page).
// Quantities may be JSON numbers or strings holding an integer; a negative or non-integer
// quantity, an item without SKU, a cursor seen before, or more than MaxPages pages is an error
// (permanent). Duplicate SKUs are returned as they came; see Duplicates.
func (c *Client) Inventory(ctx context.Context) ([]order.Stock, error) {
	wrap := func(err error) error { return fmt.Errorf("warehouse %s: read inventory: %w", c.name, err) }
	var all []order.Stock
	seen := map[string]bool{}
	cursor := ""
	for page := 1; ; page++ {
		if page > c.maxPages {
			return nil, wrap(order.Permanent(fmt.Errorf("more than %d pages; giving up", c.maxPages)))
		}
		res, err := c.do(ctx, http.MethodGet, c.endpoint("inventory"), cursor, nil, "")
		if err != nil {
			return nil, wrap(err)
		}
		if res.status < 200 || res.status >= 300 {
			return nil, wrap(fmt.Errorf("page %d: %w", page, c.statusError(res, nil)))
		}
		items, next, err := decodeInventoryPage(res.body)
		if err != nil {
			return nil, wrap(order.Permanent(fmt.Errorf("page %d: %w", page, err)))
		}
		all = append(all, items...)
		c.log.Debug("warehouse inventory page", "page", page, "items", len(items))
		if next == "" {
			return all, nil
		}
		if seen[next] || next == cursor {
			return nil, wrap(order.Permanent(fmt.Errorf("page %d: nextCursor %q repeats an earlier cursor", page, truncate(next, 100))))
		}
		seen[next] = true
		cursor = next
	}
}

// Duplicates returns the SKUs that appear more than once in stock, in first-seen order, so the
// caller can report them instead of guessing which quantity is right.
func Duplicates(stock []order.Stock) []string {
	count := map[string]int{}
	var dups []string
	for _, s := range stock {
		count[s.SKU]++
		if count[s.SKU] == 2 {
			dups = append(dups, s.SKU)
		}
	}
	return dups
}

// StatusError is a non-success HTTP answer from the warehouse. Body is a bounded, sanitized
// excerpt of the response body.
type StatusError struct {
	Status int
	Body   string
}

func (e *StatusError) Error() string {
	msg := "HTTP " + strconv.Itoa(e.Status)
	if t := http.StatusText(e.Status); t != "" {
		msg += " " + t
	}
	if e.Body != "" {
		msg += ": " + e.Body
	}
	return msg
}

// response is a read answer.
type response struct {
	status int
	header http.Header
	body   []byte
}

// endpoint returns the URL of base + the given path segments, each escaped as one segment.
func (c *Client) endpoint(segments ...string) *url.URL {
	u := *c.base
	var p, raw strings.Builder
	p.WriteString(c.base.Path)
	raw.WriteString(c.base.EscapedPath())
	for _, s := range segments {
		p.WriteString("/" + s)
		raw.WriteString("/" + url.PathEscape(s))
	}
	u.Path = p.String()
	u.RawPath = raw.String()
	return &u
}

// do sends one request with the per-request timeout and reads the bounded body. Transport
// failures come back as transient errors that do not contain the URL's query.
func (c *Client) do(ctx context.Context, method string, u *url.URL, cursor string, body []byte, idemKey string) (*response, error) {
	if cursor != "" {
		q := u.Query()
		q.Set("cursor", cursor)
		u.RawQuery = q.Encode()
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), rd)
	if err != nil {
		return nil, order.Permanent(fmt.Errorf("build request: %w", err))
	}
	req.Header.Set("Authorization", "Bearer "+c.key)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "orderflow-warehouse-client/1")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if idemKey != "" {
		req.Header.Set("Idempotency-Key", idemKey)
	}
	where := method + " " + u.Path
	start := time.Now()
	resp, err := c.hc.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // drop the URL: its query may carry a token
		}
		c.log.Debug("warehouse request failed", "request", where, "error", err.Error(), "elapsed", time.Since(start))
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, c.maxBody+1))
	if err != nil {
		return nil, fmt.Errorf("%s: HTTP %d, reading body: %w", where, resp.StatusCode, err)
	}
	if int64(len(data)) > c.maxBody {
		return nil, fmt.Errorf("%s: HTTP %d, response body larger than %d bytes", where, resp.StatusCode, c.maxBody)
	}
	c.log.Debug("warehouse request", "request", where, "status", resp.StatusCode, "elapsed", time.Since(start))
	return &response{status: resp.StatusCode, header: resp.Header, body: data}, nil
}

// statusError classifies a non-success answer: other 4xx (not 429) permanent, the rest
// transient with Retry-After for 429 and 503.
func (c *Client) statusError(res *response, redact []string) error {
	err := error(&StatusError{Status: res.status, Body: snippet(res.body, c.key, redact)})
	switch {
	case res.status == http.StatusTooManyRequests || res.status == http.StatusServiceUnavailable:
		if d, ok := parseRetryAfter(res.header.Get("Retry-After"), time.Now()); ok {
			return order.WithRetryAfter(err, d)
		}
		return err
	case res.status >= 400 && res.status < 500:
		return order.Permanent(err)
	case res.status >= 500:
		return err
	}
	// 1xx and 3xx are not part of the contract: treat them as a permanent misconfiguration.
	return order.Permanent(fmt.Errorf("unexpected answer: %w", err))
}

// parseRetryAfter reads a Retry-After value: delay seconds or an HTTP date. The wait is capped
// at MaxRetryAfter; a date in the past is a zero wait.
func parseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs < 0 {
			return 0, false
		}
		if secs > int64(MaxRetryAfter/time.Second) {
			return MaxRetryAfter, true
		}
		return time.Duration(secs) * time.Second, true
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	d := t.Sub(now)
	switch {
	case d < 0:
		d = 0
	case d > MaxRetryAfter:
		d = MaxRetryAfter
	}
	return d, true
}

// fulfillmentID reads fulfillmentId from a JSON object, as a string or as a number (kept as
// its literal digits, never through float64).
func fulfillmentID(body []byte) (string, bool) {
	var v struct {
		FulfillmentID json.RawMessage `json:"fulfillmentId"`
	}
	if len(bytes.TrimSpace(body)) == 0 || json.Unmarshal(body, &v) != nil {
		return "", false
	}
	raw := bytes.TrimSpace(v.FulfillmentID)
	if len(raw) == 0 || string(raw) == "null" {
		return "", false
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s, s != ""
	}
	var n json.Number
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if dec.Decode(&n) == nil {
		return n.String(), true
	}
	return "", false
}

// inventoryPage is one page of the feed.
type inventoryPage struct {
	Items      []inventoryItem `json:"items"`
	NextCursor json.RawMessage `json:"nextCursor"`
}

type inventoryItem struct {
	SKU      *string         `json:"sku"`
	Quantity json.RawMessage `json:"quantity"`
}

// decodeInventoryPage decodes a page object or a bare array.
func decodeInventoryPage(body []byte) ([]order.Stock, string, error) {
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return nil, "", errors.New("empty body")
	}
	var page inventoryPage
	switch body[0] {
	case '[':
		if err := json.Unmarshal(body, &page.Items); err != nil {
			return nil, "", fmt.Errorf("invalid JSON array: %w", err)
		}
	case '{':
		if err := json.Unmarshal(body, &page); err != nil {
			return nil, "", fmt.Errorf("invalid JSON: %w", err)
		}
	default:
		return nil, "", errors.New("body is neither a JSON object nor an array")
	}
	next, err := cursorValue(page.NextCursor)
	if err != nil {
		return nil, "", err
	}
	out := make([]order.Stock, 0, len(page.Items))
	for i, it := range page.Items {
		if it.SKU == nil || strings.TrimSpace(*it.SKU) == "" {
			return nil, "", fmt.Errorf("item %d: missing sku", i)
		}
		q, err := quantity(it.Quantity)
		if err != nil {
			return nil, "", fmt.Errorf("item %d (sku %q): %w", i, truncate(*it.SKU, 100), err)
		}
		out = append(out, order.Stock{SKU: *it.SKU, Quantity: q})
	}
	return out, next, nil
}

// cursorValue accepts a string, null/absent, or a number as the next cursor.
func cursorValue(raw json.RawMessage) (string, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return "", nil
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s, nil
	}
	if raw[0] == '-' || (raw[0] >= '0' && raw[0] <= '9') {
		return string(raw), nil
	}
	return "", errors.New("nextCursor is neither a string nor a number")
}

// quantity reads a stock quantity: a JSON integer (5, 5.0, 5e2 are integers) or a string of
// one; fractional values are rejected. A negative quantity (a warehouse reporting a backorder)
// is returned as it is: the inventory sync clamps it to 0 and reports it.
func quantity(raw json.RawMessage) (int, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return 0, errors.New("missing quantity")
	}
	lit := string(raw)
	if raw[0] == '"' {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return 0, errors.New("invalid quantity")
		}
		lit = strings.TrimSpace(s)
	} else if !(raw[0] == '-' || (raw[0] >= '0' && raw[0] <= '9')) {
		return 0, fmt.Errorf("quantity %s is not a number", truncate(lit, 40))
	}
	n, err := parseCount(lit)
	if err != nil {
		return 0, fmt.Errorf("quantity %q: %w", truncate(lit, 40), err)
	}
	return n, nil
}

// snippet returns a bounded, printable excerpt of b with the key and every redact string of at
// least 3 characters replaced.
func snippet(b []byte, key string, redact []string) string {
	s := string(b)
	if key != "" {
		s = strings.ReplaceAll(s, key, "[redacted]")
	}
	for _, r := range redact {
		if len(r) >= 3 {
			s = strings.ReplaceAll(s, r, "[redacted]")
		}
	}
	var out strings.Builder
	n := 0
	for _, r := range s {
		if n >= snippetLen {
			out.WriteString("…")
			break
		}
		switch {
		case r == utf8.RuneError:
			r = '?'
		case r < 0x20 || r == 0x7f:
			r = ' '
		}
		out.WriteRune(r)
		n++
	}
	return strings.TrimSpace(out.String())
}

// redactions lists the order's customer data that must not appear in an error even when the
// warehouse echoes it back.
func redactions(o *order.Order) []string {
	if o == nil || o.ShippingAddress == nil {
		return nil
	}
	a := o.ShippingAddress
	return []string{a.Name, a.Company, a.Address1, a.Address2, a.City, a.Zip, a.Phone}
}

func checkIdempotencyKey(k string) error {
	switch {
	case k == "":
		return errors.New("empty Idempotency-Key")
	case len(k) > 255:
		return errors.New("Idempotency-Key longer than 255 bytes")
	case !validHeaderValue(k):
		return errors.New("Idempotency-Key contains characters not allowed in an HTTP header")
	}
	return nil
}

// validHeaderValue reports whether v is printable ASCII without leading or trailing space.
func validHeaderValue(v string) bool {
	if v != strings.TrimSpace(v) {
		return false
	}
	for i := 0; i < len(v); i++ {
		if v[i] < 0x20 || v[i] > 0x7e {
			return false
		}
	}
	return true
}

func firstNonEmpty(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// parseCount parses an integer count written as an integer, or in a decimal or exponent form
// whose value is whole ("5.0", "5e2", "-3"). It never goes through float64.
func parseCount(s string) (int, error) {
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	mant, exp := s, 0
	if i := strings.IndexAny(s, "eE"); i >= 0 {
		mant = s[:i]
		e, err := strconv.Atoi(strings.TrimPrefix(s[i+1:], "+"))
		if err != nil || e > 100 || e < -100 {
			return 0, errors.New("not a valid integer")
		}
		exp = e
	}
	intPart, frac, _ := strings.Cut(mant, ".")
	if intPart == "" || !allDigits(intPart) || !allDigits(frac) {
		return 0, errors.New("not a number")
	}
	digits := strings.TrimLeft(intPart+frac, "0")
	scale := len(frac) - exp // value = digits × 10^-scale
	if digits == "" {
		return 0, nil
	}
	if scale > 0 {
		if scale > len(digits) || strings.Trim(digits[len(digits)-scale:], "0") != "" {
			return 0, errors.New("not an integer")
		}
		digits = digits[:len(digits)-scale]
	} else if scale < 0 {
		if len(digits)-scale > 19 {
			return 0, errors.New("too large")
		}
		digits += strings.Repeat("0", -scale)
	}
	n, err := strconv.ParseInt(digits, 10, 64)
	if err != nil || n > maxCount {
		return 0, errors.New("too large")
	}
	if neg {
		return -int(n), nil
	}
	return int(n), nil
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// maxCount bounds a stock quantity (fits an int32, far above any real stock).
const maxCount = 1<<31 - 1
