package shopify

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/shipwell/orderflow/internal/order"
	"github.com/shipwell/orderflow/internal/shopify/gql"
)

// Batch sizes of the inventory calls.
const (
	// MaxSetQuantities is Shopify's cap on one inventorySetQuantities call (every input
	// array is limited to 250 entries).
	MaxSetQuantities = 250
	// skuBatch is how many SKUs one productVariants search ORs together.
	skuBatch = 25
	// skuPages bounds the result pages read for one search (100 variants a page).
	skuPages = 10
	// availableBatch is how many inventory items one nodes(ids:) read asks for.
	availableBatch = 100
)

var _ order.InventoryCatalog = (*Client)(nil)

// FindBySKU looks SKUs up with productVariants(query: "sku:...") and keeps only the variants
// whose SKU is exactly the one asked for: Shopify's search is fuzzy (token and prefix
// matches), so "ABC" also finds "ABC-1". A SKU with no entry in the result is unknown; two or
// more entries mean the SKU is on several variants (duplicates are kept, not guessed away).
// Empty SKUs are skipped. Runs at PriorityLow unless ctx says otherwise.
func (c *Client) FindBySKU(ctx context.Context, skus []string) (map[string][]order.InventoryItem, error) {
	ctx = withDefaultPriority(ctx, PriorityLow)
	want := make([]string, 0, len(skus))
	seen := map[string]bool{}
	for _, s := range skus {
		if s == "" || seen[s] {
			continue
		}
		seen[s] = true
		want = append(want, s)
	}
	out := map[string][]order.InventoryItem{}
	for start := 0; start < len(want); start += skuBatch {
		batch := want[start:min(start+skuBatch, len(want))]
		complete, err := c.searchSKUs(ctx, batch, out)
		if err != nil {
			return nil, err
		}
		if complete {
			continue
		}
		// Too many fuzzy matches for one batch: search the SKUs not found yet one by one.
		for _, s := range batch {
			if len(out[s]) > 0 {
				continue
			}
			complete, err := c.searchSKUs(ctx, []string{s}, out)
			if err != nil {
				return nil, err
			}
			if !complete {
				return nil, fmt.Errorf("shopify: SKU search for %q matched more than %d variants; cannot tell whether an exact match exists", s, skuPages*100)
			}
		}
	}
	return out, nil
}

// searchSKUs runs one search for skus and adds the exact matches to out. It reports false when
// it stopped at the page limit.
func (c *Client) searchSKUs(ctx context.Context, skus []string, out map[string][]order.InventoryItem) (bool, error) {
	want := map[string]bool{}
	terms := make([]string, len(skus))
	for i, s := range skus {
		want[s] = true
		terms[i] = "sku:" + quoteSearchValue(s)
	}
	query := strings.Join(terms, " OR ")
	have := map[string]bool{} // variant ids already added
	for _, list := range out {
		for _, it := range list {
			have[it.VariantID] = true
		}
	}
	after := ""
	for page := 0; page < skuPages; page++ {
		resp, err := gql.VariantsBySKU(ctx, c.gql, query, after)
		if err != nil {
			return false, fmt.Errorf("look up SKUs: %w", err)
		}
		pv := resp.ProductVariants
		for _, v := range pv.Nodes {
			if !want[v.Sku] || have[v.Id] {
				continue
			}
			have[v.Id] = true
			out[v.Sku] = append(out[v.Sku], order.InventoryItem{
				ID:        v.InventoryItem.Id,
				SKU:       v.Sku,
				VariantID: v.Id,
				Tracked:   v.InventoryItem.Tracked,
			})
		}
		if !pv.PageInfo.HasNextPage {
			return true, nil
		}
		after = pv.PageInfo.EndCursor
	}
	return false, nil
}

