// Package httpapi is the product's HTTP surface: the Shopify webhook routes, the warehouse
// callback and the readiness probe under the paths the Azure Functions host forwards
// (/api/<function>), served the same way standalone. The Functions invocation routes
// (/<function>) are added by package functionsapi on the same router.
package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/shipwell/orderflow/internal/functions"

	"github.com/shipwell/orderflow/internal/orderflow"
	"github.com/shipwell/orderflow/internal/webhook"
)

// WebhookRoutes maps each webhook function (and its /api path) to the topic it expects.
var WebhookRoutes = map[string]string{
	"order-created":     "orders/create",
	"order-paid":        "orders/paid",
	"order-fulfilled":   "orders/fulfilled",
	"order-cancelled":   "orders/cancelled",
	"inventory-updated": "inventory_levels/update",
}

// Server serves the product's routes.
type Server struct {
	Service  *orderflow.Service
	Verifier *webhook.Verifier
	Log      *slog.Logger
	// MaxBodyBytes bounds request bodies (default 10 MiB); larger ones get 413.
	MaxBodyBytes int64
	// Deadline bounds each webhook's processing, well under Shopify's 5 s (default 4 s).
	Deadline time.Duration
	// MaxInFlight bounds the authenticated requests being processed at once; beyond it a
	// request waits briefly, then gets 503. Requests still sending their body (not yet
	// authenticated) have their own, larger bound (4 × MaxInFlight), so slow or unsigned
	// senders cannot take the slots of Shopify's deliveries.
	MaxInFlight int
	// QueueWait is how long a request may wait for a slot before it is shed (default 1 s).
	QueueWait time.Duration

	ready       atomic.Bool
	slots       chan struct{} // authenticated work
	readers     chan struct{} // requests reading their body
	lastShedLog atomic.Int64
	shedCount   atomic.Int64
}

// SetReady switches the readiness probe.
func (s *Server) SetReady(v bool) { s.ready.Store(v) }

// Handler returns the router with every route. extra, if given, adds more routes at the root,
// outside the load shedding of the /api routes (the Functions invocation routes: the host bounds
// their concurrency itself).
func (s *Server) Handler(extra ...func(chi.Router)) http.Handler {
	if s.MaxBodyBytes <= 0 {
		s.MaxBodyBytes = 10 << 20
	}
	if s.Deadline <= 0 {
		s.Deadline = 4 * time.Second
	}
	if s.MaxInFlight <= 0 {
		s.MaxInFlight = 256
	}
	if s.QueueWait <= 0 {
		s.QueueWait = time.Second
	}
	if s.Log == nil {
		s.Log = slog.Default()
	}
	s.slots = make(chan struct{}, s.MaxInFlight)
	s.readers = make(chan struct{}, 4*s.MaxInFlight)
	r := chi.NewRouter()
	r.Get("/", s.readiness)
	r.Get("/api/health", s.readiness)
	r.Group(func(r chi.Router) {
		// The Functions host passes the function key through (?code=, x-functions-key) after
		// checking it; drop it so that no handler can log it.
		r.Use(functions.StripFunctionKey, s.shed)
		for name, topic := range WebhookRoutes {
			r.Post("/api/"+name, s.webhookHandler(name, topic))
		}
		r.Post("/api/fulfillment-callback", s.callback)
	})
	for _, f := range extra {
		f(r)
	}
	r.NotFound(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusNotFound, errorBody("no such route"))
	})
	r.MethodNotAllowed(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusMethodNotAllowed, errorBody("method not allowed"))
	})
	return r
}

func (s *Server) readiness(w http.ResponseWriter, r *http.Request) {
	if !s.ready.Load() {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "starting"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// shed bounds the requests being read: one that cannot get a reader slot within QueueWait is
// answered 503 with Retry-After, which Shopify retries, instead of a late answer Shopify counts
// as a failure while we still process it (a duplicate in the making).
func (s *Server) shed(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The deadline runs from here: the time spent waiting for a slot is part of it.
		r = r.WithContext(context.WithValue(r.Context(), arrivalKey{}, time.Now()))
		if !s.acquire(r.Context(), s.readers) {
			s.overloaded(w, r)
			return
		}
		defer func() { <-s.readers }()
		next.ServeHTTP(w, r)
	})
}

