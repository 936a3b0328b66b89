package hostsim

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
)

// Invocation kinds.
const (
	KindHTTPForward = "http-forward" // §3: the raw request forwarded to /api/<route>
	KindHTTP        = "http"         // §2: the invocation envelope of an HTTP trigger
	KindServiceBus  = "servicebus"   // §4
	KindTimer       = "timer"        // §5
)

// maxReplyBytes bounds a handler reply the simulator reads.
const maxReplyBytes = 256 << 20

// Invocation is one request the simulator sent to the handler and what came back.
type Invocation struct {
	// Kind is one of the Kind* constants.
	Kind string
	// Function is the function name.
	Function string
	// ID is the X-Azure-Functions-InvocationId sent.
	ID string
	// Method, Path and RawQuery are the request line sent to the handler.
	Method   string
	Path     string
	RawQuery string
	// RequestHeader and RequestBody are what was sent (the envelope for non-forwarded kinds).
	RequestHeader http.Header
	RequestBody   []byte
	// StatusCode, Header and Body are the handler's reply (zero when the request failed).
	StatusCode int
	Header     http.Header
	Body       []byte
	// Reply is the validated reply of an envelope invocation (nil for forwarding or failure).
	Reply *Reply
	// Err is nil when the invocation succeeded as the host judges it: for envelopes a 2xx with
	// a valid reply; for forwarding any HTTP response. Otherwise a transport error or a
	// *ReplyError.
	Err error
}

// Succeeded reports whether the host would record the invocation as successful.
func (i *Invocation) Succeeded() bool { return i != nil && i.Err == nil }

// Envelope decodes RequestBody as an invocation envelope (Data and Metadata).
func (i *Invocation) Envelope() (map[string]json.RawMessage, map[string]json.RawMessage, error) {
	var env struct {
		Data     map[string]json.RawMessage
		Metadata map[string]json.RawMessage
	}
	if err := json.Unmarshal(i.RequestBody, &env); err != nil {
		return nil, nil, fmt.Errorf("decode envelope: %w", err)
	}
	return env.Data, env.Metadata, nil
}

// Reply is a handler's invocation reply that passed validation.
type Reply struct {
	// Outputs maps output-binding name → raw value.
	Outputs map[string]json.RawMessage
	// Logs are the log lines the host would write for the invocation.
	Logs []string
	// ReturnValue is the raw ReturnValue (JSON null when absent).
	ReturnValue json.RawMessage
}

// Output returns an output value by binding name, case-insensitively like Newtonsoft.
func (r *Reply) Output(name string) (json.RawMessage, bool) {
	if r == nil {
		return nil, false
	}
	if v, ok := r.Outputs[name]; ok {
		return v, true
	}
	for k, v := range r.Outputs {
		if strings.EqualFold(k, name) {
			return v, true
		}
	}
	return nil, false
}

// HostOutputValue returns the bytes the host would hand to an output binding for raw (§6): a
// JSON string that is valid base64 is replaced by the decoded bytes (trapped = true; this is the
// host's Convert.FromBase64String attempt on every string output), another string is its UTF-8
// text, and a non-string value is its JSON text.
func HostOutputValue(raw json.RawMessage) (value []byte, trapped bool) {
	raw = bytes.TrimSpace(raw)
	var s string
	if len(raw) == 0 || raw[0] != '"' || json.Unmarshal(raw, &s) != nil {
		return raw, false
	}
	compact := strings.Map(func(r rune) rune {
		if r == ' ' || r == '\t' || r == '\r' || r == '\n' {
			return -1
		}
		return r
	}, s)
	if b, err := base64.StdEncoding.DecodeString(compact); err == nil {
		return b, true
	}
	return []byte(s), false
}

// ReplyError is a reply the host would reject: the invocation fails.
type ReplyError struct {
	// Status is the handler's HTTP status.
	Status int
	// Reason says what is wrong.
	Reason string
}

func (e *ReplyError) Error() string {
	return fmt.Sprintf("invocation reply rejected (status %d): %s", e.Status, e.Reason)
}

