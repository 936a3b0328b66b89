// Package shopifysim is a SIMULATOR of the Shopify Admin GraphQL API, not Shopify. It backs
// the tests of internal/shopify and the product's sandbox (make demo).
//
// It serves POST /admin/api/{version}/graphql.json like Shopify does: it checks the access
// token (401 otherwise), parses and validates every document against the real Admin API
// schema (validation errors come back as HTTP 200 with errors[] and Shopify's codes, without
// extensions.cost), charges a leaky cost bucket (2,000 points, 100/s restore, 1,000 per query,
// THROTTLED as HTTP 200, extensions.cost on every executed answer) and executes the fields
// the product uses: order/fulfillmentOrder/nodes, productVariants/inventoryItems (fuzzy SKU
// search), inventoryItem/inventoryLevel, webhookSubscriptions, fulfillmentCreate,
// inventorySetQuantities (2026-04+ rules) and webhookSubscriptionCreate/Update/Delete, with the
// userErrors recorded from live Shopify (../../shared/fixtures/shopify/graphql). Answers
// contain only the selected fields (aliases, fragments and __typename work).
//
// Tests seed and inspect it through Go methods (AddOrder, AddInventoryItem, Fulfillments,
// Mutations, …) and inject failures (InjectFaults); a separate process uses the JSON admin API
// under /_sim/ (see admin.go). Every response carries the header X-Simulator: shopify.
package shopifysim

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/vektah/gqlparser/v2/ast"
)

// Defaults of the cost bucket (a standard plan, as observed live).
const (
	DefaultBucketSize   = 2000
	DefaultRestoreRate  = 100
	DefaultMaxQueryCost = 1000
)

// Options configures a Server.
type Options struct {
	// AccessToken is the token clients must send (X-Shopify-Access-Token). Required.
	AccessToken string
	// BucketSize, RestoreRate (points per second) and MaxQueryCost shape the cost limit
	// (0 means the defaults 2000, 100, 1000; a negative RestoreRate means no restore).
	BucketSize   float64
	RestoreRate  float64
	MaxQueryCost int
	// Now is the clock (time.Now when nil); tests share a fake clock with the client.
	Now func() time.Time
	// Logger receives the simulator's log lines (slog.Default when nil).
	Logger *slog.Logger
}

// Server is the simulated Admin API of one shop. It is an http.Handler; use it with
// httptest.NewServer in tests or ListenAndServe for the sandbox.
type Server struct {
	token   string
	schema  *ast.Schema
	now     func() time.Time
	log     *slog.Logger
	handler http.Handler

	mu           sync.Mutex
	bucketMax    float64
	bucketAvail  float64
	bucketAt     time.Time
	restoreRate  float64
	maxQueryCost int
	faults       []Fault
	deprecation  string
	seq          int64

	orders       map[string]*simOrder
	fos          map[string]*simFO
	fulfillments []Fulfillment
	items        map[string]*simItem
	itemOrder    []string
	locations    map[string]*simLocation
	webhooks     []*WebhookSubscription
	idempotency  map[string]idemRecord
	mutations    []Mutation
	requests     int
}

// New returns a simulator. It fails only when the embedded schema cannot be parsed or no
// access token is given.
func New(opts Options) (*Server, error) {
	if opts.AccessToken == "" {
		return nil, errors.New("SIMULATOR shopify: an access token is required")
	}
	sch, err := Schema()
	if err != nil {
		return nil, fmt.Errorf("SIMULATOR shopify: load schema: %w", err)
	}
	s := &Server{
		token:        opts.AccessToken,
		schema:       sch,
		now:          opts.Now,
		log:          opts.Logger,
		bucketMax:    opts.BucketSize,
		restoreRate:  opts.RestoreRate,
		maxQueryCost: opts.MaxQueryCost,
		seq:          7_000_000_000_000,
		orders:       map[string]*simOrder{},
		fos:          map[string]*simFO{},
		items:        map[string]*simItem{},
		locations:    map[string]*simLocation{},
		idempotency:  map[string]idemRecord{},
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.bucketMax <= 0 {
		s.bucketMax = DefaultBucketSize
	}
	switch {
	case opts.RestoreRate == 0:
		s.restoreRate = DefaultRestoreRate
	case opts.RestoreRate < 0:
		s.restoreRate = 0
	}
	if s.maxQueryCost <= 0 {
		s.maxQueryCost = DefaultMaxQueryCost
	}
	s.bucketAvail = s.bucketMax
	s.bucketAt = s.now()
	mux := http.NewServeMux()
	mux.HandleFunc("/admin/api/{version}/graphql.json", s.serveGraphQL)
	s.adminRoutes(mux)
	s.handler = mux
	return s, nil
}

// ServeHTTP serves the Admin GraphQL endpoint and the /_sim/ admin API.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Simulator", "shopify")
	s.handler.ServeHTTP(w, r)
}

