// Package shopify is the product's client for the Shopify Admin GraphQL API (DESIGN.md §5.4):
// fulfillment through fulfillment orders, SKU lookup and inventorySetQuantities for the
// inventory sync, and webhook registration. It implements order.Shopify and
// order.InventoryCatalog.
//
// Every document it sends is in operations.graphql, validated against the Admin API schema
// (schema/) by genqlient, which generates the typed code in gql/. Calls go through one
// transport that follows Shopify's cost-based rate limit: it tracks
// extensions.cost.throttleStatus, waits before sending a query the bucket cannot afford,
// retries THROTTLED answers (HTTP 200), 429 (Retry-After), 5xx and network errors with
// bounded, context-aware waits, and keeps part of the bucket for customer-facing calls (see
// Priority). Errors are typed: *GraphQLError, *UserErrors and *HTTPError; those retrying
// cannot fix are marked order.Permanent.
//
// API versions: the client pins one version (Config.APIVersion, DefaultAPIVersion when empty)
// and logs it at start-up. Shopify supports each quarterly version for at least 12 months and
// answers requests for a retired one with the oldest supported version; the client warns
// when X-Shopify-API-Version differs from the pinned one and, once per distinct reason, when
// X-Shopify-API-Deprecated-Reason is set. The documents are checked against the 2026-07
// schema; move DefaultAPIVersion forward each quarter after re-capturing the schema.
//
// The app needs the access scopes in RequiredScopes.
package shopify

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/Khan/genqlient/graphql"

	"github.com/shipwell/orderflow/internal/order"
)

// DefaultAPIVersion is the Admin API version used when Config.APIVersion is empty. Shopify
// supports each quarterly version for at least 12 months; move it forward every quarter.
const DefaultAPIVersion = "2026-10"

// RequiredScopes are the Admin API access scopes the product's calls need: order and
// fulfillment-order reads and fulfillmentCreate for the merchant's own locations, variant
// search, inventory reads and inventorySetQuantities, and the scopes behind the webhook topics
// (orders/*, inventory_levels/update). Apps whose orders are assigned to a fulfillment service
// also need read/write_assigned_fulfillment_orders (and …_third_party_… for other services').
var RequiredScopes = []string{
	"read_orders",
	"read_merchant_managed_fulfillment_orders",
	"write_merchant_managed_fulfillment_orders",
	"read_products",
	"read_inventory",
	"write_inventory",
}

// Defaults for the Config tunables.
const (
	DefaultMaxRetries    = 5
	DefaultMaxWait       = 30 * time.Second
	DefaultTimeout       = 30 * time.Second
	DefaultReserveFactor = 0.25
)

// Config configures a Client.
type Config struct {
	// StoreURL is "shop.myshopify.com" (meaning https://shop.myshopify.com) or a full
	// http(s)://host[:port] URL (tests, the sandbox simulator).
	StoreURL string
	// AccessToken is the Admin API access token (X-Shopify-Access-Token). Required.
	AccessToken string
	// APIVersion is the Admin API version, e.g. "2026-10" (DefaultAPIVersion when empty).
	APIVersion string
	// HTTPClient sends the requests; nil means a client with DefaultTimeout that does not
	// follow redirects.
	HTTPClient *http.Client
	// Logger receives the start-up line, retries and deprecation warnings; nil means
	// slog.Default(). The access token is never logged.
	Logger *slog.Logger

	// MaxRetries bounds the retries of one call (THROTTLED, 429, 5xx, network errors);
	// 0 means DefaultMaxRetries, negative means none.
	MaxRetries int
	// MaxWait caps any single wait (DefaultMaxWait when 0).
	MaxWait time.Duration
	// ReserveFactor is the share of the cost bucket that low-priority calls (the inventory
	// sync) leave for high-priority ones (fulfillment): 0 means DefaultReserveFactor,
	// negative means no reserve.
	ReserveFactor float64

	// Now and Sleep replace the clock in tests. Sleep must return early with ctx.Err() when
	// ctx ends.
	Now   func() time.Time
	Sleep func(ctx context.Context, d time.Duration) error
	// Jitter returns a number in [0,1) for backoff jitter (math/rand when nil).
	Jitter func() float64
}

