package warehousesim

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shipwell/orderflow/internal/order"
	"github.com/shipwell/orderflow/internal/warehouse"
)

const simKey = "wh-east-key"

var quiet = slog.New(slog.DiscardHandler)

// newSim starts a simulator on an httptest server; cleanup closes the simulator first (which
// releases hanging requests) and then the server.
func newSim(t *testing.T, cfg Config) (*Warehouse, *httptest.Server) {
	t.Helper()
	if cfg.Key == "" {
		cfg.Key = simKey
	}
	if cfg.Name == "" {
		cfg.Name = "warehouse-east"
	}
	cfg.Logger = quiet
	w := New(cfg)
	srv := httptest.NewServer(w)
	t.Cleanup(func() {
		w.Close()
		srv.Close()
	})
	return w, srv
}

func newClient(t *testing.T, base string, timeout time.Duration) *warehouse.Client {
	t.Helper()
	c, err := warehouse.New(warehouse.Config{Name: "warehouse-east", BaseURL: base, Key: simKey, Timeout: timeout})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func testOrder(id string) *order.Order {
	return &order.Order{
		ID: "acme-" + id, OrderID: id, OrderNumber: 1001, Name: "#1001",
		Lines: []order.Line{
			{LineItemID: "466157049", SKU: "IPOD2008PINK", Name: "IPod Nano - 8gb", Quantity: 1, FulfillableQuantity: 1, RequiresShipping: true},
			{LineItemID: "518995019", SKU: "IPOD2008BLACK", Name: "IPod Nano - 8gb", Quantity: 2, FulfillableQuantity: 2, RequiresShipping: true},
		},
		ShippingAddress: &order.Address{Name: "Steve Shipper", Address1: "123 Shipping Street", City: "Shippington",
			ProvinceCode: "KY", Zip: "40003", CountryCode: "US"},
	}
}

// waitFor polls cond until it holds or 5 s pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func do(t *testing.T, method, url string, header map[string]string, body string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

const validBody = `{"externalOrderId":"820982911946154508","orderNumber":1001,` +
	`"items":[{"sku":"IPOD2008PINK","quantity":1,"name":"IPod Nano - 8gb","lineItemId":"466157049"}],` +
	`"shippingAddress":{"name":"Steve Shipper","address1":"123 Shipping Street","address2":"","city":"Shippington","state":"KY","zip":"40003","country":"US"}}`

func TestAPIAuthAndValidation(t *testing.T) {
	w, srv := newSim(t, Config{})
	good := map[string]string{"Authorization": "Bearer " + simKey, "Content-Type": "application/json", "Idempotency-Key": "k1"}
	with := func(k, v string) map[string]string {
		h := map[string]string{}
		for a, b := range good {
			h[a] = b
		}
		if v == "" {
			delete(h, k)
		} else {
			h[k] = v
		}
		return h
	}
	tests := []struct {
		name   string
		method string
		path   string
		header map[string]string
		body   string
		status int
		reason string
	}{
		{"no auth", "POST", "/fulfillments", with("Authorization", ""), validBody, 401, "bearer key"},
		{"wrong key", "POST", "/fulfillments", with("Authorization", "Bearer nope"), validBody, 401, "bearer key"},
		{"wrong scheme", "POST", "/fulfillments", with("Authorization", "Basic "+simKey), validBody, 401, "bearer key"},
		{"not json content type", "POST", "/fulfillments", with("Content-Type", "text/plain"), validBody, 415, "application/json"},
		{"no idempotency key", "POST", "/fulfillments", with("Idempotency-Key", ""), validBody, 400, "Idempotency-Key"},
		{"invalid json", "POST", "/fulfillments", good, `{"externalOrderId":`, 400, "not a valid JSON object"},
		{"trailing data", "POST", "/fulfillments", good, validBody + `{}`, 400, "trailing data"},
		{"missing order id", "POST", "/fulfillments", good, strings.Replace(validBody, `"externalOrderId":"820982911946154508",`, "", 1), 400, "missing externalOrderId"},
		{"numeric order id", "POST", "/fulfillments", good, strings.Replace(validBody, `"820982911946154508"`, `820982911946154508`, 1), 400, "externalOrderId must be a decimal string"},
		{"non-decimal order id", "POST", "/fulfillments", good, strings.Replace(validBody, `"820982911946154508"`, `"#1001"`, 1), 400, "externalOrderId must be a decimal string"},
		{"missing items", "POST", "/fulfillments", good, `{"externalOrderId":"1","items":[],"shippingAddress":{"country":"US"}}`, 400, "missing items"},
		{"item without sku", "POST", "/fulfillments", good, `{"externalOrderId":"1","items":[{"quantity":1}],"shippingAddress":{"country":"US"}}`, 400, "items[0]: missing sku"},
		{"item zero quantity", "POST", "/fulfillments", good, `{"externalOrderId":"1","items":[{"sku":"A","quantity":0}],"shippingAddress":{"country":"US"}}`, 400, "positive integer"},
		{"item fractional quantity", "POST", "/fulfillments", good, `{"externalOrderId":"1","items":[{"sku":"A","quantity":1.5}],"shippingAddress":{"country":"US"}}`, 400, "positive integer"},
		{"numeric line item id", "POST", "/fulfillments", good, `{"externalOrderId":"1","items":[{"sku":"A","quantity":1,"lineItemId":466157049}],"shippingAddress":{"country":"US"}}`, 400, "lineItemId must be a string"},
		{"missing address", "POST", "/fulfillments", good, `{"externalOrderId":"1","items":[{"sku":"A","quantity":1}]}`, 400, "missing shippingAddress"},
		{"null address", "POST", "/fulfillments", good, `{"externalOrderId":"1","items":[{"sku":"A","quantity":1}],"shippingAddress":null}`, 400, "missing shippingAddress"},
		{"address without country", "POST", "/fulfillments", good, `{"externalOrderId":"1","items":[{"sku":"A","quantity":1}],"shippingAddress":{"city":"X"}}`, 400, "missing country"},
		{"wrong method", "GET", "/fulfillments", good, "", 405, "method not allowed"},
		{"unknown path", "POST", "/orders", good, validBody, 404, "no such endpoint"},
		{"cancel without key", "POST", "/fulfillments/X/cancel", with("Idempotency-Key", ""), "", 400, "Idempotency-Key"},
		{"cancel unknown", "POST", "/fulfillments/X/cancel", good, "", 404, "unknown fulfillment"},
		{"inventory no auth", "GET", "/inventory", with("Authorization", ""), "", 401, "bearer key"},
		{"inventory bad cursor", "GET", "/inventory?cursor=zz", good, "", 400, "invalid cursor"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := do(t, tt.method, srv.URL+tt.path, tt.header, tt.body)
			if resp.StatusCode != tt.status {
				t.Fatalf("status = %d, want %d (%s)", resp.StatusCode, tt.status, body)
			}
			var e struct{ Error string }
			if err := json.Unmarshal([]byte(body), &e); err != nil || !strings.Contains(e.Error, tt.reason) {
				t.Errorf("body = %s, want error containing %q", body, tt.reason)
			}
			if resp.Header.Get("X-Simulator") != "warehouse" || resp.Header.Get("X-Simulator-Warehouse") != "warehouse-east" {
				t.Errorf("simulator headers missing: %v", resp.Header)
			}
		})
	}
	if n := len(w.Orders()); n != 0 {
		t.Errorf("%d orders accepted from invalid requests", n)
	}
	reqs := w.Requests()
	if len(reqs) != len(tests) {
		t.Fatalf("recorded %d requests, want %d", len(reqs), len(tests))
	}
	if reqs[0].Authorized || reqs[0].Status != 401 || reqs[0].Endpoint != EndpointFulfillments {
		t.Errorf("first request recorded as %+v", reqs[0])
	}
	if !reqs[3].Authorized || reqs[3].Status != 415 || reqs[3].Body != validBody {
		t.Errorf("fourth request recorded as %+v", reqs[3])
	}
}

