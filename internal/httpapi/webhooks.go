package httpapi

import (
	"context"
	"errors"
	"net/http"

	"github.com/shipwell/orderflow/internal/order"
	"github.com/shipwell/orderflow/internal/orderflow"
	"github.com/shipwell/orderflow/internal/webhook"
)

// Reply is an HTTP answer: a status and a JSON body. The Functions envelope path turns it into
// Outputs.res; the forwarded path writes it directly.
type Reply struct {
	Status int
	Body   any
}

// writeReply writes a Reply; a 503 says when to retry.
func writeReply(w http.ResponseWriter, rep Reply) {
	if rep.Status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "1")
	}
	writeJSON(w, rep.Status, rep.Body)
}

func (s *Server) webhookHandler(name, topic string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		body, ok := s.readBody(w, r)
		if !ok {
			return
		}
		ctx, cancel := s.withDeadline(r)
		defer cancel()
		rep := s.Webhook(ctx, name, topic, r.Header, body, invocationID(r))
		writeReply(w, rep)
	}
}

// Webhook verifies and takes in one delivery whose raw body is body. It answers 401 for a
// missing or wrong signature (recording nothing), 403 for another shop, 200 when the delivery is
// durably recorded (including duplicates and quarantined payloads), and 503 when it could not be
// recorded, so that Shopify retries.
func (s *Server) Webhook(ctx context.Context, function, routeTopic string, h http.Header, body []byte, invocation string) Reply {
	hd := webhook.ParseHeaders(h)
	log := s.Log.With("function", function, "webhook_id", hd.WebhookID, "topic", hd.Topic, "shop", hd.ShopDomain)
	if invocation != "" {
		log = log.With("invocation_id", invocation)
	}
	if len(hd.Conflicts) > 0 {
		log.Warn("both Shopify header families present with different values; the shopify-* ones are used", "headers", hd.Conflicts)
	}
	if hd.HMAC == "" {
		log.Warn("webhook rejected: no HMAC header")
		return Reply{http.StatusUnauthorized, errorBody("missing X-Shopify-Hmac-Sha256")}
	}
	if !s.Verifier.Verify(body, hd.HMAC) {
		log.Warn("webhook rejected: HMAC does not match the body", "bytes", len(body))
		return Reply{http.StatusUnauthorized, errorBody("invalid webhook signature")}
	}
	topic := hd.Topic
	switch {
	case topic == "":
		topic = routeTopic
	case topic != routeTopic:
		log.Warn("topic header differs from the route's topic; the header is used", "route_topic", routeTopic)
	}
	if hd.APIVersion == "" {
		log.Debug("no API version header")
	}
	release, ok := s.work(ctx)
	if !ok {
		log.Warn("webhook shed: overloaded; Shopify will retry")
		return Reply{http.StatusServiceUnavailable, errorBody("overloaded, retry later")}
	}
	defer release()
	d := order.Delivery{Topic: topic, Shop: hd.ShopDomain, WebhookID: hd.WebhookID, EventID: hd.EventID,
		APIVersion: hd.APIVersion, TriggeredAt: hd.TriggeredAt}
	res, err := s.Service.Intake(ctx, d, body)
	switch {
	case errors.Is(err, orderflow.ErrForeignShop):
		log.Warn("webhook refused: shop not served here")
		return Reply{http.StatusForbidden, errorBody("this deployment does not serve shop " + hd.ShopDomain)}
	case err != nil:
		log.Error("webhook not recorded; Shopify will retry", "error", err)
		return Reply{http.StatusServiceUnavailable, errorBody("temporarily unable to record the webhook")}
	}
	return Reply{http.StatusOK, res}
}
