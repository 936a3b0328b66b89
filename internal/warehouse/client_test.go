package warehouse

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shipwell/orderflow/internal/order"
)

const testKey = "sk_test_Secret-123"

// newClient returns a client for srv with the base path /api/v1.
func newClient(t *testing.T, srv *httptest.Server, mod func(*Config)) *Client {
	t.Helper()
	cfg := Config{Name: "warehouse-east", BaseURL: srv.URL + "/api/v1/", Key: testKey, Timeout: 2 * time.Second}
	if mod != nil {
		mod(&cfg)
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return c
}

// sampleOrder is the DESIGN.md §5.2 order with an id above 2^63 and an address with a company.
func sampleOrder() *order.Order {
	return &order.Order{
		ID:          "acme.myshopify.com-18446744073709551615",
		Shop:        "acme.myshopify.com",
		OrderID:     "18446744073709551615",
		Name:        "#1001",
		OrderNumber: 1001,
		Priority:    order.PriorityHigh,
		Currency:    "USD",
		TotalPrice:  "598.94",
		Lines: []order.Line{
			{LineItemID: "820982911946154508", SKU: "IPOD2008PINK", Name: "IPod Nano - 8gb", Quantity: 2, FulfillableQuantity: 1, RequiresShipping: true, Price: "199.00"},
			{LineItemID: "466157049", SKU: "IPOD2008BLACK", Name: "IPod Nano \"8gb\" <black>", Quantity: 3, FulfillableQuantity: 0, RequiresShipping: true, Price: "199.98"},
		},
		ShippingAddress: &order.Address{
			Name: "Steve Shipper", Company: "Shipping Company", Address1: "123 Shipping Street", City: "Shippington",
			Province: "Kentucky", ProvinceCode: "KY", Zip: "40003", Country: "United States", CountryCode: "US", Phone: "555-555-SHIP",
		},
	}
}

func TestNewValidation(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want string // substring of the error; "" means no error
	}{
		{"ok", Config{Name: "warehouse-west", BaseURL: "https://wh.example.com/api", Key: "k"}, ""},
		{"empty base url", Config{Name: "warehouse-west", Key: "k"}, "warehouse warehouse-west: no API base URL"},
		{"blank base url", Config{Name: "international", BaseURL: "  ", Key: "k"}, "warehouse international: no API base URL"},
		{"relative url", Config{Name: "warehouse-west", BaseURL: "/api", Key: "k"}, "warehouse warehouse-west: API base URL must be an absolute"},
		{"ftp url", Config{Name: "warehouse-west", BaseURL: "ftp://x/api", Key: "k"}, "absolute http(s) URL"},
		{"credentials in url", Config{Name: "warehouse-west", BaseURL: "https://u:p@x/api", Key: "k"}, "must not contain credentials"},
		{"no key", Config{Name: "warehouse-west", BaseURL: "https://x/api"}, "warehouse warehouse-west: no API key"},
		{"key with newline", Config{Name: "warehouse-west", BaseURL: "https://x/api", Key: "a\nb"}, "not allowed in an HTTP header"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := New(tt.cfg)
			if tt.want == "" {
				if err != nil || c == nil {
					t.Fatalf("New: %v", err)
				}
				if c.Name() != tt.cfg.Name {
					t.Errorf("Name() = %q", c.Name())
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error = %v, want it to contain %q", err, tt.want)
			}
			if tt.cfg.Key != "" && strings.Contains(err.Error(), tt.cfg.Key) && len(tt.cfg.Key) > 1 {
				t.Errorf("error contains the key: %v", err)
			}
		})
	}
}

// captured is one request as the server saw it.
type captured struct {
	method, path, rawURI string
	header               http.Header
	body                 []byte
}

// recorder answers every request with status/body and keeps what it received.
type recorder struct {
	mu     sync.Mutex
	reqs   []captured
	status int
	header map[string]string
	body   string
}

func (rc *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	rc.reqs = append(rc.reqs, captured{r.Method, r.URL.Path, r.RequestURI, r.Header.Clone(), b})
	rc.mu.Unlock()
	for k, v := range rc.header {
		w.Header().Set(k, v)
	}
	w.WriteHeader(rc.status)
	io.WriteString(w, rc.body)
}