// Client calls the Shopify Admin GraphQL API of one store. It is safe for concurrent use.
type Client struct {
	endpoint   string
	host       string
	token      string
	version    string
	http       *http.Client
	log        *slog.Logger
	maxRetries int
	maxWait    time.Duration
	now        func() time.Time
	sleep      func(ctx context.Context, d time.Duration) error
	jitter     func() float64

	bucket *bucket
	gql    graphql.Client

	warned sync.Map // deprecation reasons and version notices already logged

	onAdmit func(op string) // test hook: a call passed the bucket (before it stops waiting)
}

var versionPattern = regexp.MustCompile(`^(\d{4}-(01|04|07|10)|unstable)$`)

// New checks cfg and returns a Client. It logs the store host and API version at Info.
func New(cfg Config) (*Client, error) {
	if strings.TrimSpace(cfg.AccessToken) == "" {
		return nil, errors.New("shopify: no Admin API access token configured (set SHOPIFY_ACCESS_TOKEN)")
	}
	base, err := storeBaseURL(cfg.StoreURL)
	if err != nil {
		return nil, err
	}
	version := cfg.APIVersion
	if version == "" {
		version = DefaultAPIVersion
	}
	if !versionPattern.MatchString(version) {
		return nil, fmt.Errorf("shopify: invalid API version %q: want YYYY-MM with MM one of 01, 04, 07, 10 (e.g. %s)", version, DefaultAPIVersion)
	}
	c := &Client{
		endpoint:   base.String() + "/admin/api/" + version + "/graphql.json",
		host:       base.Host,
		token:      cfg.AccessToken,
		version:    version,
		http:       cfg.HTTPClient,
		log:        cfg.Logger,
		maxRetries: cfg.MaxRetries,
		maxWait:    cfg.MaxWait,
		now:        cfg.Now,
		sleep:      cfg.Sleep,
		jitter:     cfg.Jitter,
	}
	if c.http == nil {
		c.http = &http.Client{
			Timeout: DefaultTimeout,
			// A redirected POST would be replayed as a GET; report the redirect instead.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	if c.log == nil {
		c.log = slog.Default()
	}
	switch {
	case c.maxRetries == 0:
		c.maxRetries = DefaultMaxRetries
	case c.maxRetries < 0:
		c.maxRetries = 0
	}
	if c.maxWait <= 0 {
		c.maxWait = DefaultMaxWait
	}
	if c.now == nil {
		c.now = time.Now
	}
	if c.sleep == nil {
		c.sleep = sleepContext
	}
	if c.jitter == nil {
		c.jitter = rand.Float64
	}
	reserve := cfg.ReserveFactor
	switch {
	case reserve == 0:
		reserve = DefaultReserveFactor
	case reserve < 0:
		reserve = 0
	case reserve > 0.9:
		reserve = 0.9
	}
	c.bucket = newBucket(reserve)
	c.gql = &transport{c: c}
	c.log.Info("shopify admin api client", "store", c.host, "apiVersion", c.version)
	return c, nil
}

// APIVersion returns the Admin API version the client sends to.
func (c *Client) APIVersion() string { return c.version }

// Endpoint returns the GraphQL endpoint URL.
func (c *Client) Endpoint() string { return c.endpoint }

// storeBaseURL turns SHOPIFY_STORE_URL into a scheme://host base URL.
func storeBaseURL(s string) (*url.URL, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, errors.New("shopify: no store URL configured (set SHOPIFY_STORE_URL to shop.myshopify.com)")
	}
	if !strings.Contains(s, "://") {
		s = "https://" + s
	}
	u, err := url.Parse(s)
	if err != nil {
		return nil, fmt.Errorf("shopify: invalid store URL %q: %w", s, err)
	}
	if u.Scheme != "https" && u.Scheme != "http" {
		return nil, fmt.Errorf("shopify: invalid store URL %q: want https://", s)
	}
	if u.Host == "" || (!strings.Contains(u.Hostname(), ".") && u.Hostname() != "localhost") {
		return nil, fmt.Errorf("shopify: invalid store URL %q: want shop.myshopify.com or http(s)://host:port", s)
	}
	if p := strings.TrimRight(u.Path, "/"); p != "" || u.RawQuery != "" {
		return nil, fmt.Errorf("shopify: invalid store URL %q: give only the host (shop.myshopify.com), no path", s)
	}
	return &url.URL{Scheme: u.Scheme, Host: u.Host}, nil
}

