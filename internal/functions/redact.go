package functions

import (
	"log/slog"
	"net/http"
	"net/url"
	"strings"
)

// Header and query names of the host protocol.
const (
	// InvocationIDHeader carries the host's invocation id on every request it sends (§2, §3).
	InvocationIDHeader = "X-Azure-Functions-InvocationId"
	// HostVersionHeader carries the host version on every request it sends.
	HostVersionHeader = "X-Azure-Functions-HostVersion"
	// FunctionKeyHeader is the header a caller may use for the function key; the host passes it
	// through to the handler in forwarding mode (§3).
	FunctionKeyHeader = "X-Functions-Key"
	// FunctionKeyQueryParam is the query parameter a caller may use for the function key; the
	// host keeps it in the forwarded query string and in Data.req.Url/Query (§2, §3).
	FunctionKeyQueryParam = "code"
	// Redacted replaces secret values in logs.
	Redacted = "REDACTED"
)

// InvocationID returns the host's invocation id of r, or "" if r did not come from the host.
// When a caller also sent the header, the host appends its own value, so the last one is used.
func InvocationID(r *http.Request) string {
	if r == nil {
		return ""
	}
	values := r.Header.Values(InvocationIDHeader)
	if len(values) == 0 {
		return ""
	}
	return strings.TrimSpace(values[len(values)-1])
}

// secretHeaders are replaced by Redacted in RedactHeader.
var secretHeaders = map[string]bool{
	"X-Functions-Key":        true,
	"Authorization":          true,
	"Proxy-Authorization":    true,
	"Cookie":                 true,
	"Set-Cookie":             true,
	"X-Shopify-Access-Token": true,
}

// RedactHeader returns a copy of h that is safe to log: the function key header, Authorization,
// cookies and access tokens have their values replaced by Redacted.
func RedactHeader(h http.Header) http.Header {
	out := make(http.Header, len(h))
	for name, values := range h {
		if secretHeaders[http.CanonicalHeaderKey(name)] {
			red := make([]string, len(values))
			for i := range red {
				red[i] = Redacted
			}
			out[name] = red
			continue
		}
		out[name] = append([]string(nil), values...)
	}
	return out
}

// RedactQuery returns rawQuery with the value of every "code" parameter (any case, also when
// percent-encoded) replaced by Redacted. The order and encoding of the other pairs are kept.
func RedactQuery(rawQuery string) string {
	if rawQuery == "" {
		return ""
	}
	parts := strings.Split(rawQuery, "&")
	for i, part := range parts {
		key, _, _ := strings.Cut(part, "=")
		if isFunctionKeyParam(key) {
			parts[i] = key + "=" + Redacted
		}
	}
	return strings.Join(parts, "&")
}

// RedactURL returns u as path?query with the function key redacted and without scheme, host or
// user info, for logging.
func RedactURL(u *url.URL) string {
	if u == nil {
		return ""
	}
	path := u.EscapedPath()
	if path == "" {
		path = "/"
	}
	if u.RawQuery == "" {
		return path
	}
	return path + "?" + RedactQuery(u.RawQuery)
}

// RequestAttr returns a log attribute group "request" with the method, the redacted path and
// query and the invocation id of r. It never includes the function key or secret headers.
func RequestAttr(r *http.Request) slog.Attr {
	return slog.Group("request",
		slog.String("method", r.Method),
		slog.String("url", RedactURL(r.URL)),
		slog.String("invocation_id", InvocationID(r)),
	)
}

// StripFunctionKey is middleware that removes the function key from the request before next
// sees it: every "code" query parameter and the x-functions-key header. The host has already
// checked the key (§3), the handler has no use for it, and code that never sees it cannot log
// it. r.URL.RawQuery is rewritten only when it contained the key; other pairs keep their order
// and encoding. r.RequestURI is updated to match.
func StripFunctionKey(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hasHeader := r.Header.Get(FunctionKeyHeader) != ""
		stripped, changed := stripQueryKey(r.URL.RawQuery)
		if hasHeader || changed {
			r2 := r.Clone(r.Context())
			r2.Header.Del(FunctionKeyHeader)
			if changed {
				u := *r.URL
				u.RawQuery = stripped
				r2.URL = &u
				if r2.RequestURI != "" {
					r2.RequestURI = u.RequestURI()
				}
			}
			r = r2
		}
		next.ServeHTTP(w, r)
	})
}

// stripQueryKey drops every function-key pair from rawQuery.
func stripQueryKey(rawQuery string) (string, bool) {
	if rawQuery == "" {
		return "", false
	}
	parts := strings.Split(rawQuery, "&")
	kept := parts[:0]
	changed := false
	for _, part := range parts {
		key, _, _ := strings.Cut(part, "=")
		if isFunctionKeyParam(key) {
			changed = true
			continue
		}
		kept = append(kept, part)
	}
	if !changed {
		return rawQuery, false
	}
	return strings.Join(kept, "&"), true
}

// isFunctionKeyParam reports whether an (encoded) query key names the function key. Keys are
// compared after unescaping and case-insensitively, like ASP.NET Core's query collection.
func isFunctionKeyParam(encodedKey string) bool {
	key, err := url.QueryUnescape(encodedKey)
	if err != nil {
		key = encodedKey
	}
	return strings.EqualFold(key, FunctionKeyQueryParam)
}
