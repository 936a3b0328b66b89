package inventory_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/shipwell/orderflow/internal/inventory"
	"github.com/shipwell/orderflow/internal/order"
	"github.com/shipwell/orderflow/internal/order/ordertest"
	"github.com/shipwell/orderflow/internal/sqlite"
)

const loc = "gid://shopify/Location/1"

// feed is a warehouse whose only job here is its stock feed.
type feed struct {
	stock []order.Stock
	err   error
}

func (f *feed) Dispatch(context.Context, *order.Order, string) (string, error) { return "", nil }
func (f *feed) Cancel(context.Context, string, string) error                   { return nil }
func (f *feed) Inventory(context.Context) ([]order.Stock, error)               { return f.stock, f.err }

// catalog is an in-memory Shopify inventory with a call log.
type catalog struct {
	mu        sync.Mutex
	items     map[string][]order.InventoryItem // by SKU
	available map[string]int                   // item → available at loc (absent: not stocked)
	staleOnce map[string]bool                  // item whose next set is answered stale (after a concurrent sale)
	sets      [][]order.InventoryChange
	keys      []string
}

func (c *catalog) FindBySKU(_ context.Context, skus []string) (map[string][]order.InventoryItem, error) {
	out := map[string][]order.InventoryItem{}
	for _, s := range skus {
		if m := c.items[s]; len(m) > 0 {
			out[s] = m
		}
	}
	return out, nil
}

func (c *catalog) Available(_ context.Context, l string, ids []string) (map[string]int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[string]int{}
	for _, id := range ids {
		if v, ok := c.available[id]; ok && l == loc {
			out[id] = v
		}
	}
	return out, nil
}

func (c *catalog) SetAvailable(_ context.Context, key string, ch []order.InventoryChange) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(ch) > 250 {
		return order.Permanent(errors.New("more than 250"))
	}
	c.keys = append(c.keys, key)
	for _, x := range ch {
		if c.staleOnce[x.InventoryItemID] {
			delete(c.staleOnce, x.InventoryItemID)
			c.available[x.InventoryItemID]-- // a sale happened between read and write
			return fmt.Errorf("stale: %w", order.ErrStale)
		}
		if *x.ChangeFrom != c.available[x.InventoryItemID] {
			return fmt.Errorf("stale: %w", order.ErrStale)
		}
	}
	for _, x := range ch {
		c.available[x.InventoryItemID] = x.Quantity
	}
	c.sets = append(c.sets, ch)
	return nil
}