// Priority says whose call it is when the cost bucket runs low.
type Priority int

const (
	// PriorityHigh is for customer-facing calls (fulfillment). The default for everything
	// except the inventory methods.
	PriorityHigh Priority = iota
	// PriorityLow is for background work (the inventory sync): such calls leave a reserve of
	// the bucket untouched and wait while a high-priority call is waiting for points.
	PriorityLow
)

// String returns "high" or "low".
func (p Priority) String() string {
	if p == PriorityLow {
		return "low"
	}
	return "high"
}

type priorityKey struct{}

// WithPriority returns a context whose Shopify calls run at priority p, overriding the
// method's default (high for fulfillment and webhooks, low for inventory).
func WithPriority(ctx context.Context, p Priority) context.Context {
	return context.WithValue(ctx, priorityKey{}, p)
}

func priorityFrom(ctx context.Context, def Priority) Priority {
	if p, ok := ctx.Value(priorityKey{}).(Priority); ok {
		return p
	}
	return def
}

// withDefaultPriority sets p on ctx unless the caller chose one.
func withDefaultPriority(ctx context.Context, p Priority) context.Context {
	if _, ok := ctx.Value(priorityKey{}).(Priority); ok {
		return ctx
	}
	return WithPriority(ctx, p)
}

// nonIdempotent lists operations that must not be sent twice when the first attempt's outcome
// is unknown (network error after sending, 5xx): a second fulfillmentCreate could create a
// second fulfillment. THROTTLED and 429 answers are still retried (nothing ran).
var nonIdempotent = map[string]bool{
	"FulfillmentCreate":         true,
	"WebhookSubscriptionCreate": true,
}

// transport is the graphql.Client genqlient's generated functions call.
type transport struct{ c *Client }

// MakeRequest sends req through the throttling, retrying transport and decodes the answer
// into resp.Data. It returns *GraphQLError for a non-empty errors[] (permanent unless
// retrying can help).
func (t *transport) MakeRequest(ctx context.Context, req *graphql.Request, resp *graphql.Response) error {
	body, err := json.Marshal(req)
	if err != nil {
		return order.Permanent(fmt.Errorf("shopify %s: encode request: %w", req.OpName, err))
	}
	env, err := t.c.do(ctx, call{
		op:         req.OpName,
		body:       body,
		idempotent: !nonIdempotent[req.OpName],
		priority:   priorityFrom(ctx, PriorityHigh),
	})
	if env != nil && resp != nil && resp.Data != nil && len(env.Data) > 0 && !bytes.Equal(env.Data, []byte("null")) {
		if derr := json.Unmarshal(env.Data, resp.Data); derr != nil && err == nil {
			err = fmt.Errorf("shopify %s: decode response: %w", req.OpName, derr)
		}
	}
	return err
}

// call is one GraphQL request.
type call struct {
	op         string
	body       []byte
	idempotent bool
	priority   Priority
}

// envelope is a GraphQL response body.
type envelope struct {
	Data       json.RawMessage `json:"data"`
	Errors     []ErrorDetail   `json:"errors"`
	Extensions *struct {
		Cost *costInfo `json:"cost"`
	} `json:"extensions"`
}

func (e *envelope) cost() *costInfo {
	if e == nil || e.Extensions == nil {
		return nil
	}
	return e.Extensions.Cost
}

// costInfo is extensions.cost.
type costInfo struct {
	RequestedQueryCost float64  `json:"requestedQueryCost"`
	ActualQueryCost    *float64 `json:"actualQueryCost"`
	ThrottleStatus     *struct {
		MaximumAvailable   float64 `json:"maximumAvailable"`
		CurrentlyAvailable float64 `json:"currentlyAvailable"`
		RestoreRate        float64 `json:"restoreRate"`
	} `json:"throttleStatus"`
}

// retryable is a failed attempt that may be retried after wait.
type retryable struct {
	err  error
	wait time.Duration
}

