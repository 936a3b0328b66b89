package shopify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"testing"

	"github.com/shipwell/orderflow/internal/order"
	"github.com/shipwell/orderflow/internal/shopifysim"
)

func seedItems(t *testing.T, e *env, items ...shopifysim.InventoryItem) []shopifysim.InventoryItem {
	t.Helper()
	out := make([]shopifysim.InventoryItem, len(items))
	for i, it := range items {
		got, err := e.sim.AddInventoryItem(it)
		if err != nil {
			t.Fatal(err)
		}
		out[i] = got
	}
	return out
}

func TestFindBySKUExactMatchOnly(t *testing.T) {
	e := newEnv(t, shopifysim.Options{}, nil)
	loc := map[string]int{"1": 0}
	items := seedItems(t, e,
		shopifysim.InventoryItem{SKU: "ABC", Available: loc},
		shopifysim.InventoryItem{SKU: "ABC-1", Available: loc},    // fuzzy match of "ABC"
		shopifysim.InventoryItem{SKU: "abc", Available: loc},      // case differs
		shopifysim.InventoryItem{SKU: "XYZ ABC", Available: loc},  // token match
		shopifysim.InventoryItem{SKU: "ABC", Untracked: true},     // a duplicate SKU
		shopifysim.InventoryItem{SKU: `QUO"TE\1`, Available: loc}, // needs escaping
		shopifysim.InventoryItem{SKU: "SKU2006-001", Available: loc},
	)
	got, err := e.client.FindBySKU(context.Background(), []string{"ABC", `QUO"TE\1`, "NOPE", "", "ABC", "SKU2006-001"})
	if err != nil {
		t.Fatal(err)
	}
	abc := got["ABC"]
	if len(abc) != 2 {
		t.Fatalf("ABC → %+v, want the 2 exact duplicates only", abc)
	}
	sort.Slice(abc, func(i, j int) bool { return abc[i].ID < abc[j].ID })
	if abc[0].ID != items[0].ID || abc[0].VariantID != items[0].VariantID || !abc[0].Tracked ||
		abc[1].ID != items[4].ID || abc[1].Tracked {
		t.Errorf("ABC entries = %+v", abc)
	}
	if q := got[`QUO"TE\1`]; len(q) != 1 || q[0].ID != items[5].ID {
		t.Errorf("escaped SKU → %+v", q)
	}
	if s := got["SKU2006-001"]; len(s) != 1 || s[0].SKU != "SKU2006-001" {
		t.Errorf("SKU2006-001 → %+v", s)
	}
	if _, ok := got["NOPE"]; ok {
		t.Error("unknown SKU has an entry")
	}
	if _, ok := got[""]; ok {
		t.Error("empty SKU has an entry")
	}
	if len(got) != 3 {
		t.Errorf("result has %d SKUs: %v", len(got), got)
	}
}

func TestFindBySKUBatches(t *testing.T) {
	e := newEnv(t, shopifysim.Options{}, nil)
	var skus []string
	for i := range 60 {
		sku := fmt.Sprintf("B-%03d", i)
		skus = append(skus, sku)
		seedItems(t, e, shopifysim.InventoryItem{SKU: sku, Available: map[string]int{"1": i}})
	}
	got, err := e.client.FindBySKU(context.Background(), skus)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range skus {
		if len(got[s]) != 1 {
			t.Errorf("%s → %v", s, got[s])
		}
	}
	if n := e.sim.Requests(); n != 3 {
		t.Errorf("%d requests for 60 SKUs, want 3 batches of 25", n)
	}
}

