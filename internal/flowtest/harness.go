package flowtest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shipwell/orderflow/internal/httpapi"
	"github.com/shipwell/orderflow/internal/inventory"
	"github.com/shipwell/orderflow/internal/order"
	"github.com/shipwell/orderflow/internal/orderflow"
	"github.com/shipwell/orderflow/internal/routing"
	"github.com/shipwell/orderflow/internal/shopify"
	"github.com/shipwell/orderflow/internal/shopifysim"
	"github.com/shipwell/orderflow/internal/sqlite"
	"github.com/shipwell/orderflow/internal/warehouse"
	"github.com/shipwell/orderflow/internal/warehousesim"
	"github.com/shipwell/orderflow/internal/webhook"
)

// Fixed names the harness uses.
const (
	Shop        = "acme-demo.myshopify.com"
	Secret      = "test_shared_secret_123"
	ShopToken   = "shpat_test_token"
	East        = "warehouse-east"
	West        = "warehouse-west"
	Intl        = "international"
	LocEast     = "gid://shopify/Location/1001"
	LocWest     = "gid://shopify/Location/1002"
	LocIntl     = "gid://shopify/Location/1003"
	callbackKey = "-key"
)

// Locations maps each warehouse to its Shopify location.
var Locations = map[string]string{East: LocEast, West: LocWest, Intl: LocIntl}

// Options tune New.
type Options struct {
	// Store replaces the SQLite store (then jobs go through Queue, or a SQLite queue).
	Store order.Store
	// MaxAttempts before a dead letter (default 4).
	MaxAttempts int
	// NoWorker leaves the queue undrained (tests that step jobs by hand).
	NoWorker bool
	// CallbackDelay is how long a simulated warehouse waits before calling back (default 20 ms);
	// negative disables callbacks.
	CallbackDelay time.Duration
	// AllowedShop (default Shop).
	AllowedShop string
}

// Harness is the product wired in-process with simulators around it.
type Harness struct {
	T          testing.TB
	URL        string // the product's base URL
	Store      order.Store
	DB         *sqlite.DB // the queue
	Service    *orderflow.Service
	Server     *httpapi.Server
	Shopify    *shopifysim.Server
	Warehouses map[string]*warehousesim.Warehouse
	Syncer     *inventory.Syncer
	Logs       *LogBuffer

	ctx    context.Context
	cancel context.CancelFunc
	log    *slog.Logger
	wg     sync.WaitGroup
}

// StartWorker starts the in-process worker (New does, unless Options.NoWorker).
func (h *Harness) StartWorker() {
	w := &orderflow.Worker{Queue: h.DB, Process: h.Service.Process, Concurrency: 8, Poll: 20 * time.Millisecond,
		LeaseTTL: 30 * time.Second, Grace: time.Second, Log: h.log}
	h.wg.Add(1)
	go func() { defer h.wg.Done(); w.Run(h.ctx) }()
}

