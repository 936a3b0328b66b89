package warehousesim

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Callback defaults.
const (
	DefaultCallbackAttempts = 5
	DefaultCarrier          = "UPS"
	// DefaultTrackingURL is the tracking URL template; {tracking} is replaced by the number.
	DefaultTrackingURL     = "https://www.ups.com/track?tracknum={tracking}"
	defaultCallbackTimeout = 5 * time.Second
	maxCallbackWait        = 10 * time.Second
)

// Errors of TriggerCallback.
var (
	// ErrUnknownFulfillment: no fulfillment has that id.
	ErrUnknownFulfillment = errors.New("unknown fulfillment")
	// ErrCancelled: the fulfillment was cancelled; cancelled fulfillments get no callback.
	ErrCancelled = errors.New("fulfillment cancelled")
	// ErrNoCallbackURL: no callback URL is configured.
	ErrNoCallbackURL = errors.New("no callback URL configured")
)

// CallbackConfig configures the callback the simulated warehouse sends to the product after
// accepting a fulfillment (DESIGN.md §5.3).
type CallbackConfig struct {
	// URL is the product's callback endpoint, e.g. http://localhost:7071/api/fulfillment-callback.
	// Empty: no automatic callbacks.
	URL string
	// Key is the bearer key sent; empty means the warehouse's Config.Key.
	Key string
	// Disabled switches automatic callbacks off (TriggerCallback still works).
	Disabled bool
	// Delay is the wait between accepting a fulfillment and its callback.
	Delay time.Duration
	// MaxAttempts bounds the attempts per callback; 0 means DefaultCallbackAttempts.
	MaxAttempts int
	// RetryWait is the wait after the first failed attempt, doubled after each further one
	// (capped at 10 s); 0 means 200 ms.
	RetryWait time.Duration
	// Timeout bounds one attempt; 0 means 5 s.
	Timeout time.Duration
	// Carrier is the carrier named in the callback; default DefaultCarrier.
	Carrier string
	// TrackingURL is the tracking URL template ({tracking} is replaced); default
	// DefaultTrackingURL.
	TrackingURL string
	// OmitItems sends the callback without items ("everything open at the location").
	OmitItems bool
	// HTTPClient sends the callbacks; nil means http.DefaultClient.
	HTTPClient *http.Client
}

// CallbackBody is the body of the callback (DESIGN.md §5.3).
type CallbackBody struct {
	ExternalOrderID string         `json:"externalOrderId"`
	TrackingNumber  string         `json:"trackingNumber"`
	Carrier         string         `json:"carrier"`
	TrackingURL     string         `json:"trackingUrl"`
	FulfillmentID   string         `json:"fulfillmentId"`
	ShipmentID      string         `json:"shipmentId"`
	Items           []CallbackItem `json:"items,omitempty"`
}

// CallbackItem is a SKU and quantity in a callback.
type CallbackItem struct {
	SKU      string `json:"sku"`
	Quantity int    `json:"quantity"`
}

// CallbackAttempt is one attempt to deliver a callback, or a skipped one.
type CallbackAttempt struct {
	FulfillmentID   string    `json:"fulfillmentId"`
	ExternalOrderID string    `json:"externalOrderId"`
	Attempt         int       `json:"attempt"`
	At              time.Time `json:"at"`
	// Status is the product's answer; 0 when there was none.
	Status int `json:"status"`
	// Error is the transport error, if any.
	Error string `json:"error,omitempty"`
	// Response is the start of the product's answer body.
	Response string `json:"response,omitempty"`
	// Manual is true for TriggerCallback.
	Manual bool `json:"manual,omitempty"`
	// Skipped is true when the fulfillment was cancelled before its callback.
	Skipped bool `json:"skipped,omitempty"`
}

// OK reports whether the attempt got a 2xx answer.
func (a CallbackAttempt) OK() bool { return a.Status >= 200 && a.Status < 300 }

// TrackingNumber is the simulator's deterministic tracking number for an order at a warehouse:
// "1Z" followed by 16 upper-case hex digits of a hash of both.
func TrackingNumber(warehouse, orderID string) string {
	h := fnv.New64a()
	io.WriteString(h, warehouse+"/"+orderID)
	return fmt.Sprintf("1Z%016X", h.Sum64())
}

// SetCallback replaces the callback settings; they apply to fulfillments accepted afterwards
// and to every callback sent afterwards.
func (w *Warehouse) SetCallback(c CallbackConfig) {
	w.mu.Lock()
	w.callback = c
	w.mu.Unlock()
}

// CallbackSettings returns the current callback settings.
func (w *Warehouse) CallbackSettings() CallbackConfig {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.callback
}

// Callbacks returns every callback attempt, oldest first.
func (w *Warehouse) Callbacks() []CallbackAttempt {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]CallbackAttempt(nil), w.callbackLog...)
}

// TriggerCallback sends fulfillment id's callback now, with retries, and waits for the outcome.
// A pending automatic callback is replaced; a callback already sent is sent again (the same
// tracking number and shipment id), which is how a duplicate report is simulated.
func (w *Warehouse) TriggerCallback(ctx context.Context, id string) error {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return errClosed
	}
	f, ok := w.byID[id]
	if !ok {
		w.mu.Unlock()
		return fmt.Errorf("%w %q", ErrUnknownFulfillment, id)
	}
	w.stopTimerLocked(f)
	w.wg.Add(1)
	w.mu.Unlock()
	defer w.wg.Done()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(w.ctx, cancel)
	defer stop()
	return w.deliver(ctx, id, true)
}

