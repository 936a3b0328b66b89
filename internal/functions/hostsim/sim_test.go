package hostsim

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// seen is what an in-process stand-in handler received.
type seen struct {
	Method, Path, RawQuery, Host string
	Header                       http.Header
	Body                         []byte
	ContentLength                int64
	TransferEncoding             []string
}

// recorder is an in-process stand-in for the handler binary: it records every request and
// answers with reply (default: a valid empty invocation reply).
type recorder struct {
	mu    sync.Mutex
	reqs  []seen
	reply func(w http.ResponseWriter, r *http.Request, body []byte)
}

func (rec *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	if r.Method == http.MethodGet && r.URL.Path == "/" {
		w.WriteHeader(http.StatusNotFound) // readiness probe: any response will do
		return
	}
	rec.mu.Lock()
	rec.reqs = append(rec.reqs, seen{r.Method, r.URL.Path, r.URL.RawQuery, r.Host, r.Header.Clone(), body, r.ContentLength, r.TransferEncoding})
	reply := rec.reply
	rec.mu.Unlock()
	if reply != nil {
		reply(w, r, body)
		return
	}
	writeJSON(w, 200, `{"Outputs":{},"Logs":[],"ReturnValue":null}`)
}

func (rec *recorder) requests() []seen {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return append([]seen(nil), rec.reqs...)
}

func (rec *recorder) last(t *testing.T) seen {
	t.Helper()
	reqs := rec.requests()
	if len(reqs) == 0 {
		t.Fatal("handler received nothing")
	}
	return reqs[len(reqs)-1]
}

func writeJSON(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	io.WriteString(w, body)
}

func startInProcess(t *testing.T, rec *recorder) *Sim {
	t.Helper()
	return Start(t, Options{
		AppRoot:      "testdata/app",
		Handler:      rec,
		Env:          map[string]string{"QUEUE": "fulfillment-queue", "SB__fullyQualifiedNamespace": "shipwell.servicebus.windows.net"},
		FunctionKeys: map[string]string{"secure": "secure-only-key"},
	})
}

// envelopeOf decodes an invocation envelope the handler received.
func envelopeOf(t *testing.T, s seen) (map[string]json.RawMessage, map[string]json.RawMessage) {
	t.Helper()
	var env struct{ Data, Metadata map[string]json.RawMessage }
	if err := json.Unmarshal(s.Body, &env); err != nil {
		t.Fatalf("envelope is not JSON: %v: %s", err, s.Body)
	}
	return env.Data, env.Metadata
}

func unquote(t *testing.T, raw json.RawMessage) string {
	t.Helper()
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		t.Fatalf("%s is not a JSON string: %v", raw, err)
	}
	return s
}

func TestStartRequiresValidApp(t *testing.T) {
	if _, err := StartE(Options{}); err == nil {
		t.Error("StartE without AppRoot must fail")
	}
	if _, err := StartE(Options{AppRoot: "testdata/app", Handler: http.NotFoundHandler()}); err == nil || !strings.Contains(err.Error(), "QUEUE") {
		t.Errorf("an unresolved %%QUEUE%% app setting must fail start-up like on the host, got %v", err)
	}
}