// ListenAndServe serves the simulator on addr until it fails.
func (s *Server) ListenAndServe(addr string) error {
	s.log.Info("SIMULATOR shopify: listening (this is a simulator, not Shopify)", "addr", addr)
	srv := &http.Server{Addr: addr, Handler: s, ReadHeaderTimeout: 10 * time.Second}
	return srv.ListenAndServe()
}

// FaultKind says what an injected fault does.
type FaultKind string

// The fault kinds.
const (
	// FaultThrottled answers HTTP 200 THROTTLED (nothing runs). RestoreRate and Available
	// override the throttleStatus it reports.
	FaultThrottled FaultKind = "throttled"
	// FaultHTTP answers Status (429, 5xx, 402, …) with Body and a Retry-After header when set.
	FaultHTTP FaultKind = "http"
	// FaultDrop closes the connection without an answer (nothing runs).
	FaultDrop FaultKind = "drop"
	// FaultNoExtensions runs the request but leaves extensions out of the answer.
	FaultNoExtensions FaultKind = "no-extensions"
	// FaultGraphQLError answers HTTP 200 with one top-level error (Code, Message), no data.
	FaultGraphQLError FaultKind = "graphql-error"
)

// Fault is a failure the next requests get (Times requests; 0 means 1).
type Fault struct {
	Kind        FaultKind `json:"kind"`
	Times       int       `json:"times,omitempty"`
	Status      int       `json:"status,omitempty"`
	Body        string    `json:"body,omitempty"`
	RetryAfter  string    `json:"retryAfter,omitempty"`
	RestoreRate *float64  `json:"restoreRate,omitempty"`
	Available   *float64  `json:"available,omitempty"`
	Requested   *float64  `json:"requested,omitempty"`
	Code        string    `json:"code,omitempty"`
	Message     string    `json:"message,omitempty"`
	// Operation limits the fault to requests of this operation name ("" means any).
	Operation string `json:"operation,omitempty"`
}

// InjectFaults queues faults; each applies to the next matching requests in order.
func (s *Server) InjectFaults(fs ...Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, f := range fs {
		if f.Times <= 0 {
			f.Times = 1
		}
		s.faults = append(s.faults, f)
	}
}

// SetDeprecationReason makes every answer carry X-Shopify-API-Deprecated-Reason (empty: none).
func (s *Server) SetDeprecationReason(reason string) {
	s.mu.Lock()
	s.deprecation = reason
	s.mu.Unlock()
}

// SetBucket sets the available points (and optionally the restore rate, when >= 0).
func (s *Server) SetBucket(available, restoreRate float64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.bucketAvail = min(available, s.bucketMax)
	s.bucketAt = s.now()
	if restoreRate >= 0 {
		s.restoreRate = restoreRate
	}
}

// BucketAvailable returns the points available now.
func (s *Server) BucketAvailable() float64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refill()
	return s.bucketAvail
}

// Requests returns how many GraphQL requests reached the endpoint (faults included).
func (s *Server) Requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests
}

func (s *Server) refill() {
	now := s.now()
	if d := now.Sub(s.bucketAt).Seconds(); d > 0 {
		s.bucketAvail = min(s.bucketMax, s.bucketAvail+d*s.restoreRate)
	}
	s.bucketAt = now
}