// New starts everything and stops it when the test ends.
func New(t testing.TB, opts Options) *Harness {
	t.Helper()
	if opts.MaxAttempts == 0 {
		opts.MaxAttempts = 4
	}
	if opts.CallbackDelay == 0 {
		opts.CallbackDelay = 20 * time.Millisecond
	}
	if opts.AllowedShop == "" {
		opts.AllowedShop = Shop
	}
	logs := &LogBuffer{}
	log := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	h := &Harness{T: t, Warehouses: map[string]*warehousesim.Warehouse{}, Logs: logs}

	sim, err := shopifysim.New(shopifysim.Options{AccessToken: ShopToken, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	h.Shopify = sim
	shopSrv := httptest.NewServer(sim)
	t.Cleanup(shopSrv.Close)
	for wh, loc := range Locations {
		if _, err := sim.AddLocation(loc, wh); err != nil {
			t.Fatal(err)
		}
	}

	var sims []*warehousesim.Warehouse
	for _, name := range []string{East, West, Intl} {
		cb := warehousesim.CallbackConfig{Delay: opts.CallbackDelay, RetryWait: 20 * time.Millisecond, Disabled: opts.CallbackDelay < 0}
		w := warehousesim.New(warehousesim.Config{Name: name, Key: name + callbackKey, Callback: cb, Logger: log})
		h.Warehouses[name] = w
		sims = append(sims, w)
	}
	mux, err := warehousesim.NewMux(sims...)
	if err != nil {
		t.Fatal(err)
	}
	whSrv := httptest.NewServer(mux)
	t.Cleanup(whSrv.Close)
	t.Cleanup(func() {
		for _, w := range sims {
			w.Close()
		}
	})

	db, err := sqlite.Open(filepath.Join(t.TempDir(), "orderflow.db"), sqlite.Options{LocalQueue: opts.Store == nil})
	if err != nil {
		t.Fatal(err)
	}
	h.DB = db
	h.Store = db
	if opts.Store != nil {
		h.Store = opts.Store
	}

	sc, err := shopify.New(shopify.Config{StoreURL: shopSrv.URL, AccessToken: ShopToken, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	rc := routing.Default()
	whs := map[string]orderflow.Warehouse{}
	var sources []inventory.Source
	for _, name := range []string{East, West, Intl} {
		c, err := warehouse.New(warehouse.Config{Name: name, BaseURL: whSrv.URL + "/" + name, Key: name + callbackKey,
			Timeout: 2 * time.Second, Logger: log})
		if err != nil {
			t.Fatal(err)
		}
		whs[name] = orderflow.Warehouse{Name: name, Client: c, Key: name + callbackKey, LocationID: Locations[name]}
		sources = append(sources, inventory.Source{Name: name, Warehouse: c, LocationID: Locations[name]})
	}
	h.Service = &orderflow.Service{Store: h.Store, Queue: db, Shopify: sc, Warehouses: whs, Route: rc.Route,
		AllowedShop: opts.AllowedShop, MaxAttempts: opts.MaxAttempts, RetryBase: 10 * time.Millisecond,
		RetryMax: 80 * time.Millisecond, HoldRetry: 50 * time.Millisecond, Log: log}
	h.Syncer = &inventory.Syncer{Store: h.Store, Catalog: sc, Sources: sources, Holder: "test", Log: log}

	v, err := webhook.NewVerifier(Secret, "")
	if err != nil {
		t.Fatal(err)
	}
	h.Server = &httpapi.Server{Service: h.Service, Verifier: v, Log: log}
	h.Server.SetReady(true)
	app := httptest.NewServer(h.Server.Handler())
	t.Cleanup(app.Close)
	h.URL = app.URL
	for _, w := range sims {
		cb := w.CallbackSettings()
		cb.URL = app.URL + "/api/fulfillment-callback"
		w.SetCallback(cb)
	}

	h.ctx, h.cancel = context.WithCancel(context.Background())
	h.log = log
	if !opts.NoWorker {
		h.StartWorker()
	}
	t.Cleanup(func() {
		h.cancel()
		h.wg.Wait()
		db.Close()
		if t.Failed() {
			t.Logf("product logs:\n%s", logs.String())
		}
	})
	return h
}

// Delivery is one webhook delivery to send.
type Delivery struct {
	Topic     string
	Body      []byte
	WebhookID string // default: random
	EventID   string
	Shop      string // default Shop
	// Headers are added as given (to test case and header families).
	Headers map[string]string
	// Signature overrides the computed one ("" computes it; "-" sends none).
	Signature string
	// Path overrides the route (default derived from the topic).
	Path        string
	TriggeredAt string
}

// Response is an answer from the product.
type Response struct {
	Status int
	Body   map[string]any
	Raw    string
}

// TopicPaths maps topics to the product's routes.
var TopicPaths = map[string]string{
	"orders/create": "/api/order-created", "orders/paid": "/api/order-paid", "orders/fulfilled": "/api/order-fulfilled",
	"orders/cancelled": "/api/order-cancelled", "inventory_levels/update": "/api/inventory-updated",
}

// Send signs and posts one delivery.
func (h *Harness) Send(d Delivery) Response {
	h.T.Helper()
	if d.WebhookID == "" {
		d.WebhookID = RandomID()
	}
	if d.Shop == "" {
		d.Shop = Shop
	}
	path := d.Path
	if path == "" {
		path = TopicPaths[d.Topic]
	}
	req, err := http.NewRequest(http.MethodPost, h.URL+path, bytes.NewReader(d.Body))
	if err != nil {
		h.T.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Shopify-Topic", d.Topic)
	req.Header.Set("X-Shopify-Shop-Domain", d.Shop)
	req.Header.Set("X-Shopify-Webhook-Id", d.WebhookID)
	req.Header.Set("X-Shopify-API-Version", "2026-10")
	if d.EventID != "" {
		req.Header.Set("X-Shopify-Event-Id", d.EventID)
	}
	if d.TriggeredAt != "" {
		req.Header.Set("X-Shopify-Triggered-At", d.TriggeredAt)
	}
	switch d.Signature {
	case "":
		req.Header.Set("X-Shopify-Hmac-Sha256", webhook.Sign(Secret, d.Body))
	case "-":
	default:
		req.Header.Set("X-Shopify-Hmac-Sha256", d.Signature)
	}
	for k, v := range d.Headers {
		req.Header[k] = []string{v}
	}
	return h.do(req)
}

func (h *Harness) do(req *http.Request) Response {
	h.T.Helper()
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		h.T.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	r := Response{Status: res.StatusCode, Raw: string(b)}
	_ = json.Unmarshal(b, &r.Body)
	return r
}

// Callback posts a warehouse callback with the given key.
func (h *Harness) Callback(key string, body any) Response {
	h.T.Helper()
	b, err := json.Marshal(body)
	if err != nil {
		h.T.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodPost, h.URL+"/api/fulfillment-callback", bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	return h.do(req)
}

// Key returns a warehouse's bearer key.
func Key(warehouse string) string { return warehouse + callbackKey }

// SeedShopify creates the order in the Shopify simulator with one open fulfillment order at
// the warehouse's location, from the same webhook body the product receives.
func (h *Harness) SeedShopify(body []byte, warehouse string) shopifysim.Order {
	h.T.Helper()
	o, err := h.Shopify.AddOrderFromWebhook(body, Locations[warehouse])
	if err != nil {
		h.T.Fatal(err)
	}
	return o
}

// Order reads an order record by Shopify order id.
func (h *Harness) Order(orderID string) *order.Order {
	h.T.Helper()
	o, err := h.Store.Get(context.Background(), order.RecordID(Shop, orderID))
	if err != nil {
		h.T.Fatalf("order %s: %v", orderID, err)
	}
	return o
}

// WaitFor polls until cond holds for the order (or fails the test after timeout).
func (h *Harness) WaitFor(orderID string, timeout time.Duration, what string, cond func(o *order.Order) bool) *order.Order {
	h.T.Helper()
	deadline := time.Now().Add(timeout)
	var last *order.Order
	for time.Now().Before(deadline) {
		o, err := h.Store.Get(context.Background(), order.RecordID(Shop, orderID))
		if err == nil {
			last = o
			if cond(o) {
				return o
			}
		} else if !errors.Is(err, order.ErrNotFound) {
			h.T.Fatal(err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if last != nil {
		b, _ := json.MarshalIndent(last, "", "  ")
		h.T.Fatalf("order %s: timed out waiting for %s; last record:\n%s", orderID, what, b)
	}
	h.T.Fatalf("order %s: timed out waiting for %s; no record", orderID, what)
	return nil
}

// WaitStatus waits until the order has the status.
func (h *Harness) WaitStatus(orderID string, s order.Status) *order.Order {
	h.T.Helper()
	return h.WaitFor(orderID, 10*time.Second, "status "+string(s), func(o *order.Order) bool { return o.Status == s })
}

// Idle waits until the queue has nothing ready or leased.
func (h *Harness) Idle() {
	h.T.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		st, err := h.DB.JobStats(context.Background())
		if err != nil {
			h.T.Fatal(err)
		}
		if st["ready"] == 0 && st["leased"] == 0 {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	h.T.Fatal("queue did not drain")
}

// RandomID returns a random UUID-like id.
func RandomID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	s := hex.EncodeToString(b[:])
	return fmt.Sprintf("%s-%s-%s-%s-%s", s[:8], s[8:12], s[12:16], s[16:20], s[20:])
}

// LogBuffer collects log lines safely.
type LogBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *LogBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// String returns everything logged so far.
func (l *LogBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