func TestHTTPForwarding(t *testing.T) {
	rec := &recorder{reply: func(w http.ResponseWriter, r *http.Request, body []byte) {
		w.Header().Set("X-Handler", "yes")
		w.Header().Set("Content-Type", "text/plain")
		w.WriteHeader(http.StatusCreated)
		io.WriteString(w, "made it")
	}}
	sim := startInProcess(t, rec)
	body := []byte("\xef\xbb\xbf{\"id\":820982911946154508123,\"note\":\"caf\xe9\"}") // BOM + invalid UTF-8: must arrive untouched
	h := http.Header{}
	h.Set("User-Agent", "Shopify-Captain-Hook")
	h.Set("Content-Type", "application/json")
	h.Set("Content-Encoding", "identity") // a content header: the host drops it
	h.Set("X-Shopify-Hmac-Sha256", "c2lnbmF0dXJl")
	h.Add("X-Repeated", "1")
	h.Add("X-Repeated", "2")
	res := sim.HTTP(http.MethodPost, "/api/fwd?code=k%3D%3D&a=1&plus=a+b&a=2", url.Values{"z": {"x/y"}}, h, body)

	if res.StatusCode != http.StatusCreated || string(res.Body) != "made it" || res.Header.Get("X-Handler") != "yes" {
		t.Errorf("caller got %d %q %v", res.StatusCode, res.Body, res.Header)
	}
	if !res.Forwarded || !res.Invoked || res.Function != "fwd" || !res.Invocation.Succeeded() {
		t.Errorf("result = %+v", res)
	}
	got := rec.last(t)
	if got.Method != "POST" || got.Path != "/api/fwd" {
		t.Errorf("request line %s %s", got.Method, got.Path)
	}
	if got.RawQuery != "code=k%3D%3D&a=1,2&plus=a%20b&z=x%2Fy" {
		t.Errorf("query = %q, want the host's rebuilt query with code kept", got.RawQuery)
	}
	if !bytes.Equal(got.Body, body) || got.ContentLength != int64(len(body)) {
		t.Errorf("body = %q (len %d), want the original bytes", got.Body, got.ContentLength)
	}
	checks := map[string]string{
		"User-Agent":                     "Shopify-Captain-Hook Azure-Functions-Host/" + DefaultHostVersion,
		"Content-Type":                   "application/json",
		"Content-Encoding":               "",
		"X-Shopify-Hmac-Sha256":          "c2lnbmF0dXJl",
		"X-Azure-Functions-HostVersion":  DefaultHostVersion,
		"X-Azure-Functions-InvocationId": res.Invocation.ID,
	}
	for name, want := range checks {
		if g := got.Header.Get(name); g != want {
			t.Errorf("header %s = %q, want %q", name, g, want)
		}
	}
	if v := got.Header.Values("X-Repeated"); len(v) != 2 {
		t.Errorf("X-Repeated = %v", v)
	}
	if got.Host != DefaultPublicHost {
		t.Errorf("Host = %q, want the caller's host", got.Host)
	}
}

func TestHTTPForwardingPassThrough(t *testing.T) {
	tests := []struct {
		name   string
		status int
		header string
	}{
		{"handler 500 goes to the caller", 500, ""},
		{"redirect not followed", 302, "/elsewhere"},
		{"204", 204, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := &recorder{reply: func(w http.ResponseWriter, r *http.Request, _ []byte) {
				if tc.header != "" {
					w.Header().Set("Location", tc.header)
				}
				w.WriteHeader(tc.status)
			}}
			sim := startInProcess(t, rec)
			res := sim.HTTP(http.MethodGet, "fwd", nil, nil, nil)
			if res.StatusCode != tc.status || res.Header.Get("Location") != tc.header {
				t.Errorf("caller got %d %v", res.StatusCode, res.Header)
			}
			if !res.Invocation.Succeeded() {
				t.Error("a forwarded request is a successful execution whatever the status")
			}
			if n := len(rec.requests()); n != 1 {
				t.Errorf("handler saw %d requests", n)
			}
		})
	}
}

func TestHTTPChunkedCallerLosesBody(t *testing.T) {
	rec := &recorder{reply: func(w http.ResponseWriter, r *http.Request, _ []byte) { w.WriteHeader(200) }}
	sim := startInProcess(t, rec)
	h := http.Header{"Transfer-Encoding": {"chunked"}, "Content-Type": {"application/json"}}
	sim.HTTP(http.MethodPost, "fwd", nil, h, []byte(`{"a":1}`))
	got := rec.last(t)
	if len(got.Body) != 0 || got.ContentLength != 0 || got.Header.Get("Content-Type") != "" {
		t.Errorf("forwarded body %q len %d ct %q; the host forwards no body (and so no content type) without Content-Length",
			got.Body, got.ContentLength, got.Header.Get("Content-Type"))
	}
}

