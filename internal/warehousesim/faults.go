package warehousesim

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"
)

// Fault is an injected misbehaviour of the simulated warehouse's API. It applies to the next
// Count matching requests and/or during the window For (counted from injection); with neither,
// until ClearFaults. Delay is waited first; then at most one action applies: Status, Hang,
// Reset or ResetAfter. A fault with only a Delay answers normally, late.
type Fault struct {
	// Endpoint limits the fault to one endpoint (EndpointFulfillments, EndpointCancel,
	// EndpointInventory); empty means every API request.
	Endpoint string
	// Count is how many requests the fault applies to; 0 means no count limit.
	Count int
	// For is how long the fault applies from injection; 0 means no time limit.
	For time.Duration
	// Delay is waited before answering (or before the action).
	Delay time.Duration
	// Status answers with this HTTP status and a JSON error body (e.g. 503, 500, 429).
	Status int
	// RetryAfter is sent as the Retry-After header with Status (seconds or an HTTP date).
	RetryAfter string
	// Hang never answers: the request is held until the client gives up or Close is called.
	Hang bool
	// Reset closes the connection (TCP RST) without an answer.
	Reset bool
	// ResetAfter processes the request normally (a fulfillment is accepted, a cancel applied)
	// and then resets the connection instead of answering.
	ResetAfter bool
}

// ActiveFault is an injected fault and what is left of it.
type ActiveFault struct {
	Fault
	// Remaining is the number of requests left; -1 means no count limit.
	Remaining int
	// Until is when the fault ends; zero means no time limit.
	Until time.Time
}

// Validate reports what is wrong with f.
func (f Fault) Validate() error {
	switch f.Endpoint {
	case "", EndpointFulfillments, EndpointCancel, EndpointInventory:
	default:
		return fmt.Errorf("unknown endpoint %q (want %s, %s or %s)", f.Endpoint, EndpointFulfillments, EndpointCancel, EndpointInventory)
	}
	if f.Count < 0 || f.For < 0 || f.Delay < 0 {
		return errors.New("count, for and delay must not be negative")
	}
	actions := 0
	for _, on := range []bool{f.Status != 0, f.Hang, f.Reset, f.ResetAfter} {
		if on {
			actions++
		}
	}
	if actions > 1 {
		return errors.New("at most one of status, hang, reset and resetAfter")
	}
	if actions == 0 && f.Delay == 0 {
		return errors.New("a fault needs a delay or an action (status, hang, reset, resetAfter)")
	}
	if f.Status != 0 && (f.Status < 200 || f.Status > 599) {
		return fmt.Errorf("status %d out of range", f.Status)
	}
	if f.RetryAfter != "" && f.Status == 0 {
		return errors.New("retryAfter needs a status")
	}
	if strings.ContainsAny(f.RetryAfter, "\r\n") {
		return errors.New("retryAfter must be one line")
	}
	return nil
}

// String describes f for the request log.
func (f Fault) String() string {
	var parts []string
	if f.Delay > 0 {
		parts = append(parts, "delay "+f.Delay.String())
	}
	switch {
	case f.Status != 0:
		s := fmt.Sprintf("status %d", f.Status)
		if f.RetryAfter != "" {
			s += " Retry-After " + f.RetryAfter
		}
		parts = append(parts, s)
	case f.Hang:
		parts = append(parts, "hang")
	case f.Reset:
		parts = append(parts, "reset")
	case f.ResetAfter:
		parts = append(parts, "reset after processing")
	}
	return strings.Join(parts, " + ")
}

// InjectFault adds f after the faults already injected; the first active fault matching a
// request applies to it.
func (w *Warehouse) InjectFault(f Fault) error {
	if err := f.Validate(); err != nil {
		return fmt.Errorf("warehouse simulator %s: fault: %w", w.name, err)
	}
	a := &ActiveFault{Fault: f, Remaining: -1}
	if f.Count > 0 {
		a.Remaining = f.Count
	}
	if f.For > 0 {
		a.Until = time.Now().Add(f.For)
	}
	w.mu.Lock()
	w.faults = append(w.faults, a)
	w.mu.Unlock()
	w.log.Info("SIMULATOR warehouse: fault injected", "fault", f.String(), "endpoint", f.Endpoint, "count", f.Count, "for", f.For)
	return nil
}

// ClearFaults removes every injected fault.
func (w *Warehouse) ClearFaults() {
	w.mu.Lock()
	w.faults = nil
	w.mu.Unlock()
}

// Faults returns the faults still active.
func (w *Warehouse) Faults() []ActiveFault {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.pruneFaultsLocked(time.Now())
	out := make([]ActiveFault, len(w.faults))
	for i, f := range w.faults {
		out[i] = *f
	}
	return out
}

func (w *Warehouse) pruneFaultsLocked(now time.Time) {
	keep := w.faults[:0]
	for _, f := range w.faults {
		if f.Remaining == 0 || (!f.Until.IsZero() && !now.Before(f.Until)) {
			continue
		}
		keep = append(keep, f)
	}
	clear(w.faults[len(keep):])
	w.faults = keep
}

