package resilience_test

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	_ "modernc.org/sqlite" // the driver the product uses, to inspect its database

	"github.com/shipwell/orderflow/internal/flowtest"
	"github.com/shipwell/orderflow/internal/order"
	"github.com/shipwell/orderflow/internal/warehousesim"
	"github.com/shipwell/orderflow/internal/webhook"
)

// Names the tests use. The shop is what SHOPIFY_SHOP_DOMAIN allows.
const (
	shop   = "resilience-test.myshopify.com"
	secret = "resilience-test-webhook-secret"
	east   = "warehouse-east"
	west   = "warehouse-west"
	intl   = "international"
)

// warehouseNames in routing order; makeOrders spreads orders over them round-robin.
var warehouseNames = []string{east, west, intl}

// warehouseEnv names the settings of each warehouse in the default routing table.
var warehouseEnv = map[string][2]string{
	east: {"WAREHOUSE_EAST_API", "WAREHOUSE_EAST_KEY"},
	west: {"WAREHOUSE_WEST_API", "WAREHOUSE_WEST_KEY"},
	intl: {"INTERNATIONAL_3PL_API", "INTERNATIONAL_3PL_KEY"},
}

// TestMain removes the handler binary built for the package.
func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

var (
	buildOnce sync.Once
	binDir    string
	binPath   string
	buildErr  error
)

// handlerBinary builds cmd/handler once per test binary (the first test that needs it pays).
func handlerBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		root := flowtest.RepoRoot(t)
		binDir, buildErr = os.MkdirTemp("", "resilience-handler-")
		if buildErr != nil {
			return
		}
		binPath = filepath.Join(binDir, "handler")
		goTool := filepath.Join(runtime.GOROOT(), "bin", "go")
		if p, err := exec.LookPath("go"); err == nil {
			goTool = p
		}
		cmd := exec.Command(goTool, "build", "-o", binPath, "./cmd/handler")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build ./cmd/handler: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// --- the warehouse SIMULATORS -------------------------------------------------------------------

// warehouses is the three warehouse SIMULATORS on one loopback listener, with a count of the
// requests each has in progress.
type warehouses struct {
	sims map[string]*warehousesim.Warehouse
	url  string

	mu          sync.Mutex
	inFlight    map[string]int
	maxInFlight map[string]int
}

func startWarehouses(t *testing.T) *warehouses {
	t.Helper()
	quiet := slog.New(slog.DiscardHandler)
	ws := &warehouses{sims: map[string]*warehousesim.Warehouse{}, inFlight: map[string]int{}, maxInFlight: map[string]int{}}
	var list []*warehousesim.Warehouse
	for _, name := range warehouseNames {
		// No callback URL: the simulators never call back (Shopify is not part of these tests).
		w := warehousesim.New(warehousesim.Config{Name: name, Key: name + "-key", Logger: quiet})
		ws.sims[name] = w
		list = append(list, w)
	}
	mux, err := warehousesim.NewMux(list...)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		name, _, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
		ws.mu.Lock()
		ws.inFlight[name]++
		ws.maxInFlight[name] = max(ws.maxInFlight[name], ws.inFlight[name])
		ws.mu.Unlock()
		defer func() {
			ws.mu.Lock()
			ws.inFlight[name]--
			ws.mu.Unlock()
		}()
		mux.ServeHTTP(rw, r)
	}))
	ws.url = srv.URL
	// Cleanups run last-in first-out: release hanging requests before closing the listener.
	t.Cleanup(srv.Close)
	t.Cleanup(func() {
		for _, w := range list {
			w.Close()
		}
	})
	return ws
}

// slow makes every fulfillment request to every warehouse take lo..hi before it is handled.
// A request the product gave up on is still handled afterwards, as a real warehouse would.
func (ws *warehouses) slow(lo, hi time.Duration) {
	for _, w := range ws.sims {
		w.SetHook(func(_ http.ResponseWriter, r *http.Request, _ []byte) bool {
			if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/fulfillments") {
				time.Sleep(lo + time.Duration(rand.Int64N(int64(hi-lo)+1)))
			}
			return false
		})
	}
}

// inFlightNow is the number of requests the simulators are working on.
func (ws *warehouses) inFlightNow() int {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	n := 0
	for _, v := range ws.inFlight {
		n += v
	}
	return n
}