func TestHTTPAuthLevelFunction(t *testing.T) {
	rec := &recorder{reply: func(w http.ResponseWriter, r *http.Request, _ []byte) { w.WriteHeader(200) }}
	sim := startInProcess(t, rec)
	tests := []struct {
		name       string
		query      url.Values
		header     http.Header
		wantStatus int
	}{
		{"no key", nil, nil, 401},
		{"wrong key", url.Values{"code": {"nope"}}, nil, 401},
		{"key of another function", url.Values{"code": {"other"}}, nil, 401},
		{"host key in query", url.Values{"code": {sim.FunctionKey()}}, nil, 200},
		{"function key in header", nil, http.Header{"X-Functions-Key": {"secure-only-key"}}, 200},
		{"master key", url.Values{"CODE": {sim.MasterKey()}}, nil, 200},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := len(rec.requests())
			res := sim.HTTP(http.MethodPost, "secure", tc.query, tc.header, []byte("{}"))
			if res.StatusCode != tc.wantStatus {
				t.Fatalf("status = %d, want %d", res.StatusCode, tc.wantStatus)
			}
			invoked := len(rec.requests()) > before
			if invoked != (tc.wantStatus == 200) || res.Invoked != invoked {
				t.Errorf("handler invoked = %v (result says %v) for status %d", invoked, res.Invoked, tc.wantStatus)
			}
			if invoked {
				got := rec.last(t)
				if tc.query != nil && !strings.Contains(strings.ToLower(got.RawQuery), "code=") {
					t.Errorf("the host passes code through, query = %q", got.RawQuery)
				}
				if tc.header != nil && got.Header.Get("X-Functions-Key") == "" {
					t.Error("the host passes x-functions-key through")
				}
			}
		})
	}
	if res := sim.HTTP(http.MethodGet, "secure", url.Values{"code": {sim.FunctionKey()}}, nil, nil); res.StatusCode != 404 || res.Invoked {
		t.Errorf("method not allowed: %d invoked=%v", res.StatusCode, res.Invoked)
	}
	if res := sim.HTTP(http.MethodPost, "/api/nothing-here", nil, nil, nil); res.StatusCode != 404 || res.Invoked {
		t.Errorf("unknown route: %d invoked=%v", res.StatusCode, res.Invoked)
	}
}

func TestHTTPEnvelope(t *testing.T) {
	rec := &recorder{reply: func(w http.ResponseWriter, r *http.Request, _ []byte) {
		writeJSON(w, 200, `{"Outputs":{"RES":{"StatusCode":"201","headers":{"Content-Type":"application/json","X-Id":"ORD-1","X-Num":5},"body":"{\"ok\":true}"}},"Logs":["accepted"],"ReturnValue":null}`)
	}}
	sim := startInProcess(t, rec)
	body := []byte(`{"orderId":"ORD-1","amount":129.95,"flag":true,"big":820982911946154508123,"nested":{"a":1},"list":[1],"nothing":null}`)
	h := http.Header{"Content-Type": {"application/json"}, "X-Shopify-Hmac-Sha256": {"sig"}, "X-Multi": {"a", "b"}}
	res := sim.HTTP(http.MethodPost, "/api/items/42?source=shop&code=x&source=web", nil, h, body)

	if res.StatusCode != 201 || string(res.Body) != `{"ok":true}` || res.Header.Get("X-Id") != "ORD-1" || res.Header.Get("X-Num") != "5" {
		t.Errorf("caller got %d %q %v", res.StatusCode, res.Body, res.Header)
	}
	if res.Forwarded || !res.Invocation.Succeeded() || len(res.Invocation.Reply.Logs) != 1 {
		t.Errorf("result %+v err %v", res, res.Invocation.Err)
	}
	got := rec.last(t)
	if got.Method != "POST" || got.Path != "/envelope" || got.RawQuery != "" {
		t.Errorf("request line %s %s?%s, want POST /envelope", got.Method, got.Path, got.RawQuery)
	}
	for name, want := range map[string]string{
		"Content-Type":                   "application/json; charset=utf-8",
		"User-Agent":                     "Azure-Functions-Host/" + DefaultHostVersion,
		"X-Azure-Functions-HostVersion":  DefaultHostVersion,
		"X-Azure-Functions-InvocationId": res.Invocation.ID,
	} {
		if g := got.Header.Get(name); g != want {
			t.Errorf("header %s = %q, want %q", name, g, want)
		}
	}
	if got.ContentLength != -1 || len(got.TransferEncoding) != 1 || got.TransferEncoding[0] != "chunked" {
		t.Errorf("envelope sent with ContentLength %d TE %v, want chunked", got.ContentLength, got.TransferEncoding)
	}
	data, md := envelopeOf(t, got)
	var req struct {
		Url, Method, Body string
		Query             map[string]string
		Headers           map[string][]string
		Params            map[string]string
		Identities        []any
	}
	if err := json.Unmarshal(data["req"], &req); err != nil {
		t.Fatalf("Data.req: %v", err)
	}
	if req.Url != "http://localhost:7071/api/items/42?source=shop&code=x&source=web" || req.Method != "POST" || req.Body != string(body) {
		t.Errorf("Data.req Url=%q Method=%q Body=%q", req.Url, req.Method, req.Body)
	}
	if req.Query["source"] != "shop,web" || req.Query["code"] != "x" || req.Params["id"] != "42" || len(req.Identities) != 0 {
		t.Errorf("Query=%v Params=%v Identities=%v", req.Query, req.Params, req.Identities)
	}
	if len(req.Headers["X-Multi"]) != 2 || req.Headers["Host"][0] != "localhost:7071" || req.Headers["Content-Length"][0] != fmt.Sprint(len(body)) {
		t.Errorf("Headers = %v", req.Headers)
	}
	wantMD := map[string]string{"orderId": "ORD-1", "amount": "129.95", "flag": "True", "big": "820982911946154508123", "source": "web", "id": "42"}
	for k, want := range wantMD {
		if g := unquote(t, json.RawMessage(unquote(t, md[k]))); g != want {
			t.Errorf("Metadata.%s = %s, want double-encoded %q", k, md[k], want)
		}
	}
	for _, absent := range []string{"list", "nothing", "code"} {
		if _, ok := md[absent]; ok {
			t.Errorf("Metadata.%s must be left out", absent)
		}
	}
	if string(md["nested"]) != `{"a":1}` {
		t.Errorf("Metadata.nested = %s, want the object", md["nested"])
	}
	var mq, mh map[string]string
	json.Unmarshal(md["Query"], &mq)
	json.Unmarshal(md["Headers"], &mh)
	if mq["source"] != "web" || mq["code"] != "x" || mh["X-Multi"] != "a,b" {
		t.Errorf("Metadata.Query=%v Headers=%v", mq, mh)
	}
	var sys map[string]string
	json.Unmarshal(md["sys"], &sys)
	if sys["MethodName"] != "envelope" || sys["RandGuid"] == "" || sys["UtcNow"] == "" {
		t.Errorf("sys = %v", sys)
	}
}