func TestDispatchIdempotency(t *testing.T) {
	for _, dup := range []int{0, http.StatusConflict} {
		t.Run(http.StatusText(max(dup, 200)), func(t *testing.T) {
			w, srv := newSim(t, Config{FulfillmentPrefix: "WH-E-", DuplicateStatus: dup})
			c := newClient(t, srv.URL, time.Second)
			ctx := context.Background()
			o := testOrder("18446744073709551615")
			id1, err := c.Dispatch(ctx, o, "acme-1:warehouse-east")
			if err != nil || id1 != "WH-E-1" {
				t.Fatalf("first dispatch = %q, %v", id1, err)
			}
			id2, err := c.Dispatch(ctx, o, "acme-1:warehouse-east")
			if err != nil || id2 != id1 {
				t.Fatalf("replayed dispatch = %q, %v; want %q", id2, err, id1)
			}
			id3, err := c.Dispatch(ctx, testOrder("820982911946154508"), "acme-2:warehouse-east")
			if err != nil || id3 != "WH-E-2" {
				t.Fatalf("second order = %q, %v", id3, err)
			}
			orders := w.Orders()
			if len(orders) != 2 {
				t.Fatalf("Orders() = %d, want 2", len(orders))
			}
			f := orders[0]
			if f.ExternalOrderID != "18446744073709551615" || f.IdempotencyKey != "acme-1:warehouse-east" || f.Replays != 1 || f.OrderNumber != "1001" {
				t.Errorf("order 1 = %+v", f)
			}
			if len(f.Items) != 2 || f.Items[1] != (Item{SKU: "IPOD2008BLACK", Quantity: 2, Name: "IPod Nano - 8gb", LineItemID: "518995019"}) {
				t.Errorf("items = %+v", f.Items)
			}
			if !strings.Contains(string(f.Body), `"externalOrderId":"18446744073709551615"`) {
				t.Errorf("body not kept byte-exact: %s", f.Body)
			}
			counts := w.CountByKey()
			if counts["acme-1:warehouse-east"] != 2 || counts["acme-2:warehouse-east"] != 1 || len(counts) != 2 {
				t.Errorf("CountByKey = %v", counts)
			}
			keys := w.KeysByOrder()
			if len(keys["18446744073709551615"]) != 1 || len(keys["820982911946154508"]) != 1 {
				t.Errorf("KeysByOrder = %v", keys)
			}
			reqs := w.Requests()
			want := []int{201, max(dup, 200), 201}
			for i, r := range reqs {
				if r.Status != want[i] || r.Replay != (i == 1) || r.FulfillmentID == "" {
					t.Errorf("request %d = status %d replay %v id %q; want status %d", i, r.Status, r.Replay, r.FulfillmentID, want[i])
				}
			}
		})
	}
}

func TestConcurrentSameKeyIsOneOrder(t *testing.T) {
	w, srv := newSim(t, Config{})
	c := newClient(t, srv.URL, 2*time.Second)
	var wg sync.WaitGroup
	ids := make([]string, 20)
	for i := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id, err := c.Dispatch(context.Background(), testOrder("5"), "same-key")
			if err != nil {
				t.Error(err)
			}
			ids[i] = id
		}()
	}
	wg.Wait()
	for _, id := range ids {
		if id != ids[0] || id == "" {
			t.Fatalf("ids differ: %v", ids)
		}
	}
	if len(w.Orders()) != 1 || w.CountByKey()["same-key"] != 20 {
		t.Errorf("orders = %d, count = %d", len(w.Orders()), w.CountByKey()["same-key"])
	}
}

