package functions

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"testing"
)

func TestDecodeHTTPRequestFixture(t *testing.T) {
	inv, err := ParseInvocation(readFixture(t, "http-no-forwarding.request.json"))
	if err != nil {
		t.Fatal(err)
	}
	req, err := inv.HTTPRequest("req")
	if err != nil {
		t.Fatalf("HTTPRequest: %v", err)
	}
	wantBody := `{"orderId":"ORD-1001","amount":129.95,"currency":"EUR","lines":[{"sku":"SKU-1","qty":2}]}`
	if string(req.Body) != wantBody {
		t.Errorf("Body = %s", req.Body)
	}
	if req.BodyEncoding != BodyText || req.BodyExact || req.ContentLengthMismatch {
		t.Errorf("encoding=%v exact=%v mismatch=%v, want text/false/false", req.BodyEncoding, req.BodyExact, req.ContentLengthMismatch)
	}
	if req.Method != "POST" || req.URL != "http://localhost:7071/api/OrderWebhook?code=Xk3v...redacted...==&source=shop" {
		t.Errorf("Method=%q URL=%q", req.Method, req.URL)
	}
	if req.Query["code"] != "Xk3v...redacted...==" || req.Query["source"] != "shop" {
		t.Errorf("Query = %v", req.Query)
	}
	// Header names are canonical, lookups case-insensitive.
	if got := req.Header.Get("x-signature-sha256"); got != "sha256=9f2c6b0e5a1d4c3b2a19f8e7d6c5b4a39281706f5e4d3c2b1a09f8e7d6c5b4a3" {
		t.Errorf("signature header = %q", got)
	}
	if got := req.Header.Get("content-type"); got != "application/json" {
		t.Errorf("content-type = %q", got)
	}
	if len(req.Identities) != 1 {
		t.Errorf("Identities = %d, want 1", len(req.Identities))
	}
	if len(req.Params) != 0 {
		t.Errorf("Params = %v", req.Params)
	}
}

func TestDecodeHTTPRequestBodies(t *testing.T) {
	raw := []byte{0x00, 0xff, 0xfe, 'a', 0xef, 0xbb, 0xbf}
	b64 := base64.StdEncoding.EncodeToString(raw)
	tests := []struct {
		name     string
		envelope string
		wantBody []byte
		wantEnc  BodyEncoding
		exact    bool
		mismatch bool
	}{
		{"octet-stream is base64 and exact",
			`{"Headers":{"Content-Type":["application/octet-stream"]},"Body":"` + b64 + `"}`, raw, BodyBase64, true, false},
		{"multipart is base64",
			`{"Headers":{"content-type":["multipart/form-data; boundary=x"]},"Body":"` + b64 + `"}`, raw, BodyBase64, true, false},
		{"octet-stream unpadded base64 accepted",
			`{"Headers":{"Content-Type":["application/octet-stream"]},"Body":"YWI"}`, []byte("ab"), BodyBase64, true, false},
		{"octet-stream but not base64: text",
			`{"Headers":{"Content-Type":["application/octet-stream"]},"Body":"not base64!"}`, []byte("not base64!"), BodyText, false, false},
		{"json body is text (base64 look-alike is not decoded)",
			`{"Headers":{"Content-Type":["application/json"]},"Body":"dGVzdA=="}`, []byte("dGVzdA=="), BodyText, false, false},
		{"text with Content-Length mismatch (BOM stripped upstream)",
			`{"Headers":{"Content-Type":["application/json"],"Content-Length":["5"]},"Body":"{}"}`, []byte("{}"), BodyText, false, true},
		{"non-ASCII text round-trips as UTF-8",
			`{"Headers":{"Content-Type":["text/plain"],"Content-Length":["7"]},"Body":"h\u00e9llo"}`, []byte("héllo"), BodyText, false, true},
		{"no Body", `{"Headers":{}}`, nil, BodyNone, false, false},
		{"null Body", `{"Body":null}`, nil, BodyNone, false, false},
		{"empty string Body", `{"Body":""}`, []byte{}, BodyText, false, false},
		{"object Body from an old host", `{"Body":{"a":1}}`, []byte(`{"a":1}`), BodyJSON, false, false},
		{"number Body", `{"Body":12}`, []byte(`12`), BodyText, false, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, err := DecodeHTTPRequest(json.RawMessage(tc.envelope))
			if err != nil {
				t.Fatalf("DecodeHTTPRequest: %v", err)
			}
			if !bytes.Equal(req.Body, tc.wantBody) || (req.Body == nil) != (tc.wantBody == nil) {
				t.Errorf("Body = %q, want %q", req.Body, tc.wantBody)
			}
			if req.BodyEncoding != tc.wantEnc || req.BodyExact != tc.exact || req.ContentLengthMismatch != tc.mismatch {
				t.Errorf("enc=%v exact=%v mismatch=%v, want %v/%v/%v", req.BodyEncoding, req.BodyExact, req.ContentLengthMismatch, tc.wantEnc, tc.exact, tc.mismatch)
			}
		})
	}
}

