package flowtest_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/shipwell/orderflow/internal/flowtest"
	"github.com/shipwell/orderflow/internal/shopifysim"
)

// TestInventorySyncAgainstShopify runs the sync with the real Shopify client against the
// simulator: fuzzy SKU search filtered to exact matches, duplicates reported, 2026-04 mutation
// rules (directive, changeFromQuantity), nothing sent when nothing differs.
func TestInventorySyncAgainstShopify(t *testing.T) {
	h := flowtest.New(t, flowtest.Options{})
	ctx := context.Background()
	all := map[string]int{flowtest.LocEast: 0, flowtest.LocWest: 0, flowtest.LocIntl: 0}
	for i, sku := range []string{"SKU-1", "SKU-10", "DUP", "DUP", "ELSEWHERE"} {
		av := map[string]int{}
		for k, v := range all {
			if sku != "ELSEWHERE" || k != flowtest.LocEast {
				av[k] = v
			}
		}
		if _, err := h.Shopify.AddInventoryItem(shopifysim.InventoryItem{ID: fmt.Sprint(800 + i), VariantID: fmt.Sprint(900 + i), SKU: sku, Available: av}); err != nil {
			t.Fatal(err)
		}
	}
	for _, w := range h.Warehouses {
		w.ReplaceStock(map[string]int{"SKU-1": 4, "DUP": 1, "NOPE": 2, "ELSEWHERE": 3})
	}
	rep, err := h.Syncer.Run(ctx, "test", false)
	if err != nil {
		t.Fatalf("%v: %+v", err, rep)
	}
	east := rep.Warehouses[0]
	if east.Name != flowtest.East || east.Updated != 1 || fmt.Sprint(east.Unknown) != "[NOPE]" ||
		fmt.Sprint(east.Ambiguous) != "[DUP]" || fmt.Sprint(east.NotStocked) != "[ELSEWHERE]" {
		t.Fatalf("east report %+v", east)
	}
	if v, _ := h.Shopify.Available("800", flowtest.LocEast); v != 4 {
		t.Fatalf("SKU-1 at east = %d, want 4", v)
	}
	if v, _ := h.Shopify.Available("801", flowtest.LocEast); v != 0 {
		t.Fatalf("SKU-10 (a fuzzy match of SKU-1) was changed to %d", v)
	}
	sets := 0
	for _, m := range h.Shopify.Mutations() {
		if m.Field != "inventorySetQuantities" {
			continue
		}
		sets++
		if m.Outcome != "applied" || m.IdempotencyKey == "" || !strings.Contains(string(m.Arguments), `"changeFromQuantity":0`) {
			t.Fatalf("mutation %+v %s", m, m.Arguments)
		}
	}
	if sets != 3 { // one per warehouse location (west and international also get SKU-1 and ELSEWHERE)
		t.Fatalf("%d inventorySetQuantities calls, want 3", sets)
	}
	if _, err := h.Syncer.Run(ctx, "test", false); err != nil {
		t.Fatal(err)
	}
	after := 0
	for _, m := range h.Shopify.Mutations() {
		if m.Field == "inventorySetQuantities" {
			after++
		}
	}
	if after != sets {
		t.Fatalf("a second sync with nothing changed sent %d more mutations", after-sets)
	}
}