// peak is the most requests one warehouse had in progress at once.
func (ws *warehouses) peak(name string) int {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	return ws.maxInFlight[name]
}

// accepted counts the distinct fulfillments the simulators accepted.
func (ws *warehouses) accepted() int {
	n := 0
	for _, w := range ws.sims {
		n += len(w.Orders())
	}
	return n
}

// dispatchReport is what the simulators saw, summed over warehouses.
type dispatchReport struct {
	Accepted int // distinct fulfillments (one per Idempotency-Key)
	Requests int // POST /fulfillments requests, whatever the answer
	Replays  int // requests repeating an accepted Idempotency-Key
}

// checkExactlyOnce fails the test unless every order was accepted exactly once, by its routed
// warehouse, under the key order.IdempotencyKey(record, warehouse), and nothing else was.
func (ws *warehouses) checkExactlyOnce(t *testing.T, orders []*delivery) dispatchReport {
	t.Helper()
	var rep dispatchReport
	want := map[string]*delivery{}
	for _, d := range orders {
		want[d.OrderID] = d
	}
	seen := map[string]string{}
	for name, w := range ws.sims {
		for _, f := range w.Orders() {
			rep.Accepted++
			rep.Replays += f.Replays
			d := want[f.ExternalOrderID]
			switch {
			case d == nil:
				t.Errorf("%s accepted order %s, which the test never sent", name, f.ExternalOrderID)
			case d.Warehouse != name:
				t.Errorf("order %s (routed to %s) reached %s", f.ExternalOrderID, d.Warehouse, name)
			case f.IdempotencyKey != order.IdempotencyKey(order.RecordID(shop, d.OrderID), name):
				t.Errorf("order %s: Idempotency-Key %q", f.ExternalOrderID, f.IdempotencyKey)
			}
			if prev, dup := seen[f.ExternalOrderID]; dup {
				t.Errorf("order %s accepted twice: %s and %s at %s (keys %v)", f.ExternalOrderID, prev, f.ID, name, w.KeysByOrder()[f.ExternalOrderID])
			}
			seen[f.ExternalOrderID] = f.ID
		}
		for _, n := range w.CountByKey() {
			rep.Requests += n
		}
	}
	for _, d := range orders {
		if _, ok := seen[d.OrderID]; !ok {
			t.Errorf("order %s never reached %s", d.OrderID, d.Warehouse)
		}
	}
	return rep
}

// --- the product --------------------------------------------------------------------------------

// product is the real handler binary running `handler serve` standalone on a DATA_DIR that
// survives restarts.
type product struct {
	t       *testing.T
	bin     string
	work    string // working directory (no local.settings.json there)
	dataDir string
	port    int
	env     []string
	logPath string

	cmd     *exec.Cmd
	done    chan struct{}
	waitErr error
}

// newProduct prepares (but does not start) the binary against ws with the given settings on
// top of the defaults.
func newProduct(t *testing.T, ws *warehouses, settings map[string]string) *product {
	t.Helper()
	work := t.TempDir()
	p := &product{t: t, bin: handlerBinary(t), work: work, dataDir: filepath.Join(work, "data"),
		port: freePort(t), logPath: filepath.Join(work, "handler.log")}
	vals := map[string]string{
		"SHOPIFY_WEBHOOK_SECRET":  secret,
		"SHOPIFY_SHOP_DOMAIN":     shop,
		"DATA_DIR":                p.dataDir,
		"PORT":                    strconv.Itoa(p.port),
		"INVENTORY_SYNC_SCHEDULE": "0 0 0 1 1 *", // never during a test
		"RETRY_BASE_DELAY":        "50ms",
		"RETRY_MAX_DELAY":         "400ms",
		"LOG_LEVEL":               "info",
	}
	for _, name := range warehouseNames {
		vals[warehouseEnv[name][0]] = ws.url + "/" + name
		vals[warehouseEnv[name][1]] = name + "-key"
	}
	for k, v := range settings {
		vals[k] = v
	}
	p.env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + work, "TMPDIR=" + os.TempDir()}
	for k, v := range vals {
		p.env = append(p.env, k+"="+v)
	}
	t.Cleanup(func() {
		if p.running() {
			p.kill()
		}
		if t.Failed() {
			t.Logf("handler log (last 60 lines of %s):\n%s", p.logPath, tail(p.logPath, 60))
		}
	})
	return p
}

