package functions

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
)

// ServiceBusFunc processes one Service Bus delivery. Returning nil completes the message
// (WriteResponse with the returned Response); returning an error abandons it: the host
// redelivers it at once with DeliveryCount+1 and dead-letters it when the queue's
// maxDeliveryCount is reached (§4). Return an error only when redelivery is wanted.
type ServiceBusFunc func(ctx context.Context, msg ServiceBusMessage) (Response, error)

// ServiceBusHandler serves POST /<FunctionName> for a Service Bus trigger: it reads the
// invocation, decodes Data.<binding> with mode (use ModeBinary with "dataType": "binary") and
// the Metadata, and calls fn. An undecodable invocation or a fn error is a failure (503, logged
// to stdout through logger, nil = JSON on stdout). A Metadata field that cannot be decoded is
// logged as a warning and left zero; the body is still processed.
func ServiceBusHandler(binding string, mode BodyMode, fn ServiceBusFunc, logger *slog.Logger) http.Handler {
	if logger == nil {
		logger = stdoutLogger
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		inv, err := ReadInvocation(r, 0)
		if err != nil {
			WriteFailure(w, r, logger, http.StatusBadRequest, err, nil)
			return
		}
		msg, err := inv.ServiceBusMessage(binding, mode)
		if err != nil && msg.Body == nil {
			WriteFailure(w, r, logger, http.StatusBadRequest, fmt.Errorf("decode service bus message: %w", err), nil)
			return
		}
		if err != nil {
			logger.WarnContext(r.Context(), "functions: service bus metadata partly undecodable",
				slog.String("invocation_id", InvocationID(r)), slog.String("error", err.Error()))
		}
		resp, err := fn(r.Context(), msg)
		if err != nil {
			WriteFailure(w, r, logger, http.StatusServiceUnavailable, err, resp.Logs)
			return
		}
		_ = WriteResponse(w, resp)
	})
}

// TimerFunc processes one timer occurrence. inv gives access to the rest of the invocation
// (RetryContext, Sys). A returned error fails the execution: the host logs it and, only when a
// retry policy is configured, retries (§5); the schedule continues either way.
type TimerFunc func(ctx context.Context, info TimerInfo, inv *Invocation) (Response, error)

// TimerHandler serves POST /<FunctionName> for a timer trigger.
func TimerHandler(binding string, fn TimerFunc, logger *slog.Logger) http.Handler {
	if logger == nil {
		logger = stdoutLogger
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		inv, err := ReadInvocation(r, 0)
		if err != nil {
			WriteFailure(w, r, logger, http.StatusBadRequest, err, nil)
			return
		}
		info, err := inv.TimerInfo(binding)
		if err != nil {
			WriteFailure(w, r, logger, http.StatusBadRequest, fmt.Errorf("decode timer info: %w", err), nil)
			return
		}
		resp, err := fn(r.Context(), info, inv)
		if err != nil {
			WriteFailure(w, r, logger, http.StatusInternalServerError, err, resp.Logs)
			return
		}
		_ = WriteResponse(w, resp)
	})
}