func TestHTTPEnvelopeBodies(t *testing.T) {
	rec := &recorder{}
	sim := startInProcess(t, rec)
	raw := []byte{0xef, 0xbb, 0xbf, '{', '}', 0xff}
	tests := []struct {
		name        string
		contentType string
		chunked     bool
		wantBody    any // string, or nil for absent
	}{
		{"octet-stream as base64", "application/octet-stream", false, base64.StdEncoding.EncodeToString(raw)},
		{"multipart as base64", "multipart/form-data; boundary=x", false, base64.StdEncoding.EncodeToString(raw)},
		{"json as text: BOM stripped, invalid byte replaced", "application/json", false, "{}\uFFFD"},
		{"chunked: no Body", "application/json", true, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{"Content-Type": {tc.contentType}}
			if tc.chunked {
				h.Set("Transfer-Encoding", "chunked")
			}
			sim.HTTP(http.MethodPost, "/api/items/1", nil, h, raw)
			data, _ := envelopeOf(t, rec.last(t))
			var req map[string]json.RawMessage
			json.Unmarshal(data["req"], &req)
			b, present := req["Body"]
			if tc.wantBody == nil {
				if present {
					t.Errorf("Body = %s, want absent", b)
				}
				return
			}
			if !present || unquote(t, b) != tc.wantBody {
				t.Errorf("Body = %s, want %q", b, tc.wantBody)
			}
		})
	}
}

func TestHTTPEnvelopeRejectedReplies(t *testing.T) {
	tests := []struct {
		name  string
		reply func(w http.ResponseWriter)
	}{
		{"text/plain", func(w http.ResponseWriter) { w.Header().Set("Content-Type", "text/plain"); io.WriteString(w, `{}`) }},
		{"Go's default content type", func(w http.ResponseWriter) { io.WriteString(w, `{"Outputs":{}}`) }},
		{"empty body", func(w http.ResponseWriter) { w.Header().Set("Content-Type", "application/json") }},
		{"null", func(w http.ResponseWriter) { writeJSON(w, 200, "null") }},
		{"Logs of numbers", func(w http.ResponseWriter) { writeJSON(w, 200, `{"Logs":[1]}`) }},
		{"non-2xx", func(w http.ResponseWriter) { writeJSON(w, 503, `{"Outputs":{"res":{"statusCode":200,"body":"x"}}}`) }},
		{"bad statusCode", func(w http.ResponseWriter) { writeJSON(w, 200, `{"Outputs":{"res":{"statusCode":"two hundred"}}}`) }},
		{"array header", func(w http.ResponseWriter) { writeJSON(w, 200, `{"Outputs":{"res":{"headers":{"X":["a","b"]}}}}`) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sim := startInProcess(t, &recorder{reply: func(w http.ResponseWriter, _ *http.Request, _ []byte) { tc.reply(w) }})
			res := sim.HTTP(http.MethodPost, "/api/items/1", nil, nil, []byte("{}"))
			if res.StatusCode != 500 || len(res.Body) != 0 {
				t.Errorf("caller got %d %q, want 500 with no body", res.StatusCode, res.Body)
			}
			var re *ReplyError
			if !errors.As(res.Invocation.Err, &re) {
				t.Errorf("Invocation.Err = %v, want a *ReplyError", res.Invocation.Err)
			}
		})
	}
}

