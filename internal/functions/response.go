package functions

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strings"
)

// Response is the reply to an invocation (§2, §6):
// {"Outputs":{...},"Logs":["..."],"ReturnValue":...}.
//
// Outputs maps output-binding name → value. For the http output ("res") use HTTPResponse. For
// other bindings prefer JSON text: the host tries base64-decoding every string output value of a
// binding without dataType "binary", so a string that happens to be valid base64 ("test",
// "abcd1234") would be sent as the decoded bytes (§6). ReturnValue is the value of an output
// named "$return"; give an object, not a string (the same base64 trap applies).
//
// Logs are written by the host as Information logs of the invocation, but only when the reply is
// 2xx: on failure they are lost (use WriteFailure).
type Response struct {
	Outputs     map[string]any `json:"Outputs"`
	Logs        []string       `json:"Logs"`
	ReturnValue any            `json:"ReturnValue"`
}

// HTTPResponse is the value of an http output binding (Outputs.res) in non-forwarding mode (§2).
// The host copies StatusCode, Headers and Body to the HTTP caller. Header values must be plain
// strings; Body is text (a binary body cannot be expressed in this mode).
type HTTPResponse struct {
	StatusCode int               `json:"statusCode"`
	Headers    map[string]string `json:"headers"`
	Body       string            `json:"body"`
}

// NewHTTPResponse builds an HTTPResponse from Go values. Multiple values of one header are
// joined with ", " (the protocol has no way to send a header twice, so only one Set-Cookie can
// be expressed). Content-Length and hop-by-hop headers are dropped: the host sets its own.
func NewHTTPResponse(status int, header http.Header, body []byte) HTTPResponse {
	out := HTTPResponse{StatusCode: status, Headers: map[string]string{}, Body: string(body)}
	for name, values := range header {
		switch http.CanonicalHeaderKey(name) {
		case "Content-Length", "Transfer-Encoding", "Connection", "Keep-Alive", "Trailer", "Upgrade":
			continue
		}
		out.Headers[name] = strings.Join(values, ", ")
	}
	return out
}

// normalized returns r with nil Outputs/Logs replaced by empty ones, so the JSON never carries
// null where the host expects an object or an array.
func (r Response) normalized() Response {
	if r.Outputs == nil {
		r.Outputs = map[string]any{}
	}
	if r.Logs == nil {
		r.Logs = []string{}
	}
	return r
}

// MarshalJSON encodes the response with Outputs always an object and Logs always an array.
func (r Response) MarshalJSON() ([]byte, error) {
	type plain Response // no MarshalJSON method: avoids recursion
	return json.Marshal(plain(r.normalized()))
}

// WriteResponse writes a successful invocation reply: status 200, Content-Type:
// application/json, and the encoded Response (never empty, never null, Logs always an array of
// strings). If resp cannot be encoded, it writes a failure (500) instead and returns the error.
func WriteResponse(w http.ResponseWriter, resp Response) error {
	body, err := json.Marshal(resp)
	if err != nil {
		err = fmt.Errorf("encode invocation response: %w", err)
		writeFailureBody(w, http.StatusInternalServerError)
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, err = w.Write(body)
	return err
}

// stdoutLogger is used by WriteFailure when no logger is given: the host turns stdout lines into
// Information logs (category Host.Function.Console) and stderr lines into errors (§1).
var stdoutLogger = slog.New(slog.NewJSONHandler(os.Stdout, nil))

// WriteFailure fails the invocation: it writes status (a non-2xx; 0 or a 2xx become 500) with a
// small JSON body the host discards, and logs err, the invocation id and the lines that would
// have gone to Logs through logger (nil means a JSON logger on stdout). Use it when the host must
// abandon and redeliver (Service Bus) or answer 500 (HTTP); the host throws Logs away on failure.
// err is logged, never written to the body.
func WriteFailure(w http.ResponseWriter, r *http.Request, logger *slog.Logger, status int, err error, logs []string) {
	if status < 300 {
		status = http.StatusInternalServerError
	}
	if logger == nil {
		logger = stdoutLogger
	}
	attrs := []any{
		slog.Int("status", status),
		slog.String("invocation_id", InvocationID(r)),
		slog.String("function", strings.TrimPrefix(r.URL.Path, "/")),
	}
	if err != nil {
		attrs = append(attrs, slog.String("error", err.Error()))
	}
	if len(logs) > 0 {
		attrs = append(attrs, slog.Any("logs", logs))
	}
	logger.ErrorContext(r.Context(), "functions invocation failed", attrs...)
	writeFailureBody(w, status)
}

func writeFailureBody(w http.ResponseWriter, status int) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	fmt.Fprintf(w, `{"error":%q}`, http.StatusText(status))
}