func TestAvailable(t *testing.T) {
	e := newEnv(t, shopifysim.Options{}, nil)
	items := seedItems(t, e,
		shopifysim.InventoryItem{SKU: "A", Available: map[string]int{"106318430514": 7, "2": 1}},
		shopifysim.InventoryItem{SKU: "B", Available: map[string]int{"2": 3}}, // not stocked at 106318430514
		shopifysim.InventoryItem{SKU: "C", Available: map[string]int{"106318430514": 0}},
	)
	numericA := NumericID(items[0].ID)
	ids := []string{numericA, items[1].ID, items[2].ID, "gid://shopify/InventoryItem/404"}
	for _, loc := range []string{"106318430514", "gid://shopify/Location/106318430514"} {
		got, err := e.client.Available(context.Background(), loc, ids)
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]int{numericA: 7, items[2].ID: 0}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("location %s: %v, want %v", loc, got, want)
		}
	}
	if _, err := e.client.Available(context.Background(), "nowhere", ids); !order.IsPermanent(err) {
		t.Errorf("bad location: err = %v", err)
	}
}

func TestSetAvailableSendsTheExactMutation(t *testing.T) {
	e := newEnv(t, shopifysim.Options{}, nil)
	items := seedItems(t, e,
		shopifysim.InventoryItem{SKU: "A", Available: map[string]int{"106318430514": 0}},
		shopifysim.InventoryItem{SKU: "B", Available: map[string]int{"106318430514": 4}},
	)
	err := e.client.SetAvailable(context.Background(), "sync-2026-12-03T10:00Z-east-1", []order.InventoryChange{
		{InventoryItemID: items[0].ID, LocationID: "106318430514", Quantity: 5, ChangeFrom: intp(0), SKU: "A"},
		{InventoryItemID: items[1].ID, LocationID: "gid://shopify/Location/106318430514", Quantity: 9, SKU: "B"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if q, _ := e.sim.Available(items[0].ID, "106318430514"); q != 5 {
		t.Errorf("A = %d", q)
	}
	if q, _ := e.sim.Available(items[1].ID, "106318430514"); q != 9 {
		t.Errorf("B = %d", q)
	}
	muts := e.sim.Mutations()
	if len(muts) != 1 || muts[0].Field != "inventorySetQuantities" || muts[0].IdempotencyKey != "sync-2026-12-03T10:00Z-east-1" {
		t.Fatalf("mutations = %+v", muts)
	}
	want := `{"input":{"name":"available","quantities":[` +
		`{"changeFromQuantity":0,"inventoryItemId":"` + items[0].ID + `","locationId":"gid://shopify/Location/106318430514","quantity":5},` +
		`{"changeFromQuantity":null,"inventoryItemId":"` + items[1].ID + `","locationId":"gid://shopify/Location/106318430514","quantity":9}],` +
		`"reason":"correction","referenceDocumentUri":"gid://orderflow/InventorySync/sync-2026-12-03T10:00Z-east-1"}}`
	var got any
	_ = json.Unmarshal(muts[0].Arguments, &got)
	gb, _ := json.Marshal(got)
	if string(gb) != want {
		t.Errorf("arguments\n got %s\nwant %s", gb, want)
	}
}

func TestSetAvailableIdempotencyAndCAS(t *testing.T) {
	e := newEnv(t, shopifysim.Options{}, nil)
	item := seedItems(t, e, shopifysim.InventoryItem{SKU: "A", Available: map[string]int{"1": 0}})[0]
	ctx := context.Background()
	change := []order.InventoryChange{{InventoryItemID: item.ID, LocationID: "1", Quantity: 5, ChangeFrom: intp(0), SKU: "A"}}
	if err := e.client.SetAvailable(ctx, "key-1", change); err != nil {
		t.Fatal(err)
	}
	// A sale happens; the same request retried with the same key is not applied again.
	if err := e.sim.SetStock(item.ID, "1", 4); err != nil {
		t.Fatal(err)
	}
	if err := e.client.SetAvailable(ctx, "key-1", change); err != nil {
		t.Fatalf("replay: %v", err)
	}
	if q, _ := e.sim.Available(item.ID, "1"); q != 4 {
		t.Errorf("after replay available = %d, want 4 (not set again)", q)
	}
	if m := e.sim.Mutations(); m[len(m)-1].Outcome != "replayed" {
		t.Errorf("last mutation outcome %q, want replayed", m[len(m)-1].Outcome)
	}
	// Same key, other variables.
	other := []order.InventoryChange{{InventoryItemID: item.ID, LocationID: "1", Quantity: 6, ChangeFrom: intp(4)}}
	err := e.client.SetAvailable(ctx, "key-1", other)
	var ue *UserErrors
	if !errors.As(err, &ue) || !ue.HasCode(CodeIdempotencyKeyMismatch) || !order.IsPermanent(err) {
		t.Errorf("key reuse: err = %v", err)
	}
	// Stale compare: not permanent, nothing applied.
	stale := []order.InventoryChange{{InventoryItemID: item.ID, LocationID: "1", Quantity: 9, ChangeFrom: intp(5), SKU: "A"}}
	err = e.client.SetAvailable(ctx, "key-2", stale)
	if !IsStale(err) || order.IsPermanent(err) {
		t.Fatalf("stale: err = %v, want a transient CHANGE_FROM_QUANTITY_STALE", err)
	}
	if errors.As(err, &ue); len(ue.Errors) != 1 || fmt.Sprint(ue.Errors[0].Field) != "[input quantities 0 changeFromQuantity]" {
		t.Errorf("stale user errors = %+v", ue)
	}
	if i, ok := ue.Errors[0].Index("quantities"); !ok || i != 0 {
		t.Errorf("Index = %d %v", i, ok)
	}
	if q, _ := e.sim.Available(item.ID, "1"); q != 4 {
		t.Errorf("available = %d after a stale set", q)
	}
	// Re-read and retry with a new key.
	avail, err := e.client.Available(ctx, "1", []string{item.ID})
	if err != nil {
		t.Fatal(err)
	}
	stale[0].ChangeFrom = intp(avail[item.ID])
	if err := e.client.SetAvailable(ctx, "key-3", stale); err != nil {
		t.Fatal(err)
	}
	if q, _ := e.sim.Available(item.ID, "1"); q != 9 {
		t.Errorf("available = %d, want 9", q)
	}
}

func TestSetAvailableRefusals(t *testing.T) {
	e := newEnv(t, shopifysim.Options{}, nil)
	item := seedItems(t, e, shopifysim.InventoryItem{SKU: "A", Available: map[string]int{"1": 0}})[0]
	ctx := context.Background()

	big := make([]order.InventoryChange, 251)
	for i := range big {
		big[i] = order.InventoryChange{InventoryItemID: item.ID, LocationID: "1", Quantity: i}
	}
	if err := e.client.SetAvailable(ctx, "k", big); err == nil || !order.IsPermanent(err) {
		t.Errorf("251 changes: err = %v", err)
	}
	if err := e.client.SetAvailable(ctx, "", big[:1]); err == nil {
		t.Error("empty key accepted")
	}
	if e.sim.Requests() != 0 {
		t.Errorf("%d requests for refused input", e.sim.Requests())
	}
	if err := e.client.SetAvailable(ctx, "k", nil); err != nil {
		t.Errorf("no changes: %v", err)
	}

	tests := []struct {
		change order.InventoryChange
		code   string
	}{
		{order.InventoryChange{InventoryItemID: item.ID, LocationID: "2", Quantity: 1, ChangeFrom: intp(0)}, "ITEM_NOT_STOCKED_AT_LOCATION"},
		{order.InventoryChange{InventoryItemID: "999999999999", LocationID: "1", Quantity: 1, ChangeFrom: intp(0)}, "INVALID_INVENTORY_ITEM"},
		{order.InventoryChange{InventoryItemID: item.ID, LocationID: "1", Quantity: -1, ChangeFrom: intp(0)}, "INVALID_QUANTITY_NEGATIVE"},
	}
	for i, tt := range tests {
		if tt.code == "ITEM_NOT_STOCKED_AT_LOCATION" {
			if _, err := e.sim.AddLocation("2", "Second"); err != nil {
				t.Fatal(err)
			}
		}
		err := e.client.SetAvailable(ctx, fmt.Sprintf("r-%d", i), []order.InventoryChange{tt.change})
		var ue *UserErrors
		if !errors.As(err, &ue) || !ue.HasCode(tt.code) || !order.IsPermanent(err) {
			t.Errorf("%s: err = %v", tt.code, err)
		}
	}
}
