package resilience_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/shipwell/orderflow/internal/order"
	"github.com/shipwell/orderflow/internal/warehousesim"
)

// clockSlack absorbs the millisecond rounding of the queue's run_at column in lower bounds on
// waits (a job may run up to 1 ms before its exact due time).
const clockSlack = 3 * time.Millisecond

// TestWarehouseFaultsRetried puts each warehouse through transient faults — east answers 503
// for a window, west answers 429 with Retry-After then answers slowly, international hangs past
// WAREHOUSE_TIMEOUT, resets connections (before and after accepting the order) and answers
// slowly — and checks that every order is retried with backoff and arrives exactly once when
// the warehouse recovers, with the attempts in the order log and no dead letter.
func TestWarehouseFaultsRetried(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the real binary; skipped under -short")
	}
	const (
		base, maxDelay   = 50 * time.Millisecond, 400 * time.Millisecond
		warehouseTimeout = 300 * time.Millisecond
		window           = 1500 * time.Millisecond
	)
	ws := startWarehouses(t)
	p := newProduct(t, ws, map[string]string{"WAREHOUSE_TIMEOUT": warehouseTimeout.String(), "DISPATCH_MAX_ATTEMPTS": "40",
		"RETRY_BASE_DELAY": base.String(), "RETRY_MAX_DELAY": maxDelay.String()})
	p.start()
	ds := makeOrders(t, 18, 7200000000000) // 6 per warehouse

	const fl = warehousesim.EndpointFulfillments
	inject := func(name string, fs ...warehousesim.Fault) {
		for _, f := range fs {
			f.Endpoint = fl
			if err := ws.sims[name].InjectFault(f); err != nil {
				t.Fatal(err)
			}
		}
	}
	inject(east, warehousesim.Fault{For: window, Status: http.StatusServiceUnavailable})
	inject(west, warehousesim.Fault{Count: 4, Status: http.StatusTooManyRequests, RetryAfter: "1"},
		warehousesim.Fault{Count: 4, Delay: 150 * time.Millisecond})
	inject(intl, warehousesim.Fault{Count: 2, Hang: true}, warehousesim.Fault{Count: 2, Reset: true},
		warehousesim.Fault{Count: 2, ResetAfter: true}, warehousesim.Fault{Count: 2, Delay: 150 * time.Millisecond})
	requireOutcome(t, ds, sendAll(newClient(true), p.url(), ds, 6), "recorded")
	took := p.waitDispatched(len(ds), 30*time.Second)

	rep := ws.checkExactlyOnce(t, ds)

	// Every fault fired as injected.
	fired := map[string]map[string]int{}
	for name, w := range ws.sims {
		fired[name] = map[string]int{}
		for _, r := range w.Requests() {
			if r.Fault != "" {
				fired[name][r.Fault]++
			}
		}
	}
	for _, c := range []struct {
		wh, fault string
		min, max  int
	}{
		{east, "status 503", 1, 1000}, // a window: how many depends on the machine's speed
		{west, "status 429 Retry-After 1", 4, 4},
		{west, "delay 150ms", 4, 4},
		{intl, "hang", 2, 2},
		{intl, "reset", 2, 2},
		{intl, "reset after processing", 2, 2},
		{intl, "delay 150ms", 2, 2},
	} {
		if n := fired[c.wh][c.fault]; n < c.min || n > c.max {
			t.Errorf("%s: fault %q applied %d times, want %d..%d (all: %v)", c.wh, c.fault, n, c.min, c.max, fired[c.wh])
		}
	}

	// Backoff: after the n-th failed attempt the next one waits at least half of
	// min(base·2^(n-1), max) (the jitter keeps half fixed); after a 429 with Retry-After: 1 it
	// waits at least a second; after a hang it waited at least the timeout.
	retries := 0
	for name, w := range ws.sims {
		byKey := map[string][]warehousesim.Request{}
		for _, r := range w.Requests() {
			byKey[r.IdempotencyKey] = append(byKey[r.IdempotencyKey], r)
		}
		for key, rs := range byKey {
			for i := 0; i+1 < len(rs); i++ {
				retries++
				gap := rs[i+1].At.Sub(rs[i].At)
				want := min(base<<i, maxDelay) / 2
				switch rs[i].Fault {
				case "status 429 Retry-After 1":
					want = time.Second
				case "hang":
					want = warehouseTimeout
				case "reset", "reset after processing":
					// Go's http.Transport replays a request that carries an Idempotency-Key at
					// once when a reused connection is reset, before the product sees an error.
					want = 0
				}
				if gap < want-clockSlack {
					t.Errorf("%s key %s: attempt %d (%s, %d) was retried after %s, want at least %s", name, key, i+1, rs[i].Fault, rs[i].Status, gap, want)
				}
			}
			if last := rs[len(rs)-1]; last.Status/100 != 2 {
				t.Errorf("%s key %s: last request answered %d (%s)", name, key, last.Status, last.Fault)
			}
		}
	}
	for _, f := range ws.sims[intl].Orders() {
		for _, r := range ws.sims[intl].Requests() {
			if r.IdempotencyKey == f.IdempotencyKey && r.Fault == "reset after processing" && f.Replays == 0 {
				t.Errorf("order %s: accepted by a request whose answer was reset, and never asked again", f.ExternalOrderID)
			}
		}
	}

	// The order log shows the attempts; nothing was dead-lettered.
	for _, d := range []*delivery{ds[0], ds[1]} { // east, west
		o := showOrder(t, p, d.OrderID)
		var outcomes []string
		for _, a := range o.Attempts {
			outcomes = append(outcomes, a.Outcome)
		}
		if len(o.Attempts) < 2 || o.Attempts[0].Outcome != "retry" || o.Attempts[len(o.Attempts)-1].Outcome != "ok" {
			t.Errorf("order %s (%s): attempts %v, want retries then ok", d.OrderID, d.Warehouse, outcomes)
		}
	}
	if dl := deadLetters(t, p); len(dl) != 0 {
		t.Errorf("dead letters: %v", dl)
	}
	t.Logf("18 orders through 503 for %s (east), 429 + Retry-After and slow answers (west), hangs past %s, resets and slow answers (international): "+
		"all dispatched in %s; %d requests, %d retries, %d replays of an accepted key; faults fired: %v",
		window, warehouseTimeout, took.Round(time.Millisecond), rep.Requests, retries, rep.Replays, fired)
}