func (rc *recorder) requests() []captured {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]captured(nil), rc.reqs...)
}

func TestDispatchRequestShape(t *testing.T) {
	rc := &recorder{status: http.StatusCreated, body: `{"fulfillmentId":"WH-E-1"}`}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	c := newClient(t, srv, nil)

	id, err := c.Dispatch(context.Background(), sampleOrder(), "acme.myshopify.com-18446744073709551615:warehouse-east")
	if err != nil {
		t.Fatalf("Dispatch: %v", err)
	}
	if id != "WH-E-1" {
		t.Errorf("fulfillment id = %q, want WH-E-1", id)
	}
	reqs := rc.requests()
	if len(reqs) != 1 {
		t.Fatalf("got %d requests, want 1", len(reqs))
	}
	r := reqs[0]
	if r.method != http.MethodPost || r.path != "/api/v1/fulfillments" {
		t.Errorf("request = %s %s, want POST /api/v1/fulfillments", r.method, r.path)
	}
	wantHeaders := map[string]string{
		"Authorization":   "Bearer " + testKey,
		"Content-Type":    "application/json",
		"Idempotency-Key": "acme.myshopify.com-18446744073709551615:warehouse-east",
		"Accept":          "application/json",
	}
	for k, v := range wantHeaders {
		if got := r.header.Values(k); len(got) != 1 || got[0] != v {
			t.Errorf("header %s = %q, want [%q]", k, got, v)
		}
	}
	// Byte-level: the seed fields in order, ids as exact decimal strings, the additions documented
	// on DispatchRequest, state/country as codes, quantity = fulfillable (or quantity when 0).
	want := `{"externalOrderId":"18446744073709551615","orderNumber":1001,"orderName":"#1001","priority":"high",` +
		`"currency":"USD","totalPrice":"598.94","items":[` +
		`{"sku":"IPOD2008PINK","quantity":1,"name":"IPod Nano - 8gb","lineItemId":"820982911946154508","price":"199.00"},` +
		`{"sku":"IPOD2008BLACK","quantity":3,"name":"IPod Nano \"8gb\" \u003cblack\u003e","lineItemId":"466157049","price":"199.98"}],` +
		`"shippingAddress":{"name":"Steve Shipper","company":"Shipping Company","address1":"123 Shipping Street","address2":"",` +
		`"city":"Shippington","state":"KY","zip":"40003","country":"US","phone":"555-555-SHIP"}}`
	if string(r.body) != want {
		t.Errorf("body:\n got %s\nwant %s", r.body, want)
	}
}

func TestDispatchMinimalOrder(t *testing.T) {
	rc := &recorder{status: http.StatusOK, body: `{"fulfillmentId":"X"}`}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	c := newClient(t, srv, nil)
	o := &order.Order{OrderID: "820982911946154508", OrderNumber: 1,
		Lines:           []order.Line{{LineItemID: "1", SKU: "A-1", Quantity: 1, FulfillableQuantity: 1, RequiresShipping: true}},
		ShippingAddress: &order.Address{Name: "N", Address1: "A1", City: "C", Province: "Ontario", Zip: "Z", Country: "Canada"}}
	if _, err := c.Dispatch(context.Background(), o, "k1"); err != nil {
		t.Fatalf("Dispatch: %v", err)
	}
	want := `{"externalOrderId":"820982911946154508","orderNumber":1,"items":[{"sku":"A-1","quantity":1,"name":"","lineItemId":"1"}],` +
		`"shippingAddress":{"name":"N","address1":"A1","address2":"","city":"C","state":"Ontario","zip":"Z","country":"Canada"}}`
	if got := string(rc.requests()[0].body); got != want {
		t.Errorf("body:\n got %s\nwant %s", got, want)
	}
}