// setEnv changes one setting for the next start.
func (p *product) setEnv(key, value string) {
	for i, kv := range p.env {
		if strings.HasPrefix(kv, key+"=") {
			p.env[i] = key + "=" + value
			return
		}
	}
	p.env = append(p.env, key+"="+value)
}

// url is the product's base URL.
func (p *product) url() string { return fmt.Sprintf("http://127.0.0.1:%d", p.port) }

// dbPath is the SQLite file.
func (p *product) dbPath() string { return filepath.Join(p.dataDir, "orderflow.db") }

func (p *product) running() bool {
	if p.done == nil {
		return false
	}
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// start runs `handler serve` and waits until GET / answers 200; it returns how long that took.
func (p *product) start() time.Duration {
	p.t.Helper()
	f, err := os.OpenFile(p.logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		p.t.Fatal(err)
	}
	cmd := exec.Command(p.bin, "serve")
	cmd.Dir, cmd.Env, cmd.Stdout, cmd.Stderr = p.work, p.env, f, f
	began := time.Now()
	if err := cmd.Start(); err != nil {
		f.Close()
		p.t.Fatal(err)
	}
	p.cmd, p.done = cmd, make(chan struct{})
	done := p.done
	go func() {
		p.waitErr = cmd.Wait()
		f.Close()
		close(done)
	}()
	c := &http.Client{Timeout: time.Second}
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		select {
		case <-done:
			p.t.Fatalf("handler exited during start-up: %v\n%s", p.waitErr, tail(p.logPath, 30))
		default:
		}
		res, err := c.Get(p.url() + "/")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return time.Since(began)
			}
		}
	}
	p.t.Fatalf("handler not ready within 15 s\n%s", tail(p.logPath, 30))
	return 0
}

// kill sends SIGKILL and waits for the process to be gone.
func (p *product) kill() {
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// terminate sends SIGTERM and waits up to limit; see stop.
func (p *product) terminate(limit time.Duration) (int, time.Duration) {
	return p.stop(syscall.SIGTERM, limit)
}

// stop sends sig and waits up to limit; it returns the exit code (-1: killed after the limit)
// and how long the process took to exit.
func (p *product) stop(sig syscall.Signal, limit time.Duration) (int, time.Duration) {
	began := time.Now()
	if err := p.cmd.Process.Signal(sig); err != nil {
		p.t.Errorf("signal %v: %v", sig, err)
		return -1, 0
	}
	select {
	case <-p.done:
		return p.cmd.ProcessState.ExitCode(), time.Since(began)
	case <-time.After(limit):
		p.kill()
		return -1, time.Since(began)
	}
}

// cli runs an operator command against the same DATA_DIR and returns its stdout.
func (p *product) cli(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, p.bin, args...)
	cmd.Dir, cmd.Env = p.work, p.env
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("handler %s: %v: %s", strings.Join(args, " "), err, errb.String())
	}
	return out.String(), nil
}

// orders reads the whole order log with `handler orders list --json`, by Shopify order id.
func (p *product) orders() map[string]*order.Order {
	p.t.Helper()
	out, err := p.cli("orders", "list", "--json", "--limit", "100000")
	if err != nil {
		p.t.Fatal(err)
	}
	var list []*order.Order
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		p.t.Fatalf("orders list --json: %v\n%.500s", err, out)
	}
	m := map[string]*order.Order{}
	for _, o := range list {
		if m[o.OrderID] != nil {
			p.t.Errorf("order %s has two records", o.OrderID)
		}
		m[o.OrderID] = o
	}
	return m
}