func newStore(t *testing.T) order.Store {
	db, err := sqlite.Open(filepath.Join(t.TempDir(), "db"), sqlite.Options{LocalQueue: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestSync(t *testing.T) {
	ctx := context.Background()
	cat := &catalog{
		items: map[string][]order.InventoryItem{
			"A": {{ID: "i-A", SKU: "A"}}, "B": {{ID: "i-B", SKU: "B"}}, "C": {{ID: "i-C", SKU: "C"}},
			"DUP": {{ID: "i-D1", SKU: "DUP"}, {ID: "i-D2", SKU: "DUP"}}, "NS": {{ID: "i-NS", SKU: "NS"}},
			"Q": {{ID: "i-Q", SKU: "Q"}}, "NEG": {{ID: "i-NEG", SKU: "NEG"}},
		},
		available: map[string]int{"i-A": 0, "i-B": 7, "i-C": 3, "i-D1": 0, "i-D2": 0, "i-Q": 10, "i-NEG": 4},
		staleOnce: map[string]bool{"i-C": true},
	}
	wh := &feed{stock: []order.Stock{{SKU: "A", Quantity: 5}, {SKU: "B", Quantity: 7}, {SKU: "C", Quantity: 9},
		{SKU: "DUP", Quantity: 1}, {SKU: "NS", Quantity: 2}, {SKU: "UNKNOWN", Quantity: 1},
		{SKU: "TWICE", Quantity: 1}, {SKU: "TWICE", Quantity: 2}, {SKU: "Q", Quantity: 10}, {SKU: "NEG", Quantity: -3}}}
	st := newStore(t)
	// An order queued for this warehouse but not yet accepted by it: 2 × Q are committed in
	// Shopify and still counted by the warehouse.
	o := ordertest.NewOrder("acme.myshopify.com", "1")
	o.Status, o.Route = order.StatusQueued, "east"
	o.Lines = []order.Line{{LineItemID: "1", SKU: "Q", Quantity: 2, FulfillableQuantity: 2, RequiresShipping: true}}
	if err := st.Save(ctx, o); err != nil {
		t.Fatal(err)
	}
	s := &inventory.Syncer{Store: st, Catalog: cat, Sources: []inventory.Source{{Name: "east", Warehouse: wh, LocationID: loc}}, Holder: "t"}
	rep, err := s.Run(ctx, "test", false)
	if err != nil {
		t.Fatal(err)
	}
	w := rep.Warehouses[0]
	if w.Updated != 4 || w.Unchanged != 1 || w.InFlight != 1 ||
		fmt.Sprint(w.Unknown) != "[UNKNOWN]" || fmt.Sprint(w.Ambiguous) != "[DUP]" || fmt.Sprint(w.Duplicated) != "[TWICE]" ||
		fmt.Sprint(w.NotStocked) != "[NS]" || fmt.Sprint(w.Negative) != "[NEG]" || len(w.Errors) != 0 {
		b, _ := json.Marshal(w)
		t.Fatalf("report %s", b)
	}
	want := map[string]int{"i-A": 5, "i-B": 7, "i-C": 9, "i-D1": 0, "i-D2": 0, "i-Q": 8, "i-NEG": 0}
	for id, q := range want {
		if cat.available[id] != q {
			t.Errorf("%s = %d, want %d", id, cat.available[id], q)
		}
	}
	// The stale attempt and its retry used different idempotency keys.
	if len(cat.keys) != 2 || cat.keys[0] == cat.keys[1] {
		t.Fatalf("keys %v", cat.keys)
	}
	// Running again changes nothing and sends nothing.
	n := len(cat.keys)
	rep, err = s.Run(ctx, "test", false)
	if err != nil || rep.Warehouses[0].Updated != 0 || len(cat.keys) != n {
		t.Fatalf("second run: %+v %v (%d calls)", rep.Warehouses[0], err, len(cat.keys)-n)
	}
	if b, err := st.GetState(ctx, inventory.StateLastOK); err != nil || !strings.Contains(string(b), `"trigger":"test"`) {
		t.Fatalf("last success %s %v", b, err)
	}
}

func TestSyncBatchesOf250(t *testing.T) {
	cat := &catalog{items: map[string][]order.InventoryItem{}, available: map[string]int{}}
	var stock []order.Stock
	for i := range 600 {
		sku := fmt.Sprintf("S%03d", i)
		cat.items[sku] = []order.InventoryItem{{ID: "i-" + sku, SKU: sku}}
		cat.available["i-"+sku] = 0
		stock = append(stock, order.Stock{SKU: sku, Quantity: i + 1})
	}
	s := &inventory.Syncer{Store: newStore(t), Catalog: cat, Sources: []inventory.Source{{Name: "w", Warehouse: &feed{stock: stock}, LocationID: loc}}}
	rep, err := s.Run(context.Background(), "test", false)
	if err != nil {
		t.Fatal(err)
	}
	var sizes []int
	for _, b := range cat.sets {
		sizes = append(sizes, len(b))
	}
	if fmt.Sprint(sizes) != "[250 250 100]" || rep.Warehouses[0].Updated != 600 || rep.Warehouses[0].Batches != 3 {
		t.Fatalf("batches %v report %+v", sizes, rep.Warehouses[0])
	}
}

func TestSyncErrorsAndLease(t *testing.T) {
	ctx := context.Background()
	st := newStore(t)
	cat := &catalog{items: map[string][]order.InventoryItem{"A": {{ID: "i-A"}}}, available: map[string]int{"i-A": 0}}
	s := &inventory.Syncer{Store: st, Catalog: cat, Holder: "me", Sources: []inventory.Source{
		{Name: "down", Warehouse: &feed{err: errors.New("connection refused")}, LocationID: loc},
		{Name: "nolocation", Warehouse: &feed{}},
		{Name: "up", Warehouse: &feed{stock: []order.Stock{{SKU: "A", Quantity: 1}}}, LocationID: loc},
	}}
	rep, err := s.Run(ctx, "test", false)
	if err == nil || rep.OK() {
		t.Fatal("a failing warehouse did not fail the run")
	}
	var names []string
	for _, w := range rep.Warehouses {
		if len(w.Errors) > 0 {
			names = append(names, w.Name)
		}
	}
	if !slices.Equal(names, []string{"down", "nolocation"}) || cat.available["i-A"] != 1 {
		t.Fatalf("errors in %v, A=%d (one warehouse down must not stop the others)", names, cat.available["i-A"])
	}
	if _, err := st.GetState(ctx, inventory.StateLastOK); !errors.Is(err, order.ErrNotFound) {
		t.Fatal("a failed run was recorded as a success")
	}
	if err := st.AcquireLease(ctx, inventory.LeaseName, "other-instance", 10*60e9); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Run(ctx, "test", false); !errors.Is(err, inventory.ErrRunning) {
		t.Fatalf("overlapping run: %v", err)
	}
}
