package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/shipwell/orderflow/internal/order"
	"github.com/shipwell/orderflow/internal/orderflow"
)

// maxCallbackBytes bounds a warehouse callback body.
const maxCallbackBytes = 1 << 20

func (s *Server) callback(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxCallbackBytes)
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(r.Body); err != nil {
		writeJSON(w, http.StatusRequestEntityTooLarge, errorBody("callback body too large or unreadable"))
		return
	}
	ctx, cancel := s.withDeadline(r)
	defer cancel()
	rep := s.Callback(ctx, bearer(r), buf.Bytes(), invocationID(r))
	writeReply(w, rep)
}

// Callback authenticates a warehouse by its bearer key and records the shipment it reports.
func (s *Server) Callback(ctx context.Context, key string, body []byte, invocation string) Reply {
	log := s.Log.With("function", "fulfillment-callback")
	if invocation != "" {
		log = log.With("invocation_id", invocation)
	}
	wh, err := s.Service.WarehouseForKey(key)
	if err != nil {
		log.Warn("callback rejected: no warehouse key matches")
		return Reply{http.StatusUnauthorized, errorBody("unknown or missing warehouse key (Authorization: Bearer <key>)")}
	}
	release, ok := s.work(ctx)
	if !ok {
		return Reply{http.StatusServiceUnavailable, errorBody("overloaded, retry later")}
	}
	defer release()
	cb, err := DecodeCallback(body)
	if err != nil {
		log.Warn("callback rejected: bad body", "warehouse", wh, "error", err)
		return Reply{http.StatusBadRequest, errorBody(err.Error())}
	}
	res, err := s.Service.HandleCallback(ctx, wh, cb)
	switch {
	case err == nil:
		return Reply{http.StatusOK, res}
	case errors.Is(err, orderflow.ErrBadCallback):
		return Reply{http.StatusBadRequest, errorBody(err.Error())}
	case errors.Is(err, orderflow.ErrUnknownOrder):
		log.Warn("callback for an unknown order", "warehouse", wh, "order_id", cb.ExternalOrderID)
		return Reply{http.StatusNotFound, errorBody(err.Error())}
	case errors.Is(err, orderflow.ErrWrongWarehouse):
		log.Warn("callback from the wrong warehouse", "warehouse", wh, "order_id", cb.ExternalOrderID)
		return Reply{http.StatusForbidden, errorBody(err.Error())}
	default:
		log.Error("callback not recorded", "warehouse", wh, "order_id", cb.ExternalOrderID, "error", err)
		return Reply{http.StatusServiceUnavailable, errorBody("temporarily unable to record the shipment; retry")}
	}
}

// DecodeCallback decodes a callback body (DESIGN.md §5.3). Ids may be strings or numbers; a
// number is kept as its exact text.
func DecodeCallback(body []byte) (orderflow.Callback, error) {
	var p struct {
		ExternalOrderID json.RawMessage `json:"externalOrderId"`
		TrackingNumber  json.RawMessage `json:"trackingNumber"`
		Carrier         json.RawMessage `json:"carrier"`
		TrackingURL     json.RawMessage `json:"trackingUrl"`
		FulfillmentID   json.RawMessage `json:"fulfillmentId"`
		ShipmentID      json.RawMessage `json:"shipmentId"`
		Items           *[]struct {
			SKU      json.RawMessage `json:"sku"`
			Quantity json.Number     `json:"quantity"`
		} `json:"items"`
	}
	d := json.NewDecoder(bytes.NewReader(body))
	d.UseNumber()
	if err := d.Decode(&p); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return orderflow.Callback{}, fmt.Errorf("callback body: field %q has the wrong type (want a JSON object with string ids)", te.Field)
		}
		return orderflow.Callback{}, fmt.Errorf("callback body is not valid JSON: %v", err)
	}
	if d.More() {
		return orderflow.Callback{}, errors.New("callback body has data after the JSON object")
	}
	var errs []error
	str := func(field string, raw json.RawMessage) string {
		v, err := scalar(raw)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %v", field, err))
		}
		return v
	}
	cb := orderflow.Callback{
		ExternalOrderID: str("externalOrderId", p.ExternalOrderID),
		TrackingNumber:  str("trackingNumber", p.TrackingNumber),
		Carrier:         str("carrier", p.Carrier),
		TrackingURL:     str("trackingUrl", p.TrackingURL),
		FulfillmentID:   str("fulfillmentId", p.FulfillmentID),
		ShipmentID:      str("shipmentId", p.ShipmentID),
	}
	if p.Items != nil {
		cb.Items = []order.ShipmentItem{}
		for i, it := range *p.Items {
			q, err := it.Quantity.Int64()
			if err != nil || q <= 0 || q > 1_000_000 {
				errs = append(errs, fmt.Errorf("items[%d].quantity must be a positive integer", i))
				continue
			}
			cb.Items = append(cb.Items, order.ShipmentItem{SKU: str(fmt.Sprintf("items[%d].sku", i), it.SKU), Quantity: int(q)})
		}
	}
	return cb, errors.Join(errs...)
}

// scalar returns a JSON string's value or a number's exact text; null and absent are "".
func scalar(raw json.RawMessage) (string, error) {
	t := strings.TrimSpace(string(raw))
	switch {
	case t == "" || t == "null":
		return "", nil
	case t[0] == '"':
		var s string
		err := json.Unmarshal(raw, &s)
		return s, err
	case t[0] == '{' || t[0] == '[' || t == "true" || t == "false":
		return "", errors.New("want a string")
	default:
		return t, nil
	}
}