func TestDispatchBadInputSendsNothing(t *testing.T) {
	rc := &recorder{status: http.StatusOK}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	c := newClient(t, srv, nil)
	noAddr := sampleOrder()
	noAddr.ShippingAddress = nil
	noLines := sampleOrder()
	noLines.Lines = nil
	zeroQty := sampleOrder()
	zeroQty.Lines = []order.Line{{LineItemID: "1", SKU: "A", Quantity: 0}}
	noSKU := sampleOrder()
	noSKU.Lines[0].SKU = ""
	noID := sampleOrder()
	noID.OrderID = ""
	tests := []struct {
		name string
		o    *order.Order
		key  string
		want string
	}{
		{"nil order", nil, "k", "no order"},
		{"no order id", noID, "k", "no Shopify order id"},
		{"no address", noAddr, "k", "no shipping address"},
		{"no lines", noLines, "k", "no lines to ship"},
		{"zero quantity", zeroQty, "k", "no lines to ship"},
		{"line without sku", noSKU, "k", "has no SKU"},
		{"empty key", sampleOrder(), "", "empty Idempotency-Key"},
		{"key with newline", sampleOrder(), "a\r\nX-Evil: 1", "not allowed in an HTTP header"},
		{"key too long", sampleOrder(), strings.Repeat("k", 256), "longer than 255"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := c.Dispatch(context.Background(), tt.o, tt.key)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error = %v, want %q", err, tt.want)
			}
			if !order.IsPermanent(err) {
				t.Errorf("error not permanent: %v", err)
			}
			if !strings.Contains(err.Error(), "warehouse warehouse-east: dispatch order") {
				t.Errorf("error lacks context: %v", err)
			}
		})
	}
	if n := len(rc.requests()); n != 0 {
		t.Errorf("%d requests sent for bad input", n)
	}
}

func TestDispatchStatuses(t *testing.T) {
	now := time.Now()
	tests := []struct {
		name       string
		status     int
		body       string
		header     map[string]string
		wantID     string
		wantErr    string // "" means success
		permanent  bool
		retryAfter time.Duration // exact, or a minimum when retryAfterMin is set
		raMin      bool
	}{
		{"201 string id", 201, `{"fulfillmentId":"WH-E-1"}`, nil, "WH-E-1", "", false, 0, false},
		{"200 numeric big id", 200, `{"fulfillmentId":18446744073709551615}`, nil, "18446744073709551615", "", false, 0, false},
		{"202 extra fields", 202, `{"status":"accepted","fulfillmentId":"820982911946154508","eta":null}`, nil, "820982911946154508", "", false, 0, false},
		{"200 empty body", 200, ``, nil, "", "", false, 0, false},
		{"200 invalid json", 200, `<html>ok</html>`, nil, "", "", false, 0, false},
		{"200 null id", 200, `{"fulfillmentId":null}`, nil, "", "", false, 0, false},
		{"409 with id", 409, `{"error":"duplicate","fulfillmentId":"WH-E-7"}`, nil, "WH-E-7", "", false, 0, false},
		{"409 numeric id", 409, `{"fulfillmentId":820982911946154508}`, nil, "820982911946154508", "", false, 0, false},
		{"409 without body", 409, ``, nil, "", "", false, 0, false},
		{"409 text body", 409, `already exists`, nil, "", "", false, 0, false},
		{"400 permanent", 400, `{"error":"missing items"}`, nil, "", `HTTP 400 Bad Request: {"error":"missing items"}`, true, 0, false},
		{"401 permanent", 401, `unauthorized`, nil, "", "HTTP 401 Unauthorized", true, 0, false},
		{"404 permanent", 404, ``, nil, "", "HTTP 404 Not Found", true, 0, false},
		{"422 permanent", 422, `{"error":"unknown sku IPOD2008PINK"}`, nil, "", "unknown sku IPOD2008PINK", true, 0, false},
		{"500 transient", 500, `boom`, nil, "", "HTTP 500 Internal Server Error: boom", false, 0, false},
		{"502 transient", 502, ``, nil, "", "HTTP 502", false, 0, false},
		{"503 no retry-after", 503, ``, nil, "", "HTTP 503", false, 0, false},
		{"503 retry-after seconds", 503, ``, map[string]string{"Retry-After": "7"}, "", "HTTP 503", false, 7 * time.Second, false},
		{"429 retry-after seconds", 429, `slow down`, map[string]string{"Retry-After": "2"}, "", "HTTP 429 Too Many Requests", false, 2 * time.Second, false},
		{"429 retry-after date", 429, ``, map[string]string{"Retry-After": now.Add(90 * time.Second).UTC().Format(http.TimeFormat)}, "", "HTTP 429", false, 80 * time.Second, true},
		{"429 retry-after garbage", 429, ``, map[string]string{"Retry-After": "soon"}, "", "HTTP 429", false, 0, false},
		{"500 retry-after ignored", 500, ``, map[string]string{"Retry-After": "5"}, "", "HTTP 500", false, 0, false},
		{"302 unexpected", 302, ``, map[string]string{"Location": ""}, "", "unexpected answer", true, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rc := &recorder{status: tt.status, body: tt.body, header: tt.header}
			srv := httptest.NewServer(rc)
			defer srv.Close()
			c := newClient(t, srv, nil)
			id, err := c.Dispatch(context.Background(), sampleOrder(), "key-1")
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Dispatch: %v", err)
				}
				if id != tt.wantID {
					t.Errorf("id = %q, want %q", id, tt.wantID)
				}
				return
			}
			if err == nil {
				t.Fatalf("Dispatch succeeded with id %q, want error %q", id, tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error = %q, want it to contain %q", err, tt.wantErr)
			}
			if !strings.Contains(err.Error(), "warehouse warehouse-east: dispatch order 18446744073709551615") {
				t.Errorf("error lacks warehouse/order context: %q", err)
			}
			if got := order.IsPermanent(err); got != tt.permanent {
				t.Errorf("IsPermanent = %v, want %v (%v)", got, tt.permanent, err)
			}
			ra := order.RetryAfter(err)
			if tt.raMin {
				if ra < tt.retryAfter || ra > 90*time.Second {
					t.Errorf("RetryAfter = %v, want in [%v, 90s]", ra, tt.retryAfter)
				}
			} else if ra != tt.retryAfter {
				t.Errorf("RetryAfter = %v, want %v", ra, tt.retryAfter)
			}
			var se *StatusError
			if !errors.As(err, &se) || se.Status != tt.status {
				t.Errorf("errors.As StatusError = %+v, want status %d", se, tt.status)
			}
		})
	}
}

