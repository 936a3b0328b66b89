package functions

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// BodyEncoding says how Data.req.Body was sent by the host (§2).
type BodyEncoding int

const (
	// BodyNone: no Body (empty request, or a chunked request whose body the host dropped).
	BodyNone BodyEncoding = iota
	// BodyText: the host read the body as UTF-8 text (BOM stripped, invalid bytes replaced by
	// U+FFFD); the bytes are the UTF-8 encoding of that text.
	BodyText
	// BodyBase64: application/octet-stream or multipart/*; the bytes are exact.
	BodyBase64
	// BodyJSON: Body was a JSON object or array (very old hosts parsed JSON bodies); the bytes are
	// that JSON as sent.
	BodyJSON
)

// String returns the encoding's name.
func (e BodyEncoding) String() string {
	switch e {
	case BodyNone:
		return "none"
	case BodyText:
		return "text"
	case BodyBase64:
		return "base64"
	case BodyJSON:
		return "json"
	default:
		return "BodyEncoding(" + strconv.Itoa(int(e)) + ")"
	}
}

// HTTPRequest is Data.<trigger> of a non-forwarded HTTP invocation (§2), decoded.
//
// Limit of this mode (documented for HMAC checks): for any content type other than
// application/octet-stream and multipart/*, the host hands over the body as text decoded from
// UTF-8 with a BOM stripped and invalid byte sequences replaced by U+FFFD. Body is then the UTF-8
// encoding of that text, which equals the bytes the caller sent only if they were valid UTF-8
// without a BOM; an HMAC over a body with a BOM or non-UTF-8 bytes cannot be verified. BodyExact
// is true only for base64 bodies. For byte-exact bodies use forwarding (host.json
// enableForwardingHttpRequest) or have the caller send application/octet-stream.
type HTTPRequest struct {
	// URL is Data.req.Url: scheme://host/path?query, the raw query including code=<key>.
	URL string
	// Method is the HTTP method, e.g. "POST".
	Method string
	// Query is the parsed query (repeated keys joined with ","), including "code".
	Query map[string]string
	// Header holds the request headers with canonical names (lookups are case-insensitive).
	Header http.Header
	// Params holds the route parameters.
	Params map[string]string
	// Identities is Data.req.Identities as sent (ClaimsIdentity objects).
	Identities []json.RawMessage
	// Body is the request body as far as it can be recovered (see the type comment).
	Body []byte
	// BodyEncoding says how Body was sent.
	BodyEncoding BodyEncoding
	// BodyExact is true when Body is byte-for-byte what the caller sent (base64 mode).
	BodyExact bool
	// ContentLengthMismatch is true when a text Body's length differs from the Content-Length
	// header: the text round trip changed the bytes (BOM, invalid UTF-8), so an HMAC will fail.
	ContentLengthMismatch bool
}

// DecodeHTTPRequest decodes Data.<trigger> of an HTTP invocation. Unknown fields are ignored;
// Query may be an object (current hosts) or a string holding JSON ("{}", hosts before Sept 2020)
// or a raw query string; header values may be arrays (current) or single strings.
func DecodeHTTPRequest(raw json.RawMessage) (*HTTPRequest, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] != '{' {
		return nil, errors.New("decode http request: not a JSON object")
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil {
		return nil, fmt.Errorf("decode http request: %w", err)
	}
	req := &HTTPRequest{Query: map[string]string{}, Header: http.Header{}, Params: map[string]string{}}
	var err error
	if v, ok := lookupFold(fields, "Url"); ok {
		if req.URL, err = MetadataString(v); err != nil {
			return nil, fmt.Errorf("decode http request Url: %w", err)
		}
	}
	if v, ok := lookupFold(fields, "Method"); ok {
		if req.Method, err = MetadataString(v); err != nil {
			return nil, fmt.Errorf("decode http request Method: %w", err)
		}
	}
	if req.Method == "" {
		req.Method = http.MethodPost
	}
	if v, ok := lookupFold(fields, "Query"); ok {
		if req.Query, err = decodeQuery(v); err != nil {
			return nil, fmt.Errorf("decode http request Query: %w", err)
		}
	}
	if v, ok := lookupFold(fields, "Headers"); ok {
		if req.Header, err = decodeHeaders(v); err != nil {
			return nil, fmt.Errorf("decode http request Headers: %w", err)
		}
	}
	if v, ok := lookupFold(fields, "Params"); ok {
		if req.Params, err = decodeStringMap(v); err != nil {
			return nil, fmt.Errorf("decode http request Params: %w", err)
		}
	}
	if v, ok := lookupFold(fields, "Identities"); ok {
		v = bytes.TrimSpace(v)
		if len(v) > 0 && v[0] == '[' {
			if err := json.Unmarshal(v, &req.Identities); err != nil {
				return nil, fmt.Errorf("decode http request Identities: %w", err)
			}
		}
	}
	if v, ok := lookupFold(fields, "Body"); ok {
		if err := req.decodeBody(v); err != nil {
			return nil, fmt.Errorf("decode http request Body: %w", err)
		}
	}
	return req, nil
}