func TestHTTPEnvelopeOutputMapping(t *testing.T) {
	tests := []struct {
		name       string
		target     string
		query      url.Values
		reply      string
		wantStatus int
		wantBody   string
		wantCT     string
	}{
		{"no res: 200 {}", "/api/items/1", nil, `{"Outputs":{},"Logs":[]}`, 200, "{}", "application/json; charset=utf-8"},
		{"object body is indented", "/api/items/1", nil, `{"Outputs":{"res":{"status":202,"body":{"a":[1]}}}}`, 202, "{\n  \"a\": [\n    1\n  ]\n}", "text/plain; charset=utf-8"},
		{"$return object", "envreturn", url.Values{"code": {DefaultFunctionKey}}, `{"Outputs":{},"ReturnValue":{"statusCode":409,"headers":{"Content-Type":"application/json"},"body":"{}"}}`, 409, "{}", "application/json"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := &recorder{reply: func(w http.ResponseWriter, _ *http.Request, _ []byte) { writeJSON(w, 200, tc.reply) }}
			sim := startInProcess(t, rec)
			res := sim.HTTP(http.MethodPost, tc.target, tc.query, nil, []byte("x"))
			if res.StatusCode != tc.wantStatus || string(res.Body) != tc.wantBody || res.Header.Get("Content-Type") != tc.wantCT {
				t.Errorf("caller got %d %q %q (err %v)", res.StatusCode, res.Body, res.Header.Get("Content-Type"), res.Invocation.Err)
			}
		})
	}
	// envreturn's trigger is named "request": Data uses the binding name.
	rec := &recorder{}
	sim := startInProcess(t, rec)
	sim.HTTP(http.MethodPost, "envreturn", url.Values{"code": {DefaultFunctionKey}}, nil, []byte("x"))
	data, _ := envelopeOf(t, rec.last(t))
	var req struct{ Identities []map[string]any }
	if err := json.Unmarshal(data["request"], &req); err != nil || len(req.Identities) != 1 || req.Identities[0]["AuthenticationType"] != "WebJobsAuthLevel" {
		t.Errorf("Data.request identities = %+v (%v)", req.Identities, err)
	}
}

func TestServiceBusBinaryAndMetadata(t *testing.T) {
	rec := &recorder{}
	sim := startInProcess(t, rec)
	body := []byte(`{"id":820982911946154508123,"orderId":"820982911946154508","DeliveryCount":99}`)
	enq := time.Date(2025, 11, 20, 10, 15, 30, 987654321, time.UTC)
	res := sim.ServiceBus("bus", body, Message{
		MessageID: "abc", ContentType: "application/json", Subject: "order.created",
		ApplicationProperties: map[string]any{"route": "warehouse-east", "big": json.Number("820982911946154508123")},
		EnqueuedTime:          enq,
	})
	if res.Err != nil || res.Outcome != Completed || len(res.Deliveries) != 1 || res.Queue != "fulfillment-queue" || res.MessageID != "abc" {
		t.Fatalf("result = %+v", res)
	}
	got := rec.last(t)
	if got.Path != "/bus" {
		t.Errorf("path %s", got.Path)
	}
	data, md := envelopeOf(t, got)
	decoded, err := base64.StdEncoding.DecodeString(unquote(t, data["message"]))
	if err != nil || !bytes.Equal(decoded, body) {
		t.Errorf("Data.message = %s, want base64 of the exact body", data["message"])
	}
	if unquote(t, md["DeliveryCount"]) != "1" || unquote(t, md["MessageId"]) != `"abc"` || unquote(t, md["SequenceNumber"]) == "" {
		t.Errorf("DeliveryCount=%s MessageId=%s SequenceNumber=%s", md["DeliveryCount"], md["MessageId"], md["SequenceNumber"])
	}
	if unquote(t, md["EnqueuedTimeUtc"]) != "2025-11-20T10:15:30" || unquote(t, md["EnqueuedTime"]) != "2025-11-20T10:15:30+00:00" ||
		unquote(t, md["ExpiresAtUtc"]) != "2025-12-04T10:15:30" {
		t.Errorf("times %s %s %s", md["EnqueuedTimeUtc"], md["EnqueuedTime"], md["ExpiresAtUtc"])
	}
	if string(md["ApplicationProperties"]) != `{"big":820982911946154508123,"route":"warehouse-east"}` || string(md["UserProperties"]) != string(md["ApplicationProperties"]) {
		t.Errorf("ApplicationProperties = %s / %s", md["ApplicationProperties"], md["UserProperties"])
	}
	if _, ok := md["orderId"]; ok {
		t.Error("binary mode must not add body properties to Metadata")
	}
	var client map[string]any
	json.Unmarshal(md["Client"], &client)
	if client["FullyQualifiedNamespace"] != "shipwell.servicebus.windows.net" {
		t.Errorf("Client = %v", client)
	}
	for _, k := range []string{"SessionId", "ReplyTo", "CorrelationId"} {
		if _, ok := md[k]; ok {
			t.Errorf("unset %s must be left out", k)
		}
	}
}