func TestDispatchErrorNeverLeaksSecrets(t *testing.T) {
	// A warehouse that echoes the request (key and address included) in its 4xx body.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		w.WriteHeader(http.StatusUnprocessableEntity)
		io.WriteString(w, "auth="+r.Header.Get("Authorization")+"\x00\x1b[31m body="+string(b))
	}))
	defer srv.Close()
	c := newClient(t, srv, nil)
	_, err := c.Dispatch(context.Background(), sampleOrder(), "k")
	if err == nil {
		t.Fatal("want error")
	}
	msg := err.Error()
	for _, secret := range []string{testKey, "123 Shipping Street", "Steve Shipper", "40003", "555-555-SHIP", "\x00", "\x1b"} {
		if strings.Contains(msg, secret) {
			t.Errorf("error contains %q: %s", secret, msg)
		}
	}
	if !strings.Contains(msg, "auth=Bearer [redacted]") {
		t.Errorf("error does not show the redacted snippet: %s", msg)
	}
	var se *StatusError
	if !errors.As(err, &se) || len([]rune(se.Body)) > snippetLen+1 {
		t.Errorf("snippet not bounded: %d runes", len([]rune(se.Body)))
	}
}

func TestRetryAfterParsing(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		in     string
		want   time.Duration
		wantOK bool
	}{
		{"", 0, false},
		{"0", 0, true},
		{"  30 ", 30 * time.Second, true},
		{"-1", 0, false},
		{"1.5", 0, false},
		{"99999999999999999999", 0, false},
		{"86400", MaxRetryAfter, true},
		{"Sun, 01 Mar 2026 12:00:45 GMT", 45 * time.Second, true},
		{"Sunday, 01-Mar-26 12:01:00 GMT", time.Minute, true},
		{"Sun Mar  1 12:00:10 2026", 10 * time.Second, true},
		{"Sun, 01 Mar 2026 11:00:00 GMT", 0, true},
		{"Mon, 02 Mar 2026 12:00:00 GMT", MaxRetryAfter, true},
		{"tomorrow", 0, false},
	}
	for _, tt := range tests {
		got, ok := parseRetryAfter(tt.in, now)
		if got != tt.want || ok != tt.wantOK {
			t.Errorf("parseRetryAfter(%q) = %v, %v; want %v, %v", tt.in, got, ok, tt.want, tt.wantOK)
		}
	}
}