func TestFaults(t *testing.T) {
	tests := []struct {
		name      string
		fault     Fault
		timeout   time.Duration
		failures  int    // dispatches that fail before one succeeds
		wantErr   string // in the failing dispatches' error
		retryAft  time.Duration
		accepted  bool // the failing dispatch still created the order (reset after processing)
		wantFault string
	}{
		{name: "503 next 2", fault: Fault{Count: 2, Status: 503}, failures: 2, wantErr: "HTTP 503", wantFault: "status 503"},
		{name: "503 retry-after", fault: Fault{Count: 1, Status: 503, RetryAfter: "3"}, failures: 1, wantErr: "HTTP 503", retryAft: 3 * time.Second, wantFault: "status 503 Retry-After 3"},
		{name: "429 retry-after", fault: Fault{Count: 1, Status: 429, RetryAfter: "1"}, failures: 1, wantErr: "HTTP 429", retryAft: time.Second},
		{name: "500", fault: Fault{Count: 3, Status: 500}, failures: 3, wantErr: "HTTP 500"},
		{name: "scoped to fulfillments", fault: Fault{Endpoint: EndpointFulfillments, Count: 1, Status: 502}, failures: 1, wantErr: "HTTP 502"},
		{name: "scoped elsewhere", fault: Fault{Endpoint: EndpointInventory, Count: 1, Status: 502}, failures: 0},
		{name: "slow answer", fault: Fault{Count: 1, Delay: 20 * time.Millisecond}, failures: 0, wantFault: "delay 20ms"},
		{name: "slow 503", fault: Fault{Count: 1, Delay: 5 * time.Millisecond, Status: 503}, failures: 1, wantErr: "HTTP 503", wantFault: "delay 5ms + status 503"},
		{name: "hang", fault: Fault{Count: 1, Hang: true}, timeout: 100 * time.Millisecond, failures: 1, wantErr: "deadline exceeded", wantFault: "hang"},
		{name: "slower than client", fault: Fault{Count: 1, Delay: time.Hour}, timeout: 50 * time.Millisecond, failures: 1, wantErr: "deadline exceeded"},
		{name: "reset", fault: Fault{Count: 1, Reset: true}, failures: 1, wantErr: "POST /fulfillments", wantFault: "reset"},
		{name: "reset after accept", fault: Fault{Count: 1, ResetAfter: true}, failures: 1, wantErr: "POST /fulfillments", accepted: true, wantFault: "reset after processing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, srv := newSim(t, Config{FulfillmentPrefix: "F-"})
			if err := w.InjectFault(tt.fault); err != nil {
				t.Fatal(err)
			}
			c := newClient(t, srv.URL, max(tt.timeout, 2*time.Second))
			if tt.timeout > 0 {
				c = newClient(t, srv.URL, tt.timeout)
			}
			o := testOrder("820982911946154508")
			for i := 0; i < tt.failures; i++ {
				_, err := c.Dispatch(context.Background(), o, "key-1")
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("attempt %d: err = %v, want %q", i+1, err, tt.wantErr)
				}
				if order.IsPermanent(err) {
					t.Errorf("attempt %d: fault must be transient: %v", i+1, err)
				}
				if got := order.RetryAfter(err); got != tt.retryAft {
					t.Errorf("RetryAfter = %v, want %v", got, tt.retryAft)
				}
				if got := len(w.Orders()); tt.accepted != (got == 1) {
					t.Errorf("after failure %d: %d orders, accepted=%v", i+1, got, tt.accepted)
				}
			}
			id, err := c.Dispatch(context.Background(), o, "key-1")
			if err != nil || id != "F-1" {
				t.Fatalf("dispatch after the fault = %q, %v; want F-1", id, err)
			}
			if len(w.Orders()) != 1 || w.CountByKey()["key-1"] != tt.failures+1 {
				t.Errorf("orders = %d, count = %d", len(w.Orders()), w.CountByKey()["key-1"])
			}
			if len(w.Faults()) != 0 && tt.fault.Endpoint != EndpointInventory {
				t.Errorf("fault still active: %+v", w.Faults())
			}
			if tt.wantFault != "" {
				waitFor(t, "the faulted request to be recorded", func() bool {
					r := w.Requests()[0]
					return r.Fault == tt.wantFault
				})
			}
		})
	}
}

func TestFaultWindowAndClear(t *testing.T) {
	w, srv := newSim(t, Config{})
	c := newClient(t, srv.URL, time.Second)
	ctx := context.Background()
	if err := w.InjectFault(Fault{For: time.Hour, Status: 503}); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		if _, err := c.Dispatch(ctx, testOrder("1"), "k"); err == nil {
			t.Fatal("dispatch succeeded during the 503 window")
		}
	}
	af := w.Faults()
	if len(af) != 1 || af[0].Remaining != -1 || af[0].Until.IsZero() {
		t.Errorf("Faults() = %+v", af)
	}
	w.ClearFaults()
	if _, err := c.Dispatch(ctx, testOrder("1"), "k"); err != nil {
		t.Fatalf("after ClearFaults: %v", err)
	}
	// A window that has passed no longer applies.
	if err := w.InjectFault(Fault{For: time.Millisecond, Status: 503}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(5 * time.Millisecond)
	if _, err := c.Dispatch(ctx, testOrder("2"), "k2"); err != nil {
		t.Fatalf("after the window: %v", err)
	}
	if len(w.Faults()) != 0 {
		t.Errorf("expired fault still listed")
	}
	// Faults apply in injection order; the first one matching is used up first.
	w.InjectFault(Fault{Count: 1, Status: 500})
	w.InjectFault(Fault{Count: 1, Status: 429})
	var got []int
	for i := 0; i < 3; i++ {
		_, err := c.Dispatch(ctx, testOrder("3"), "k3")
		var se *warehouse.StatusError
		if errors.As(err, &se) {
			got = append(got, se.Status)
		} else if err == nil {
			got = append(got, 201)
		}
	}
	if len(got) != 3 || got[0] != 500 || got[1] != 429 || got[2] != 201 {
		t.Errorf("statuses = %v, want [500 429 201]", got)
	}
}