// work takes a processing slot for an authenticated request; ok is false when none came free
// within QueueWait (answer 503).
func (s *Server) work(ctx context.Context) (release func(), ok bool) {
	if !s.acquire(ctx, s.slots) {
		return nil, false
	}
	return func() { <-s.slots }, true
}

func (s *Server) acquire(ctx context.Context, sem chan struct{}) bool {
	select {
	case sem <- struct{}{}:
		return true
	default:
	}
	t := time.NewTimer(s.QueueWait)
	defer t.Stop()
	select {
	case sem <- struct{}{}:
		return true
	case <-t.C:
		return false
	case <-ctx.Done():
		return false
	}
}

// overloaded answers 503 + Retry-After and logs it at most once a second (with a count), so an
// overload does not also flood the logs.
func (s *Server) overloaded(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Retry-After", "1")
	writeJSON(w, http.StatusServiceUnavailable, errorBody("overloaded, retry later"))
	n := s.shedCount.Add(1)
	now := time.Now().UnixNano()
	if last := s.lastShedLog.Load(); now-last >= int64(time.Second) && s.lastShedLog.CompareAndSwap(last, now) {
		s.shedCount.Add(-n)
		s.Log.Warn("requests shed: overloaded", "path", r.URL.Path, "shed_since_last_log", n)
	}
}

// readBody reads the whole body up to the limit; ok is false when it answered already.
func (s *Server) readBody(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	if r.ContentLength > s.MaxBodyBytes {
		writeJSON(w, http.StatusRequestEntityTooLarge, errorBody("body larger than "+strconv.FormatInt(s.MaxBodyBytes, 10)+" bytes"))
		return nil, false
	}
	// A client that sends its body slowly must not hold a slot past the webhook's deadline.
	_ = http.NewResponseController(w).SetReadDeadline(s.deadline(r))
	var buf bytes.Buffer
	if r.ContentLength > 0 {
		buf.Grow(int(r.ContentLength) + 1)
	}
	_, err := buf.ReadFrom(http.MaxBytesReader(w, r.Body, s.MaxBodyBytes))
	b := buf.Bytes()
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			writeJSON(w, http.StatusRequestEntityTooLarge, errorBody("body larger than "+strconv.FormatInt(s.MaxBodyBytes, 10)+" bytes"))
			return nil, false
		}
		if errors.Is(err, os.ErrDeadlineExceeded) {
			w.Header().Set("Retry-After", "1")
			writeJSON(w, http.StatusRequestTimeout, errorBody("the body did not arrive in time"))
			return nil, false
		}
		writeJSON(w, http.StatusBadRequest, errorBody("could not read the body"))
		return nil, false
	}
	return b, true
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func errorBody(msg string) map[string]string { return map[string]string{"error": msg} }

// invocationID returns the Functions invocation id when the host forwarded the request.
func invocationID(r *http.Request) string { return r.Header.Get("X-Azure-Functions-InvocationId") }

// bearer returns the token of an Authorization: Bearer header.
func bearer(r *http.Request) string {
	h := r.Header.Get("Authorization")
	if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return strings.TrimSpace(h[7:])
	}
	return ""
}

// arrivalKey marks in a request's context when the request reached the load shedder.
type arrivalKey struct{}

// deadline is when a request's answer is due: Deadline after its arrival, so that the wait for
// a slot and the body read count against it (a request that waited cannot then take a full
// Deadline more and answer after Shopify gave up).
func (s *Server) deadline(r *http.Request) time.Time {
	start, ok := r.Context().Value(arrivalKey{}).(time.Time)
	if !ok {
		start = time.Now()
	}
	return start.Add(s.Deadline)
}

// withDeadline bounds a handler's work by the request's deadline.
func (s *Server) withDeadline(r *http.Request) (context.Context, context.CancelFunc) {
	return context.WithDeadline(r.Context(), s.deadline(r))
}
