package functions

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// echoInner is an ordinary handler for /api/... routes that reports what it received.
func echoInner(t *testing.T) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			t.Errorf("inner read: %v", err)
		}
		info, ok := EnvelopeFromContext(r.Context())
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Path", r.URL.Path)
		w.WriteHeader(http.StatusAccepted)
		json.NewEncoder(w).Encode(map[string]any{
			"method": r.Method, "query": r.URL.RawQuery, "body": base64.StdEncoding.EncodeToString(body),
			"sig": r.Header.Get("X-Signature-SHA256"), "inv": InvocationID(r), "envelope": ok,
			"exact": info.BodyExact, "encoding": info.BodyEncoding.String(), "contentLength": r.ContentLength,
		})
	})
}

func postEnvelope(t *testing.T, h http.Handler, body []byte) (*httptest.ResponseRecorder, map[string]json.RawMessage) {
	t.Helper()
	r := httptest.NewRequest(http.MethodPost, "/order-created", bytes.NewReader(body))
	r.Header.Set("Content-Type", "application/json; charset=utf-8")
	r.Header.Set(InvocationIDHeader, "inv-42")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	var reply map[string]json.RawMessage
	if w.Code == http.StatusOK {
		if err := json.Unmarshal(w.Body.Bytes(), &reply); err != nil {
			t.Fatalf("reply is not JSON: %v: %s", err, w.Body.String())
		}
	}
	return w, reply
}

func TestHTTPEnvelopeHandlerFixture(t *testing.T) {
	h := HTTPEnvelopeHandler(echoInner(t), EnvelopeOptions{})
	w, reply := postEnvelope(t, h, readFixture(t, "http-no-forwarding.request.json"))
	if w.Code != http.StatusOK || w.Header().Get("Content-Type") != "application/json" {
		t.Fatalf("status=%d ct=%q body=%s", w.Code, w.Header().Get("Content-Type"), w.Body.String())
	}
	if string(reply["Logs"]) != "[]" || string(reply["ReturnValue"]) != "null" {
		t.Errorf("Logs=%s ReturnValue=%s", reply["Logs"], reply["ReturnValue"])
	}
	var outputs map[string]HTTPResponse
	if err := json.Unmarshal(reply["Outputs"], &outputs); err != nil {
		t.Fatal(err)
	}
	res, ok := outputs["res"]
	if !ok {
		t.Fatalf("Outputs = %s", reply["Outputs"])
	}
	if res.StatusCode != http.StatusAccepted || res.Headers["Content-Type"] != "application/json" || res.Headers["X-Path"] != "/api/OrderWebhook" {
		t.Errorf("res = %+v", res)
	}
	var got map[string]any
	if err := json.Unmarshal([]byte(res.Body), &got); err != nil {
		t.Fatalf("res.body: %v", err)
	}
	wantBody := base64.StdEncoding.EncodeToString([]byte(`{"orderId":"ORD-1001","amount":129.95,"currency":"EUR","lines":[{"sku":"SKU-1","qty":2}]}`))
	want := map[string]any{
		"method": "POST", "query": "code=Xk3v...redacted...==&source=shop", "body": wantBody,
		"sig": "sha256=9f2c6b0e5a1d4c3b2a19f8e7d6c5b4a39281706f5e4d3c2b1a09f8e7d6c5b4a3", "inv": "inv-42",
		"envelope": true, "exact": false, "encoding": "text", "contentLength": float64(89),
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("inner saw %s = %v, want %v", k, got[k], v)
		}
	}
}