// TestDeadLettersReplayed lets dispatch fail past DISPATCH_MAX_ATTEMPTS (a warehouse answering
// 503, after accepting one order and resetting the connection) and permanently (422), checks the
// dead letters, then replays them with `handler dead-letters replay` (one by order id, then
// --all) against the running server's DATA_DIR: they arrive, each exactly once.
func TestDeadLettersReplayed(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the real binary; skipped under -short")
	}
	ws := startWarehouses(t)
	p := newProduct(t, ws, map[string]string{"DISPATCH_MAX_ATTEMPTS": "3", "RETRY_BASE_DELAY": "20ms", "RETRY_MAX_DELAY": "100ms"})
	p.start()
	eastOrders := makeOrders(t, 4, 7300000000000, east)
	westOrders := makeOrders(t, 2, 7300000000100, west)
	intlOrders := makeOrders(t, 2, 7300000000200, intl)
	ds := append(append(append([]*delivery{}, eastOrders...), westOrders...), intlOrders...)

	fl := warehousesim.EndpointFulfillments
	for _, f := range []warehousesim.Fault{{Endpoint: fl, Count: 1, ResetAfter: true}, {Endpoint: fl, Status: http.StatusServiceUnavailable}} {
		if err := ws.sims[east].InjectFault(f); err != nil {
			t.Fatal(err)
		}
	}
	if err := ws.sims[west].InjectFault(warehousesim.Fault{Endpoint: fl, Count: 1, Status: http.StatusUnprocessableEntity}); err != nil {
		t.Fatal(err)
	}
	requireOutcome(t, ds, sendAll(newClient(true), p.url(), ds, 1), "recorded")
	p.waitStatuses(map[order.Status]int{order.StatusDeadLettered: 5, order.StatusDispatched: 3}, 20*time.Second)

	dead := deadLetters(t, p)
	if len(dead) != 5 {
		t.Fatalf("dead letters: %v, want 4 east (attempts used up) and 1 west (422)", dead)
	}
	counts := ws.sims[east].CountByKey()
	resetKey := ""
	if acc := ws.sims[east].Orders(); len(acc) == 1 {
		resetKey = acc[0].IdempotencyKey
	}
	for _, d := range eastOrders {
		reason := dead[d.OrderID]
		if !strings.Contains(reason, "gave up after 3 attempts") || !strings.Contains(reason, "503") {
			t.Errorf("east order %s dead-lettered with %q", d.OrderID, reason)
		}
		if n := len(showOrder(t, p, d.OrderID).Attempts); n != 3 {
			t.Errorf("east order %s: %d attempts in the order log, want exactly DISPATCH_MAX_ATTEMPTS=3", d.OrderID, n)
		}
		// Go's http.Transport replays at once a request carrying an Idempotency-Key whose reused
		// connection was reset, so the order accepted-then-reset may show one request more.
		key := order.IdempotencyKey(order.RecordID(shop, d.OrderID), east)
		if n := counts[key]; n != 3 && !(key == resetKey && n == 4) {
			t.Errorf("east order %s: %d requests, want DISPATCH_MAX_ATTEMPTS=3", d.OrderID, n)
		}
	}
	var permanent *delivery
	for _, d := range westOrders {
		if r, ok := dead[d.OrderID]; ok {
			permanent = d
			if !strings.Contains(r, "422") || strings.Contains(r, "gave up") {
				t.Errorf("west order %s dead-lettered with %q, want the 422 at the first attempt", d.OrderID, r)
			}
			if n := ws.sims[west].CountByKey()[order.IdempotencyKey(order.RecordID(shop, d.OrderID), west)]; n != 1 {
				t.Errorf("west order %s: %d requests after a permanent 422, want 1", d.OrderID, n)
			}
		}
	}
	if permanent == nil {
		t.Fatalf("no west order dead-lettered: %v", dead)
	}
	// The reset order is at the warehouse already, though the product never heard it.
	accepted := ws.sims[east].Orders()
	if len(accepted) != 1 {
		t.Fatalf("east accepted %d orders before the replay, want the 1 whose answer was reset", len(accepted))
	}

	ws.sims[east].ClearFaults()
	ws.sims[west].ClearFaults()
	out, err := p.cli("dead-letters", "replay", eastOrders[1].OrderID)
	if err != nil || strings.TrimSpace(out) != "1 job(s) queued again" {
		t.Fatalf("dead-letters replay %s: %q %v", eastOrders[1].OrderID, out, err)
	}
	out, err = p.cli("dead-letters", "replay", "--all")
	if err != nil || strings.TrimSpace(out) != "4 job(s) queued again" {
		t.Fatalf("dead-letters replay --all: %q %v", out, err)
	}
	took := p.waitDispatched(len(ds), 20*time.Second)
	rep := ws.checkExactlyOnce(t, ds)
	if rep.Replays != 1 {
		t.Errorf("%d replays of an accepted key, want 1 (the order accepted before its answer was reset)", rep.Replays)
	}
	final := p.orders()
	if o := final[accepted[0].ExternalOrderID]; o.WarehouseFulfillmentID != accepted[0].ID {
		t.Errorf("order %s: warehouse fulfillment %q, want the one accepted before the reset, %s", o.OrderID, o.WarehouseFulfillmentID, accepted[0].ID)
	}
	if dl := deadLetters(t, p); len(dl) != 0 {
		t.Errorf("dead letters left after the replay: %v", dl)
	}
	t.Logf("5 dead letters (4 after 3 attempts of 503, 1 permanent 422) replayed by the CLI while serving; all %d orders dispatched %s later, "+
		"%d requests, %d replay of an accepted key", len(ds), took.Round(time.Millisecond), rep.Requests, rep.Replays)
}