// takeFault returns the fault that applies to a request to endpoint, counting it, or nil.
func (w *Warehouse) takeFault(endpoint string) *Fault {
	if endpoint == EndpointOther {
		return nil
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.pruneFaultsLocked(time.Now())
	for _, a := range w.faults {
		if a.Endpoint != "" && a.Endpoint != endpoint {
			continue
		}
		if a.Remaining > 0 {
			a.Remaining--
		}
		f := a.Fault
		return &f
	}
	return nil
}

func (w *Warehouse) setFault(rec *Request, desc string) {
	w.mu.Lock()
	rec.Fault = desc
	w.mu.Unlock()
}

// applyFault plays f; it reports whether the request should then be answered normally.
// process answers the request normally into the writer it is given (for ResetAfter).
func (w *Warehouse) applyFault(rw http.ResponseWriter, r *http.Request, f *Fault, process func(http.ResponseWriter)) bool {
	if f.Delay > 0 {
		t := time.NewTimer(f.Delay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-r.Context().Done():
			return false
		case <-w.done:
			resetConn(rw) // never let an interrupted fault look like a 200
			return false
		}
	}
	switch {
	case f.Status != 0:
		if f.RetryAfter != "" {
			rw.Header().Set("Retry-After", f.RetryAfter)
		}
		w.log.Info("SIMULATOR warehouse: injected failure", "status", f.Status, "path", r.URL.Path)
		writeError(rw, f.Status, fmt.Sprintf("simulated failure (warehouse SIMULATOR): %d %s", f.Status, http.StatusText(f.Status)))
		return false
	case f.Hang:
		w.log.Info("SIMULATOR warehouse: injected hang", "path", r.URL.Path)
		select {
		case <-r.Context().Done():
		case <-w.done:
			resetConn(rw) // released by Close: the client must not see an answer
		}
		return false
	case f.Reset:
		w.log.Info("SIMULATOR warehouse: injected connection reset", "path", r.URL.Path)
		resetConn(rw)
		return false
	case f.ResetAfter:
		process(&discardWriter{header: http.Header{}})
		w.log.Info("SIMULATOR warehouse: injected connection reset after processing", "path", r.URL.Path)
		resetConn(rw)
		return false
	}
	return true
}

// resetConn hijacks the connection and closes it with a TCP RST (SO_LINGER 0). Where the
// connection cannot be hijacked (HTTP/2) it aborts the response the way net/http documents,
// with http.ErrAbortHandler, which the server recovers without logging.
func resetConn(rw http.ResponseWriter) {
	conn, _, err := http.NewResponseController(rw).Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	raw := conn
	if nc, ok := conn.(interface{ NetConn() net.Conn }); ok {
		raw = nc.NetConn()
	}
	if tc, ok := raw.(*net.TCPConn); ok {
		tc.SetLinger(0)
	}
	raw.Close()
}

// discardWriter is a ResponseWriter whose answer nobody receives.
type discardWriter struct {
	header http.Header
}

func (d *discardWriter) Header() http.Header         { return d.header }
func (d *discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (d *discardWriter) WriteHeader(int)             {}

// faultJSON is the admin API form of a Fault: durations as Go duration strings ("50ms", "2s").
type faultJSON struct {
	Endpoint   string `json:"endpoint,omitempty"`
	Count      int    `json:"count,omitempty"`
	For        string `json:"for,omitempty"`
	Delay      string `json:"delay,omitempty"`
	Status     int    `json:"status,omitempty"`
	RetryAfter string `json:"retryAfter,omitempty"`
	Hang       bool   `json:"hang,omitempty"`
	Reset      bool   `json:"reset,omitempty"`
	ResetAfter bool   `json:"resetAfter,omitempty"`
	Remaining  *int   `json:"remaining,omitempty"`
	Until      string `json:"until,omitempty"`
}

// MarshalJSON encodes f with durations as strings ("50ms").
func (f Fault) MarshalJSON() ([]byte, error) {
	return json.Marshal(f.toJSON())
}

func (f Fault) toJSON() faultJSON {
	j := faultJSON{Endpoint: f.Endpoint, Count: f.Count, Status: f.Status, RetryAfter: f.RetryAfter,
		Hang: f.Hang, Reset: f.Reset, ResetAfter: f.ResetAfter}
	if f.For > 0 {
		j.For = f.For.String()
	}
	if f.Delay > 0 {
		j.Delay = f.Delay.String()
	}
	return j
}

// UnmarshalJSON decodes the MarshalJSON form; durations are Go duration strings.
func (f *Fault) UnmarshalJSON(b []byte) error {
	var j faultJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	var forD, delay time.Duration
	var err error
	if j.For != "" {
		if forD, err = time.ParseDuration(j.For); err != nil {
			return fmt.Errorf("for: %w", err)
		}
	}
	if j.Delay != "" {
		if delay, err = time.ParseDuration(j.Delay); err != nil {
			return fmt.Errorf("delay: %w", err)
		}
	}
	*f = Fault{Endpoint: j.Endpoint, Count: j.Count, For: forD, Delay: delay, Status: j.Status,
		RetryAfter: j.RetryAfter, Hang: j.Hang, Reset: j.Reset, ResetAfter: j.ResetAfter}
	return nil
}

// MarshalJSON encodes an active fault with what is left of it.
func (a ActiveFault) MarshalJSON() ([]byte, error) {
	j := a.Fault.toJSON()
	rem := a.Remaining
	j.Remaining = &rem
	if !a.Until.IsZero() {
		j.Until = a.Until.UTC().Format(time.RFC3339Nano)
	}
	return json.Marshal(j)
}