// takeFault pops the next fault for op, if any.
func (s *Server) takeFault(op string) *Fault {
	for i := range s.faults {
		f := &s.faults[i]
		if f.Operation != "" && f.Operation != op {
			continue
		}
		out := *f
		f.Times--
		if f.Times <= 0 {
			s.faults = append(s.faults[:i], s.faults[i+1:]...)
		}
		return &out
	}
	return nil
}

var versionPattern = regexp.MustCompile(`^(\d{4}-\d{2}|unstable)$`)

type gqlRequest struct {
	Query         string         `json:"query"`
	OperationName string         `json:"operationName"`
	Variables     map[string]any `json:"variables"`
}

type costBlock struct {
	RequestedQueryCost int      `json:"requestedQueryCost"`
	ActualQueryCost    *int     `json:"actualQueryCost"`
	ThrottleStatus     throttle `json:"throttleStatus"`
}

type throttle struct {
	MaximumAvailable   float64 `json:"maximumAvailable"`
	CurrentlyAvailable float64 `json:"currentlyAvailable"`
	RestoreRate        float64 `json:"restoreRate"`
}

type gqlResponse struct {
	Errors     []gqlError     `json:"errors,omitempty"`
	Data       *jsonObject    `json:"data,omitempty"`
	Extensions map[string]any `json:"extensions,omitempty"`
}

func (s *Server) serveGraphQL(w http.ResponseWriter, r *http.Request) {
	version := r.PathValue("version")
	if !versionPattern.MatchString(version) {
		writeJSON(w, http.StatusNotFound, map[string]any{"errors": "Not Found"})
		return
	}
	w.Header().Set("X-Shopify-API-Version", version)
	w.Header().Set("X-Request-Id", fmt.Sprintf("sim-%d", time.Now().UnixNano()))
	if r.Method != http.MethodPost {
		writeJSON(w, http.StatusMethodNotAllowed, map[string]any{"errors": "SIMULATOR: use POST"})
		return
	}
	if r.Header.Get("X-Shopify-Access-Token") != s.token {
		writeJSON(w, http.StatusUnauthorized, map[string]any{"errors": "[API] Invalid API key or access token (unrecognized login or wrong password)"})
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 16<<20))
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]any{"errors": "SIMULATOR: could not read the body"})
		return
	}
	var req gqlRequest
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.UseNumber()
	if err := dec.Decode(&req); err != nil || strings.TrimSpace(req.Query) == "" {
		writeJSON(w, http.StatusBadRequest, map[string]any{"errors": map[string]any{"query": "Required parameter missing or invalid"}})
		return
	}
	if req.Variables == nil {
		req.Variables = map[string]any{}
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests++
	if s.deprecation != "" {
		w.Header().Set("X-Shopify-API-Deprecated-Reason", s.deprecation)
	}
	fault := s.takeFault(req.OperationName)
	if fault != nil {
		s.log.Info("SIMULATOR shopify: injecting fault", "kind", fault.Kind, "status", fault.Status, "op", req.OperationName)
		switch fault.Kind {
		case FaultHTTP:
			if fault.RetryAfter != "" {
				w.Header().Set("Retry-After", fault.RetryAfter)
			}
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(fault.Status)
			_, _ = io.WriteString(w, fault.Body)
			return
		case FaultDrop:
			if hj, ok := w.(http.Hijacker); ok {
				if conn, _, err := hj.Hijack(); err == nil {
					_ = conn.Close()
					return
				}
			}
			panic(http.ErrAbortHandler)
		case FaultGraphQLError:
			writeJSON(w, http.StatusOK, gqlResponse{Errors: []gqlError{{Message: fault.Message, Extensions: map[string]any{"code": fault.Code}}}})
			return
		}
	}

	resp := s.execute(req, version, fault)
	writeJSON(w, http.StatusOK, resp)
}

