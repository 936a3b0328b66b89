package cosmos_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/data/azcosmos"

	"github.com/shipwell/orderflow/internal/cosmos"
	"github.com/shipwell/orderflow/internal/cosmos/cosmostest"
	"github.com/shipwell/orderflow/internal/order"
	"github.com/shipwell/orderflow/internal/order/ordertest"
)

const shop = "acme-demo.myshopify.com"

func ctx(t *testing.T) context.Context {
	t.Helper()
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

// recommended makes cosmostest create the container exactly as EnsureContainer would.
func recommended(p *azcosmos.ContainerProperties) { *p = cosmos.ContainerProperties(p.ID) }

// logBuffer collects a store's log lines (to check that no secret is logged) and echoes them to
// the test log.
type logBuffer struct {
	t  *testing.T
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.t.Logf("%s", bytes.TrimRight(p, "\n"))
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func newLogger(t *testing.T) (*slog.Logger, *logBuffer) {
	lb := &logBuffer{t: t}
	return slog.New(slog.NewTextHandler(lb, &slog.HandlerOptions{Level: slog.LevelDebug})), lb
}

// requireLocalSimulator skips tests that start their own simulator process (counters, TLS)
// when the suite runs against a real account or the emulator (COSMOS_TEST_ENDPOINT).
func requireLocalSimulator(t *testing.T) {
	t.Helper()
	if os.Getenv(cosmostest.EnvEndpoint) != "" {
		t.Skipf("needs a local simulator process; %s is set", cosmostest.EnvEndpoint)
	}
}

// config returns a Config for container c of srv.
func config(t *testing.T, srv *cosmostest.Server, c *cosmostest.Container) cosmos.Config {
	log, _ := newLogger(t)
	return cosmos.Config{ConnectionString: srv.ConnectionString(), Database: c.DatabaseID, Container: c.ContainerID,
		HTTPClient: srv.HTTPClient(), Logger: log, StartupTimeout: 20 * time.Second}
}

func open(t *testing.T, cfg cosmos.Config) *cosmos.Store {
	t.Helper()
	s, err := cosmos.Open(ctx(t), cfg)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// newStore opens a store on a fresh container of the shared server.
func newStore(t *testing.T) (*cosmos.Store, *cosmostest.Container, *cosmostest.Server) {
	t.Helper()
	srv := cosmostest.Start(t)
	c := srv.NewContainer(t, recommended)
	return open(t, config(t, srv, c)), c, srv
}

func TestStoreContract(t *testing.T) {
	t.Parallel()
	ordertest.RunStoreContract(t, func(t *testing.T) order.Store {
		s, _, _ := newStore(t)
		return s
	})
}

func TestCheckID(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		id string
		ok bool
	}{
		{order.RecordID(shop, "820982911946154508"), true},
		{order.RecordID("ACME/Demo?#.myshopify.com", "1"), true}, // RecordID sanitises
		{"order-5123456789013", true},
		{"#1001", false},
		{"acme/5123456789012", false},
		{`acme\1`, false},
		{"acme?1", false},
		{"lease:x", false},
		{"", false},
		{" acme-1", false},
		{"acme-1\n", false},
		{"acme\x00-1", false},
		{strings.Repeat("a", 256), false},
		{strings.Repeat("a", 255), true},
		{"\xff", false},
	} {
		err := cosmos.CheckID(tc.id)
		if (err == nil) != tc.ok {
			t.Errorf("CheckID(%q) = %v, want ok=%v", tc.id, err, tc.ok)
		}
		if err != nil && !errors.Is(err, cosmos.ErrInvalidID) {
			t.Errorf("CheckID(%q) = %v, not ErrInvalidID", tc.id, err)
		}
	}
}

// Ids Cosmos could create but never address again are refused before any request.
func TestForbiddenIDsRejected(t *testing.T) {
	t.Parallel()
	s, c, _ := newStore(t)
	before := s.Stats().Requests
	for _, id := range []string{"#1001", "acme-demo.myshopify.com/5123456789012", `a\b`, "a?b", ""} {
		o := ordertest.NewOrder(shop, "5123456789012")
		o.ID = id
		err := s.Save(ctx(t), o)
		if !errors.Is(err, cosmos.ErrInvalidID) || !order.IsPermanent(err) {
			t.Errorf("Save(%q) = %v, want a permanent ErrInvalidID", id, err)
		}
		if _, err := s.Get(ctx(t), id); !errors.Is(err, order.ErrNotFound) || !errors.Is(err, cosmos.ErrInvalidID) {
			t.Errorf("Get(%q) = %v, want ErrNotFound and ErrInvalidID", id, err)
		}
	}
	if n := s.Stats().Requests - before; n != 0 {
		t.Fatalf("%d requests sent for invalid ids, want 0", n)
	}
	if items := rawQuery(t, c, "SELECT c.id FROM c"); len(items) != 0 {
		t.Fatalf("documents written: %v", items)
	}
}

func rawQuery(t *testing.T, c *cosmostest.Container, q string) []map[string]any {
	t.Helper()
	var out []map[string]any
	p := c.NewQueryItemsPager(q, azcosmos.NewPartitionKey(), nil)
	for p.More() {
		page, err := p.NextPage(ctx(t))
		if err != nil {
			t.Fatal(err)
		}
		for _, raw := range page.Items {
			var m map[string]any
			if err := json.Unmarshal(raw, &m); err != nil {
				t.Fatal(err)
			}
			out = append(out, m)
		}
	}
	return out
}

func rawRead(t *testing.T, c *cosmostest.Container, id string) map[string]any {
	t.Helper()
	resp, err := c.ReadItem(ctx(t), azcosmos.NewPartitionKeyString(id), id, nil)
	if err != nil {
		t.Fatalf("raw read %q: %v", id, err)
	}
	var m map[string]any
	if err := json.Unmarshal(resp.Value, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// The stored document: the order's fields plus the store's flat query fields; the partition
// key (/id) is the document's own id, so a plain SDK point read by id finds it (C16).
func TestDocumentShape(t *testing.T) {
	t.Parallel()
	s, c, _ := newStore(t)
	o := ordertest.NewOrder(shop, "5123456789012")
	o.Status, o.Attention = order.StatusHeld, "no SKU on line 2"
	o.Outbox = []order.Job{{ID: "dispatch:x", Kind: order.JobDispatch, Order: o.ID}}
	if err := s.Save(ctx(t), o); err != nil {
		t.Fatal(err)
	}
	m := rawRead(t, c, o.ID)
	want := map[string]any{"id": o.ID, "type": "order", "status": "held", "orderId": "5123456789012", "shop": shop,
		"hasOutbox": true, "hasDeadLetters": false, "needsAttention": true, "version": float64(1),
		"attention": "no SKU on line 2", "totalPrice": "404.95"}
	for k, v := range want {
		if m[k] != v {
			t.Errorf("document field %s = %#v, want %#v", k, m[k], v)
		}
	}
	if _, ok := m["modified"].(float64); !ok {
		t.Errorf("document has no numeric modified: %#v", m["modified"])
	}
	if m["_etag"] != o.ETag || o.ETag == "" {
		t.Errorf("Save set ETag %q, document _etag %v", o.ETag, m["_etag"])
	}

	// The store's own fields must not collide with the order's JSON.
	b, err := json.Marshal(ordertest.NewOrder(shop, "1"))
	if err != nil {
		t.Fatal(err)
	}
	var fields map[string]any
	if err := json.Unmarshal(b, &fields); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"type", "version", "modified", "hasOutbox", "hasDeadLetters", "needsAttention", "_etag", "ttl"} {
		if _, ok := fields[k]; ok {
			t.Errorf("order.Order's JSON has %q, which the store's document uses", k)
		}
	}
}

// Create → read → replace round trip for sample records, and every store document kind with
// names that would be invalid ids (C16).
func TestRoundTripDocuments(t *testing.T) {
	t.Parallel()
	s, c, _ := newStore(t)
	for _, tc := range []struct{ shop, orderID string }{
		{shop, "820982911946154508"}, {"Other-Shop.myshopify.com", "9007199254740993"}, {"a/b?c#d", "1"},
	} {
		o := ordertest.NewOrder(tc.shop, tc.orderID)
		if err := s.Save(ctx(t), o); err != nil {
			t.Fatalf("create %s: %v", o.ID, err)
		}
		got, err := s.Get(ctx(t), o.ID)
		if err != nil {
			t.Fatalf("read %s: %v", o.ID, err)
		}
		if got.OrderID != tc.orderID || got.Shop != tc.shop || got.Version != 1 {
			t.Fatalf("read back %s: orderId %s shop %s version %d", o.ID, got.OrderID, got.Shop, got.Version)
		}
		got.Status = order.StatusQueued
		if err := s.Save(ctx(t), got); err != nil {
			t.Fatalf("replace %s: %v", o.ID, err)
		}
		again, err := s.Get(ctx(t), o.ID)
		if err != nil || again.Status != order.StatusQueued || again.Version != 2 || again.ETag != got.ETag {
			t.Fatalf("after replace: %+v %v", again, err)
		}
	}

	// Receipts with ids that are not valid Cosmos ids themselves are hashed.
	r := order.Receipt{Shop: "a/b#c", WebhookID: "w?/1", Topic: "orders/create", Kind: order.ReceiptIgnored}
	for i, want := range []bool{true, false} {
		if ok, err := s.RecordReceipt(ctx(t), r); err != nil || ok != want {
			t.Fatalf("receipt %d: %v %v, want %v", i, ok, err, want)
		}
	}
	// A receipt without a webhook id is keyed by its body.
	noID := order.Receipt{Shop: shop, Topic: "orders/create", Kind: order.ReceiptQuarantine, Body: []byte("{")}
	for i, want := range []bool{true, false} {
		if ok, err := s.RecordReceipt(ctx(t), noID); err != nil || ok != want {
			t.Fatalf("receipt without webhook id %d: %v %v, want %v", i, ok, err, want)
		}
	}

	// State keys and lease names with '/' (the inventory sync's) work.
	if err := s.PutState(ctx(t), "inventory-sync/last-run", []byte(`{"at":"x"}`)); err != nil {
		t.Fatal(err)
	}
	if v, err := s.GetState(ctx(t), "inventory-sync/last-run"); err != nil || string(v) != `{"at":"x"}` {
		t.Fatalf("GetState = %q %v", v, err)
	}
	if err := s.AcquireLease(ctx(t), "sync/#1", "me", time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := s.AcquireLease(ctx(t), "sync/#1", "you", time.Minute); !errors.Is(err, order.ErrLeaseHeld) {
		t.Fatalf("second holder: %v", err)
	}

	// Every document has a type, and Get refuses the ones that are not orders.
	for _, m := range rawQuery(t, c, "SELECT c.id, c.type FROM c") {
		id, _ := m["id"].(string)
		if m["type"] == nil {
			t.Errorf("document %s has no type", id)
		}
		if m["type"] != "order" {
			if _, err := s.Get(ctx(t), id); !errors.Is(err, order.ErrNotFound) {
				t.Errorf("Get(%q) of a %v document = %v, want ErrNotFound", id, m["type"], err)
			}
		}
	}
}

// A caller that only has Version (no ETag) still gets compare-and-swap on Version.
func TestSaveWithoutETag(t *testing.T) {
	t.Parallel()
	s, _, _ := newStore(t)
	o := ordertest.NewOrder(shop, "42")
	if err := s.Save(ctx(t), o); err != nil {
		t.Fatal(err)
	}
	stale := *o
	o.ETag = ""
	o.Status = order.StatusQueued
	if err := s.Save(ctx(t), o); err != nil || o.Version != 2 {
		t.Fatalf("save without etag: version %d, %v", o.Version, err)
	}
	stale.ETag = ""
	stale.Status = order.StatusCancelled
	if err := s.Save(ctx(t), &stale); !errors.Is(err, order.ErrConflict) {
		t.Fatalf("stale version without etag: %v, want ErrConflict", err)
	}
	missing := ordertest.NewOrder(shop, "43")
	missing.Version = 3
	if err := s.Save(ctx(t), missing); !errors.Is(err, order.ErrConflict) {
		t.Fatalf("replace of a missing record: %v, want ErrConflict", err)
	}
	missing.ETag = "stale-etag"
	if err := s.Save(ctx(t), missing); !errors.Is(err, order.ErrConflict) {
		t.Fatalf("replace of a missing record with an etag: %v, want ErrConflict", err)
	}
	if got, _ := s.Get(ctx(t), o.ID); got.Status != order.StatusQueued {
		t.Fatalf("status %s, want queued", got.Status)
	}
}

// List sorts newest first and limits in Go (the gateway refuses ORDER BY/TOP across
// partitions); ListReceipts too.
func TestListNewestFirst(t *testing.T) {
	t.Parallel()
	srv := cosmostest.Start(t)
	c := srv.NewContainer(t, recommended)
	cfg := config(t, srv, c)
	now := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	cfg.Now = func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		now = now.Add(time.Second)
		return now
	}
	s := open(t, cfg)
	for _, id := range []string{"5", "1", "9", "3", "7", "2"} {
		o := ordertest.NewOrder(shop, id)
		o.Status = order.StatusHeld
		if err := s.Save(ctx(t), o); err != nil {
			t.Fatal(err)
		}
	}
	o, _ := s.Get(ctx(t), order.RecordID(shop, "1"))
	if err := s.Save(ctx(t), o); err != nil { // now the newest
		t.Fatal(err)
	}
	for _, tc := range []struct {
		limit int
		want  string
	}{{0, "1,2,7,3,9,5"}, {3, "1,2,7"}, {1, "1"}} {
		got, err := s.List(ctx(t), order.Filter{Status: order.StatusHeld, Limit: tc.limit})
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, o := range got {
			ids = append(ids, o.OrderID)
			if o.Version == 0 || o.ETag == "" {
				t.Errorf("listed %s without version/etag", o.ID)
			}
		}
		if strings.Join(ids, ",") != tc.want {
			t.Errorf("List limit %d = %v, want %s", tc.limit, ids, tc.want)
		}
	}
	// A listed record can be saved directly (its ETag came from the query result).
	got, _ := s.List(ctx(t), order.Filter{Limit: 1})
	got[0].Status = order.StatusQueued
	if err := s.Save(ctx(t), got[0]); err != nil {
		t.Fatalf("save a listed record: %v", err)
	}

	for i, wh := range []string{"a", "b", "c"} {
		r := order.Receipt{Shop: shop, WebhookID: wh, Kind: order.ReceiptInventory, ReceivedAt: now.Add(time.Duration(i) * time.Minute)}
		if _, err := s.RecordReceipt(ctx(t), r); err != nil {
			t.Fatal(err)
		}
	}
	rs, err := s.ListReceipts(ctx(t), order.ReceiptInventory, 2)
	if err != nil || len(rs) != 2 || rs[0].WebhookID != "c" || rs[1].WebhookID != "b" {
		t.Fatalf("ListReceipts = %+v %v, want c, b", rs, err)
	}
}

// With Config.ReceiptTTL receipt documents carry a ttl; the container definition turns TTL on.
func TestReceiptTTL(t *testing.T) {
	t.Parallel()
	srv := cosmostest.Start(t)
	c := srv.NewContainer(t, recommended)
	cfg := config(t, srv, c)
	cfg.ReceiptTTL = 36 * time.Hour
	s := open(t, cfg)
	if _, err := s.RecordReceipt(ctx(t), order.Receipt{Shop: shop, WebhookID: "w", Kind: order.ReceiptIgnored}); err != nil {
		t.Fatal(err)
	}
	items := rawQuery(t, c, `SELECT c.ttl FROM c WHERE c.type = "receipt"`)
	if len(items) != 1 || items[0]["ttl"] != float64(36*3600) {
		t.Fatalf("receipt ttl = %v, want %d", items, 36*3600)
	}
	if p := cosmos.ContainerProperties("x"); p.DefaultTimeToLive == nil || *p.DefaultTimeToLive != -1 {
		t.Fatalf("container definition has TTL %v, want -1 (on, no default)", p.DefaultTimeToLive)
	}
}

var _ io.Writer = (*logBuffer)(nil)