func TestFaultValidation(t *testing.T) {
	w, _ := newSim(t, Config{})
	bad := []Fault{
		{},
		{Endpoint: "orders", Status: 503},
		{Status: 503, Hang: true},
		{Reset: true, ResetAfter: true},
		{Status: 99},
		{Status: 600},
		{Count: -1, Status: 503},
		{RetryAfter: "1", Hang: true},
		{Status: 503, RetryAfter: "1\r\nX: y"},
	}
	for _, f := range bad {
		if err := w.InjectFault(f); err == nil {
			t.Errorf("InjectFault(%+v) accepted", f)
		}
	}
	if len(w.Faults()) != 0 {
		t.Errorf("invalid faults were kept")
	}
}

func TestCloseReleasesHang(t *testing.T) {
	w, srv := newSim(t, Config{})
	w.InjectFault(Fault{Hang: true})
	c := newClient(t, srv.URL, time.Minute)
	errc := make(chan error, 1)
	go func() {
		_, err := c.Dispatch(context.Background(), testOrder("1"), "k")
		errc <- err
	}()
	waitFor(t, "the request to arrive", func() bool { return len(w.Requests()) == 1 })
	w.Close()
	select {
	case err := <-errc:
		if err == nil || order.IsPermanent(err) {
			t.Errorf("released hang: err = %v, want a transient error", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not release the hanging request")
	}
}

func TestHook(t *testing.T) {
	w, srv := newSim(t, Config{})
	var seen []string
	var mu sync.Mutex
	w.SetHook(func(rw http.ResponseWriter, r *http.Request, body []byte) bool {
		mu.Lock()
		seen = append(seen, r.Header.Get("Idempotency-Key"))
		mu.Unlock()
		if strings.Contains(string(body), `"externalOrderId":"666"`) {
			rw.WriteHeader(http.StatusTeapot)
			return true
		}
		return false
	})
	c := newClient(t, srv.URL, time.Second)
	_, err := c.Dispatch(context.Background(), testOrder("666"), "evil")
	var se *warehouse.StatusError
	if !errors.As(err, &se) || se.Status != http.StatusTeapot || !order.IsPermanent(err) {
		t.Fatalf("hooked dispatch err = %v", err)
	}
	if _, err := c.Dispatch(context.Background(), testOrder("7"), "fine"); err != nil {
		t.Fatalf("unhooked dispatch: %v", err)
	}
	reqs := w.Requests()
	if reqs[0].Status != http.StatusTeapot || reqs[0].Fault != "hook" || reqs[1].Status != 201 || reqs[1].Fault != "" {
		t.Errorf("requests = %+v", reqs)
	}
	if strings.Join(seen, ",") != "evil,fine" {
		t.Errorf("hook saw %v", seen)
	}
	w.SetHook(nil)
}

// product is a fake product callback endpoint.
type product struct {
	mu     sync.Mutex
	calls  []productCall
	status func(n int) int // answer of call n (1-based)
}

type productCall struct {
	auth, contentType, simulator string
	body                         []byte
}

func (p *product) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	p.mu.Lock()
	p.calls = append(p.calls, productCall{r.Header.Get("Authorization"), r.Header.Get("Content-Type"), r.Header.Get("X-Simulator"), b})
	n := len(p.calls)
	p.mu.Unlock()
	st := http.StatusOK
	if p.status != nil {
		st = p.status(n)
	}
	w.WriteHeader(st)
	io.WriteString(w, `{"ok":true}`)
}

func (p *product) snapshot() []productCall {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]productCall(nil), p.calls...)
}

func TestCallbackDeliveredWithRetry(t *testing.T) {
	p := &product{status: func(n int) int {
		if n == 1 {
			return http.StatusServiceUnavailable
		}
		return http.StatusOK
	}}
	ps := httptest.NewServer(p)
	defer ps.Close()
	w, srv := newSim(t, Config{FulfillmentPrefix: "WH-E-", Callback: CallbackConfig{
		URL: ps.URL + "/api/fulfillment-callback", Key: "callback-key", Delay: time.Millisecond, RetryWait: time.Millisecond}})
	c := newClient(t, srv.URL, time.Second)
	id, err := c.Dispatch(context.Background(), testOrder("820982911946154508"), "k")
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "callback delivered", func() bool {
		f, _ := w.Order(id)
		return f.Callback == CallbackDelivered
	})
	calls := p.snapshot()
	if len(calls) != 2 {
		t.Fatalf("product got %d calls, want 2", len(calls))
	}
	for _, call := range calls {
		if call.auth != "Bearer callback-key" || call.contentType != "application/json" || call.simulator != "warehouse" {
			t.Errorf("callback headers = %+v", call)
		}
	}
	tn := TrackingNumber("warehouse-east", "820982911946154508")
	want := `{"externalOrderId":"820982911946154508","trackingNumber":"` + tn + `","carrier":"UPS",` +
		`"trackingUrl":"https://www.ups.com/track?tracknum=` + tn + `","fulfillmentId":"WH-E-1","shipmentId":"S-WH-E-1",` +
		`"items":[{"sku":"IPOD2008PINK","quantity":1},{"sku":"IPOD2008BLACK","quantity":2}]}`
	if string(calls[1].body) != want {
		t.Errorf("callback body:\n got %s\nwant %s", calls[1].body, want)
	}
	if string(calls[0].body) != string(calls[1].body) {
		t.Errorf("retry changed the body")
	}
	att := w.Callbacks()
	if len(att) != 2 || att[0].Status != 503 || att[0].Attempt != 1 || att[1].Status != 200 || att[1].Attempt != 2 || !att[1].OK() {
		t.Errorf("attempts = %+v", att)
	}
	f, _ := w.Order(id)
	if !f.Shipped || f.TrackingNumber != tn || f.ShipmentID != "S-WH-E-1" {
		t.Errorf("fulfillment = %+v", f)
	}
	// A shipped fulfillment cannot be cancelled: permanent for the client.
	if err := c.Cancel(context.Background(), id, "cancel-k"); err == nil || !order.IsPermanent(err) || !strings.Contains(err.Error(), "already shipped") {
		t.Errorf("cancel after shipping = %v", err)
	}
}

