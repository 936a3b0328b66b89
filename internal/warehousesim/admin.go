package warehousesim

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"time"
)

// serveAdmin serves the /_sim/ admin API (see the package documentation).
func (w *Warehouse) serveAdmin(rw http.ResponseWriter, r *http.Request) {
	if w.adminKey != "" {
		got := []byte(r.Header.Get("Authorization"))
		if subtle.ConstantTimeCompare(got, []byte("Bearer "+w.adminKey)) != 1 {
			writeError(rw, http.StatusUnauthorized, "admin API needs the admin bearer key")
			return
		}
	}
	path := strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/_sim"), "/")
	method := r.Method
	switch {
	case path == "" && method == http.MethodGet:
		writeJSON(rw, http.StatusOK, w.summary())
	case path == "/orders" && method == http.MethodGet:
		writeJSON(rw, http.StatusOK, w.Orders())
	case path == "/requests" && method == http.MethodGet:
		writeJSON(rw, http.StatusOK, w.Requests())
	case path == "/stock" && method == http.MethodGet:
		writeJSON(rw, http.StatusOK, map[string]any{"items": w.sortedStock()})
	case path == "/stock" && method == http.MethodPost:
		w.adminSetStock(rw, r)
	case path == "/faults" && method == http.MethodGet:
		writeJSON(rw, http.StatusOK, w.Faults())
	case path == "/faults" && method == http.MethodPost:
		var f Fault
		if !decodeAdmin(rw, r, &f) {
			return
		}
		if err := w.InjectFault(f); err != nil {
			writeError(rw, http.StatusBadRequest, err.Error())
			return
		}
		writeJSON(rw, http.StatusOK, w.Faults())
	case path == "/faults" && method == http.MethodDelete:
		w.ClearFaults()
		writeJSON(rw, http.StatusOK, []ActiveFault{})
	case path == "/callbacks" && method == http.MethodGet:
		writeJSON(rw, http.StatusOK, w.Callbacks())
	case strings.HasPrefix(path, "/callbacks/") && method == http.MethodPost:
		w.adminTrigger(rw, r, strings.TrimPrefix(path, "/callbacks/"))
	case path == "/callback" && method == http.MethodGet:
		writeJSON(rw, http.StatusOK, callbackView(w.CallbackSettings()))
	case path == "/callback" && (method == http.MethodPut || method == http.MethodPost):
		w.adminSetCallback(rw, r)
	case path == "/reset" && method == http.MethodPost:
		w.Reset()
		writeJSON(rw, http.StatusOK, w.summary())
	default:
		writeError(rw, http.StatusNotFound, "no such admin endpoint (warehouse SIMULATOR); see GET /_sim/")
	}
}

func (w *Warehouse) summary() map[string]any {
	w.mu.Lock()
	defer w.mu.Unlock()
	return map[string]any{
		"simulator": "warehouse",
		"note":      "This is a SIMULATOR, not a real warehouse.",
		"name":      w.name,
		"orders":    len(w.order),
		"requests":  len(w.requests),
		"stockSkus": len(w.stock),
		"faults":    len(w.faults),
		"callbacks": len(w.callbackLog),
		"callback":  callbackView(w.callback),
		"endpoints": []string{"POST /fulfillments", "POST /fulfillments/{id}/cancel", "GET /inventory"},
		"admin": []string{"GET /_sim/orders", "GET /_sim/requests", "GET|POST /_sim/stock", "GET|POST|DELETE /_sim/faults",
			"GET /_sim/callbacks", "POST /_sim/callbacks/{id}", "GET|PUT /_sim/callback", "POST /_sim/reset"},
	}
}

// callbackView shows callback settings without the key.
func callbackView(c CallbackConfig) map[string]any {
	return map[string]any{
		"url":         c.URL,
		"enabled":     !c.Disabled && c.URL != "",
		"keySet":      c.Key != "",
		"delay":       c.Delay.String(),
		"maxAttempts": c.MaxAttempts,
		"retryWait":   c.RetryWait.String(),
		"carrier":     orDefault(c.Carrier, DefaultCarrier),
		"omitItems":   c.OmitItems,
	}
}