func TestHTTPEnvelopeHandlerOctetStreamExact(t *testing.T) {
	raw := []byte("\xef\xbb\xbf{\"id\":\"\xff\"}") // BOM + invalid UTF-8: only base64 keeps it
	env := fmt.Sprintf(`{"Data":{"req":{"Url":"http://h/api/x","Method":"POST","Headers":{"Content-Type":["application/octet-stream"]},"Body":%q}},"Metadata":{}}`,
		base64.StdEncoding.EncodeToString(raw))
	var seen []byte
	var info EnvelopeInfo
	inner := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen, _ = io.ReadAll(r.Body)
		info, _ = EnvelopeFromContext(r.Context())
		w.WriteHeader(http.StatusNoContent)
	})
	w, reply := postEnvelope(t, HTTPEnvelopeHandler(inner, EnvelopeOptions{Trigger: "req"}), []byte(env))
	if w.Code != http.StatusOK {
		t.Fatalf("status %d", w.Code)
	}
	if !bytes.Equal(seen, raw) || !info.BodyExact || info.BodyEncoding != BodyBase64 {
		t.Errorf("inner body %q exact=%v enc=%v", seen, info.BodyExact, info.BodyEncoding)
	}
	if !strings.Contains(string(reply["Outputs"]), `"statusCode":204`) {
		t.Errorf("Outputs = %s", reply["Outputs"])
	}
}

func TestHTTPEnvelopeHandlerReturnAndCustomOutput(t *testing.T) {
	inner := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "<html>hi</html>") })
	env := []byte(`{"Data":{"request":{"Url":"http://h/api/x","Method":"GET"}}}`)
	_, reply := postEnvelope(t, HTTPEnvelopeHandler(inner, EnvelopeOptions{Output: "$return"}), env)
	var rv HTTPResponse
	if err := json.Unmarshal(reply["ReturnValue"], &rv); err != nil {
		t.Fatalf("ReturnValue: %v (%s)", err, reply["ReturnValue"])
	}
	if rv.StatusCode != 200 || rv.Body != "<html>hi</html>" || !strings.HasPrefix(rv.Headers["Content-Type"], "text/html") {
		t.Errorf("ReturnValue = %+v (content type must be sniffed like net/http does)", rv)
	}
	if string(reply["Outputs"]) != "{}" {
		t.Errorf("Outputs = %s", reply["Outputs"])
	}
}

func TestHTTPEnvelopeHandlerFailures(t *testing.T) {
	var logs bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&logs, nil))
	called := false
	inner := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { called = true })
	tests := []struct {
		name string
		body string
		opts EnvelopeOptions
	}{
		{"not JSON", `nope`, EnvelopeOptions{}},
		{"no trigger", `{"Data":{"a":1,"b":2}}`, EnvelopeOptions{}},
		{"named trigger missing", `{"Data":{"req":{}}}`, EnvelopeOptions{Trigger: "other"}},
		{"trigger not object", `{"Data":{"req":"x"}}`, EnvelopeOptions{}},
		{"bad method", `{"Data":{"req":{"Method":"GE T"}}}`, EnvelopeOptions{}},
		{"too large", `{"Data":{"req":{"Method":"POST","Body":"` + strings.Repeat("a", 200) + `"}}}`, EnvelopeOptions{MaxInvocationBytes: 100}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.opts.Logger = logger
			w, _ := postEnvelope(t, HTTPEnvelopeHandler(inner, tc.opts), []byte(tc.body))
			if w.Code != http.StatusBadRequest || w.Header().Get("Content-Type") != "application/json" || w.Body.Len() == 0 {
				t.Errorf("status=%d ct=%q body=%q", w.Code, w.Header().Get("Content-Type"), w.Body.String())
			}
		})
	}
	if called {
		t.Error("inner handler must not run for an undecodable invocation")
	}
	if !strings.Contains(logs.String(), "functions invocation failed") {
		t.Errorf("failures not logged: %s", logs.String())
	}
}

func TestHTTPEnvelopeHandlerLoop(t *testing.T) {
	var h http.Handler
	mux := http.NewServeMux()
	mux.HandleFunc("/api/x", func(w http.ResponseWriter, r *http.Request) { h.ServeHTTP(w, r) }) // misrouted back
	h = HTTPEnvelopeHandler(mux, EnvelopeOptions{Logger: slog.New(slog.NewJSONHandler(io.Discard, nil))})
	env := []byte(`{"Data":{"req":{"Url":"http://h/api/x","Method":"POST","Body":"{}"}}}`)
	w, reply := postEnvelope(t, h, env)
	if w.Code != http.StatusOK {
		t.Fatalf("outer status %d", w.Code)
	}
	if !strings.Contains(string(reply["Outputs"]), `"statusCode":500`) {
		t.Errorf("loop must end in a 500 for the caller, got %s", reply["Outputs"])
	}
}
