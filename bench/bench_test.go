package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shipwell/orderflow/internal/httpapi"
	"github.com/shipwell/orderflow/internal/order"
	"github.com/shipwell/orderflow/internal/orderflow"
	"github.com/shipwell/orderflow/internal/routing"
	"github.com/shipwell/orderflow/internal/sourcetree"
	"github.com/shipwell/orderflow/internal/sqlite"
	"github.com/shipwell/orderflow/internal/webhook"
)

func testPayloads(tb testing.TB) *payloads {
	tb.Helper()
	root, err := sourcetree.Root()
	if err != nil {
		tb.Fatal(err)
	}
	p, err := loadPayloads(root)
	if err != nil {
		tb.Fatal(err)
	}
	return p
}

func TestTemplateRenderReplacesEveryOrderID(t *testing.T) {
	p := testPayloads(t)
	for _, tpl := range append([]*template{p.large, p.small}, p.mixed...) {
		t.Run(tpl.name, func(t *testing.T) {
			if len(tpl.pos) != 2 {
				t.Fatalf("order id found %d times, want 2 (id and admin_graphql_api_id)", len(tpl.pos))
			}
			const id = "712345678901234567"
			b := tpl.render(id)
			if len(b) != len(tpl.body) {
				t.Fatalf("rendered %d bytes, template has %d", len(b), len(tpl.body))
			}
			if bytes.Contains(b, []byte(sampleOrderID)) {
				t.Fatal("the template's order id is still in the body")
			}
			if !bytes.Contains(b, []byte(`"gid://shopify/Order/`+id+`"`)) {
				t.Fatal("admin_graphql_api_id not replaced")
			}
			snap, err := webhook.DecodeOrder(b)
			if err != nil {
				t.Fatal(err)
			}
			if snap.OrderID != id {
				t.Fatalf("decoded order id %s, want %s", snap.OrderID, id)
			}
			if bytes.Contains(tpl.body, []byte(id)) {
				t.Fatal("render changed the template")
			}
		})
	}
}

func TestPayloadShapes(t *testing.T) {
	p := testPayloads(t)
	if n := len(p.large.body); n < 14<<10 || n > 16<<10 {
		t.Errorf("official sample is %d bytes, want about 15 KB", n)
	}
	if n := len(p.small.body); n > 2<<10 {
		t.Errorf("minimal payload is %d bytes, want at most 2 KiB", n)
	}
	// The official sample is a cancelled order; the small ones are paid, one line, shippable, and
	// the mixed ones go to one warehouse each.
	rt := routing.Default()
	cases := []struct {
		tpl       *template
		cancelled bool
		warehouse string
	}{
		{p.large, true, ""},
		{p.small, false, "warehouse-east"},
		{p.mixed[0], false, "warehouse-east"},
		{p.mixed[1], false, "warehouse-west"},
		{p.mixed[2], false, "international"},
	}
	for _, c := range cases {
		snap, err := webhook.DecodeOrder(c.tpl.body)
		if err != nil {
			t.Fatalf("%s: %v", c.tpl.name, err)
		}
		if got := snap.CancelledAt != nil; got != c.cancelled {
			t.Errorf("%s: cancelled %v, want %v", c.tpl.name, got, c.cancelled)
		}
		if c.cancelled {
			continue
		}
		if snap.FinancialStatus != "paid" || len(snap.Lines) != 1 || snap.Lines[0].SKU == "" {
			t.Errorf("%s: financial status %q, %d lines; want a paid order with one line with a SKU", c.tpl.name, snap.FinancialStatus, len(snap.Lines))
		}
		wh, err := rt.Route(snap.ShippingAddress)
		if err != nil || wh != c.warehouse {
			t.Errorf("%s: routed to %q (%v), want %s", c.tpl.name, wh, err, c.warehouse)
		}
	}
}