func (w *Warehouse) adminSetStock(rw http.ResponseWriter, r *http.Request) {
	var req struct {
		Items   []StockItem `json:"items"`
		Replace bool        `json:"replace"`
	}
	if !decodeAdmin(rw, r, &req) {
		return
	}
	for _, it := range req.Items {
		if it.SKU == "" {
			writeError(rw, http.StatusBadRequest, "every item needs a sku")
			return
		}
	}
	if req.Replace {
		m := make(map[string]int, len(req.Items))
		for _, it := range req.Items {
			m[it.SKU] = it.Quantity
		}
		w.ReplaceStock(m)
	} else {
		for _, it := range req.Items {
			w.SetStock(it.SKU, it.Quantity)
		}
	}
	writeJSON(rw, http.StatusOK, map[string]any{"items": w.sortedStock()})
}

func (w *Warehouse) adminTrigger(rw http.ResponseWriter, r *http.Request, id string) {
	err := w.TriggerCallback(r.Context(), id)
	var mine []CallbackAttempt
	for _, a := range w.Callbacks() {
		if a.FulfillmentID == id {
			mine = append(mine, a)
		}
	}
	switch {
	case err == nil:
		writeJSON(rw, http.StatusOK, map[string]any{"delivered": true, "attempts": mine})
	case errors.Is(err, ErrUnknownFulfillment):
		writeError(rw, http.StatusNotFound, err.Error())
	case errors.Is(err, ErrCancelled):
		writeError(rw, http.StatusConflict, err.Error())
	case errors.Is(err, ErrNoCallbackURL):
		writeError(rw, http.StatusBadRequest, err.Error())
	default:
		writeJSON(rw, http.StatusBadGateway, map[string]any{"delivered": false, "error": err.Error(), "attempts": mine})
	}
}

// callbackPatch changes the given callback settings; durations are Go duration strings.
type callbackPatch struct {
	URL         *string `json:"url"`
	Key         *string `json:"key"`
	Enabled     *bool   `json:"enabled"`
	Delay       *string `json:"delay"`
	MaxAttempts *int    `json:"maxAttempts"`
	RetryWait   *string `json:"retryWait"`
	Carrier     *string `json:"carrier"`
	OmitItems   *bool   `json:"omitItems"`
}

func (w *Warehouse) adminSetCallback(rw http.ResponseWriter, r *http.Request) {
	var p callbackPatch
	if !decodeAdmin(rw, r, &p) {
		return
	}
	w.mu.Lock()
	c := w.callback
	w.mu.Unlock()
	if p.URL != nil {
		c.URL = *p.URL
	}
	if p.Key != nil {
		c.Key = *p.Key
	}
	if p.Enabled != nil {
		c.Disabled = !*p.Enabled
	}
	if p.MaxAttempts != nil {
		c.MaxAttempts = *p.MaxAttempts
	}
	if p.Carrier != nil {
		c.Carrier = *p.Carrier
	}
	if p.OmitItems != nil {
		c.OmitItems = *p.OmitItems
	}
	for _, d := range []struct {
		in  *string
		out *time.Duration
	}{{p.Delay, &c.Delay}, {p.RetryWait, &c.RetryWait}} {
		if d.in == nil {
			continue
		}
		v, err := time.ParseDuration(*d.in)
		if err != nil || v < 0 {
			writeError(rw, http.StatusBadRequest, "invalid duration "+truncate(*d.in, 40))
			return
		}
		*d.out = v
	}
	w.SetCallback(c)
	writeJSON(rw, http.StatusOK, callbackView(c))
}

// decodeAdmin decodes a small JSON admin body, answering 400 on failure.
func decodeAdmin(rw http.ResponseWriter, r *http.Request, v any) bool {
	b, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		writeError(rw, http.StatusBadRequest, "read body: "+err.Error())
		return false
	}
	if err := json.Unmarshal(b, v); err != nil {
		writeError(rw, http.StatusBadRequest, "invalid JSON: "+err.Error())
		return false
	}
	return true
}
