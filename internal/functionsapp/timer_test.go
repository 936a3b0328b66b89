package functionsapp_test

import (
	"context"
	"encoding/json"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/shipwell/orderflow/internal/flowtest"
	"github.com/shipwell/orderflow/internal/functions/hostsim"
	"github.com/shipwell/orderflow/internal/inventory"
	"github.com/shipwell/orderflow/internal/shopifysim"
)

// TestInventorySync fires inventory-sync the way the timer extension does and checks that the
// warehouses' stock reaches the Shopify SIMULATOR, that two overlapping runs do not both sync,
// and that the last successful run is recorded.
func TestInventorySync(t *testing.T) {
	w := newWorld(t)
	in := w.start(t, appForwarding)
	started := time.Now()
	// SKUs no test order uses, so no queued order adjusts them (the sync subtracts units of
	// orders not yet accepted by their warehouse).
	eastItem := w.addItem(t, "FA-SYNC-EAST-1", flowtest.LocEast, 3)
	westItem := w.addItem(t, "FA-SYNC-WEST-1", flowtest.LocWest, 0)
	w.wh[east].SetStock("FA-SYNC-EAST-1", 42)
	w.wh[west].SetStock("FA-SYNC-WEST-1", 7)
	w.wh[intl].SetStock("FA-SYNC-NOT-IN-SHOPIFY", 5)

	tests := []struct {
		name      string
		opts      hostsim.TimerOptions
		eastStock int
		wantLogs  [][]string
	}{
		{"ScheduleStatus present", hostsim.TimerOptions{}, 42, [][]string{
			{"warehouse-east: 1 updated, 0 unchanged, 0 unknown, 0 ambiguous, 0 errors"},
			{"warehouse-west: 1 updated, 0 unchanged, 0 unknown, 0 ambiguous, 0 errors"},
			{"international: 0 updated, 0 unchanged, 1 unknown, 0 ambiguous, 0 errors"},
		}},
		{"ScheduleStatus null (useMonitor off)", hostsim.TimerOptions{NoScheduleStatus: true}, 42, [][]string{
			{"warehouse-east: 0 updated, 1 unchanged"},
			{"warehouse-west: 0 updated, 1 unchanged"},
		}},
		{"IsPastDue", hostsim.TimerOptions{PastDue: true}, 40, [][]string{
			{"timer is past due"},
			{"warehouse-east: 1 updated, 0 unchanged"},
			{"warehouse-west: 0 updated, 1 unchanged"},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w.wh[east].SetStock("FA-SYNC-EAST-1", tc.eastStock)
			res := in.sim.Timer(syncFn, tc.opts)
			if res.Err != nil || !res.Succeeded || len(res.Attempts) != 1 {
				t.Fatalf("timer: err %v succeeded %v attempts %d (%v)", res.Err, res.Succeeded, len(res.Attempts), invErr(res.Last()))
			}
			inv := res.Last()
			if inv.StatusCode != http.StatusOK {
				t.Fatalf("status %d", inv.StatusCode)
			}
			for _, want := range tc.wantLogs {
				if !hasLine(inv.Reply.Logs, want...) {
					t.Fatalf("Logs %q lack %q", inv.Reply.Logs, want)
				}
			}
			// What the host sent: ScheduleStatus an object or null, IsPastDue as asked.
			data, _, err := inv.Envelope()
			if err != nil {
				t.Fatal(err)
			}
			var timer struct {
				ScheduleStatus *struct{ Last, Next string }
				IsPastDue      bool
			}
			if err := json.Unmarshal(data["timer"], &timer); err != nil {
				t.Fatal(err)
			}
			if (timer.ScheduleStatus == nil) != tc.opts.NoScheduleStatus || timer.IsPastDue != tc.opts.PastDue {
				t.Fatalf("Data.timer %s", data["timer"])
			}
			if got, _ := w.shopify.Available(eastItem, flowtest.LocEast); got != tc.eastStock {
				t.Fatalf("Shopify available at east: %d, want %d", got, tc.eastStock)
			}
			if got, _ := w.shopify.Available(westItem, flowtest.LocWest); got != 7 {
				t.Fatalf("Shopify available at west: %d, want 7", got)
			}
		})
	}

	t.Run("the last successful run is recorded", func(t *testing.T) {
		b, err := in.db.GetState(context.Background(), inventory.StateLastOK)
		if err != nil {
			t.Fatal(err)
		}
		var rep inventory.Report
		if err := json.Unmarshal(b, &rep); err != nil {
			t.Fatal(err)
		}
		if rep.Trigger != "timer" || !rep.PastDue || rep.FinishedAt.Before(started) || len(rep.Warehouses) != 3 ||
			rep.Warehouses[0].Name != east || rep.Warehouses[0].Updated != 1 {
			t.Fatalf("last success %s", b)
		}
	})

	t.Run("two overlapping invocations: one runs, the other is skipped", func(t *testing.T) {
		// The first sync holds the lease while east's stock feed is held back; the second
		// invocation arrives meanwhile.
		arrived, release := w.holdInventory(t, east)
		first := make(chan *hostsim.TimerResult, 1)
		go func() { first <- in.sim.Timer(syncFn, hostsim.TimerOptions{}) }()
		select {
		case <-arrived:
		case <-time.After(10 * time.Second):
			t.Fatal("the first sync never read east's stock feed")
		}
		second := in.sim.Timer(syncFn, hostsim.TimerOptions{})
		release()
		if !second.Succeeded || !hasLine(second.Last().Reply.Logs, "skipped: another inventory sync is running") {
			t.Fatalf("second invocation: succeeded %v logs %q (%v)", second.Succeeded, logsOf(second.Last()), invErr(second.Last()))
		}
		var res *hostsim.TimerResult
		select {
		case res = <-first:
		case <-time.After(20 * time.Second):
			t.Fatal("the first sync did not finish")
		}
		if !res.Succeeded || !hasLine(res.Last().Reply.Logs, "warehouse-east: 0 updated, 1 unchanged") {
			t.Fatalf("first invocation: succeeded %v logs %q (%v)", res.Succeeded, logsOf(res.Last()), invErr(res.Last()))
		}
	})
}

// addItem seeds an inventory item stocked at one location of the Shopify SIMULATOR.
func (w *world) addItem(t *testing.T, sku, location string, available int) string {
	t.Helper()
	it, err := w.shopify.AddInventoryItem(shopifysim.InventoryItem{SKU: sku, Available: map[string]int{location: available}})
	if err != nil {
		t.Fatal(err)
	}
	return it.ID
}

// holdInventory makes a warehouse SIMULATOR hold its next GET /inventory until release is
// called; arrived is closed when that request has come in. Release is also a test cleanup.
func (w *world) holdInventory(t *testing.T, name string) (arrived <-chan struct{}, release func()) {
	t.Helper()
	in, out := make(chan struct{}), make(chan struct{})
	var once, done sync.Once
	w.wh[name].SetHook(func(_ http.ResponseWriter, r *http.Request, _ []byte) bool {
		if r.Method != http.MethodGet || r.URL.Path != "/inventory" {
			return false
		}
		held := false
		once.Do(func() { held = true; close(in) })
		if held {
			<-out
		}
		return false // then answer normally
	})
	release = func() {
		done.Do(func() {
			w.wh[name].SetHook(nil)
			close(out)
		})
	}
	t.Cleanup(release)
	return in, release
}

func logsOf(inv *hostsim.Invocation) []string {
	if inv == nil || inv.Reply == nil {
		return nil
	}
	return inv.Reply.Logs
}
