// Package inventory copies warehouse stock into Shopify: for each warehouse it reads the stock
// feed, finds each SKU's inventory item with an exact match, reads the current available quantity
// at the warehouse's location and sets only what differs, in batches of at most 250, with
// compare-and-swap and an idempotency key (inventorySetQuantities, 2026-04+ rules). Unknown,
// ambiguous and duplicated SKUs are reported, never guessed. A lease in the store keeps two syncs
// from running at once.
package inventory

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/shipwell/orderflow/internal/order"
)

// Lease and state names in the store.
const (
	LeaseName      = "inventory-sync"
	StateLastOK    = "inventory-sync/last-success"
	StateLastRun   = "inventory-sync/last-run"
	batchSize      = 250
	leaseTTL       = 30 * time.Minute
	staleAfter     = 70 * time.Minute
	maxSetAttempts = 3
)

// runs numbers the runs of this process.
var runs atomic.Int64

// ErrRunning is returned when another sync holds the lease.
var ErrRunning = errors.New("another inventory sync is running")

// Source is one warehouse's stock feed and the Shopify location it stocks.
type Source struct {
	Name       string
	Warehouse  order.Warehouse
	LocationID string
}

// Syncer runs inventory syncs.
type Syncer struct {
	Store   order.Store
	Catalog order.InventoryCatalog
	Sources []Source
	Holder  string // this instance's name; each run takes the lease as Holder/run-N
	Log     *slog.Logger
	Now     func() time.Time
}

// Report is what one sync did.
type Report struct {
	Trigger    string            `json:"trigger"`
	StartedAt  time.Time         `json:"startedAt"`
	FinishedAt time.Time         `json:"finishedAt"`
	PastDue    bool              `json:"pastDue,omitempty"`
	Warehouses []WarehouseReport `json:"warehouses"`
}

// WarehouseReport is one warehouse's part of a sync.
type WarehouseReport struct {
	Name       string   `json:"name"`
	LocationID string   `json:"locationId"`
	FeedSKUs   int      `json:"feedSkus"`
	Unchanged  int      `json:"unchanged"`
	Updated    int      `json:"updated"`
	Batches    int      `json:"batches"`
	InFlight   int      `json:"inFlightAdjusted,omitempty"`
	Unknown    []string `json:"unknownSkus,omitempty"`
	Ambiguous  []string `json:"ambiguousSkus,omitempty"`
	Duplicated []string `json:"duplicatedInFeed,omitempty"`
	NotStocked []string `json:"notStockedAtLocation,omitempty"`
	Negative   []string `json:"negativeClampedToZero,omitempty"`
	Errors     []string `json:"errors,omitempty"`
}

// OK reports whether every warehouse synced without errors.
func (r Report) OK() bool {
	for _, w := range r.Warehouses {
		if len(w.Errors) > 0 {
			return false
		}
	}
	return true
}

func (s *Syncer) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC()
	}
	return time.Now().UTC()
}

func (s *Syncer) log() *slog.Logger {
	if s.Log != nil {
		return s.Log
	}
	return slog.Default()
}