// ValidateReply applies the host's rules to an invocation reply (§6, §8):
//   - the status must be 2xx (otherwise the invocation failed and the body is not read);
//   - Content-Type must be application/json or text/json;
//   - the body must not be empty or JSON null, and must be a JSON object;
//   - Logs, if present, must be an array of strings; Outputs, if present, an object.
//
// Stricter than the host: "Logs": null and "Outputs": null are rejected (the host tolerates
// them; the product's contract is to always send [] and {}).
func ValidateReply(status int, header http.Header, body []byte) (*Reply, error) {
	if status < 200 || status > 299 {
		return nil, &ReplyError{Status: status, Reason: "non-2xx status: the invocation failed"}
	}
	ct := header.Get("Content-Type")
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil || (mt != "application/json" && mt != "text/json") {
		return nil, &ReplyError{Status: status, Reason: fmt.Sprintf("Content-Type %q is not application/json or text/json", ct)}
	}
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 {
		return nil, &ReplyError{Status: status, Reason: "empty body (the host would hang until functionTimeout)"}
	}
	if string(trimmed) == "null" {
		return nil, &ReplyError{Status: status, Reason: "body is JSON null (the host would hang until functionTimeout)"}
	}
	if trimmed[0] != '{' {
		return nil, &ReplyError{Status: status, Reason: "body is not a JSON object"}
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(trimmed, &top); err != nil {
		return nil, &ReplyError{Status: status, Reason: "body is not valid JSON: " + err.Error()}
	}
	reply := &Reply{Outputs: map[string]json.RawMessage{}, ReturnValue: json.RawMessage("null")}
	for key, v := range top {
		v = bytes.TrimSpace(v)
		switch strings.ToLower(key) {
		case "logs":
			var items []json.RawMessage
			if string(v) == "null" || len(v) == 0 || v[0] != '[' || json.Unmarshal(v, &items) != nil {
				return nil, &ReplyError{Status: status, Reason: fmt.Sprintf("Logs is %.60s, not an array of strings", v)}
			}
			for _, item := range items {
				var s string
				if t := bytes.TrimSpace(item); len(t) == 0 || t[0] != '"' || json.Unmarshal(t, &s) != nil {
					return nil, &ReplyError{Status: status, Reason: fmt.Sprintf("Logs entry %.60s is not a string", item)}
				}
				reply.Logs = append(reply.Logs, s)
			}
		case "outputs":
			if len(v) == 0 || v[0] != '{' || json.Unmarshal(v, &reply.Outputs) != nil {
				return nil, &ReplyError{Status: status, Reason: fmt.Sprintf("Outputs is %.60s, not an object", v)}
			}
		case "returnvalue":
			reply.ReturnValue = append(json.RawMessage(nil), v...)
		}
	}
	return reply, nil
}

// bodyReader hides the body's length so net/http sends it chunked, as the host probably does
// (§2 [infer]: an ObjectContent without a precomputed length).
type bodyReader struct{ r io.Reader }

func (b *bodyReader) Read(p []byte) (int, error) { return b.r.Read(p) }

// invoke POSTs an invocation envelope to /<function> with the host's transport headers
// (fixtures/functions/transport.json), reads and validates the reply, and records it.
func (s *Sim) invoke(kind, function string, envelope []byte) *Invocation {
	inv := &Invocation{Kind: kind, Function: function, ID: newGUID(), Method: http.MethodPost, Path: "/" + function, RequestBody: envelope}
	defer s.record(inv)
	ctx, cancel := s.ctx()
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.base+inv.Path, &bodyReader{bytes.NewReader(envelope)})
	if err != nil {
		inv.Err = fmt.Errorf("build invocation: %w", err)
		return inv
	}
	req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(&bodyReader{bytes.NewReader(envelope)}), nil }
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	req.Header.Set("X-Azure-Functions-InvocationId", inv.ID)
	req.Header.Set("X-Azure-Functions-HostVersion", s.opts.HostVersion)
	req.Header.Set("User-Agent", "Azure-Functions-Host/"+s.opts.HostVersion)
	inv.RequestHeader = req.Header.Clone()
	resp, err := s.client.Do(req)
	if err != nil {
		inv.Err = fmt.Errorf("invoke %s: %w", function, err)
		return inv
	}
	defer resp.Body.Close()
	inv.StatusCode, inv.Header = resp.StatusCode, resp.Header
	inv.Body, err = io.ReadAll(io.LimitReader(resp.Body, maxReplyBytes))
	if err != nil {
		inv.Err = fmt.Errorf("read reply of %s: %w", function, err)
		return inv
	}
	inv.Reply, inv.Err = ValidateReply(resp.StatusCode, resp.Header, inv.Body)
	return inv
}

// errNotFound reports an unknown function.
var errNotFound = errors.New("no such function")

// function returns the named function or an error.
func (s *Sim) function(name, triggerType string) (*Function, error) {
	fn, ok := s.app.Functions[name]
	if !ok {
		return nil, fmt.Errorf("%w: %q", errNotFound, name)
	}
	if !fn.Trigger.Is(triggerType) {
		return nil, fmt.Errorf("function %q has a %s trigger, not %s", name, fn.Trigger.Type, triggerType)
	}
	if fn.Disabled {
		return nil, fmt.Errorf("function %q is disabled", name)
	}
	return fn, nil
}

// sysMetadata is Metadata.sys (§2).
func sysMetadata(function string, now string) map[string]any {
	return map[string]any{"MethodName": function, "UtcNow": now, "RandGuid": newGUID()}
}
