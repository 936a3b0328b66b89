package functions

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"unicode/utf8"
)

// EnvelopeOptions configures HTTPEnvelopeHandler.
type EnvelopeOptions struct {
	// Trigger is the httpTrigger binding name in function.json ("" = "req", or the only Data
	// entry when there is no "req").
	Trigger string
	// Output is the http output binding name (default "res"). "$return" puts the response in
	// ReturnValue instead of Outputs.
	Output string
	// MaxInvocationBytes bounds the invocation body (<= 0: DefaultMaxInvocationBytes).
	MaxInvocationBytes int64
	// Logger receives failures and warnings (nil: JSON on stdout).
	Logger *slog.Logger
}

// EnvelopeInfo describes the non-forwarded invocation a request was rebuilt from. Handlers find
// it with EnvelopeFromContext; it is absent for forwarded and standalone requests, whose bodies
// are always byte-exact.
type EnvelopeInfo struct {
	// InvocationID is the host's invocation id.
	InvocationID string
	// BodyEncoding says how the host sent the body.
	BodyEncoding BodyEncoding
	// BodyExact is false when the body was rebuilt from text and may differ from the bytes the
	// caller sent (see HTTPRequest).
	BodyExact bool
	// ContentLengthMismatch: the rebuilt text body is known to differ from the original.
	ContentLengthMismatch bool
	// Params holds the route parameters.
	Params map[string]string
	// Identities holds Data.req.Identities as sent.
	Identities []json.RawMessage
}

type envelopeKey struct{}

// EnvelopeFromContext returns the EnvelopeInfo of a request rebuilt by HTTPEnvelopeHandler.
func EnvelopeFromContext(ctx context.Context) (EnvelopeInfo, bool) {
	info, ok := ctx.Value(envelopeKey{}).(EnvelopeInfo)
	return info, ok
}

// HTTPEnvelopeHandler adapts next, an ordinary handler for the public routes (/api/<route>), to
// the non-forwarded HTTP invocation (§2). Mount it at POST /<FunctionName> for each HTTP
// function. It decodes Data.<Trigger>, rebuilds the caller's request (method, the path and query
// of Data.req.Url, headers, body; the host's invocation id header is set from the outer request),
// serves it with next, and replies 200 with Outputs.<Output> = {statusCode, headers, body}.
//
// A status written by next, including 4xx/5xx, goes to the caller through Outputs.res; only an
// undecodable invocation fails it (400, which the host turns into 500 for the caller). Limits of
// this mode: the body next sees may not be byte-exact (see HTTPRequest and EnvelopeInfo), and a
// response body that is not valid UTF-8 cannot be expressed (invalid bytes become U+FFFD; a
// warning is logged).
func HTTPEnvelopeHandler(next http.Handler, opts EnvelopeOptions) http.Handler {
	logger := opts.Logger
	if logger == nil {
		logger = stdoutLogger
	}
	output := opts.Output
	if output == "" {
		output = "res"
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, nested := EnvelopeFromContext(r.Context()); nested {
			WriteFailure(w, r, logger, http.StatusInternalServerError,
				errors.New("envelope handler reached again from a rebuilt request (route loop)"), nil)
			return
		}
		inv, err := ReadInvocation(r, opts.MaxInvocationBytes)
		if err != nil {
			WriteFailure(w, r, logger, http.StatusBadRequest, err, nil)
			return
		}
		raw, err := triggerValue(inv, opts.Trigger)
		if err != nil {
			WriteFailure(w, r, logger, http.StatusBadRequest, err, nil)
			return
		}
		hreq, err := DecodeHTTPRequest(raw)
		if err != nil {
			WriteFailure(w, r, logger, http.StatusBadRequest, err, nil)
			return
		}
		info := EnvelopeInfo{
			InvocationID:          InvocationID(r),
			BodyEncoding:          hreq.BodyEncoding,
			BodyExact:             hreq.BodyExact,
			ContentLengthMismatch: hreq.ContentLengthMismatch,
			Params:                hreq.Params,
			Identities:            hreq.Identities,
		}
		inner, err := hreq.NewRequest(context.WithValue(r.Context(), envelopeKey{}, info))
		if err != nil {
			WriteFailure(w, r, logger, http.StatusBadRequest, err, nil)
			return
		}
		inner.RemoteAddr = r.RemoteAddr
		if info.InvocationID != "" {
			inner.Header.Set(InvocationIDHeader, info.InvocationID)
		}
		rec := newRecorder()
		next.ServeHTTP(rec, inner)
		if !utf8.Valid(rec.body.Bytes()) {
			logger.WarnContext(r.Context(), "functions: response body is not valid UTF-8; the non-forwarded protocol cannot carry it exactly",
				slog.String("invocation_id", info.InvocationID))
		}
		res := NewHTTPResponse(rec.status(), rec.header, rec.body.Bytes())
		resp := Response{Outputs: map[string]any{}}
		if output == "$return" {
			resp.ReturnValue = res
		} else {
			resp.Outputs[output] = res
		}
		if err := WriteResponse(w, resp); err != nil {
			logger.ErrorContext(r.Context(), "functions: write invocation response", slog.String("error", err.Error()),
				slog.String("invocation_id", info.InvocationID))
		}
	})
}

// triggerValue finds the HTTP trigger's Data entry: the named one, else "req", else the only one.
func triggerValue(inv *Invocation, name string) (json.RawMessage, error) {
	if name != "" {
		return inv.Binding(name)
	}
	if v, err := inv.Binding("req"); err == nil {
		return v, nil
	}
	v, err := inv.Binding("")
	if err != nil {
		return nil, fmt.Errorf("find http trigger: %w", err)
	}
	return v, nil
}

// recorder is a minimal in-memory http.ResponseWriter.
type recorder struct {
	header      http.Header
	body        bytes.Buffer
	code        int
	wroteHeader bool
}

func newRecorder() *recorder { return &recorder{header: http.Header{}} }

func (rec *recorder) Header() http.Header { return rec.header }

func (rec *recorder) WriteHeader(code int) {
	if rec.wroteHeader || code < 100 || code > 999 {
		return
	}
	if code >= 200 { // 1xx informational responses are not final
		rec.code, rec.wroteHeader = code, true
	}
}

func (rec *recorder) Write(p []byte) (int, error) {
	if !rec.wroteHeader {
		rec.WriteHeader(http.StatusOK)
	}
	if rec.header.Get("Content-Type") == "" && rec.body.Len() == 0 && len(p) > 0 {
		// Do what net/http does for a real response: sniff a Content-Type.
		rec.header.Set("Content-Type", http.DetectContentType(p))
	}
	return rec.body.Write(p)
}

// Flush is a no-op: the whole body is sent at once in this mode.
func (rec *recorder) Flush() {}

func (rec *recorder) status() int {
	if !rec.wroteHeader {
		return http.StatusOK
	}
	return rec.code
}