// db opens the product's database for inspection (reads, and the lease fast-forward).
func (p *product) db() *sql.DB {
	p.t.Helper()
	db, err := sql.Open("sqlite", "file:"+p.dbPath()+"?_pragma=busy_timeout(10000)")
	if err != nil {
		p.t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	return db
}

// counts runs a "SELECT key, COUNT(*) … GROUP BY key" query.
func counts(t *testing.T, db *sql.DB, q string) map[string]int {
	t.Helper()
	rows, err := db.Query(q)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	defer rows.Close()
	m := map[string]int{}
	for rows.Next() {
		var k string
		var n int
		if err := rows.Scan(&k, &n); err != nil {
			t.Fatal(err)
		}
		m[k] = n
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return m
}

// waitDispatched polls the database until want orders are dispatched and no job is ready or
// leased; it returns how long that took.
func (p *product) waitDispatched(want int, timeout time.Duration) time.Duration {
	p.t.Helper()
	return p.waitStatuses(map[order.Status]int{order.StatusDispatched: want}, timeout)
}

// waitStatuses polls the database until the orders with each given status number exactly as
// many as given and no job is ready or leased; it returns how long that took.
func (p *product) waitStatuses(want map[order.Status]int, timeout time.Duration) time.Duration {
	p.t.Helper()
	db := p.db()
	defer db.Close()
	began := time.Now()
	var st, jobs map[string]int
	for time.Since(began) < timeout {
		st = counts(p.t, db, "SELECT status, COUNT(*) FROM orders GROUP BY status")
		jobs = counts(p.t, db, "SELECT state, COUNT(*) FROM jobs GROUP BY state")
		ok := jobs["ready"] == 0 && jobs["leased"] == 0
		for s, n := range want {
			ok = ok && st[string(s)] == n
		}
		if ok {
			return time.Since(began)
		}
		time.Sleep(50 * time.Millisecond)
	}
	p.t.Fatalf("after %s: orders by status %v, jobs by state %v; want %v and an empty queue", timeout, st, jobs, want)
	return 0
}

// --- webhooks -----------------------------------------------------------------------------------

// delivery is one orders/create webhook: a paid order routed to Warehouse.
type delivery struct {
	OrderID   string
	WebhookID string
	Warehouse string
	Body      []byte
}

// makeOrders builds n paid orders from Shopify's official orders/create sample, ids from
// first, spread over the warehouses round-robin (or all to only, when given).
func makeOrders(t *testing.T, n int, first int64, only ...string) []*delivery {
	t.Helper()
	sample := flowtest.Fixture(t, "orders_create.json")
	ship := map[string][2]string{east: {"US", "NY"}, west: {"US", "CA"}, intl: {"DE", ""}}
	names := warehouseNames
	if len(only) > 0 {
		names = only
	}
	out := make([]*delivery, n)
	for i := range out {
		id := strconv.FormatInt(first+int64(i), 10)
		wh := names[i%len(names)]
		body := flowtest.Edit(t, sample, flowtest.Paid, flowtest.OrderID(id), flowtest.UpdatedAt("2026-12-03T10:00:00-05:00"),
			flowtest.ShipTo(ship[wh][0], ship[wh][1]))
		out[i] = &delivery{OrderID: id, WebhookID: fmt.Sprintf("wh-%s-%s", id, flowtest.RandomID()[:8]), Warehouse: wh, Body: body}
	}
	return out
}

// answer is the result of one delivery attempt.
type answer struct {
	Status     int    // 0: no HTTP answer
	Outcome    string // the product's "status": recorded, duplicate…
	RetryAfter string
	Err        error
	Wrote      bool // the whole request was written before the answer or the error
	Took       time.Duration
}

func (a answer) String() string {
	if a.Err != nil {
		return fmt.Sprintf("error after %s (request written: %v): %v", a.Took.Round(time.Millisecond), a.Wrote, a.Err)
	}
	return fmt.Sprintf("%d %s after %s", a.Status, a.Outcome, a.Took.Round(time.Millisecond))
}

// newClient is an HTTP client like a webhook sender's; keepAlive false opens a connection per
// request.
func newClient(keepAlive bool) *http.Client {
	tr := &http.Transport{MaxIdleConnsPerHost: 64, DisableKeepAlives: !keepAlive,
		DialContext: (&net.Dialer{Timeout: 5 * time.Second}).DialContext}
	return &http.Client{Transport: tr, Timeout: 15 * time.Second}
}

// send delivers d as Shopify does: signed raw body, Shopify headers.
func send(c *http.Client, base string, d *delivery) answer {
	var a answer
	var mu sync.Mutex
	trace := &httptrace.ClientTrace{WroteRequest: func(i httptrace.WroteRequestInfo) {
		mu.Lock()
		a.Wrote = i.Err == nil
		mu.Unlock()
	}}
	req, err := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace),
		http.MethodPost, base+"/api/order-created", bytes.NewReader(d.Body))
	if err != nil {
		return answer{Err: err}
	}
	setWebhookHeaders(req.Header, d)
	began := time.Now()
	res, err := c.Do(req)
	if err == nil {
		var b []byte
		b, err = io.ReadAll(res.Body)
		res.Body.Close()
		if err == nil {
			var body struct {
				Status string `json:"status"`
			}
			_ = json.Unmarshal(b, &body)
			mu.Lock()
			a.Status, a.Outcome, a.RetryAfter = res.StatusCode, body.Status, res.Header.Get("Retry-After")
			mu.Unlock()
		}
	}
	mu.Lock()
	defer mu.Unlock()
	a.Err, a.Took = err, time.Since(began)
	return a
}