// scheduleCallbackLocked schedules f's automatic callback when callbacks are on.
func (w *Warehouse) scheduleCallbackLocked(f *fulfillment) {
	cb := w.callback
	if w.closed || cb.Disabled || cb.URL == "" {
		f.Callback = CallbackOff
		return
	}
	f.Callback = CallbackPending
	id := f.ID
	w.wg.Add(1)
	f.timer = time.AfterFunc(max(cb.Delay, 0), func() {
		defer w.wg.Done()
		if err := w.deliver(w.ctx, id, false); err != nil {
			w.log.Warn("SIMULATOR warehouse: callback not delivered", "fulfillment_id", id, "error", err.Error())
		}
	})
}

// stopTimerLocked cancels f's pending callback, if any.
func (w *Warehouse) stopTimerLocked(f *fulfillment) {
	if f.timer != nil && f.timer.Stop() {
		w.wg.Done()
		if f.Callback == CallbackPending {
			f.Callback = CallbackOff
		}
	}
	f.timer = nil
}

// deliver sends the callback of fulfillment id with bounded retries.
func (w *Warehouse) deliver(ctx context.Context, id string, manual bool) error {
	w.mu.Lock()
	f, ok := w.byID[id]
	if !ok {
		w.mu.Unlock()
		return fmt.Errorf("%w %q", ErrUnknownFulfillment, id)
	}
	if f.Cancelled {
		f.Callback = CallbackSkipped
		w.callbackLog = append(w.callbackLog, CallbackAttempt{FulfillmentID: id, ExternalOrderID: f.ExternalOrderID,
			At: time.Now(), Manual: manual, Skipped: true})
		w.mu.Unlock()
		w.log.Info("SIMULATOR warehouse: no callback for a cancelled fulfillment", "fulfillment_id", id)
		return fmt.Errorf("%w %q", ErrCancelled, id)
	}
	cb := w.callback
	if cb.URL == "" {
		w.mu.Unlock()
		return ErrNoCallbackURL
	}
	f.Shipped = true
	f.Carrier = orDefault(cb.Carrier, DefaultCarrier)
	f.TrackingURL = strings.ReplaceAll(orDefault(cb.TrackingURL, DefaultTrackingURL), "{tracking}", f.TrackingNumber)
	f.Callback = CallbackSending
	body := CallbackBody{ExternalOrderID: f.ExternalOrderID, TrackingNumber: f.TrackingNumber, Carrier: f.Carrier,
		TrackingURL: f.TrackingURL, FulfillmentID: f.ID, ShipmentID: f.ShipmentID}
	if !cb.OmitItems {
		for _, it := range f.Items {
			body.Items = append(body.Items, CallbackItem{SKU: it.SKU, Quantity: it.Quantity})
		}
	}
	oid := f.ExternalOrderID
	w.mu.Unlock()

	payload, err := json.Marshal(body)
	if err != nil {
		return err
	}
	key := orDefault(cb.Key, w.key)
	attempts := cb.MaxAttempts
	if attempts <= 0 {
		attempts = DefaultCallbackAttempts
	}
	wait := cb.RetryWait
	if wait <= 0 {
		wait = defaultCallbackWait
	}
	var last error
	for n := 1; n <= attempts; n++ {
		a := w.post(ctx, cb, key, payload)
		a.FulfillmentID, a.ExternalOrderID, a.Attempt, a.Manual = id, oid, n, manual
		w.mu.Lock()
		w.callbackLog = append(w.callbackLog, a)
		w.mu.Unlock()
		if a.OK() {
			w.setCallbackState(id, CallbackDelivered)
			w.log.Info("SIMULATOR warehouse: callback delivered", "fulfillment_id", id, "order_id", oid, "attempt", n, "status", a.Status)
			return nil
		}
		if a.Error != "" {
			last = errors.New(a.Error)
		} else {
			last = fmt.Errorf("product answered HTTP %d", a.Status)
		}
		w.log.Info("SIMULATOR warehouse: callback attempt failed", "fulfillment_id", id, "attempt", n, "status", a.Status, "error", a.Error)
		if n == attempts {
			break
		}
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			w.setCallbackState(id, CallbackFailed)
			return fmt.Errorf("callback for %s: %w", id, ctx.Err())
		}
		wait = min(2*wait, maxCallbackWait)
	}
	w.setCallbackState(id, CallbackFailed)
	return fmt.Errorf("callback for %s failed after %d attempts: %w", id, attempts, last)
}

func (w *Warehouse) setCallbackState(id, state string) {
	w.mu.Lock()
	if f, ok := w.byID[id]; ok {
		f.Callback = state
	}
	w.mu.Unlock()
}

// post sends one callback attempt.
func (w *Warehouse) post(ctx context.Context, cb CallbackConfig, key string, payload []byte) CallbackAttempt {
	a := CallbackAttempt{At: time.Now()}
	timeout := cb.Timeout
	if timeout <= 0 {
		timeout = defaultCallbackTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, cb.URL, bytes.NewReader(payload))
	if err != nil {
		a.Error = "build request: " + err.Error()
		return a
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "warehouse-simulator/1")
	req.Header.Set("X-Simulator", "warehouse")
	req.Header.Set("X-Simulator-Warehouse", w.name)
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	hc := cb.HTTPClient
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // the URL may carry a function key (?code=)
		}
		a.Error = err.Error()
		return a
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	a.Status = resp.StatusCode
	a.Response = strings.TrimSpace(truncate(string(b), 200))
	return a
}

func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}