// decodeBody fills Body, BodyEncoding and BodyExact from the raw Body value.
func (req *HTTPRequest) decodeBody(v json.RawMessage) error {
	v = bytes.TrimSpace(v)
	if len(v) == 0 || string(v) == "null" {
		return nil
	}
	switch v[0] {
	case '"':
		var s string
		if err := json.Unmarshal(v, &s); err != nil {
			return err
		}
		if isBase64MediaType(req.Header.Get("Content-Type")) {
			if b, ok := decodeBase64(s); ok {
				req.Body, req.BodyEncoding, req.BodyExact = b, BodyBase64, true
				return nil
			}
		}
		req.Body, req.BodyEncoding = []byte(s), BodyText
		if cl, err := strconv.Atoi(strings.TrimSpace(req.Header.Get("Content-Length"))); err == nil && cl != len(req.Body) {
			req.ContentLengthMismatch = true
		}
	case '{', '[':
		req.Body, req.BodyEncoding = append([]byte(nil), v...), BodyJSON
	default:
		if !json.Valid(v) {
			return errors.New("invalid JSON")
		}
		req.Body, req.BodyEncoding = append([]byte(nil), v...), BodyText
	}
	return nil
}

// isBase64MediaType reports whether the host sends a body of this content type as base64:
// application/octet-stream and multipart/* (§2).
func isBase64MediaType(contentType string) bool {
	mt := mediaType(contentType)
	return mt == "application/octet-stream" || strings.HasPrefix(mt, "multipart/")
}

// mediaType returns the lower-cased media type of a Content-Type value, tolerating garbage.
func mediaType(contentType string) string {
	if mt, _, err := mime.ParseMediaType(contentType); err == nil {
		return mt
	}
	mt, _, _ := strings.Cut(contentType, ";")
	return strings.ToLower(strings.TrimSpace(mt))
}

// decodeBase64 decodes standard base64 (padded, as .NET writes it), accepting unpadded input.
func decodeBase64(s string) ([]byte, bool) {
	if b, err := base64.StdEncoding.DecodeString(s); err == nil {
		return b, true
	}
	if b, err := base64.RawStdEncoding.DecodeString(s); err == nil {
		return b, true
	}
	return nil, false
}

// decodeQuery accepts {"k":"v"}, the string "{}" (old hosts: the dictionary as JSON text) and,
// leniently, a raw query string.
func decodeQuery(v json.RawMessage) (map[string]string, error) {
	v = bytes.TrimSpace(v)
	if len(v) > 0 && v[0] == '"' {
		var s string
		if err := json.Unmarshal(v, &s); err != nil {
			return nil, err
		}
		s = strings.TrimSpace(s)
		if strings.HasPrefix(s, "{") {
			return decodeStringMap(json.RawMessage(s))
		}
		out := map[string]string{}
		values, _ := url.ParseQuery(strings.TrimPrefix(s, "?"))
		for k, vs := range values {
			out[k] = strings.Join(vs, ",")
		}
		return out, nil
	}
	return decodeStringMap(v)
}