func setWebhookHeaders(h http.Header, d *delivery) {
	h.Set("Content-Type", "application/json")
	h.Set("X-Shopify-Topic", "orders/create")
	h.Set("X-Shopify-Hmac-Sha256", webhook.Sign(secret, d.Body))
	h.Set("X-Shopify-Shop-Domain", shop)
	h.Set("X-Shopify-Webhook-Id", d.WebhookID)
	h.Set("X-Shopify-API-Version", "2026-10")
}

// sendAll delivers every d from the given number of concurrent clients and returns the
// answers in the order of ds.
func sendAll(c *http.Client, base string, ds []*delivery, clients int) []answer {
	out := make([]answer, len(ds))
	work := make(chan int)
	var wg sync.WaitGroup
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				out[i] = send(c, base, ds[i])
			}
		}()
	}
	for i := range ds {
		work <- i
	}
	close(work)
	wg.Wait()
	return out
}

// requireRecorded fails unless every answer is 200 with the given outcome.
func requireOutcome(t *testing.T, ds []*delivery, as []answer, want string) {
	t.Helper()
	for i, a := range as {
		if a.Status != http.StatusOK || a.Outcome != want {
			t.Fatalf("order %s: %s, want 200 %s", ds[i].OrderID, a, want)
		}
	}
}

// webhookEvents counts, per webhook id, the events of the order log that carry it.
func webhookEvents(orders map[string]*order.Order) map[string]int {
	m := map[string]int{}
	for _, o := range orders {
		for _, e := range o.Events {
			if e.Source == "webhook" && e.WebhookID != "" {
				m[e.WebhookID]++
			}
		}
	}
	return m
}

// --- small things -------------------------------------------------------------------------------

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// tail returns the last n lines of a file.
func tail(path string, n int) string {
	f, err := os.Open(path)
	if err != nil {
		return err.Error()
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if len(lines) > n {
			lines = lines[1:]
		}
	}
	return strings.Join(lines, "\n")
}

// waitUntil polls cond every 20 ms until it holds or timeout passes; then it fails the test
// with what cond last said.
func waitUntil(t *testing.T, timeout time.Duration, cond func() (bool, string)) time.Duration {
	t.Helper()
	began := time.Now()
	var last string
	for time.Since(began) < timeout {
		var ok bool
		if ok, last = cond(); ok {
			return time.Since(began)
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("timed out after %s: %s", timeout, last)
	return 0
}

// statusCounts summarises answers: "200 recorded" → n, "error" → n.
func statusCounts(as []answer) string {
	m := map[string]int{}
	for _, a := range as {
		switch {
		case a.Err != nil:
			m["error"]++
		case a.Status == 0:
			m["not sent"]++
		default:
			m[strings.TrimSpace(fmt.Sprintf("%d %s", a.Status, a.Outcome))]++
		}
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s: %d", k, m[k]))
	}
	return strings.Join(parts, ", ")
}

var errNotSent = errors.New("not sent")

// findFulfillment returns the fulfillment the order's warehouse accepted for it.
func findFulfillment(ws *warehouses, d *delivery) (warehousesim.Fulfillment, bool) {
	for _, f := range ws.sims[d.Warehouse].Orders() {
		if f.ExternalOrderID == d.OrderID {
			return f, true
		}
	}
	return warehousesim.Fulfillment{}, false
}