func TestServiceBusStringModeMatchesFixture(t *testing.T) {
	fixture, err := os.ReadFile("../testdata/servicebus.request.json")
	if err != nil {
		t.Fatal(err)
	}
	var want struct{ Data, Metadata map[string]json.RawMessage }
	if err := json.Unmarshal(fixture, &want); err != nil {
		t.Fatal(err)
	}
	var body string // the fixture's message body: decode the double encoding
	json.Unmarshal([]byte(unquote(t, want.Data["orderMsg"])), &body)

	rec := &recorder{}
	sim := startInProcess(t, rec)
	res := sim.ServiceBus("busstr", []byte(body), Message{
		MessageID: "b7e1c2d3f4a54b6c8d9e0f1a2b3c4d5e", ContentType: "application/json", Subject: "order.created", CorrelationID: "checkout-7781",
		ApplicationProperties: map[string]any{"tenant": "acme", "schemaVersion": 2},
		EnqueuedTime:          time.Date(2025, 11, 20, 10, 15, 30, 0, time.UTC),
	})
	if res.Outcome != Completed {
		t.Fatalf("outcome %s: %v", res.Outcome, res.Last().Invocation.Err)
	}
	data, md := envelopeOf(t, rec.last(t))
	if string(data["orderMsg"]) != string(want.Data["orderMsg"]) {
		t.Errorf("Data.orderMsg =\n%s\nwant (fixture)\n%s", data["orderMsg"], want.Data["orderMsg"])
	}
	for key, wantVal := range want.Metadata {
		gotVal, ok := md[key]
		if !ok {
			t.Errorf("Metadata.%s missing", key)
			continue
		}
		switch key {
		case "LockToken", "Client", "sys", "SequenceNumber", "ExpiresAtUtc", "ExpiresAt": // per-delivery values
			continue
		}
		if !jsonEqual(gotVal, wantVal) {
			t.Errorf("Metadata.%s = %s, want %s", key, gotVal, wantVal)
		}
	}
}