// do sends one call, waiting for the cost bucket first and retrying what may be retried. It
// returns the envelope of the last answer (when there was one) and the error.
func (c *Client) do(ctx context.Context, cl call) (*envelope, error) {
	for attempt := 0; ; attempt++ {
		if err := c.acquire(ctx, cl); err != nil {
			return nil, err
		}
		env, r, err := c.roundTrip(ctx, cl, attempt)
		if r == nil {
			return env, err
		}
		if attempt >= c.maxRetries {
			return env, order.WithRetryAfter(fmt.Errorf("shopify %s: giving up after %d attempts: %w", cl.op, attempt+1, r.err), r.wait)
		}
		c.log.Warn("shopify: retrying", "op", cl.op, "attempt", attempt+1, "wait", r.wait, "reason", r.err.Error())
		if err := c.wait(ctx, cl.op, r.wait); err != nil {
			return env, fmt.Errorf("%w (last answer: %v)", err, r.err)
		}
	}
}

// roundTrip sends one attempt. A non-nil *retryable means the attempt may be retried.
func (c *Client) roundTrip(ctx context.Context, cl call, attempt int) (*envelope, *retryable, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.endpoint, bytes.NewReader(cl.body))
	if err != nil {
		return nil, nil, order.Permanent(fmt.Errorf("shopify %s: build request: %w", cl.op, err))
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "orderflow-shopify-client")
	req.Header.Set("X-Shopify-Access-Token", c.token)

	resp, err := c.http.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, nil, fmt.Errorf("shopify %s: %w", cl.op, ctx.Err())
		}
		err = fmt.Errorf("shopify %s: request failed: %w", cl.op, redactError(err))
		if cl.idempotent || isDialError(err) {
			return nil, &retryable{err: err, wait: c.backoff(attempt)}, err
		}
		// The request may have reached Shopify: do not send a non-idempotent mutation again
		// blindly. Not permanent: the caller re-reads the state and decides.
		return nil, nil, fmt.Errorf("%w (outcome unknown; not retried automatically)", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 32<<20))
	if err != nil {
		err = fmt.Errorf("shopify %s: read response: %w", cl.op, err)
		if cl.idempotent {
			return nil, &retryable{err: err, wait: c.backoff(attempt)}, err
		}
		return nil, nil, err
	}
	c.noteHeaders(resp.Header)

	switch {
	case resp.StatusCode == http.StatusOK:
	case resp.StatusCode == http.StatusTooManyRequests:
		herr := c.httpError(cl.op, resp, body)
		wait, ok := parseRetryAfter(resp.Header.Get("Retry-After"))
		if !ok {
			wait = c.backoff(attempt)
		}
		return nil, &retryable{err: herr, wait: c.capWait(wait)}, herr
	case resp.StatusCode >= 500:
		herr := c.httpError(cl.op, resp, body)
		if cl.idempotent {
			return nil, &retryable{err: herr, wait: c.backoff(attempt)}, herr
		}
		return nil, nil, fmt.Errorf("%w (outcome unknown; not retried automatically)", herr)
	default:
		return nil, nil, order.Permanent(c.httpError(cl.op, resp, body))
	}

	env := &envelope{}
	if err := json.Unmarshal(body, env); err != nil {
		err = fmt.Errorf("shopify %s: HTTP 200 with a body that is not a GraphQL response: %w", cl.op, err)
		if cl.idempotent {
			return nil, &retryable{err: err, wait: c.backoff(attempt)}, err
		}
		return nil, nil, err
	}
	c.bucket.observe(c.now(), cl.op, env.cost())
	if len(env.Errors) == 0 {
		return env, nil, nil
	}
	gerr := &GraphQLError{Operation: cl.op, Errors: env.Errors}
	switch {
	case gerr.HasCode(CodeThrottled):
		return env, &retryable{err: gerr, wait: c.throttleWait(env.cost(), attempt)}, gerr
	case gerr.transient() && cl.idempotent:
		return env, &retryable{err: gerr, wait: c.backoff(attempt)}, gerr
	case gerr.transient():
		return env, nil, gerr
	}
	return env, nil, order.Permanent(gerr)
}