func TestTrackingNumberDeterministic(t *testing.T) {
	a := TrackingNumber("warehouse-east", "820982911946154508")
	if a != TrackingNumber("warehouse-east", "820982911946154508") {
		t.Error("not deterministic")
	}
	if a == TrackingNumber("warehouse-west", "820982911946154508") || a == TrackingNumber("warehouse-east", "820982911946154509") {
		t.Error("collides across warehouses or orders")
	}
	if len(a) != 18 || !strings.HasPrefix(a, "1Z") || strings.ToUpper(a) != a {
		t.Errorf("tracking number %q is not 1Z + 16 upper-case characters", a)
	}
}

func TestCallbackDefaultKeyAndOmitItems(t *testing.T) {
	p := &product{}
	ps := httptest.NewServer(p)
	defer ps.Close()
	w, srv := newSim(t, Config{Callback: CallbackConfig{URL: ps.URL, OmitItems: true, Carrier: "DHL", TrackingURL: "https://dhl.example/t/{tracking}"}})
	c := newClient(t, srv.URL, time.Second)
	id, err := c.Dispatch(context.Background(), testOrder("42"), "k")
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "callback", func() bool { f, _ := w.Order(id); return f.Callback == CallbackDelivered })
	call := p.snapshot()[0]
	if call.auth != "Bearer "+simKey {
		t.Errorf("auth = %q, want the warehouse key", call.auth)
	}
	var body map[string]any
	json.Unmarshal(call.body, &body)
	if _, ok := body["items"]; ok {
		t.Errorf("items sent with OmitItems: %s", call.body)
	}
	if body["carrier"] != "DHL" || body["trackingUrl"] != "https://dhl.example/t/"+TrackingNumber("warehouse-east", "42") {
		t.Errorf("body = %s", call.body)
	}
}

func TestCallbackGivesUp(t *testing.T) {
	p := &product{status: func(int) int { return http.StatusInternalServerError }}
	ps := httptest.NewServer(p)
	defer ps.Close()
	w, srv := newSim(t, Config{Callback: CallbackConfig{URL: ps.URL, MaxAttempts: 3, RetryWait: time.Millisecond}})
	c := newClient(t, srv.URL, time.Second)
	id, _ := c.Dispatch(context.Background(), testOrder("1"), "k")
	waitFor(t, "callback failed", func() bool { f, _ := w.Order(id); return f.Callback == CallbackFailed })
	if n := len(p.snapshot()); n != 3 {
		t.Errorf("product got %d calls, want 3", n)
	}
	if n := len(w.Callbacks()); n != 3 {
		t.Errorf("%d attempts recorded, want 3", n)
	}
}

func TestCallbackUnreachableRecordsError(t *testing.T) {
	dead := httptest.NewServer(http.NotFoundHandler())
	deadURL := dead.URL + "/api/fulfillment-callback?code=function-key-secret"
	dead.Close()
	w, srv := newSim(t, Config{Callback: CallbackConfig{URL: deadURL, MaxAttempts: 2, RetryWait: time.Millisecond}})
	c := newClient(t, srv.URL, time.Second)
	id, _ := c.Dispatch(context.Background(), testOrder("1"), "k")
	waitFor(t, "callback failed", func() bool { f, _ := w.Order(id); return f.Callback == CallbackFailed })
	for _, a := range w.Callbacks() {
		if a.Error == "" || a.Status != 0 || strings.Contains(a.Error, "function-key-secret") {
			t.Errorf("attempt = %+v", a)
		}
	}
}

func TestCancelledNeverCalledBack(t *testing.T) {
	p := &product{}
	ps := httptest.NewServer(p)
	defer ps.Close()
	w, srv := newSim(t, Config{Callback: CallbackConfig{URL: ps.URL, Delay: time.Hour}})
	c := newClient(t, srv.URL, time.Second)
	ctx := context.Background()
	id, err := c.Dispatch(ctx, testOrder("1"), "k")
	if err != nil {
		t.Fatal(err)
	}
	if f, _ := w.Order(id); f.Callback != CallbackPending {
		t.Fatalf("callback state = %q, want pending", f.Callback)
	}
	if err := c.Cancel(ctx, id, "cancel-1"); err != nil {
		t.Fatalf("Cancel: %v", err)
	}
	// Second cancel: 409 already cancelled, which the client treats as success.
	if err := c.Cancel(ctx, id, "cancel-1"); err != nil {
		t.Fatalf("second Cancel: %v", err)
	}
	if err := c.Cancel(ctx, "nope", "cancel-2"); err == nil || !order.IsPermanent(err) {
		t.Errorf("cancel unknown = %v, want permanent", err)
	}
	err = w.TriggerCallback(ctx, id)
	if !errors.Is(err, ErrCancelled) {
		t.Errorf("TriggerCallback on cancelled = %v", err)
	}
	f, _ := w.Order(id)
	if !f.Cancelled || f.CancelledAt == nil || f.Shipped || f.Callback != CallbackSkipped {
		t.Errorf("fulfillment = %+v", f)
	}
	if n := len(p.snapshot()); n != 0 {
		t.Errorf("product got %d callbacks for a cancelled fulfillment", n)
	}
	statuses := []int{}
	for _, r := range w.Requests() {
		statuses = append(statuses, r.Status)
	}
	if len(statuses) != 4 || statuses[1] != 200 || statuses[2] != 409 || statuses[3] != 404 {
		t.Errorf("statuses = %v, want [201 200 409 404]", statuses)
	}
}