func TestDispatchTimeout(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	defer srv.Close()
	defer close(release)
	c := newClient(t, srv, func(cfg *Config) { cfg.Timeout = 50 * time.Millisecond })
	_, err := c.Dispatch(context.Background(), sampleOrder(), "k")
	if err == nil {
		t.Fatal("want timeout error")
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("error does not wrap DeadlineExceeded: %v", err)
	}
	if order.IsPermanent(err) {
		t.Errorf("timeout must be transient: %v", err)
	}
	if strings.Contains(err.Error(), "127.0.0.1") {
		t.Errorf("error carries the full URL: %v", err)
	}
	if !strings.Contains(err.Error(), "POST /api/v1/fulfillments") {
		t.Errorf("error lacks the endpoint: %v", err)
	}
}

func TestCallerCancellationIsTransient(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body) // the server notices a closed connection only after the body
		<-r.Context().Done()
	}))
	defer srv.Close()
	c := newClient(t, srv, nil)
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(20*time.Millisecond, cancel)
	_, err := c.Dispatch(ctx, sampleOrder(), "k")
	if !errors.Is(err, context.Canceled) || order.IsPermanent(err) {
		t.Fatalf("err = %v, want transient context.Canceled", err)
	}
}

// resetHandler hijacks the connection and closes it with an RST, before or after reading.
func resetHandler(t *testing.T) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		conn, _, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Errorf("hijack: %v", err)
			return
		}
		if tc, ok := conn.(*net.TCPConn); ok {
			tc.SetLinger(0)
		}
		conn.Close()
	})
}

func TestTransportFailuresAreTransient(t *testing.T) {
	reset := httptest.NewServer(resetHandler(t))
	defer reset.Close()
	closed := httptest.NewServer(http.NotFoundHandler())
	closedURL := closed.URL
	closed.Close()
	garbage := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, buf, _ := http.NewResponseController(w).Hijack()
		buf.WriteString("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{\"fulfillmentId\":")
		buf.Flush()
		conn.Close()
	}))
	defer garbage.Close()

	for _, tc := range []struct{ name, url string }{
		{"connection reset", reset.URL},
		{"connection refused", closedURL},
		{"truncated body", garbage.URL},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := New(Config{Name: "warehouse-west", BaseURL: tc.url, Key: testKey, Timeout: 2 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			_, err = c.Dispatch(context.Background(), sampleOrder(), "k")
			if err == nil {
				t.Fatal("want error")
			}
			if order.IsPermanent(err) {
				t.Errorf("must be transient: %v", err)
			}
			if !strings.Contains(err.Error(), "warehouse warehouse-west: dispatch order 18446744073709551615: POST /fulfillments") {
				t.Errorf("error lacks context: %v", err)
			}
			err = c.Cancel(context.Background(), "F-1", "k")
			if err == nil || order.IsPermanent(err) {
				t.Errorf("cancel: want transient error, got %v", err)
			}
		})
	}
}