// TestWarehouseDownDoesNotBlockOthers has a backlog of orders for a warehouse that hangs on
// every request queued ahead of orders for the healthy ones (taken in with DISPATCH_WORKER=off,
// then the server restarted with its worker, as after an outage): the healthy orders are all
// dispatched while the broken warehouse's first requests are still hanging (it never holds more
// than its share of the worker), and the broken warehouse's orders follow, exactly once, when it
// recovers.
func TestWarehouseDownDoesNotBlockOthers(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the real binary; skipped under -short")
	}
	const (
		perWarehouse     = 4 // WORKER_CONCURRENCY 8 / 2, the worker's default share per warehouse
		warehouseTimeout = 3 * time.Second
	)
	ws := startWarehouses(t)
	ws.slow(10*time.Millisecond, 30*time.Millisecond)
	p := newProduct(t, ws, map[string]string{"WAREHOUSE_TIMEOUT": warehouseTimeout.String(), "WORKER_CONCURRENCY": "8",
		"DISPATCH_MAX_ATTEMPTS": "100", "RETRY_BASE_DELAY": "50ms", "RETRY_MAX_DELAY": "200ms", "DISPATCH_WORKER": "off"})
	p.start()
	broken := makeOrders(t, 24, 7400000000000, east)
	healthy := makeOrders(t, 48, 7400000000100, west, intl)
	if err := ws.sims[east].InjectFault(warehousesim.Fault{Endpoint: warehousesim.EndpointFulfillments, Hang: true}); err != nil {
		t.Fatal(err)
	}
	c := newClient(true)
	requireOutcome(t, broken, sendAll(c, p.url(), broken, 8), "recorded")
	requireOutcome(t, healthy, sendAll(c, p.url(), healthy, 8), "recorded")
	if code, _ := p.stop(syscall.SIGINT, 15*time.Second); code != 0 {
		t.Fatalf("handler exit code %d after SIGINT", code)
	}
	p.setEnv("DISPATCH_WORKER", "on")
	began := time.Now()
	p.start()
	waitUntil(t, 20*time.Second, func() (bool, string) {
		n := len(ws.sims[west].Orders()) + len(ws.sims[intl].Orders())
		return n == len(healthy), fmt.Sprintf("%d of %d healthy orders accepted", n, len(healthy))
	})
	took := time.Since(began)
	peakBroken := ws.peak(east)

	// At this point the broken warehouse is still hanging, none of its orders got through, and
	// none was given up on. The healthy orders went through while the broken warehouse's first
	// requests were still hanging (none has reached WAREHOUSE_TIMEOUT and been retried): the
	// broken warehouse held only its share of the worker.
	eastRequests := len(ws.sims[east].Requests())
	if len(ws.sims[east].Faults()) == 0 || len(ws.sims[east].Orders()) != 0 || eastRequests == 0 {
		t.Fatalf("east: faults %v, %d accepted, %d requests", ws.sims[east].Faults(), len(ws.sims[east].Orders()), eastRequests)
	}
	if eastRequests > perWarehouse {
		t.Errorf("the healthy orders took %s: by then the hanging warehouse had had %d requests (more than its share %d, or retries after %s timeouts)",
			took.Round(time.Millisecond), eastRequests, perWarehouse, warehouseTimeout)
	}
	db := p.db()
	st := counts(t, db, "SELECT status, COUNT(*) FROM orders WHERE order_id < '7400000000100' GROUP BY status") // the broken ones
	db.Close()
	if st[string(order.StatusQueued)] != len(broken) {
		t.Errorf("broken warehouse's orders by status: %v, want all %d still queued", st, len(broken))
	}
	if peakBroken > perWarehouse {
		t.Errorf("the hanging warehouse held %d requests at once, more than its share %d", peakBroken, perWarehouse)
	}

	ws.sims[east].ClearFaults()
	recovered := p.waitDispatched(len(broken)+len(healthy), 20*time.Second)
	rep := ws.checkExactlyOnce(t, append(append([]*delivery{}, broken...), healthy...))
	if rep.Replays != 0 {
		t.Errorf("%d replays: a hanging request was accepted after all?", rep.Replays)
	}
	if peak := ws.peak(east); peak > perWarehouse {
		t.Errorf("after recovering, the warehouse had %d requests at once, more than its share %d", peak, perWarehouse)
	}
	t.Logf("with %s hanging (%d requests so far, at most %d at once): %d healthy orders dispatched %s after the restart; "+
		"after recovery the %d queued orders dispatched in %s (%d requests in all, %d replays)",
		east, eastRequests, peakBroken, len(healthy), took.Round(time.Millisecond), len(broken), recovered.Round(time.Millisecond), rep.Requests, rep.Replays)
}

// deadLetters reads `handler dead-letters list --json`: order id → reason of its dead letter.
func deadLetters(t *testing.T, p *product) map[string]string {
	t.Helper()
	out, err := p.cli("dead-letters", "list", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var os []*order.Order
	if err := json.Unmarshal([]byte(out), &os); err != nil {
		t.Fatalf("dead-letters list --json: %v: %.300s", err, out)
	}
	m := map[string]string{}
	for _, o := range os {
		for _, dl := range o.DeadLetters {
			m[o.OrderID] = dl.Reason
		}
	}
	return m
}

// showOrder reads one order with `handler orders show <id> --json`.
func showOrder(t *testing.T, p *product, orderID string) *order.Order {
	t.Helper()
	out, err := p.cli("orders", "show", orderID, "--json")
	if err != nil {
		t.Fatal(err)
	}
	var o order.Order
	if err := json.Unmarshal([]byte(out), &o); err != nil {
		t.Fatalf("orders show --json: %v: %.300s", err, out)
	}
	return &o
}