// decodeStringMap decodes an object of scalars to strings (numbers and bools keep their text,
// null becomes ""). null or absent gives an empty map.
func decodeStringMap(v json.RawMessage) (map[string]string, error) {
	out := map[string]string{}
	v = bytes.TrimSpace(v)
	if len(v) == 0 || string(v) == "null" {
		return out, nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(v, &m); err != nil {
		return nil, err
	}
	for k, raw := range m {
		s, err := scalarText(raw)
		if err != nil {
			return nil, fmt.Errorf("%q: %w", k, err)
		}
		out[k] = s
	}
	return out, nil
}

// scalarText returns the text of a JSON scalar without any unquoting beyond JSON's own.
func scalarText(raw json.RawMessage) (string, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return "", nil
	}
	switch raw[0] {
	case '"':
		var s string
		err := json.Unmarshal(raw, &s)
		return s, err
	case '{', '[':
		return "", errNotScalar
	default:
		return string(raw), nil
	}
}

// decodeHeaders decodes name → [values] (or name → value) into an http.Header with canonical
// names, so Get is case-insensitive whatever casing the host kept.
func decodeHeaders(v json.RawMessage) (http.Header, error) {
	h := http.Header{}
	v = bytes.TrimSpace(v)
	if len(v) == 0 || string(v) == "null" {
		return h, nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(v, &m); err != nil {
		return nil, err
	}
	for name, raw := range m {
		raw = bytes.TrimSpace(raw)
		if len(raw) > 0 && raw[0] == '[' {
			var items []json.RawMessage
			if err := json.Unmarshal(raw, &items); err != nil {
				return nil, fmt.Errorf("header %q: %w", name, err)
			}
			for _, item := range items {
				s, err := scalarText(item)
				if err != nil {
					return nil, fmt.Errorf("header %q: %w", name, err)
				}
				h.Add(name, s)
			}
			continue
		}
		s, err := scalarText(raw)
		if err != nil {
			return nil, fmt.Errorf("header %q: %w", name, err)
		}
		h.Add(name, s)
	}
	return h, nil
}

// HTTPRequest decodes the HTTP trigger binding of the invocation (name "" = the only Data entry).
func (inv *Invocation) HTTPRequest(binding string) (*HTTPRequest, error) {
	raw, err := inv.Binding(binding)
	if err != nil {
		return nil, err
	}
	return DecodeHTTPRequest(raw)
}

// NewRequest builds a server-side *http.Request equivalent to the original caller's request:
// method, path and raw query from URL (when URL is empty or unparsable the path is "/"), the
// headers, Host, and Body with ContentLength set to its length.
func (req *HTTPRequest) NewRequest(ctx context.Context) (*http.Request, error) {
	u, err := url.Parse(req.URL)
	if err != nil || req.URL == "" {
		u = &url.URL{Path: "/"}
	}
	target := &url.URL{Path: u.Path, RawPath: u.RawPath, RawQuery: u.RawQuery}
	if target.Path == "" {
		target.Path = "/"
	}
	if !validMethod(req.Method) {
		return nil, fmt.Errorf("build request: invalid method %.20q", req.Method)
	}
	r, err := http.NewRequestWithContext(ctx, req.Method, target.String(), bytes.NewReader(req.Body))
	if err != nil {
		return nil, fmt.Errorf("build request: %w", err)
	}
	r.Header = req.Header.Clone()
	if r.Header == nil {
		r.Header = http.Header{}
	}
	r.Host = u.Host
	if h := r.Header.Get("Host"); h != "" {
		r.Host = h
	}
	r.Header.Del("Host")
	r.ContentLength = int64(len(req.Body))
	if len(req.Body) == 0 {
		r.Body = http.NoBody
	}
	r.RequestURI = target.RequestURI()
	return r, nil
}

// validMethod reports whether m is a syntactically valid HTTP method token.
func validMethod(m string) bool {
	if m == "" {
		return false
	}
	for i := 0; i < len(m); i++ {
		c := m[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte("()<>@,;:\\\"/[]?={}", c) >= 0 {
			return false
		}
	}
	return true
}
