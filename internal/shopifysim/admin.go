package shopifysim

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
)

// The JSON admin API under /_sim/ lets another process (the demo) drive the simulator. It is
// part of the SIMULATOR only; nothing like it exists in Shopify. It needs no token.
//
//	GET  /_sim/                                   this list
//	POST /_sim/orders                             body: Order (simulator shape) → 201 Order
//	POST /_sim/orders/from-webhook?location=ID    body: a Shopify orders/create webhook → 201 Order
//	                                              (one OPEN fulfillment order at location ID)
//	GET  /_sim/orders/{id}                        → Order with current fulfillment orders
//	POST /_sim/orders/{id}/cancel                 → 204 (its fulfillment orders become CLOSED)
//	POST /_sim/fulfillment-orders/{id}/hold       → 204 (ON_HOLD)
//	POST /_sim/fulfillment-orders/{id}/release    → 204
//	GET  /_sim/fulfillments[?order=ID]            → [Fulfillment]
//	POST /_sim/inventory                          body: [InventoryItem] → 201 [InventoryItem]
//	GET  /_sim/inventory                          → [InventoryItem] with available per location
//	POST /_sim/locations                          body: {"id":"...","name":"..."} → 201
//	GET  /_sim/mutations                          → [Mutation]
//	GET  /_sim/webhooks                           → [WebhookSubscription]
//	POST /_sim/faults                             body: [Fault] → 204
const adminIndex = `SIMULATOR shopify admin API (not part of Shopify)
GET  /_sim/
POST /_sim/orders
POST /_sim/orders/from-webhook?location=ID
GET  /_sim/orders/{id}
POST /_sim/orders/{id}/cancel
POST /_sim/fulfillment-orders/{id}/hold
POST /_sim/fulfillment-orders/{id}/release
GET  /_sim/fulfillments[?order=ID]
POST /_sim/inventory
GET  /_sim/inventory
POST /_sim/locations
GET  /_sim/mutations
GET  /_sim/webhooks
POST /_sim/faults
`

func (s *Server) adminRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /_sim/{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = io.WriteString(w, adminIndex)
	})
	mux.HandleFunc("POST /_sim/orders", func(w http.ResponseWriter, r *http.Request) {
		var o Order
		if !decodeBody(w, r, &o) {
			return
		}
		out, err := s.AddOrder(o)
		if err != nil {
			adminError(w, http.StatusBadRequest, err)
			return
		}
		writeJSON(w, http.StatusCreated, out)
	})
	mux.HandleFunc("POST /_sim/orders/from-webhook", func(w http.ResponseWriter, r *http.Request) {
		loc := r.URL.Query().Get("location")
		if loc == "" {
			adminError(w, http.StatusBadRequest, errString("the location query parameter is required"))
			return
		}
		body, err := io.ReadAll(io.LimitReader(r.Body, 16<<20))
		if err != nil {
			adminError(w, http.StatusBadRequest, err)
			return
		}
		out, err := s.AddOrderFromWebhook(body, loc)
		if err != nil {
			adminError(w, http.StatusBadRequest, err)
			return
		}
		writeJSON(w, http.StatusCreated, out)
	})
	mux.HandleFunc("GET /_sim/orders/{id}", func(w http.ResponseWriter, r *http.Request) {
		o, ok := s.Order(r.PathValue("id"))
		if !ok {
			adminError(w, http.StatusNotFound, errString("order not found"))
			return
		}
		writeJSON(w, http.StatusOK, o)
	})
	mux.HandleFunc("POST /_sim/orders/{id}/cancel", func(w http.ResponseWriter, r *http.Request) {
		noContent(w, s.CancelOrder(r.PathValue("id")))
	})
	mux.HandleFunc("POST /_sim/fulfillment-orders/{id}/hold", func(w http.ResponseWriter, r *http.Request) {
		noContent(w, s.HoldFulfillmentOrder(r.PathValue("id")))
	})
	mux.HandleFunc("POST /_sim/fulfillment-orders/{id}/release", func(w http.ResponseWriter, r *http.Request) {
		noContent(w, s.ReleaseHold(r.PathValue("id")))
	})
	mux.HandleFunc("GET /_sim/fulfillments", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, s.Fulfillments(r.URL.Query().Get("order")))
	})
	mux.HandleFunc("POST /_sim/inventory", func(w http.ResponseWriter, r *http.Request) {
		var items []InventoryItem
		if !decodeBody(w, r, &items) {
			return
		}
		out := make([]InventoryItem, 0, len(items))
		for _, it := range items {
			got, err := s.AddInventoryItem(it)
			if err != nil {
				adminError(w, http.StatusBadRequest, err)
				return
			}
			out = append(out, got)
		}
		writeJSON(w, http.StatusCreated, out)
	})
	mux.HandleFunc("GET /_sim/inventory", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, s.InventoryItems())
	})
	mux.HandleFunc("POST /_sim/locations", func(w http.ResponseWriter, r *http.Request) {
		var l struct{ ID, Name string }
		if !decodeBody(w, r, &l) {
			return
		}
		id, err := s.AddLocation(l.ID, l.Name)
		if err != nil {
			adminError(w, http.StatusBadRequest, err)
			return
		}
		writeJSON(w, http.StatusCreated, map[string]string{"id": id, "name": l.Name})
	})
	mux.HandleFunc("GET /_sim/mutations", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, s.Mutations())
	})
	mux.HandleFunc("GET /_sim/webhooks", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, s.WebhookSubscriptions())
	})
	mux.HandleFunc("POST /_sim/faults", func(w http.ResponseWriter, r *http.Request) {
		var fs []Fault
		if !decodeBody(w, r, &fs) {
			return
		}
		s.InjectFaults(fs...)
		w.WriteHeader(http.StatusNoContent)
	})
}

type errString string

// Error returns the message.
func (e errString) Error() string { return string(e) }

func decodeBody(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(io.LimitReader(r.Body, 16<<20))
	dec.UseNumber()
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		adminError(w, http.StatusBadRequest, err)
		return false
	}
	return true
}

func adminError(w http.ResponseWriter, status int, err error) {
	writeJSON(w, status, map[string]string{"error": "SIMULATOR: " + strings.TrimSpace(err.Error())})
}

func noContent(w http.ResponseWriter, err error) {
	if err != nil {
		status := http.StatusBadRequest
		if strings.Contains(err.Error(), "not found") {
			status = http.StatusNotFound
		}
		adminError(w, status, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