// Run performs one sync. trigger says who asked (schedule, timer, command).
func (s *Syncer) Run(ctx context.Context, trigger string, pastDue bool) (Report, error) {
	// The store's lease is re-entrant for one holder, so every run holds it under its own name:
	// two overlapping runs of one process must not both sync (nor release each other's lease).
	base := s.Holder
	if base == "" {
		base = "orderflow"
	}
	holder := fmt.Sprintf("%s/run-%d", base, runs.Add(1))
	if err := s.Store.AcquireLease(ctx, LeaseName, holder, leaseTTL); err != nil {
		if errors.Is(err, order.ErrLeaseHeld) {
			return Report{}, ErrRunning
		}
		return Report{}, fmt.Errorf("inventory sync: %w", err)
	}
	defer func() {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if err := s.Store.ReleaseLease(rctx, LeaseName, holder); err != nil {
			s.log().Warn("release inventory sync lease", "error", err)
		}
	}()
	rep := Report{Trigger: trigger, StartedAt: s.now(), PastDue: pastDue}
	if b, err := s.Store.GetState(ctx, StateLastOK); err == nil {
		var last Report
		if json.Unmarshal(b, &last) == nil && rep.StartedAt.Sub(last.FinishedAt) > staleAfter {
			s.log().Warn("inventory sync catching up: last successful sync is old",
				"last_success", last.FinishedAt, "age", rep.StartedAt.Sub(last.FinishedAt).Round(time.Minute).String())
		}
	}
	inFlight, err := s.inFlight(ctx)
	if err != nil {
		return rep, fmt.Errorf("inventory sync: %w", err)
	}
	for _, src := range s.Sources {
		wr := s.syncWarehouse(ctx, src, rep.StartedAt, inFlight[src.Name])
		rep.Warehouses = append(rep.Warehouses, wr)
		s.log().Info("inventory synced", "warehouse", wr.Name, "feed_skus", wr.FeedSKUs, "updated", wr.Updated,
			"unchanged", wr.Unchanged, "unknown", len(wr.Unknown), "ambiguous", len(wr.Ambiguous),
			"duplicated", len(wr.Duplicated), "not_stocked", len(wr.NotStocked), "negative", len(wr.Negative), "errors", len(wr.Errors))
	}
	rep.FinishedAt = s.now()
	b, _ := json.Marshal(rep)
	if err := s.Store.PutState(ctx, StateLastRun, b); err != nil {
		return rep, fmt.Errorf("inventory sync: record run: %w", err)
	}
	if !rep.OK() {
		return rep, errors.New("inventory sync finished with errors")
	}
	if err := s.Store.PutState(ctx, StateLastOK, b); err != nil {
		return rep, fmt.Errorf("inventory sync: record success: %w", err)
	}
	return rep, nil
}

// inFlight counts, per warehouse and SKU, quantities of orders queued for a warehouse that has
// not accepted them yet: Shopify already committed those units, the warehouse's feed still counts
// them, so copying the feed as-is would sell them twice.
func (s *Syncer) inFlight(ctx context.Context) (map[string]map[string]int, error) {
	os, err := s.Store.List(ctx, order.Filter{Status: order.StatusQueued, Limit: 10000})
	if err != nil {
		return nil, fmt.Errorf("list queued orders: %w", err)
	}
	out := map[string]map[string]int{}
	for _, o := range os {
		if out[o.Route] == nil {
			out[o.Route] = map[string]int{}
		}
		for _, l := range o.Lines {
			out[o.Route][l.SKU] += l.FulfillableQuantity
		}
	}
	return out, nil
}

func (s *Syncer) syncWarehouse(ctx context.Context, src Source, started time.Time, inFlight map[string]int) WarehouseReport {
	wr := WarehouseReport{Name: src.Name, LocationID: src.LocationID}
	fail := func(format string, args ...any) WarehouseReport {
		wr.Errors = append(wr.Errors, fmt.Sprintf(format, args...))
		return wr
	}
	if src.LocationID == "" {
		return fail("no Shopify location configured for %s", src.Name)
	}
	feed, err := src.Warehouse.Inventory(ctx)
	if err != nil {
		return fail("read stock feed: %v", err)
	}
	qty := map[string]int{}
	seen := map[string]int{}
	for _, st := range feed {
		seen[st.SKU]++
		qty[st.SKU] = st.Quantity
		if st.Quantity < 0 {
			wr.Negative = append(wr.Negative, st.SKU)
		}
	}
	sort.Strings(wr.Negative)
	var skus []string
	for sku, n := range seen {
		switch {
		case sku == "":
			wr.Errors = append(wr.Errors, "feed has an entry without a SKU")
		case n > 1:
			wr.Duplicated = append(wr.Duplicated, sku)
		default:
			skus = append(skus, sku)
		}
	}
	sort.Strings(skus)
	sort.Strings(wr.Duplicated)
	wr.FeedSKUs = len(seen)
	if len(skus) == 0 {
		return wr
	}
	found, err := s.Catalog.FindBySKU(ctx, skus)
	if err != nil {
		return fail("find SKUs in Shopify: %v", err)
	}
	itemOf := map[string]string{} // item id -> sku
	var items []string
	for _, sku := range skus {
		switch m := found[sku]; len(m) {
		case 0:
			wr.Unknown = append(wr.Unknown, sku)
		case 1:
			itemOf[m[0].ID] = sku
			items = append(items, m[0].ID)
		default:
			wr.Ambiguous = append(wr.Ambiguous, sku)
		}
	}
	want := func(item string) int {
		sku := itemOf[item]
		q := qty[sku] - inFlight[sku]
		return max(q, 0)
	}
	for n := range inFlight {
		if _, ok := qty[n]; ok && inFlight[n] > 0 {
			wr.InFlight++
		}
	}
	for start := 0; start < len(items); start += batchSize {
		batch := items[start:min(start+batchSize, len(items))]
		updated, unchanged, notStocked, err := s.setBatch(ctx, src, started, start/batchSize, batch, want)
		wr.Updated += updated
		wr.Unchanged += unchanged
		for _, it := range notStocked {
			wr.NotStocked = append(wr.NotStocked, itemOf[it])
		}
		if updated > 0 {
			wr.Batches++
		}
		if err != nil {
			wr.Errors = append(wr.Errors, fmt.Sprintf("batch %d: %v", start/batchSize, err))
		}
	}
	sort.Strings(wr.NotStocked)
	return wr
}