func TestRedirectNotFollowed(t *testing.T) {
	var moved atomic.Int32
	mux := http.NewServeMux()
	mux.HandleFunc("/api/v1/fulfillments", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/elsewhere", http.StatusFound)
	})
	mux.HandleFunc("/elsewhere", func(w http.ResponseWriter, r *http.Request) {
		moved.Add(1)
		io.WriteString(w, `{"fulfillmentId":"WRONG"}`)
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	c := newClient(t, srv, nil)
	id, err := c.Dispatch(context.Background(), sampleOrder(), "k")
	if err == nil || !order.IsPermanent(err) || !strings.Contains(err.Error(), "HTTP 302") {
		t.Fatalf("Dispatch = %q, %v; want permanent HTTP 302 error", id, err)
	}
	if moved.Load() != 0 {
		t.Error("redirect was followed")
	}
}

func TestResponseBodyLimit(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"fulfillmentId":"`+strings.Repeat("x", 4096)+`"}`)
	}))
	defer srv.Close()
	c := newClient(t, srv, func(cfg *Config) { cfg.MaxResponseBytes = 1024 })
	_, err := c.Dispatch(context.Background(), sampleOrder(), "k")
	if err == nil || !strings.Contains(err.Error(), "larger than 1024 bytes") {
		t.Fatalf("err = %v, want body limit error", err)
	}
	if order.IsPermanent(err) {
		t.Errorf("body limit on an accepted dispatch must be retried (idempotent): %v", err)
	}
}

func TestCancel(t *testing.T) {
	tests := []struct {
		name      string
		id        string
		status    int
		body      string
		wantURI   string
		wantErr   string
		permanent bool
	}{
		{"200", "WH-E-1", 200, `{"status":"cancelled"}`, "/api/v1/fulfillments/WH-E-1/cancel", "", false},
		{"204", "820982911946154508", 204, ``, "/api/v1/fulfillments/820982911946154508/cancel", "", false},
		{"409 already cancelled", "WH-E-1", 409, `{"error":"already cancelled"}`, "/api/v1/fulfillments/WH-E-1/cancel", "", false},
		{"escaped id", "A/B 1?x#", 200, ``, "/api/v1/fulfillments/A%2FB%201%3Fx%23/cancel", "", false},
		{"404 unknown", "WH-E-9", 404, `{"error":"unknown fulfillment"}`, "/api/v1/fulfillments/WH-E-9/cancel", "HTTP 404 Not Found", true},
		{"422 shipped", "WH-E-1", 422, `{"error":"already shipped"}`, "/api/v1/fulfillments/WH-E-1/cancel", "already shipped", true},
		{"500", "WH-E-1", 500, ``, "/api/v1/fulfillments/WH-E-1/cancel", "HTTP 500", false},
		{"429", "WH-E-1", 429, ``, "/api/v1/fulfillments/WH-E-1/cancel", "HTTP 429", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rc := &recorder{status: tt.status, body: tt.body}
			srv := httptest.NewServer(rc)
			defer srv.Close()
			c := newClient(t, srv, nil)
			err := c.Cancel(context.Background(), tt.id, "cancel-key")
			reqs := rc.requests()
			if len(reqs) != 1 {
				t.Fatalf("%d requests", len(reqs))
			}
			r := reqs[0]
			if r.method != http.MethodPost || r.rawURI != tt.wantURI {
				t.Errorf("request = %s %s, want POST %s", r.method, r.rawURI, tt.wantURI)
			}
			if r.header.Get("Authorization") != "Bearer "+testKey || r.header.Get("Idempotency-Key") != "cancel-key" {
				t.Errorf("headers = %v", r.header)
			}
			if len(r.body) != 0 {
				t.Errorf("cancel body = %q, want empty", r.body)
			}
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Cancel: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want %q", err, tt.wantErr)
			}
			if !strings.Contains(err.Error(), "warehouse warehouse-east: cancel fulfillment") {
				t.Errorf("error lacks context: %v", err)
			}
			if order.IsPermanent(err) != tt.permanent {
				t.Errorf("IsPermanent = %v, want %v", !tt.permanent, tt.permanent)
			}
		})
	}
}

func TestCancelBadInput(t *testing.T) {
	rc := &recorder{status: 200}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	c := newClient(t, srv, nil)
	for _, id := range []string{"", ".", ".."} {
		if err := c.Cancel(context.Background(), id, "k"); err == nil || !order.IsPermanent(err) {
			t.Errorf("Cancel(%q) = %v, want permanent error", id, err)
		}
	}
	if err := c.Cancel(context.Background(), "F", ""); err == nil || !order.IsPermanent(err) {
		t.Errorf("Cancel without key = %v, want permanent error", err)
	}
	if n := len(rc.requests()); n != 0 {
		t.Errorf("%d requests sent", n)
	}
}

// pages serves inventory pages keyed by cursor and counts requests.
type pages struct {
	byCursor map[string]string
	status   int
	hits     atomic.Int32
	mu       sync.Mutex
	cursors  []string
}

func (p *pages) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.hits.Add(1)
	if r.Method != http.MethodGet || r.URL.Path != "/api/v1/inventory" || r.Header.Get("Authorization") != "Bearer "+testKey {
		http.Error(w, "bad request shape", http.StatusTeapot)
		return
	}
	cur := r.URL.Query().Get("cursor")
	p.mu.Lock()
	p.cursors = append(p.cursors, cur)
	p.mu.Unlock()
	if p.status != 0 {
		w.WriteHeader(p.status)
		return
	}
	body, ok := p.byCursor[cur]
	if !ok {
		http.Error(w, "unknown cursor", http.StatusBadRequest)
		return
	}
	io.WriteString(w, body)
}

func TestInventory(t *testing.T) {
	tests := []struct {
		name      string
		pages     map[string]string
		status    int
		maxPages  int
		want      []order.Stock
		wantHits  int
		wantErr   string
		permanent bool
	}{
		{
			name: "three pages",
			pages: map[string]string{
				"":          `{"items":[{"sku":"A-1","quantity":5},{"sku":"B-2","quantity":0}],"nextCursor":"p2"}`,
				"p2":        `{"items":[{"sku":"C-3","quantity":"7"}],"nextCursor":"a b&c=d/é"}`,
				"a b&c=d/é": `{"items":[{"sku":"D-4","quantity":12.0},{"sku":"E-5","quantity":3e2}],"nextCursor":""}`,
			},
			want:     []order.Stock{{SKU: "A-1", Quantity: 5}, {SKU: "B-2", Quantity: 0}, {SKU: "C-3", Quantity: 7}, {SKU: "D-4", Quantity: 12}, {SKU: "E-5", Quantity: 300}},
			wantHits: 3,
		},
		{name: "bare array", pages: map[string]string{"": ` [{"sku":"A-1","quantity":1},{"sku":"A-1","quantity":2}]`},
			want: []order.Stock{{SKU: "A-1", Quantity: 1}, {SKU: "A-1", Quantity: 2}}, wantHits: 1},
		{name: "null cursor and no items", pages: map[string]string{"": `{"items":[],"nextCursor":null}`}, want: []order.Stock{}, wantHits: 1},
		{name: "numeric cursor", pages: map[string]string{"": `{"items":[{"sku":"A","quantity":1}],"nextCursor":2}`, "2": `{"items":[]}`},
			want: []order.Stock{{SKU: "A", Quantity: 1}}, wantHits: 2},
		{name: "cursor loop", pages: map[string]string{"": `{"items":[],"nextCursor":"x"}`, "x": `{"items":[],"nextCursor":"y"}`, "y": `{"items":[],"nextCursor":"x"}`},
			wantHits: 3, wantErr: `page 3: nextCursor "x" repeats an earlier cursor`, permanent: true},
		{name: "cursor repeats itself", pages: map[string]string{"": `{"items":[],"nextCursor":"x"}`, "x": `{"items":[],"nextCursor":"x"}`},
			wantHits: 2, wantErr: "repeats", permanent: true},
		{name: "page limit", maxPages: 2, pages: map[string]string{"": `{"nextCursor":"1"}`, "1": `{"nextCursor":"2"}`, "2": `{"nextCursor":"3"}`},
			wantHits: 2, wantErr: "more than 2 pages", permanent: true},
		{name: "bad json", pages: map[string]string{"": `{"items":[`}, wantHits: 1, wantErr: "page 1: invalid JSON", permanent: true},
		{name: "not json", pages: map[string]string{"": `<html>`}, wantHits: 1, wantErr: "neither a JSON object nor an array", permanent: true},
		{name: "empty body", pages: map[string]string{"": ``}, wantHits: 1, wantErr: "empty body", permanent: true},
		{name: "negative (a backorder) is passed on", pages: map[string]string{"": `{"items":[{"sku":"A-1","quantity":-1},{"sku":"B-2","quantity":"-2.0"}]}`},
			want: []order.Stock{{SKU: "A-1", Quantity: -1}, {SKU: "B-2", Quantity: -2}}, wantHits: 1},
		{name: "fraction", pages: map[string]string{"": `{"items":[{"sku":"A","quantity":1},{"sku":"B","quantity":2.5}]}`}, wantHits: 1, wantErr: `item 1 (sku "B"): quantity "2.5": not an integer`, permanent: true},
		{name: "tiny exponent", pages: map[string]string{"": `{"items":[{"sku":"A","quantity":5e-3}]}`}, wantHits: 1, wantErr: "not an integer", permanent: true},
		{name: "huge exponent", pages: map[string]string{"": `{"items":[{"sku":"A","quantity":1e999999999}]}`}, wantHits: 1, wantErr: "not a valid integer", permanent: true},
		{name: "too large", pages: map[string]string{"": `{"items":[{"sku":"A","quantity":18446744073709551615}]}`}, wantHits: 1, wantErr: "too large", permanent: true},
		{name: "string fraction", pages: map[string]string{"": `{"items":[{"sku":"A","quantity":"1.5"}]}`}, wantHits: 1, wantErr: "not an integer", permanent: true},
		{name: "bool quantity", pages: map[string]string{"": `{"items":[{"sku":"A","quantity":true}]}`}, wantHits: 1, wantErr: "is not a number", permanent: true},
		{name: "missing quantity", pages: map[string]string{"": `{"items":[{"sku":"A"}]}`}, wantHits: 1, wantErr: "missing quantity", permanent: true},
		{name: "missing sku", pages: map[string]string{"": `{"items":[{"quantity":1}]}`}, wantHits: 1, wantErr: "item 0: missing sku", permanent: true},
		{name: "500", status: 500, wantHits: 1, wantErr: "page 1: HTTP 500", permanent: false},
		{name: "401", status: 401, wantHits: 1, wantErr: "page 1: HTTP 401", permanent: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := &pages{byCursor: tt.pages, status: tt.status}
			srv := httptest.NewServer(p)
			defer srv.Close()
			c := newClient(t, srv, func(cfg *Config) { cfg.MaxPages = tt.maxPages })
			got, err := c.Inventory(context.Background())
			if int(p.hits.Load()) != tt.wantHits {
				t.Errorf("hits = %d, want %d (cursors %q)", p.hits.Load(), tt.wantHits, p.cursors)
			}
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				if !strings.Contains(err.Error(), "warehouse warehouse-east: read inventory") {
					t.Errorf("error lacks context: %v", err)
				}
				if order.IsPermanent(err) != tt.permanent {
					t.Errorf("IsPermanent = %v, want %v", !tt.permanent, tt.permanent)
				}
				return
			}
			if err != nil {
				t.Fatalf("Inventory: %v", err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Errorf("item %d = %+v, want %+v", i, got[i], tt.want[i])
				}
			}
		})
	}
}

func TestDuplicates(t *testing.T) {
	got := Duplicates([]order.Stock{{SKU: "A"}, {SKU: "B"}, {SKU: "A"}, {SKU: "C"}, {SKU: "A"}, {SKU: "C"}})
	if strings.Join(got, ",") != "A,C" {
		t.Errorf("Duplicates = %v, want [A C]", got)
	}
	if got := Duplicates(nil); got != nil {
		t.Errorf("Duplicates(nil) = %v", got)
	}
}

func TestBaseURLQueryKept(t *testing.T) {
	var uris []string
	var mu sync.Mutex
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		uris = append(uris, r.RequestURI)
		mu.Unlock()
		if r.URL.Query().Get("cursor") == "" {
			io.WriteString(w, `{"items":[],"nextCursor":"n 1"}`)
			return
		}
		io.WriteString(w, `{"items":[]}`)
	}))
	defer srv.Close()
	c, err := New(Config{Name: "w", BaseURL: srv.URL + "/wh?code=abc#frag", Key: testKey})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Inventory(context.Background()); err != nil {
		t.Fatal(err)
	}
	want := []string{"/wh/inventory?code=abc", "/wh/inventory?code=abc&cursor=n+1"}
	if strings.Join(uris, " ") != strings.Join(want, " ") {
		t.Errorf("URIs = %q, want %q", uris, want)
	}
}

func TestParseCount(t *testing.T) {
	tests := []struct {
		in   string
		want int
		ok   bool
	}{
		{"0", 0, true}, {"-0", 0, true}, {"5", 5, true}, {"5.000", 5, true}, {"5e2", 500, true}, {"5E+2", 500, true},
		{"50e-1", 5, true}, {"0.0", 0, true}, {"2147483647", 2147483647, true},
		{"2147483648", 0, false}, {"-1", -1, true}, {"-1.0", -1, true}, {"-2147483648", 0, false}, {"0.5", 0, false}, {"5e-1", 0, false},
		{"", 0, false}, {"abc", 0, false}, {"1.2.3", 0, false}, {".5", 0, false}, {"1e", 0, false}, {"1e400", 0, false},
		{"1e18", 0, false}, {"0x10", 0, false},
	}
	for _, tt := range tests {
		got, err := parseCount(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("parseCount(%q) = %d, %v; want %d, ok=%v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}
