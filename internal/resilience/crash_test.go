package resilience_test

import (
	"net/http"
	"os"
	"sync/atomic"
	"testing"
	"time"
)

// TestCrashSafety kills `handler serve` with SIGKILL in the middle of a load of webhooks from
// many concurrent senders, while the (slow) warehouses lag behind intake, restarts it on the
// same DATA_DIR, redelivers what Shopify would redeliver, and checks that nothing acknowledged
// was lost and nothing was dispatched twice:
//
//   - every webhook that got a 200 before the kill is in the order log, once;
//   - a redelivery of a recorded webhook is answered 200 "duplicate", and one that was never
//     recorded (cut off by the kill) 200 "recorded";
//   - every order reaches its routed warehouse exactly once: one Idempotency-Key and one
//     accepted fulfillment per order (repeats of the same key, "replays", are allowed and
//     counted: they are the dispatches the warehouse accepted while the process died).
func TestCrashSafety(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the real binary; skipped under -short")
	}
	const (
		n                = 300
		clients          = 16
		killAfter        = 150 // 200s received before the SIGKILL
		warehouseTimeout = 2 * time.Second
		// leaseTTL is what cmd/handler/serve.go gives the worker: 2×WAREHOUSE_TIMEOUT + 1 min.
		leaseTTL = 2*warehouseTimeout + time.Minute
	)
	ws := startWarehouses(t)
	ws.slow(20*time.Millisecond, 50*time.Millisecond)
	p := newProduct(t, ws, map[string]string{"WAREHOUSE_TIMEOUT": warehouseTimeout.String()})
	p.start()
	ds := makeOrders(t, n, 7100000000000)

	// Phase 1: load, and SIGKILL once killAfter webhooks were acknowledged.
	var (
		answers  = make([]answer, n)
		ok200    atomic.Int64
		inFlight atomic.Int64
		killed   atomic.Bool
		killNow  = make(chan struct{})
		killDone = make(chan struct{})
	)
	var snap struct {
		at                               time.Time
		ok200, inFlight, whInFlight, dis int
	}
	go func() {
		<-killNow
		snap.ok200, snap.inFlight = int(ok200.Load()), int(inFlight.Load())
		snap.whInFlight, snap.dis = ws.inFlightNow(), ws.accepted()
		killed.Store(true)
		snap.at = time.Now()
		p.kill()
		close(killDone)
	}()
	c := newClient(true)
	work := make(chan int)
	done := make(chan struct{})
	for range clients {
		go func() {
			defer func() { done <- struct{}{} }()
			for i := range work {
				if killed.Load() {
					continue // never sent: Shopify sends it after the restart
				}
				inFlight.Add(1)
				a := send(c, p.url(), ds[i])
				inFlight.Add(-1)
				answers[i] = a
				if a.Status == http.StatusOK && ok200.Add(1) == killAfter {
					close(killNow)
				}
			}
		}()
	}
	began := time.Now()
	for i := range ds {
		work <- i
	}
	close(work)
	for range clients {
		<-done
	}
	<-killDone
	if p.waitErr == nil || p.waitErr.Error() != "signal: killed" {
		t.Fatalf("handler did not die of SIGKILL: %v", p.waitErr)
	}

	var acked, cut, unsent []*delivery
	for i, a := range answers {
		switch {
		case a.Status == http.StatusOK:
			if a.Outcome != "recorded" {
				t.Errorf("order %s, first delivery: %s, want 200 recorded", ds[i].OrderID, a)
			}
			acked = append(acked, ds[i])
		case a.Err != nil:
			cut = append(cut, ds[i])
		case a.Status == 0:
			unsent = append(unsent, ds[i])
		default:
			t.Errorf("order %s, first delivery: %s, want 200 or no answer", ds[i].OrderID, a)
		}
	}
	walSize := int64(-1)
	if fi, err := os.Stat(p.dbPath() + "-wal"); err == nil {
		walSize = fi.Size()
	}
	t.Logf("before the kill (%s of load): %d acknowledged (%d when the kill was decided), %d requests in flight when killed, "+
		"%d cut off without an answer, %d not sent; warehouses had accepted %d orders and were working on %d requests; WAL left behind: %d bytes",
		snap.at.Sub(began).Round(time.Millisecond), len(acked), snap.ok200, snap.inFlight, len(cut), len(unsent), snap.dis, snap.whInFlight, walSize)
	if snap.dis >= snap.ok200 {
		t.Errorf("dispatch did not lag intake at the kill (%d accepted by warehouses, %d acknowledged): the kill did not land mid-dispatch", snap.dis, snap.ok200)
	}
	if len(cut)+len(unsent) == 0 {
		t.Errorf("the kill cut nothing off: the test did not kill mid-load")
	}

	// Phase 2: restart on the same DATA_DIR and port.
	readyIn := p.start()
	db := p.db()
	defer db.Close()

	// Jobs the dead process had leased must not wait for their lease to run out (leaseTTL, over
	// a minute): the new process reclaims them at start-up. A lease taken by the new process ends
	// after killMs+leaseTTL, so any lease ending before that is the dead process's.
	cutoff := snap.at.Add(leaseTTL).UnixMilli()
	var stuck int
	if err := db.QueryRow("SELECT COUNT(*) FROM jobs WHERE state = 'leased' AND lease_until <= ?", cutoff).Scan(&stuck); err != nil {
		t.Fatal(err)
	}
	if stuck != 0 {
		t.Errorf("%d jobs are still leased by the killed process after the restart", stuck)
	}
	forwarded := 0
	jobs := counts(t, db, "SELECT state, COUNT(*) FROM jobs GROUP BY state")

	// The order log as the crash left it.
	before := webhookEvents(p.orders())
	for _, d := range acked {
		if before[d.WebhookID] != 1 {
			t.Errorf("order %s was acknowledged with a 200 but the order log has %d events for its webhook %s", d.OrderID, before[d.WebhookID], d.WebhookID)
		}
	}
	committedUnanswered := 0
	for _, d := range cut {
		if before[d.WebhookID] > 0 {
			committedUnanswered++
		}
	}

	// Phase 3: Shopify redelivers every webhook without a 200, and some with one (a sender that
	// timed out on its side retries even though we answered).
	var again []*delivery
	again = append(again, cut...)
	again = append(again, unsent...)
	repeats := 0
	for i, d := range acked {
		if i%4 == 0 {
			again = append(again, d)
			repeats++
		}
	}
	redelivered := sendAll(newClient(true), p.url(), again, 8)
	dupes := 0
	for i, a := range redelivered {
		want := "recorded"
		if before[again[i].WebhookID] > 0 {
			want = "duplicate"
			dupes++
		}
		if a.Status != http.StatusOK || a.Outcome != want {
			t.Errorf("redelivery of order %s: %s, want 200 %s", again[i].OrderID, a, want)
		}
	}
	drained := p.waitDispatched(n, 45*time.Second)

	// Every order once in the log, dispatched, each webhook recorded once; once at the warehouse.
	final := p.orders()
	events := webhookEvents(final)
	if len(final) != n {
		t.Errorf("order log has %d records, want %d", len(final), n)
	}
	for _, d := range ds {
		o := final[d.OrderID]
		switch {
		case o == nil:
			t.Errorf("order %s missing from the order log", d.OrderID)
			continue
		case o.Status != "dispatched" || o.Route != d.Warehouse || o.WarehouseFulfillmentID == "":
			t.Errorf("order %s: status %s route %s warehouse id %q", d.OrderID, o.Status, o.Route, o.WarehouseFulfillmentID)
		case events[d.WebhookID] != 1:
			t.Errorf("order %s: webhook %s recorded %d times", d.OrderID, d.WebhookID, events[d.WebhookID])
		}
		if f, ok := findFulfillment(ws, d); ok && f.ID != o.WarehouseFulfillmentID {
			t.Errorf("order %s: record says warehouse fulfillment %s, the warehouse has %s", d.OrderID, o.WarehouseFulfillmentID, f.ID)
		}
	}
	rep := ws.checkExactlyOnce(t, ds)
	t.Logf("after the restart (ready in %s): %d jobs were stuck behind the dead process's leases until %s after the kill (fast-forwarded %d), jobs by state %v; "+
		"%d cut-off webhooks had been committed without an answer; redelivered %d (%d cut off, %d unsent, %d already acknowledged): "+
		"%d answered duplicate, %d recorded; queue drained in %s",
		readyIn.Round(time.Millisecond), stuck, leaseTTL, forwarded, jobs, committedUnanswered, len(again), len(cut), len(unsent), repeats,
		dupes, len(again)-dupes, drained.Round(time.Millisecond))
	t.Logf("warehouses: %d orders accepted once each, %d POST /fulfillments requests, %d replays of an accepted Idempotency-Key",
		rep.Accepted, rep.Requests, rep.Replays)
}