// httpError builds the error for a non-200 answer, with Shopify's message when the body has
// one ({"errors":"..."} or {"errors":[{"message":...}]}).
func (c *Client) httpError(op string, resp *http.Response, body []byte) *HTTPError {
	e := &HTTPError{Operation: op, StatusCode: resp.StatusCode}
	var v struct {
		Errors json.RawMessage `json:"errors"`
	}
	if json.Unmarshal(body, &v) == nil && len(v.Errors) > 0 {
		var s string
		var list []ErrorDetail
		switch {
		case json.Unmarshal(v.Errors, &s) == nil:
			e.Message = s
		case json.Unmarshal(v.Errors, &list) == nil && len(list) > 0:
			e.Message = list[0].Message
		}
	}
	if loc := resp.Header.Get("Location"); loc != "" && resp.StatusCode >= 300 && resp.StatusCode < 400 {
		if u, err := url.Parse(loc); err == nil {
			e.Message = "redirects to " + u.Host
		}
	}
	if len(e.Message) > 300 {
		e.Message = e.Message[:300] + "…"
	}
	c.log.Warn("shopify: HTTP error", "op", op, "status", resp.StatusCode, "requestId", resp.Header.Get("X-Request-Id"))
	return e
}

// noteHeaders logs, once per distinct value, a deprecation notice and a version other than
// the one requested (Shopify falls forward from unsupported versions).
func (c *Client) noteHeaders(h http.Header) {
	if reason := h.Get("X-Shopify-API-Deprecated-Reason"); reason != "" {
		if _, seen := c.warned.LoadOrStore("deprecated:"+reason, true); !seen {
			c.log.Warn("shopify: deprecated API usage", "apiVersion", c.version, "reason", reason)
		}
	}
	if v := h.Get("X-Shopify-API-Version"); v != "" && v != c.version {
		if _, seen := c.warned.LoadOrStore("version:"+v, true); !seen {
			c.log.Warn("shopify: served a different API version than requested (the requested one is unsupported?)",
				"requested", c.version, "served", v)
		}
	}
}

// throttleWait is the wait after THROTTLED: (requested − available) / restoreRate, or a
// backoff when the answer does not say (no extensions, restoreRate 0).
func (c *Client) throttleWait(ci *costInfo, attempt int) time.Duration {
	if ci == nil || ci.ThrottleStatus == nil || ci.ThrottleStatus.RestoreRate <= 0 {
		return c.backoff(attempt)
	}
	ts := ci.ThrottleStatus
	secs := (ci.RequestedQueryCost - ts.CurrentlyAvailable) / ts.RestoreRate
	d := time.Duration(secs * float64(time.Second))
	if d < 100*time.Millisecond {
		d = 100 * time.Millisecond
	}
	return c.capWait(d)
}

// backoff is exponential from 250ms with jitter (half fixed, half random), capped at MaxWait.
func (c *Client) backoff(attempt int) time.Duration {
	if attempt > 16 {
		attempt = 16
	}
	d := c.capWait(250 * time.Millisecond << attempt)
	return d/2 + time.Duration(c.jitter()*float64(d/2))
}

func (c *Client) capWait(d time.Duration) time.Duration {
	if d > c.maxWait {
		return c.maxWait
	}
	if d < 0 {
		return 0
	}
	return d
}

// wait sleeps d unless ctx ends first. When ctx's deadline is nearer than d it returns at
// once: the caller can retry later (the error carries d as order.RetryAfter).
func (c *Client) wait(ctx context.Context, op string, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("shopify %s: %w", op, err)
	}
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) < d {
		return order.WithRetryAfter(fmt.Errorf("shopify %s: rate limited: need to wait %s, beyond the deadline: %w",
			op, d, context.DeadlineExceeded), d)
	}
	if err := c.sleep(ctx, d); err != nil {
		return fmt.Errorf("shopify %s: %w", op, err)
	}
	return nil
}

func sleepContext(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// parseRetryAfter reads Retry-After: seconds (possibly fractional, "2.0") or an HTTP date.
func parseRetryAfter(v string) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if secs, err := strconv.ParseFloat(v, 64); err == nil && secs >= 0 && secs < 86400 {
		return time.Duration(secs * float64(time.Second)), true
	}
	if t, err := http.ParseTime(v); err == nil {
		d := time.Until(t)
		if d < 0 {
			d = 0
		}
		return d, true
	}
	return 0, false
}

// isDialError reports whether the request failed before reaching the server.
func isDialError(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// redactError drops the URL from *url.Error (it carries no secret, but keeps logs short).
func redactError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