// quoteSearchValue quotes a value for Shopify's search syntax, escaping \ and ".
func quoteSearchValue(s string) string {
	s = strings.ReplaceAll(s, `\`, `\\`)
	s = strings.ReplaceAll(s, `"`, `\"`)
	return `"` + s + `"`
}

// Available returns the available quantity of each inventory item at a location (numeric id
// or gid). Items not stocked there (and unknown items) are absent from the map. Keys are the
// ids as passed in. Runs at PriorityLow unless ctx says otherwise.
func (c *Client) Available(ctx context.Context, locationID string, itemIDs []string) (map[string]int, error) {
	loc, err := LocationGID(locationID)
	if err != nil {
		return nil, order.Permanent(err)
	}
	ctx = withDefaultPriority(ctx, PriorityLow)
	byGID := map[string]string{}
	gids := make([]string, 0, len(itemIDs))
	for _, id := range itemIDs {
		g, err := InventoryItemGID(id)
		if err != nil {
			return nil, order.Permanent(err)
		}
		if _, dup := byGID[g]; dup {
			continue
		}
		byGID[g] = id
		gids = append(gids, g)
	}
	out := map[string]int{}
	for start := 0; start < len(gids); start += availableBatch {
		batch := gids[start:min(start+availableBatch, len(gids))]
		resp, err := gql.InventoryAvailable(ctx, c.gql, batch, loc)
		if err != nil {
			return nil, fmt.Errorf("read available quantities at %s: %w", loc, err)
		}
		for _, n := range resp.Nodes {
			if n == nil || n.InventoryLevel == nil {
				continue
			}
			orig, ok := byGID[n.ID]
			if !ok {
				continue
			}
			for _, q := range n.InventoryLevel.Quantities {
				if q.Name == "available" {
					out[orig] = q.Quantity
				}
			}
		}
	}
	return out, nil
}

// SetAvailable sets absolute "available" quantities with inventorySetQuantities under the
// 2026-04+ rules: the @idempotent(key:) directive (retrying with the same key never applies a
// change twice) and a changeFromQuantity on every quantity (compare-and-swap; nil ChangeFrom
// sends an explicit null, which skips the compare). Reason "correction". At most
// MaxSetQuantities changes per call. A CAS failure returns a non-permanent *UserErrors (see
// IsStale): re-read and retry with a new key. Other userErrors are permanent. Runs at
// PriorityLow unless ctx says otherwise.
func (c *Client) SetAvailable(ctx context.Context, key string, changes []order.InventoryChange) error {
	if len(changes) == 0 {
		return nil
	}
	if len(changes) > MaxSetQuantities {
		return order.Permanent(fmt.Errorf("shopify: inventorySetQuantities: %d changes in one call, at most %d allowed", len(changes), MaxSetQuantities))
	}
	if strings.TrimSpace(key) == "" {
		return order.Permanent(errors.New("shopify: inventorySetQuantities: an idempotency key is required"))
	}
	in := gql.InventorySetQuantitiesInput{
		Name:                 "available",
		Reason:               "correction",
		ReferenceDocumentUri: "gid://orderflow/InventorySync/" + url.PathEscape(key),
	}
	for i, ch := range changes {
		item, err := InventoryItemGID(ch.InventoryItemID)
		if err != nil {
			return order.Permanent(fmt.Errorf("inventorySetQuantities change %d (SKU %q): %w", i, ch.SKU, err))
		}
		loc, err := LocationGID(ch.LocationID)
		if err != nil {
			return order.Permanent(fmt.Errorf("inventorySetQuantities change %d (SKU %q): %w", i, ch.SKU, err))
		}
		q := gql.InventoryQuantityInput{InventoryItemId: item, LocationId: loc, Quantity: ch.Quantity}
		if ch.ChangeFrom != nil {
			v := *ch.ChangeFrom
			q.ChangeFromQuantity = &v
		}
		in.Quantities = append(in.Quantities, q)
	}
	ctx = withDefaultPriority(ctx, PriorityLow)
	resp, err := gql.InventorySetQuantities(ctx, c.gql, in, key)
	if err != nil {
		return fmt.Errorf("set inventory quantities: %w", err)
	}
	p := resp.InventorySetQuantities
	if len(p.UserErrors) == 0 {
		return nil
	}
	ue := &UserErrors{Operation: "InventorySetQuantities"}
	for _, u := range p.UserErrors {
		e := UserError{Field: u.Field, Message: u.Message, Code: string(u.Code)}
		if i, ok := e.Index("quantities"); ok && i >= 0 && i < len(changes) && changes[i].SKU != "" {
			e.Message += " (SKU " + changes[i].SKU + ")"
		}
		ue.Errors = append(ue.Errors, e)
	}
	for _, e := range ue.Errors {
		if e.Code != CodeChangeFromQuantityStale && e.Code != CodeIdempotencyConcurrentRequest {
			return order.Permanent(ue)
		}
	}
	if ue.HasCode(CodeIdempotencyConcurrentRequest) {
		return order.WithRetryAfter(ue, time.Second)
	}
	return ue
}
