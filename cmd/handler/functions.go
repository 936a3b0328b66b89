package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/shipwell/orderflow/internal/functions"
	"github.com/shipwell/orderflow/internal/httpapi"
	"github.com/shipwell/orderflow/internal/inventory"
	"github.com/shipwell/orderflow/internal/order"
	"github.com/shipwell/orderflow/internal/servicebus"
)

// functionRoutes adds the Functions host's invocation routes, POST /<function> (reference
// §2, §4, §5). The HTTP functions normally arrive forwarded at /api/<function>; their envelope
// routes serve a host configured without forwarding.
func functionRoutes(a *app, srv *httpapi.Server, api func() http.Handler) func(chi.Router) {
	log := a.log
	return func(r chi.Router) {
		r.Method(http.MethodPost, "/fulfillment-router",
			functions.ServiceBusHandler("message", functions.ModeBinary, routerFunc(a, log), log))
		r.Method(http.MethodPost, "/inventory-sync", functions.TimerHandler("timer", syncFunc(a, log), log))
		envelope := functions.HTTPEnvelopeHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			api().ServeHTTP(w, r)
		}), functions.EnvelopeOptions{Trigger: "req", Output: "res", Logger: log})
		for name := range httpapi.WebhookRoutes {
			r.Method(http.MethodPost, "/"+name, envelope)
		}
		r.Method(http.MethodPost, "/fulfillment-callback", envelope)
	}
}

// routerFunc is fulfillment-router: one Service Bus message is one job. A warehouse outage does
// not burn the message's delivery count: the retry is a new scheduled message with a backoff,
// and this delivery completes. Only a failure to schedule that retry (or to read the store)
// answers non-2xx, so the host abandons the message and Service Bus redelivers it.
func routerFunc(a *app, log *slog.Logger) functions.ServiceBusFunc {
	return func(ctx context.Context, msg functions.ServiceBusMessage) (functions.Response, error) {
		md := msg.Metadata
		job, err := servicebus.DecodeJob(msg.Body)
		if err != nil {
			// A message that can never be processed: keep it for the operator and complete it.
			_, rerr := a.store.RecordReceipt(ctx, order.Receipt{Shop: "service-bus", WebhookID: "message-" + md.MessageID,
				Topic: "fulfillment-queue", Kind: order.ReceiptQuarantine, Reason: err.Error(), Body: msg.Body})
			if rerr != nil {
				return functions.Response{}, fmt.Errorf("quarantine message %s: %w", md.MessageID, rerr)
			}
			log.Error("fulfillment-router: invalid message quarantined", "message_id", md.MessageID, "error", err)
			return functions.Response{Logs: []string{"invalid message quarantined: " + err.Error()}}, nil
		}
		out := a.service.Process(ctx, job)
		line := fmt.Sprintf("job %s (delivery %d, attempt %d): %s: %s", job.ID, md.DeliveryCount, job.Attempt+1, out.Kind, out.Reason)
		if out.Kind != order.OutcomeRetry {
			return functions.Response{Logs: []string{line}}, nil
		}
		next := servicebus.RetryJob(job)
		if err := a.queue.Schedule(ctx, next, time.Now().Add(out.After)); err != nil {
			return functions.Response{Logs: []string{line}}, fmt.Errorf("schedule retry of %s: %w", job.ID, err)
		}
		return functions.Response{Logs: []string{line, fmt.Sprintf("retry scheduled as %s in %s", next.ID, out.After.Round(time.Millisecond))}}, nil
	}
}

// syncFunc is inventory-sync (timer). Overlapping runs are refused by the lease; the last
// successful run is recorded by the syncer. It also re-sends any jobs a crash left in an
// order's outbox.
func syncFunc(a *app, log *slog.Logger) functions.TimerFunc {
	return func(ctx context.Context, info functions.TimerInfo, inv *functions.Invocation) (functions.Response, error) {
		attrs := []any{"past_due", info.IsPastDue}
		if st := info.ScheduleStatus; st != nil {
			attrs = append(attrs, "schedule_last", st.Last, "schedule_next", st.Next)
		}
		log.Info("inventory-sync invoked", attrs...)
		var logs []string
		if info.IsPastDue {
			logs = append(logs, "timer is past due")
		}
		if n, err := a.service.SweepOutbox(ctx); err != nil {
			log.Warn("outbox sweep", "error", err)
		} else if n > 0 {
			logs = append(logs, fmt.Sprintf("re-sent %d queued job(s) left in order outboxes", n))
		}
		if a.syncer.Catalog == nil {
			return functions.Response{Logs: logs}, errors.New("inventory sync: Shopify is not configured (SHOPIFY_STORE_URL, SHOPIFY_ACCESS_TOKEN)")
		}
		rep, err := a.syncer.Run(ctx, "timer", info.IsPastDue) // a concurrent run is refused by the lease
		if errors.Is(err, inventory.ErrRunning) {
			return functions.Response{Logs: append(logs, "skipped: another inventory sync is running")}, nil
		}
		for _, w := range rep.Warehouses {
			logs = append(logs, fmt.Sprintf("%s: %d updated, %d unchanged, %d unknown, %d ambiguous, %d errors",
				w.Name, w.Updated, w.Unchanged, len(w.Unknown), len(w.Ambiguous), len(w.Errors)))
		}
		if err != nil {
			return functions.Response{Logs: logs}, err
		}
		return functions.Response{Logs: logs}, nil
	}
}