// execute runs one request under s.mu.
func (s *Server) execute(req gqlRequest, version string, fault *Fault) gqlResponse {
	doc, errs := parseAndValidate(s.schema, req.Query)
	if len(errs) > 0 {
		return gqlResponse{Errors: errs}
	}
	var op *ast.OperationDefinition
	switch {
	case req.OperationName != "":
		op = doc.Operations.ForName(req.OperationName)
	case len(doc.Operations) == 1:
		op = doc.Operations[0]
	}
	if op == nil {
		return gqlResponse{Errors: []gqlError{{
			Message:    "An operation name is required (the document has several operations, or none by that name)",
			Extensions: map[string]any{"code": "OPERATION_NAME_REQUIRED"},
		}}}
	}
	if op.Operation == ast.Subscription {
		return gqlResponse{Errors: []gqlError{{Message: "Subscriptions are not supported", Extensions: map[string]any{"code": "BAD_REQUEST"}}}}
	}
	if errs := checkVariables(s.schema, op, req.Variables); len(errs) > 0 {
		return gqlResponse{Errors: errs}
	}

	requested := estimateCost(s.schema, op.SelectionSet, req.Variables, op.Operation == ast.Mutation)
	s.refill()
	status := throttle{MaximumAvailable: s.bucketMax, CurrentlyAvailable: s.bucketAvail, RestoreRate: s.restoreRate}
	if requested > s.maxQueryCost {
		return gqlResponse{
			Errors: []gqlError{{
				Message: fmt.Sprintf("Query cost is %d, which exceeds the single query max cost limit (%d).\n\n"+
					"See https://shopify.dev/concepts/about-apis/rate-limits for more information on how the\n"+
					"cost of a query is calculated.\n\nTo query larger amounts of data with fewer limits, bulk operations should be used instead.\n"+
					"See https://shopify.dev/tutorials/perform-bulk-operations-with-admin-api for usage details.\n", requested, s.maxQueryCost),
				Extensions: map[string]any{"code": "MAX_COST_EXCEEDED", "cost": requested, "maxCost": s.maxQueryCost},
			}},
			Extensions: map[string]any{"cost": costBlock{RequestedQueryCost: requested, ThrottleStatus: status}},
		}
	}
	if fault != nil && fault.Kind == FaultThrottled {
		if fault.RestoreRate != nil {
			status.RestoreRate = *fault.RestoreRate
		}
		if fault.Available != nil {
			status.CurrentlyAvailable = *fault.Available
		}
		if fault.Requested != nil {
			requested = int(*fault.Requested)
		}
		return throttled(requested, status)
	}
	if float64(requested) > s.bucketAvail {
		return throttled(requested, status)
	}
	s.bucketAvail -= float64(requested)

	x := &executor{schema: s.schema, vars: req.Variables}
	var root obj
	if op.Operation == ast.Mutation {
		root = s.mutationRoot(x, version)
	} else {
		root = s.queryRoot(version)
	}
	data, actual := x.selectObject(root, op.SelectionSet, nil, op.Operation == ast.Mutation)
	actual = min(actual, requested)
	s.bucketAvail = min(s.bucketMax, s.bucketAvail+float64(requested-actual))
	resp := gqlResponse{Errors: x.errors, Data: data}
	if fault == nil || fault.Kind != FaultNoExtensions {
		resp.Extensions = map[string]any{"cost": costBlock{
			RequestedQueryCost: requested,
			ActualQueryCost:    &actual,
			ThrottleStatus:     throttle{MaximumAvailable: s.bucketMax, CurrentlyAvailable: s.bucketAvail, RestoreRate: s.restoreRate},
		}}
	}
	return resp
}

func throttled(requested int, status throttle) gqlResponse {
	return gqlResponse{
		Errors: []gqlError{{Message: "Throttled", Extensions: map[string]any{
			"code": "THROTTLED", "documentation": "https://shopify.dev/api/usage/rate-limits"}}},
		Extensions: map[string]any{"cost": costBlock{RequestedQueryCost: requested, ThrottleStatus: status}},
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
