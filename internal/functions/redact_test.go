package functions

import (
	"bytes"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

func TestInvocationID(t *testing.T) {
	r := httptest.NewRequest(http.MethodPost, "/x", nil)
	if InvocationID(r) != "" || InvocationID(nil) != "" {
		t.Error("no header must give empty id")
	}
	r.Header.Add("x-azure-functions-invocationid", "spoofed-by-caller")
	r.Header.Add(InvocationIDHeader, "host-id")
	if got := InvocationID(r); got != "host-id" {
		t.Errorf("InvocationID = %q, want the host's (last) value", got)
	}
}

func TestRedactQuery(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"code=abc", "code=REDACTED"},
		{"source=shop&code=abc%3D%3D&x=1", "source=shop&code=REDACTED&x=1"},
		{"CODE=abc&Code=def", "CODE=REDACTED&Code=REDACTED"},
		{"%63ode=abc", "%63ode=REDACTED"}, // percent-encoded key
		{"code", "code=REDACTED"},
		{"codex=1&xcode=2", "codex=1&xcode=2"},
	}
	for _, tc := range tests {
		if got := RedactQuery(tc.in); got != tc.want {
			t.Errorf("RedactQuery(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	u, _ := url.Parse("https://user:pw@h.example/api/fulfillment-callback?code=s3cret&a=1")
	if got := RedactURL(u); got != "/api/fulfillment-callback?code=REDACTED&a=1" {
		t.Errorf("RedactURL = %q", got)
	}
}

func TestRedactHeader(t *testing.T) {
	h := http.Header{}
	h.Set("x-functions-key", "s3cret")
	h.Set("Authorization", "Bearer tok")
	h.Set("X-Shopify-Hmac-Sha256", "sig")
	got := RedactHeader(h)
	if got.Get("X-Functions-Key") != Redacted || got.Get("Authorization") != Redacted || got.Get("X-Shopify-Hmac-Sha256") != "sig" {
		t.Errorf("RedactHeader = %v", got)
	}
	if h.Get("Authorization") != "Bearer tok" {
		t.Error("RedactHeader must not modify its input")
	}
}

func TestStripFunctionKeyAndRequestAttr(t *testing.T) {
	var logs bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&logs, nil))
	var seenQuery, seenKey, seenURI string
	h := StripFunctionKey(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seenQuery, seenKey, seenURI = r.URL.RawQuery, r.Header.Get(FunctionKeyHeader), r.RequestURI
		logger.Info("request", RequestAttr(r))
	}))
	r := httptest.NewRequest(http.MethodPost, "/api/fulfillment-callback?a=1&code=s3cret&b=%2B2", nil)
	r.Header.Set("x-functions-key", "s3cret")
	r.Header.Set(InvocationIDHeader, "inv-1")
	h.ServeHTTP(httptest.NewRecorder(), r)
	if seenQuery != "a=1&b=%2B2" || seenKey != "" || seenURI != "/api/fulfillment-callback?a=1&b=%2B2" {
		t.Errorf("next saw query=%q key=%q uri=%q", seenQuery, seenKey, seenURI)
	}
	if strings.Contains(logs.String(), "s3cret") || !strings.Contains(logs.String(), `"invocation_id":"inv-1"`) {
		t.Errorf("log = %s", logs.String())
	}
	if r.URL.RawQuery != "a=1&code=s3cret&b=%2B2" {
		t.Error("the caller's request must not be mutated")
	}
}