func TestServiceBusRedeliveryAndDeadLetter(t *testing.T) {
	failUntil := func(n int) func(w http.ResponseWriter, r *http.Request, body []byte) {
		return func(w http.ResponseWriter, r *http.Request, body []byte) {
			var env struct{ Metadata map[string]json.RawMessage }
			json.Unmarshal(body, &env)
			var dc string
			json.Unmarshal(env.Metadata["DeliveryCount"], &dc)
			if count, err := strconv.Atoi(dc); err != nil || count < n {
				writeJSON(w, 500, `{}`)
				return
			}
			writeJSON(w, 200, `{"Outputs":{},"Logs":[],"ReturnValue":null}`)
		}
	}
	tests := []struct {
		name        string
		reply       func(w http.ResponseWriter, r *http.Request, body []byte)
		msg         Message
		wantOutcome Outcome
		wantCounts  []int
	}{
		{"succeeds on the third delivery", failUntil(3), Message{}, Completed, []int{1, 2, 3}},
		{"always failing: dead-lettered at max", failUntil(100), Message{MaxDeliveryCount: 4}, DeadLettered, []int{1, 2, 3, 4}},
		{"bad content type counts as failure", func(w http.ResponseWriter, _ *http.Request, _ []byte) { io.WriteString(w, "{}") },
			Message{MaxDeliveryCount: 2}, DeadLettered, []int{1, 2}},
		{"already at the limit", failUntil(100), Message{DeliveryCount: 10}, DeadLettered, []int{10}},
		{"redelivered message succeeds", failUntil(1), Message{DeliveryCount: 3}, Completed, []int{3}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := &recorder{reply: tc.reply}
			sim := startInProcess(t, rec)
			res := sim.ServiceBus("bus", []byte(`{"a":1}`), tc.msg)
			if res.Outcome != tc.wantOutcome || len(res.Deliveries) != len(tc.wantCounts) {
				t.Fatalf("outcome %s after %d deliveries, want %s after %d", res.Outcome, len(res.Deliveries), tc.wantOutcome, len(tc.wantCounts))
			}
			locks := map[string]bool{}
			for i, d := range res.Deliveries {
				if d.DeliveryCount != tc.wantCounts[i] {
					t.Errorf("delivery %d has DeliveryCount %d, want %d", i, d.DeliveryCount, tc.wantCounts[i])
				}
				wantOutcome := Abandoned
				if i == len(res.Deliveries)-1 {
					wantOutcome = tc.wantOutcome
				}
				if d.Outcome != wantOutcome {
					t.Errorf("delivery %d outcome %s, want %s", i, d.Outcome, wantOutcome)
				}
				locks[d.LockToken] = true
			}
			if len(locks) != len(res.Deliveries) {
				t.Error("each delivery needs its own lock token")
			}
			if tc.wantOutcome == DeadLettered && res.DeadLetterReason != "MaxDeliveryCountExceeded" {
				t.Errorf("reason %q", res.DeadLetterReason)
			}
			if n := len(rec.requests()); n != len(tc.wantCounts) {
				t.Errorf("handler saw %d deliveries", n)
			}
		})
	}
}

func TestServiceBusConcurrentAndErrors(t *testing.T) {
	rec := &recorder{}
	sim := startInProcess(t, rec)
	var wg sync.WaitGroup
	results := make([]*ServiceBusResult, 16)
	for i := range results {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			results[i] = sim.ServiceBus("bus", []byte(fmt.Sprintf(`{"n":%d}`, i)), Message{})
		}(i)
	}
	wg.Wait()
	seq := map[string]bool{}
	for i, r := range results {
		if r.Outcome != Completed {
			t.Errorf("message %d: %s", i, r.Outcome)
		}
	}
	for _, inv := range sim.Invocations() {
		_, md, err := inv.Envelope()
		if err != nil {
			t.Fatal(err)
		}
		seq[string(md["SequenceNumber"])] = true
	}
	if len(seq) != len(results) {
		t.Errorf("sequence numbers not unique: %v", seq)
	}
	if r := sim.ServiceBus("nope", nil, Message{}); r.Err == nil {
		t.Error("unknown function must be an error")
	}
	if r := sim.ServiceBus("tick", nil, Message{}); r.Err == nil {
		t.Error("a timer function is not a Service Bus function")
	}
}