func TestSourceSignsUniqueDeliveries(t *testing.T) {
	p := testPayloads(t)
	src := newSource("t", 700_000_000_000_000_000, p.mixed...)
	v, err := webhook.NewVerifier(benchSecret, "")
	if err != nil {
		t.Fatal(err)
	}
	orders, hooks := map[string]bool{}, map[string]bool{}
	for range 9 {
		req, err := src.next("http://127.0.0.1/api/order-created")
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(req.Body)
		if err != nil {
			t.Fatal(err)
		}
		if !v.Verify(body, req.Header.Get("X-Shopify-Hmac-Sha256")) {
			t.Fatal("signature does not verify")
		}
		hd := webhook.ParseHeaders(req.Header)
		if hd.Topic != "orders/create" || hd.ShopDomain != benchShop || hd.TriggeredAt.IsZero() {
			t.Fatalf("headers %+v", hd)
		}
		snap, err := webhook.DecodeOrder(body)
		if err != nil {
			t.Fatal(err)
		}
		orders[snap.OrderID], hooks[hd.WebhookID] = true, true
	}
	if len(orders) != 9 || len(hooks) != 9 {
		t.Fatalf("%d distinct orders and %d distinct webhook ids in 9 requests", len(orders), len(hooks))
	}
}

func TestSourceRejectsIDOfWrongLength(t *testing.T) {
	p := testPayloads(t)
	src := newSource("t", 1, p.small)
	if _, err := src.next("http://127.0.0.1/"); err == nil {
		t.Fatal("a 1-digit id in an 18-digit slot was accepted")
	}
}

func TestBaselineHandler(t *testing.T) {
	v, err := webhook.NewVerifier(benchSecret, "")
	if err != nil {
		t.Fatal(err)
	}
	h := baselineHandler(v)
	body := []byte(`{"id":1}`)
	for _, c := range []struct {
		name, sig string
		want      int
	}{
		{"valid", webhook.Sign(benchSecret, body), http.StatusOK},
		{"wrong secret", webhook.Sign("other", body), http.StatusUnauthorized},
		{"missing", "", http.StatusUnauthorized},
	} {
		t.Run(c.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodPost, "/api/order-created", bytes.NewReader(body))
			req.Header.Set("X-Shopify-Hmac-Sha256", c.sig)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != c.want {
				t.Fatalf("status %d, want %d", rec.Code, c.want)
			}
		})
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("GET / status %d", rec.Code)
	}
}

// countingServer answers 200 and remembers the webhook ids it saw.
func countingServer(t *testing.T) (*httptest.Server, func() map[string]int) {
	var mu sync.Mutex
	seen := map[string]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		mu.Lock()
		seen[r.Header.Get("X-Shopify-Webhook-Id")]++
		mu.Unlock()
	}))
	t.Cleanup(srv.Close)
	return srv, func() map[string]int {
		mu.Lock()
		defer mu.Unlock()
		out := map[string]int{}
		for k, v := range seen {
			out[k] = v
		}
		return out
	}
}

func TestClosedLoopLimitSendsEachOnce(t *testing.T) {
	srv, seen := countingServer(t)
	src := newSource("t", 700_000_000_000_000_000, testPayloads(t).small)
	res, err := closedLoop(context.Background(), srv.URL+"/api/order-created", src, 8, phases{}, 50)
	if err != nil {
		t.Fatal(err)
	}
	if res.ok != 50 || res.nonOK() != 0 || len(res.lat) != 50 {
		t.Fatalf("ok %d, not ok %d, %d latencies; want 50, 0, 50", res.ok, res.nonOK(), len(res.lat))
	}
	s := seen()
	if len(s) != 50 {
		t.Fatalf("server saw %d distinct webhook ids, want 50", len(s))
	}
	for id, n := range s {
		if n != 1 {
			t.Fatalf("webhook id %s sent %d times", id, n)
		}
	}
}

func TestClosedLoopCountsStatuses(t *testing.T) {
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1)%2 == 0 {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	defer srv.Close()
	src := newSource("t", 700_000_000_000_000_000, testPayloads(t).small)
	res, err := closedLoop(context.Background(), srv.URL, src, 1, phases{}, 10)
	if err != nil {
		t.Fatal(err)
	}
	if res.ok != 5 || res.status[http.StatusServiceUnavailable] != 5 || res.nonOK() != 5 {
		t.Fatalf("ok %d, statuses %v; want 5 and 5×503", res.ok, res.status)
	}
}