func TestCancelBeforeDelayedCallbackFires(t *testing.T) {
	// The callback timer is short but the cancel wins the race when it arrives first; whichever
	// wins, a cancelled fulfillment must have no delivered callback and a shipped one no cancel.
	p := &product{}
	ps := httptest.NewServer(p)
	defer ps.Close()
	w, srv := newSim(t, Config{Callback: CallbackConfig{URL: ps.URL, Delay: time.Millisecond}})
	c := newClient(t, srv.URL, time.Second)
	for i := 0; i < 20; i++ {
		id, err := c.Dispatch(context.Background(), testOrder("1"), "k"+string(rune('a'+i)))
		if err != nil {
			t.Fatal(err)
		}
		cerr := c.Cancel(context.Background(), id, "c")
		waitFor(t, "callback settled", func() bool {
			f, _ := w.Order(id)
			return f.Callback != CallbackPending && f.Callback != CallbackSending
		})
		f, _ := w.Order(id)
		switch {
		case cerr == nil && (!f.Cancelled || f.Callback != CallbackSkipped || f.Shipped):
			t.Errorf("cancel succeeded but fulfillment = %+v", f)
		case cerr != nil && (f.Cancelled || f.Callback != CallbackDelivered):
			t.Errorf("cancel refused (%v) but fulfillment = %+v", cerr, f)
		}
	}
}

func TestCallbackDisabledAndManualTrigger(t *testing.T) {
	p := &product{}
	ps := httptest.NewServer(p)
	defer ps.Close()
	w, srv := newSim(t, Config{Callback: CallbackConfig{URL: ps.URL, Disabled: true}})
	c := newClient(t, srv.URL, time.Second)
	id, _ := c.Dispatch(context.Background(), testOrder("9"), "k")
	if f, _ := w.Order(id); f.Callback != CallbackOff {
		t.Errorf("state = %q, want off", f.Callback)
	}
	for i := 0; i < 2; i++ { // the second trigger reports the same shipment again
		if err := w.TriggerCallback(context.Background(), id); err != nil {
			t.Fatalf("TriggerCallback: %v", err)
		}
	}
	calls := p.snapshot()
	if len(calls) != 2 || string(calls[0].body) != string(calls[1].body) {
		t.Fatalf("calls = %d, identical = %v", len(calls), len(calls) == 2 && string(calls[0].body) == string(calls[1].body))
	}
	att := w.Callbacks()
	if len(att) != 2 || !att[0].Manual || !att[1].Manual {
		t.Errorf("attempts = %+v", att)
	}
	if err := w.TriggerCallback(context.Background(), "nope"); !errors.Is(err, ErrUnknownFulfillment) {
		t.Errorf("unknown id: %v", err)
	}
	w.SetCallback(CallbackConfig{})
	if err := w.TriggerCallback(context.Background(), id); !errors.Is(err, ErrNoCallbackURL) {
		t.Errorf("no URL: %v", err)
	}
}