func TestTimer(t *testing.T) {
	rec := &recorder{}
	sim := startInProcess(t, rec)
	decode := func(name string) (map[string]json.RawMessage, map[string]json.RawMessage) {
		data, md := envelopeOf(t, rec.last(t))
		var ti map[string]json.RawMessage
		if err := json.Unmarshal(data[name], &ti); err != nil {
			t.Fatalf("Data.%s: %v (%s)", name, err, data)
		}
		return ti, md
	}

	res := sim.Timer("tick", TimerOptions{})
	if !res.Succeeded || len(res.Attempts) != 1 {
		t.Fatalf("result %+v", res)
	}
	ti, md := decode("timer")
	var status struct{ Last, Next, LastUpdated string }
	if err := json.Unmarshal(ti["ScheduleStatus"], &status); err != nil {
		t.Fatalf("ScheduleStatus: %v", err)
	}
	next, err := time.Parse(time.RFC3339, status.Next)
	last, err2 := time.Parse(time.RFC3339, status.Last)
	if err != nil || err2 != nil || next.Minute() != 0 || next.Second() != 0 || next.Sub(last) != time.Hour || !strings.HasSuffix(status.Next, "+00:00") {
		t.Errorf("ScheduleStatus = %+v", status)
	}
	if string(ti["IsPastDue"]) != "false" || string(ti["Schedule"]) != `{"AdjustForDST":true}` {
		t.Errorf("TimerInfo = %s", ti)
	}
	if len(md) != 1 || md["sys"] == nil {
		t.Errorf("timer Metadata must hold only sys: %v", md)
	}

	sim.Timer("tick", TimerOptions{FirstRun: true, PastDue: true, Next: time.Date(2025, 11, 20, 2, 30, 0, 0, time.UTC)})
	ti, _ = decode("timer")
	json.Unmarshal(ti["ScheduleStatus"], &status)
	if status.Last != "0001-01-01T00:00:00+00:00" || status.LastUpdated != status.Last || status.Next != "2025-11-20T02:30:00+00:00" || string(ti["IsPastDue"]) != "true" {
		t.Errorf("first run: %+v past due %s", status, ti["IsPastDue"])
	}

	sim.Timer("tick", TimerOptions{NoScheduleStatus: true})
	if ti, _ = decode("timer"); string(ti["ScheduleStatus"]) != "null" {
		t.Errorf("ScheduleStatus = %s, want null", ti["ScheduleStatus"])
	}
	sim.Timer("nomon", TimerOptions{})
	if ti, _ = decode("timer"); string(ti["ScheduleStatus"]) != "null" {
		t.Errorf("useMonitor false: ScheduleStatus = %s, want null", ti["ScheduleStatus"])
	}

	sim.Timer("tick", TimerOptions{RetryContext: &RetryContext{RetryCount: 1, MaxRetryCount: 3}})
	_, md = decode("timer")
	if string(md["RetryContext"]) != `{"Exception":null,"MaxRetryCount":3,"RetryCount":1}` {
		t.Errorf("RetryContext = %s", md["RetryContext"])
	}
}

func TestTimerRetryPolicy(t *testing.T) {
	tests := []struct {
		name        string
		succeedAt   int // RetryCount at which the handler succeeds; -1 never
		wantAttempt int
		wantOK      bool
	}{
		{"never succeeds", -1, 3, false},
		{"succeeds on first retry", 1, 2, true},
		{"succeeds at once", 0, 1, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var counts []string
			rec := &recorder{reply: func(w http.ResponseWriter, r *http.Request, body []byte) {
				var env struct {
					Metadata struct{ RetryContext map[string]json.RawMessage }
				}
				json.Unmarshal(body, &env)
				rc := env.Metadata.RetryContext
				counts = append(counts, string(rc["RetryCount"])+"/"+string(rc["MaxRetryCount"])+"/"+string(rc["Exception"]))
				if string(rc["RetryCount"]) == fmt.Sprint(tc.succeedAt) {
					writeJSON(w, 200, `{}`)
					return
				}
				writeJSON(w, 500, `{}`)
			}}
			sim := startInProcess(t, rec)
			res := sim.Timer("tickretry", TimerOptions{})
			if res.Succeeded != tc.wantOK || len(res.Attempts) != tc.wantAttempt {
				t.Fatalf("succeeded=%v attempts=%d, want %v %d", res.Succeeded, len(res.Attempts), tc.wantOK, tc.wantAttempt)
			}
			if !strings.HasPrefix(counts[0], "0/2/null") {
				t.Errorf("first attempt RetryContext = %s", counts[0])
			}
			if len(counts) > 1 && !strings.Contains(counts[1], "1/2/") || len(counts) > 1 && !strings.Contains(counts[1], "500") {
				t.Errorf("second attempt RetryContext = %s", counts[1])
			}
		})
	}
}

func TestNetTime(t *testing.T) {
	tests := []struct {
		in   time.Time
		want string
	}{
		{time.Date(2025, 11, 20, 2, 30, 0, 0, time.UTC), "2025-11-20T02:30:00+00:00"},
		{time.Date(2025, 11, 19, 2, 30, 0, 4651200, time.UTC), "2025-11-19T02:30:00.0046512+00:00"},
		{time.Date(2025, 11, 19, 2, 30, 0, 500000000, time.FixedZone("x", 3600)), "2025-11-19T01:30:00.5+00:00"},
	}
	for _, tc := range tests {
		if got := netTime(tc.in); got != tc.want {
			t.Errorf("netTime(%v) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// jsonEqual compares two JSON values ignoring formatting and key order.
func jsonEqual(a, b json.RawMessage) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	return reflect.DeepEqual(x, y)
}