func TestOpenLoopSendsOnSchedule(t *testing.T) {
	srv, seen := countingServer(t)
	src := newSource("t", 700_000_000_000_000_000, testPayloads(t).small)
	res, err := openLoop(context.Background(), srv.URL, src, 200, phases{warmup: 50 * time.Millisecond, measure: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	// 200/s: 10 requests in the warm-up (not counted), 20 measured.
	if res.ok != 20 || len(res.lat) != 20 {
		t.Fatalf("measured %d answers (%d latencies), want 20", res.ok, len(res.lat))
	}
	if n := len(seen()); n != 30 {
		t.Fatalf("server saw %d requests, want 30", n)
	}
}

func TestWarehouseSimCountsDistinctOrders(t *testing.T) {
	h, closeSim, err := warehouseSim(0)
	if err != nil {
		t.Fatal(err)
	}
	defer closeSim()
	srv := httptest.NewServer(h)
	defer srv.Close()
	post := func(wh, key, orderID string) int {
		body := `{"externalOrderId":"` + orderID + `","items":[{"sku":"SKU2006-001","quantity":1}],"shippingAddress":{"country":"US"}}`
		req, err := http.NewRequest(http.MethodPost, srv.URL+"/"+wh+"/fulfillments", bytes.NewReader([]byte(body)))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+wh+"-bench-key")
		req.Header.Set("Idempotency-Key", key)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	if s := post("warehouse-east", "k1", "1"); s != http.StatusCreated {
		t.Fatalf("first fulfillment: status %d", s)
	}
	if s := post("warehouse-east", "k1", "1"); s != http.StatusOK {
		t.Fatalf("repeated key: status %d", s)
	}
	if s := post("international", "k2", "2"); s != http.StatusCreated {
		t.Fatalf("second warehouse: status %d", s)
	}
	var c simCount
	if err := getJSON(context.Background(), srv.URL+"/_bench/count", &c); err != nil {
		t.Fatal(err)
	}
	if c.Orders != 2 || c.Requests != 3 {
		t.Fatalf("count %+v, want 2 orders and 3 requests", c)
	}
}

func TestQuantiles(t *testing.T) {
	rc := newRecorder()
	for i := 100; i >= 1; i-- {
		rc.add(time.Duration(i)*time.Millisecond, http.StatusOK, nil)
	}
	r := rc.summarize(time.Second)
	for _, c := range []struct {
		q    float64
		want time.Duration
	}{{0.5, 50 * time.Millisecond}, {0.99, 99 * time.Millisecond}, {1, 100 * time.Millisecond}, {0, time.Millisecond}} {
		if got := r.quantile(c.q); got != c.want {
			t.Errorf("quantile(%v) = %s, want %s", c.q, got, c.want)
		}
	}
	if r.max() != 100*time.Millisecond || r.rate() != 100 {
		t.Errorf("max %s rate %v", r.max(), r.rate())
	}
}

func TestProcReaders(t *testing.T) {
	m, err := memKB(os.Getpid(), "VmHWM", "VmRSS")
	if err != nil {
		t.Fatal(err)
	}
	if m["VmHWM"] <= 0 || m["VmRSS"] <= 0 || m["VmRSS"] > m["VmHWM"] {
		t.Fatalf("VmHWM %d VmRSS %d", m["VmHWM"], m["VmRSS"])
	}
	if _, err := cpuTime(os.Getpid()); err != nil {
		t.Fatal(err)
	}
	if _, err := cpuTime(-1); err == nil {
		t.Fatal("no error for a missing process")
	}
}

func TestEffectiveConcurrency(t *testing.T) {
	for _, c := range []struct{ conc, n, want int }{{8, 3, 8}, {64, 3, 64}, {1, 3, 1}, {8, 1, 4}, {3, 3, 3}} {
		if got := effective(c.conc, c.n); got != c.want {
			t.Errorf("effective(%d, %d) = %d, want %d", c.conc, c.n, got, c.want)
		}
	}
}

// --- micro-benchmarks: go test -bench . -benchmem ./bench/ ---

func benchPayloads(b *testing.B) []*template {
	p := testPayloads(b)
	return []*template{p.large, p.small}
}

func shortName(t *template) string {
	if len(t.body) > 8<<10 {
		return "15KB"
	}
	return "1KB"
}

func BenchmarkSign(b *testing.B) {
	for _, t := range benchPayloads(b) {
		b.Run(shortName(t), func(b *testing.B) {
			b.SetBytes(int64(len(t.body)))
			for b.Loop() {
				webhook.Sign(benchSecret, t.body)
			}
		})
	}
}

func BenchmarkVerify(b *testing.B) {
	v, err := webhook.NewVerifier(benchSecret, "")
	if err != nil {
		b.Fatal(err)
	}
	for _, t := range benchPayloads(b) {
		sig := webhook.Sign(benchSecret, t.body)
		b.Run(shortName(t), func(b *testing.B) {
			b.SetBytes(int64(len(t.body)))
			for b.Loop() {
				if !v.Verify(t.body, sig) {
					b.Fatal("invalid")
				}
			}
		})
	}
}

func BenchmarkParseHeaders(b *testing.B) {
	src := newSource("b", 700_000_000_000_000_000, testPayloads(b).small)
	req, err := src.next("http://127.0.0.1/")
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		webhook.ParseHeaders(req.Header)
	}
}

func BenchmarkDecodeOrder(b *testing.B) {
	for _, t := range benchPayloads(b) {
		b.Run(shortName(t), func(b *testing.B) {
			b.SetBytes(int64(len(t.body)))
			for b.Loop() {
				if _, err := webhook.DecodeOrder(t.body); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkOrderDocument is the record work of one intake besides the database: apply the
// delivery to a new record and encode the document Save stores.
func BenchmarkOrderDocument(b *testing.B) {
	rt := routing.Default()
	pol := order.Policy{Route: rt.Route, HighPriority: func(string) bool { return false }}
	for _, t := range benchPayloads(b) {
		snap, err := webhook.DecodeOrder(t.body)
		if err != nil {
			b.Fatal(err)
		}
		d := order.Delivery{Topic: order.TopicOrdersCreate, Shop: benchShop, WebhookID: "w", ReceivedAt: time.Now()}
		b.Run(shortName(t), func(b *testing.B) {
			var n int
			for b.Loop() {
				o := &order.Order{}
				o.Outbox = append(o.Outbox, o.ApplyWebhook(d, snap, pol)...)
				doc, err := json.Marshal(o)
				if err != nil {
					b.Fatal(err)
				}
				n = len(doc)
			}
			b.ReportMetric(float64(n), "doc-bytes")
		})
	}
}

func maxProcs() int { return runtime.GOMAXPROCS(0) }

func quietLogger() *slog.Logger {
	// The handler logs JSON lines at info; encode them the same way, into nothing.
	return slog.New(slog.NewJSONHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

func newService(b *testing.B, sync string) *orderflow.Service {
	db, err := sqlite.Open(filepath.Join(b.TempDir(), "orderflow.db"), sqlite.Options{Synchronous: sync, LocalQueue: true})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	return &orderflow.Service{Store: db, Queue: db, Route: routing.Default().Route, AllowedShop: benchShop, Log: quietLogger()}
}

// BenchmarkIntake is Service.Intake on the SQLite default (a file in the test's temp dir) from
// 64 goroutines: the durable core of a webhook without HTTP, every call a new order.
func BenchmarkIntake(b *testing.B) {
	for _, sync := range []string{"FULL", "NORMAL"} {
		for _, t := range benchPayloads(b) {
			b.Run(sync+"/"+shortName(t), func(b *testing.B) {
				svc := newService(b, sync)
				var n atomic.Int64
				b.SetParallelism(max(1, 64/maxProcs()))
				b.ResetTimer()
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						i := n.Add(1)
						body := t.render(strconv.FormatInt(700_000_000_000_000_000+i, 10))
						d := order.Delivery{Topic: order.TopicOrdersCreate, Shop: benchShop, WebhookID: "w" + strconv.FormatInt(i, 10)}
						if _, err := svc.Intake(context.Background(), d, body); err != nil {
							b.Error(err)
							return
						}
					}
				})
			})
		}
	}
}

// BenchmarkWebhookHTTP is the product's whole webhook route (router, load shedding, body read,
// HMAC, headers, intake on SQLite FULL, JSON answer) in-process, without sockets, from 64
// goroutines.
func BenchmarkWebhookHTTP(b *testing.B) {
	v, err := webhook.NewVerifier(benchSecret, "")
	if err != nil {
		b.Fatal(err)
	}
	for _, t := range benchPayloads(b) {
		b.Run(shortName(t), func(b *testing.B) {
			srv := &httpapi.Server{Service: newService(b, "FULL"), Verifier: v, Log: quietLogger()}
			h := srv.Handler()
			srv.SetReady(true)
			src := newSource("b", 700_000_000_000_000_000, t)
			b.SetParallelism(max(1, 64/maxProcs()))
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					req, err := src.next("http://127.0.0.1/api/order-created")
					if err != nil {
						b.Error(err)
						return
					}
					rec := httptest.NewRecorder()
					h.ServeHTTP(rec, req)
					if rec.Code != http.StatusOK {
						b.Errorf("status %d: %s", rec.Code, rec.Body)
						return
					}
				}
			})
		})
	}
}