// setBatch reads the current quantities of up to 250 items and sets those that differ, retrying
// with fresh reads when a quantity changed underneath (compare-and-swap).
func (s *Syncer) setBatch(ctx context.Context, src Source, started time.Time, n int, items []string, want func(string) int) (updated, unchanged int, notStocked []string, err error) {
	for attempt := 1; attempt <= maxSetAttempts; attempt++ {
		cur, err := s.Catalog.Available(ctx, src.LocationID, items)
		if err != nil {
			return 0, 0, nil, fmt.Errorf("read available quantities: %w", err)
		}
		var changes []order.InventoryChange
		notStocked, unchanged = notStocked[:0], 0
		for _, it := range items {
			have, ok := cur[it]
			switch {
			case !ok:
				notStocked = append(notStocked, it)
			case have == want(it):
				unchanged++
			default:
				from := have
				changes = append(changes, order.InventoryChange{InventoryItemID: it, LocationID: src.LocationID,
					Quantity: want(it), ChangeFrom: &from})
			}
		}
		if len(changes) == 0 {
			return 0, unchanged, notStocked, nil
		}
		err = s.Catalog.SetAvailable(ctx, idempotencyKey(src, started, n, attempt, changes), changes)
		if err == nil {
			return len(changes), unchanged, notStocked, nil
		}
		if !errors.Is(err, order.ErrStale) || attempt == maxSetAttempts {
			return 0, unchanged, notStocked, fmt.Errorf("set quantities: %w", err)
		}
		s.log().Info("inventory changed while syncing; re-reading", "warehouse", src.Name, "batch", n, "attempt", attempt)
	}
	return 0, unchanged, notStocked, nil
}

// idempotencyKey is the same for a retried identical request and different for anything else.
func idempotencyKey(src Source, started time.Time, batch, attempt int, changes []order.InventoryChange) string {
	h := sha256.New()
	fmt.Fprintf(h, "%s|%s|%d|%d|", src.Name, started.Format(time.RFC3339Nano), batch, attempt)
	cs := slices.Clone(changes)
	slices.SortFunc(cs, func(a, b order.InventoryChange) int {
		if a.InventoryItemID < b.InventoryItemID {
			return -1
		}
		if a.InventoryItemID > b.InventoryItemID {
			return 1
		}
		return 0
	})
	for _, c := range cs {
		h.Write([]byte(c.InventoryItemID + "=" + strconv.Itoa(c.Quantity) + "<" + strconv.Itoa(*c.ChangeFrom) + ";"))
	}
	return "inventory-sync-" + hex.EncodeToString(h.Sum(nil))[:32]
}