func TestInventoryPagination(t *testing.T) {
	w, srv := newSim(t, Config{PageSize: 2})
	for i, sku := range []string{"E-5", "A-1", "C-3", "B-2", "D-4"} {
		w.SetStock(sku, i*10)
	}
	w.SetStock("GONE", 1)
	w.SetStock("GONE", -1)
	c := newClient(t, srv.URL, time.Second)
	got, err := c.Inventory(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := []order.Stock{{SKU: "A-1", Quantity: 10}, {SKU: "B-2", Quantity: 30}, {SKU: "C-3", Quantity: 20}, {SKU: "D-4", Quantity: 40}, {SKU: "E-5", Quantity: 0}}
	if len(got) != len(want) {
		t.Fatalf("got %v", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("item %d = %+v, want %+v", i, got[i], want[i])
		}
	}
	var paths []string
	for _, r := range w.Requests() {
		paths = append(paths, r.Path)
	}
	if len(paths) != 3 {
		t.Errorf("inventory took %d requests, want 3 pages", len(paths))
	}
	// A fault on the second page surfaces as a transient error.
	w.InjectFault(Fault{Endpoint: EndpointInventory, Count: 1, Status: 503})
	if _, err := c.Inventory(context.Background()); err == nil || order.IsPermanent(err) {
		t.Errorf("faulted inventory: %v", err)
	}
	resp, body := do(t, "GET", srv.URL+"/inventory?cursor=c4", map[string]string{"Authorization": "Bearer " + simKey}, "")
	if resp.StatusCode != 200 || strings.TrimSpace(body) != `{"items":[{"sku":"E-5","quantity":0}],"nextCursor":""}` {
		t.Errorf("last page = %d %s", resp.StatusCode, body)
	}
}

func TestInventoryBareArrayAndDecrement(t *testing.T) {
	w, srv := newSim(t, Config{InventoryBareArray: true, DecrementStock: true})
	w.ReplaceStock(map[string]int{"IPOD2008PINK": 5, "IPOD2008BLACK": 1, "OTHER": 3})
	c := newClient(t, srv.URL, time.Second)
	if _, err := c.Dispatch(context.Background(), testOrder("1"), "k"); err != nil {
		t.Fatal(err)
	}
	resp, body := do(t, "GET", srv.URL+"/inventory", map[string]string{"Authorization": "Bearer " + simKey}, "")
	want := `[{"sku":"IPOD2008BLACK","quantity":0},{"sku":"IPOD2008PINK","quantity":4},{"sku":"OTHER","quantity":3}]`
	if resp.StatusCode != 200 || strings.TrimSpace(body) != want {
		t.Errorf("inventory = %d %s, want %s", resp.StatusCode, body, want)
	}
	got, err := c.Inventory(context.Background())
	if err != nil || len(got) != 3 {
		t.Errorf("client on bare array: %v, %v", got, err)
	}
}

func TestAdminAPI(t *testing.T) {
	p := &product{}
	ps := httptest.NewServer(p)
	defer ps.Close()
	w, srv := newSim(t, Config{FulfillmentPrefix: "WH-E-"})
	admin := func(method, path, body string) (int, string) {
		resp, b := do(t, method, srv.URL+"/_sim"+path, nil, body)
		if resp.Header.Get("X-Simulator") != "warehouse" {
			t.Errorf("%s %s: no X-Simulator header", method, path)
		}
		return resp.StatusCode, b
	}
	if st, b := admin("POST", "/stock", `{"items":[{"sku":"A-1","quantity":5},{"sku":"B-2","quantity":1}]}`); st != 200 || !strings.Contains(b, `{"sku":"A-1","quantity":5}`) {
		t.Errorf("set stock = %d %s", st, b)
	}
	if w.Stock()["A-1"] != 5 {
		t.Errorf("stock = %v", w.Stock())
	}
	if st, _ := admin("POST", "/stock", `{"items":[{"sku":"C-3","quantity":2}],"replace":true}`); st != 200 || len(w.Stock()) != 1 {
		t.Errorf("replace stock = %d, %v", st, w.Stock())
	}
	if st, _ := admin("POST", "/stock", `{"items":[{"quantity":2}]}`); st != 400 {
		t.Errorf("stock without sku = %d", st)
	}
	if st, b := admin("POST", "/faults", `{"endpoint":"fulfillments","count":1,"status":503,"retryAfter":"2","delay":"1ms"}`); st != 200 || !strings.Contains(b, `"remaining":1`) || !strings.Contains(b, `"delay":"1ms"`) {
		t.Errorf("add fault = %d %s", st, b)
	}
	if st, _ := admin("POST", "/faults", `{"status":503,"hang":true}`); st != 400 {
		t.Errorf("invalid fault = %d", st)
	}
	if st, _ := admin("POST", "/faults", `{"status":503,"for":"soon"}`); st != 400 {
		t.Errorf("invalid duration = %d", st)
	}
	c := newClient(t, srv.URL, time.Second)
	if _, err := c.Dispatch(context.Background(), testOrder("1"), "k"); order.RetryAfter(err) != 2*time.Second {
		t.Errorf("dispatch under admin fault = %v", err)
	}
	admin("POST", "/faults", `{"status":500}`)
	if st, b := admin("DELETE", "/faults", ""); st != 200 || strings.TrimSpace(b) != "[]" || len(w.Faults()) != 0 {
		t.Errorf("clear faults = %d %s", st, b)
	}
	id, err := c.Dispatch(context.Background(), testOrder("1"), "k")
	if err != nil {
		t.Fatal(err)
	}
	if st, b := admin("GET", "/orders", ""); st != 200 || !strings.Contains(b, `"fulfillmentId":"WH-E-1"`) || !strings.Contains(b, `"externalOrderId":"1"`) {
		t.Errorf("orders = %d %s", st, b)
	}
	if st, b := admin("GET", "/requests", ""); st != 200 || strings.Count(b, `"endpoint":"fulfillments"`) != 2 {
		t.Errorf("requests = %d %s", st, b)
	}
	if st, _ := admin("POST", "/callbacks/"+id, ""); st != 400 {
		t.Errorf("trigger without URL = %d, want 400", st)
	}
	if st, b := admin("PUT", "/callback", `{"url":"`+ps.URL+`","enabled":true,"delay":"1ms","key":"cb-secret"}`); st != 200 || strings.Contains(b, "cb-secret") || !strings.Contains(b, `"enabled":true`) {
		t.Errorf("set callback = %d %s", st, b)
	}
	if st, b := admin("POST", "/callbacks/"+id, ""); st != 200 || !strings.Contains(b, `"delivered":true`) {
		t.Errorf("trigger = %d %s", st, b)
	}
	if calls := p.snapshot(); len(calls) != 1 || calls[0].auth != "Bearer cb-secret" {
		t.Errorf("product calls = %+v", calls)
	}
	if st, _ := admin("POST", "/callbacks/nope", ""); st != 404 {
		t.Errorf("trigger unknown = %d", st)
	}
	if st, b := admin("GET", "/callbacks", ""); st != 200 || !strings.Contains(b, `"status":200`) {
		t.Errorf("callbacks = %d %s", st, b)
	}
	if st, b := admin("GET", "/", ""); st != 200 || !strings.Contains(b, `"simulator":"warehouse"`) || !strings.Contains(b, `"orders":1`) {
		t.Errorf("summary = %d %s", st, b)
	}
	if st, _ := admin("POST", "/reset", ""); st != 200 || len(w.Orders()) != 0 || len(w.Requests()) != 0 || len(w.Callbacks()) != 0 {
		t.Errorf("reset = %d", st)
	}
	if st, _ := admin("GET", "/nope", ""); st != 404 {
		t.Errorf("unknown admin path = %d", st)
	}
	if n := len(w.Requests()); n != 0 {
		t.Errorf("admin requests were recorded as API requests: %d", n)
	}
	// New ids continue after a reset.
	if id, _ := c.Dispatch(context.Background(), testOrder("1"), "k"); id != "WH-E-2" {
		t.Errorf("id after reset = %q", id)
	}
}

func TestAdminKey(t *testing.T) {
	_, srv := newSim(t, Config{AdminKey: "admin-secret"})
	if resp, _ := do(t, "GET", srv.URL+"/_sim/", nil, ""); resp.StatusCode != 401 {
		t.Errorf("without admin key = %d", resp.StatusCode)
	}
	if resp, _ := do(t, "GET", srv.URL+"/_sim/", map[string]string{"Authorization": "Bearer " + simKey}, ""); resp.StatusCode != 401 {
		t.Errorf("with the API key = %d", resp.StatusCode)
	}
	if resp, _ := do(t, "GET", srv.URL+"/_sim/", map[string]string{"Authorization": "Bearer admin-secret"}, ""); resp.StatusCode != 200 {
		t.Errorf("with admin key = %d", resp.StatusCode)
	}
}

func TestMux(t *testing.T) {
	east := New(Config{Name: "warehouse-east", Key: "east-key", FulfillmentPrefix: "E-", Logger: quiet})
	west := New(Config{Name: "warehouse-west", Key: "west-key", FulfillmentPrefix: "W-", Logger: quiet})
	defer east.Close()
	defer west.Close()
	mux, err := NewMux(east, west)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(mux)
	defer srv.Close()
	west.SetStock("W-SKU", 4)

	ce, _ := warehouse.New(warehouse.Config{Name: "warehouse-east", BaseURL: srv.URL + "/warehouse-east", Key: "east-key"})
	cw, _ := warehouse.New(warehouse.Config{Name: "warehouse-west", BaseURL: srv.URL + "/warehouse-west", Key: "west-key"})
	wrongKey, _ := warehouse.New(warehouse.Config{Name: "warehouse-west", BaseURL: srv.URL + "/warehouse-west", Key: "east-key"})
	ctx := context.Background()
	id, err := ce.Dispatch(ctx, testOrder("1"), "k")
	if err != nil || id != "E-1" {
		t.Fatalf("east dispatch = %q, %v", id, err)
	}
	if _, err := wrongKey.Dispatch(ctx, testOrder("2"), "k"); err == nil || !order.IsPermanent(err) {
		t.Errorf("west with east's key = %v", err)
	}
	if err := ce.Cancel(ctx, id, "c"); err != nil {
		t.Errorf("east cancel: %v", err)
	}
	stock, err := cw.Inventory(ctx)
	if err != nil || len(stock) != 1 || stock[0] != (order.Stock{SKU: "W-SKU", Quantity: 4}) {
		t.Errorf("west inventory = %v, %v", stock, err)
	}
	if len(east.Orders()) != 1 || len(west.Orders()) != 0 || !east.Orders()[0].Cancelled {
		t.Errorf("east %d orders, west %d", len(east.Orders()), len(west.Orders()))
	}
	resp, body := do(t, "GET", srv.URL+"/_sim/", nil, "")
	if resp.StatusCode != 200 || !strings.Contains(body, `"baseURL":"/warehouse-east"`) || !strings.Contains(body, `"baseURL":"/warehouse-west"`) {
		t.Errorf("listing = %d %s", resp.StatusCode, body)
	}
	resp, body = do(t, "GET", srv.URL+"/warehouse-west/_sim/orders", nil, "")
	if resp.StatusCode != 200 || strings.TrimSpace(body) != "[]" || resp.Header.Get("X-Simulator-Warehouse") != "warehouse-west" {
		t.Errorf("west admin orders = %d %s", resp.StatusCode, body)
	}
	if resp, _ := do(t, "POST", srv.URL+"/warehouse-north/fulfillments", nil, ""); resp.StatusCode != 404 || resp.Header.Get("X-Simulator") != "warehouse" {
		t.Errorf("unknown warehouse = %d", resp.StatusCode)
	}

	for _, bad := range [][]*Warehouse{{east, east}, {New(Config{Name: "a/b", Logger: quiet})}, {New(Config{Name: "_sim", Logger: quiet})}, {nil}} {
		if _, err := NewMux(bad...); err == nil {
			t.Errorf("NewMux accepted %v", bad)
		}
	}
}

func TestCancelEscapedID(t *testing.T) {
	w, srv := newSim(t, Config{FulfillmentPrefix: "WH/E "})
	c := newClient(t, srv.URL, time.Second)
	id, err := c.Dispatch(context.Background(), testOrder("1"), "k")
	if err != nil || id != "WH/E 1" {
		t.Fatalf("dispatch = %q, %v", id, err)
	}
	if err := c.Cancel(context.Background(), id, "c"); err != nil {
		t.Fatalf("cancel %q: %v", id, err)
	}
	if f, _ := w.Order(id); !f.Cancelled {
		t.Errorf("not cancelled: %+v", f)
	}
}

func TestRequestBodyLimit(t *testing.T) {
	w, srv := newSim(t, Config{})
	big := `{"externalOrderId":"1","pad":"` + strings.Repeat("x", maxRequestBody) + `"}`
	resp, _ := do(t, "POST", srv.URL+"/fulfillments", map[string]string{"Authorization": "Bearer " + simKey,
		"Content-Type": "application/json", "Idempotency-Key": "k"}, big)
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("status = %d, want 413", resp.StatusCode)
	}
	if len(w.Orders()) != 0 {
		t.Error("oversized body accepted")
	}
}