func TestDecodeHTTPRequestLenientShapes(t *testing.T) {
	tests := []struct {
		name      string
		envelope  string
		wantQuery map[string]string
		header    string
		wantHdr   []string
		wantErr   bool
	}{
		{"old Query string {}", `{"Query":"{}"}`, map[string]string{}, "", nil, false},
		{"old Query string with JSON", `{"Query":"{\"a\":\"1\"}"}`, map[string]string{"a": "1"}, "", nil, false},
		{"raw query string", `{"Query":"a=1&a=2&b=x%20y"}`, map[string]string{"a": "1,2", "b": "x y"}, "", nil, false},
		{"numbers in Query", `{"Query":{"n":5}}`, map[string]string{"n": "5"}, "", nil, false},
		{"header single string", `{"Headers":{"x-a":"v"}}`, map[string]string{}, "X-A", []string{"v"}, false},
		{"header repeated values", `{"Headers":{"X-B":["1","2"]}}`, map[string]string{}, "x-b", []string{"1", "2"}, false},
		{"lowercase field names", `{"headers":{"X-C":["c"]},"query":{"q":"1"}}`, map[string]string{"q": "1"}, "X-C", []string{"c"}, false},
		{"null everything", `{"Url":null,"Query":null,"Headers":null,"Params":null,"Identities":null,"Body":null}`, map[string]string{}, "", nil, false},
		{"header object value", `{"Headers":{"X":[{"a":1}]}}`, nil, "", nil, true},
		{"not an object", `[1]`, nil, "", nil, true},
		{"Query array", `{"Query":[1]}`, nil, "", nil, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, err := DecodeHTTPRequest(json.RawMessage(tc.envelope))
			if tc.wantErr {
				if err == nil {
					t.Fatalf("want error, got %+v", req)
				}
				return
			}
			if err != nil {
				t.Fatalf("DecodeHTTPRequest: %v", err)
			}
			if len(req.Query) != len(tc.wantQuery) {
				t.Errorf("Query = %v, want %v", req.Query, tc.wantQuery)
			}
			for k, v := range tc.wantQuery {
				if req.Query[k] != v {
					t.Errorf("Query[%s] = %q, want %q", k, req.Query[k], v)
				}
			}
			if tc.header != "" {
				got := req.Header.Values(tc.header)
				if len(got) != len(tc.wantHdr) {
					t.Fatalf("header %s = %v, want %v", tc.header, got, tc.wantHdr)
				}
				for i := range got {
					if got[i] != tc.wantHdr[i] {
						t.Errorf("header %s = %v, want %v", tc.header, got, tc.wantHdr)
					}
				}
			}
		})
	}
}

func TestHTTPRequestNewRequest(t *testing.T) {
	req := &HTTPRequest{
		URL:    "http://shop.example:7071/api/order-created?code=k&x=%2B1",
		Method: "POST",
		Header: http.Header{"Content-Type": {"application/json"}, "Host": {"front.example"}},
		Body:   []byte(`{"id":1}`),
	}
	r, err := req.NewRequest(context.Background())
	if err != nil {
		t.Fatalf("NewRequest: %v", err)
	}
	if r.Method != "POST" || r.URL.Path != "/api/order-created" || r.URL.RawQuery != "code=k&x=%2B1" {
		t.Errorf("method=%s path=%s query=%s", r.Method, r.URL.Path, r.URL.RawQuery)
	}
	if r.Host != "front.example" || r.Header.Get("Host") != "" {
		t.Errorf("Host = %q (header %q)", r.Host, r.Header.Get("Host"))
	}
	if r.ContentLength != 8 {
		t.Errorf("ContentLength = %d", r.ContentLength)
	}
	b, _ := io.ReadAll(r.Body)
	if string(b) != `{"id":1}` {
		t.Errorf("body = %q", b)
	}
	if r.RequestURI != "/api/order-created?code=k&x=%2B1" {
		t.Errorf("RequestURI = %q", r.RequestURI)
	}

	for _, bad := range []string{"GET /x", "", "P\x00ST"} {
		if _, err := (&HTTPRequest{Method: bad}).NewRequest(context.Background()); err == nil {
			t.Errorf("method %q accepted", bad)
		}
	}
	r, err = (&HTTPRequest{Method: "GET", URL: "::not a url"}).NewRequest(context.Background())
	if err != nil || r.URL.Path != "/" || r.Body != http.NoBody {
		t.Errorf("unparsable URL: %v %v", r, err)
	}
}
