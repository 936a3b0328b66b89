package functionsapp_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shipwell/orderflow/internal/sourcetree"

	"github.com/shipwell/orderflow/internal/flowtest"
	"github.com/shipwell/orderflow/internal/functions/hostsim"
	"github.com/shipwell/orderflow/internal/order"
	"github.com/shipwell/orderflow/internal/servicebus"
	"github.com/shipwell/orderflow/internal/shopifysim"
	"github.com/shipwell/orderflow/internal/sqlite"
	"github.com/shipwell/orderflow/internal/warehousesim"
	"github.com/shipwell/orderflow/internal/webhook"
)

// Names, settings and secrets. The secrets are distinctive strings so that a leak into the
// handler's output is unambiguous.
const (
	shop          = flowtest.Shop
	east          = flowtest.East
	west          = flowtest.West
	intl          = flowtest.Intl
	webhookSecret = "fa-webhook-secret-5b7e2c91d4"
	shopToken     = "shpat_fa_token_0d4c8e17a2"
	hostKey       = "fa-host-function-key-9a3f0e"
	masterKey     = "fa-master-key-61bd77c3"
	callbackKey   = "fa-callback-function-key-c27e5a" // fulfillment-callback's own function key
	routerFn      = "fulfillment-router"
	syncFn        = "inventory-sync"
)

// whKeys are the warehouses' bearer keys (WAREHOUSE_*_KEY): the product sends them to the
// warehouse and the warehouse sends them back on its callback.
var whKeys = map[string]string{east: "fa-east-bearer-3e9d1f", west: "fa-west-bearer-8c2b6a", intl: "fa-intl-bearer-47f0d5"}

// secrets must never appear in the handler's output.
func secrets() []string {
	out := []string{webhookSecret, shopToken, hostKey, masterKey, callbackKey}
	for _, k := range whKeys {
		out = append(out, k)
	}
	return out
}

// Built once by TestMain.
var (
	repo         string // the repository root: the app root as deployed (host.json, eight function folders)
	handlerBin   string // the handler built from ./cmd/handler
	envelopeRoot string // a copy of the app without forwarding (see appEnvelope)
)

// The two function apps the tests run.
const (
	// appForwarding is the repository root as deployed: enableForwardingHttpRequest true,
	// fulfillment-router with "dataType": "binary".
	appForwarding = "forwarding"
	// appEnvelope is a copy with enableForwardingHttpRequest false (the HTTP functions get the
	// §2 invocation envelope) and fulfillment-router without "dataType" (string mode).
	appEnvelope = "envelope"
)

func TestMain(m *testing.M) {
	code, err := setUp(m)
	if err != nil {
		fmt.Fprintln(os.Stderr, "functionsapp:", err)
		os.Exit(1)
	}
	os.Exit(code)
}

// setUp builds the handler and the envelope app copy once, then runs the tests.
func setUp(m *testing.M) (int, error) {
	var err error
	if repo, err = sourcetree.Root(); err != nil {
		return 0, err
	}
	tmp, err := os.MkdirTemp("", "functionsapp-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(tmp)
	handlerBin = filepath.Join(tmp, "handler")
	build := exec.Command("go", "build", "-o", handlerBin, "./cmd/handler")
	build.Dir = repo
	if out, err := build.CombinedOutput(); err != nil {
		return 0, fmt.Errorf("go build ./cmd/handler: %v\n%s", err, out)
	}
	envelopeRoot = filepath.Join(tmp, "app-envelope")
	err = copyApp(repo, envelopeRoot, func(host map[string]any) error {
		ch, ok := host["customHandler"].(map[string]any)
		if !ok {
			return errors.New("host.json has no customHandler object")
		}
		ch["enableForwardingHttpRequest"] = false
		return nil
	}, map[string]func(binding map[string]any){
		routerFn: func(b map[string]any) { delete(b, "dataType") },
	})
	if err != nil {
		return 0, err
	}
	return m.Run(), nil
}

// world is one test's surroundings: the Shopify SIMULATOR and the three warehouse SIMULATORS
// on loopback, and the app settings that point the handler at them.
type world struct {
	shopify *shopifysim.Server
	wh      map[string]*warehousesim.Warehouse
	env     map[string]string // app settings shared by the test's instances (DATA_DIR is per instance)
}

// newWorld starts the simulators for one test; they stop when it ends.
func newWorld(t *testing.T) *world {
	t.Helper()
	logs := &flowtest.LogBuffer{}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("simulator logs:\n%s", tailText(logs.String(), 32<<10))
		}
	})
	simLog := slog.New(slog.NewJSONHandler(logs, nil))
	wd := &world{wh: map[string]*warehousesim.Warehouse{}}
	shopSim, err := shopifysim.New(shopifysim.Options{AccessToken: shopToken, Logger: simLog})
	if err != nil {
		t.Fatal(err)
	}
	wd.shopify = shopSim
	for name, loc := range flowtest.Locations {
		if _, err := shopSim.AddLocation(loc, name); err != nil {
			t.Fatal(err)
		}
	}
	shopSrv := httptest.NewServer(shopSim)
	t.Cleanup(shopSrv.Close)
	var sims []*warehousesim.Warehouse
	for _, name := range []string{east, west, intl} {
		// Callbacks are sent by the tests, through the host simulator, with the function key.
		sw := warehousesim.New(warehousesim.Config{Name: name, Key: whKeys[name],
			Callback: warehousesim.CallbackConfig{Disabled: true}, Logger: simLog})
		wd.wh[name] = sw
		sims = append(sims, sw)
		t.Cleanup(sw.Close)
	}
	mux, err := warehousesim.NewMux(sims...)
	if err != nil {
		t.Fatal(err)
	}
	whSrv := httptest.NewServer(mux)
	t.Cleanup(whSrv.Close)

	routing := filepath.Join(t.TempDir(), "routing.json")
	if err := os.WriteFile(routing, []byte(routingJSON), 0o600); err != nil {
		t.Fatal(err)
	}
	wd.env = map[string]string{
		"SHOPIFY_WEBHOOK_SECRET": webhookSecret,
		"SHOPIFY_STORE_URL":      shopSrv.URL,
		"SHOPIFY_ACCESS_TOKEN":   shopToken,
		"SHOPIFY_SHOP_DOMAIN":    shop,
		"ROUTING_CONFIG":         routing,
		"WAREHOUSE_EAST_API":     whSrv.URL + "/" + east,
		"WAREHOUSE_EAST_KEY":     whKeys[east],
		"WAREHOUSE_WEST_API":     whSrv.URL + "/" + west,
		"WAREHOUSE_WEST_KEY":     whKeys[west],
		"INTERNATIONAL_3PL_API":  whSrv.URL + "/" + intl,
		"INTERNATIONAL_3PL_KEY":  whKeys[intl],
		"SERVICE_BUS_QUEUE":      "fulfillment-queue", // fulfillment-router/function.json: %SERVICE_BUS_QUEUE%
		"DISPATCH_WORKER":        "off",               // the tests deliver queued jobs to fulfillment-router
		"RETRY_BASE_DELAY":       "50ms",
		"LOG_LEVEL":              "info",
		// The app root is the repository root, where a developer may keep a local.settings.json;
		// the environment wins over it, so pin the settings that would switch store or queue.
		"COSMOS_CONNECTION": "", "COSMOS_ENDPOINT": "", "SERVICE_BUS_CONNECTION": "", "SERVICE_BUS_NAMESPACE": "",
		"SERVICE_BUS_CONNECTION__fullyQualifiedNamespace": "",
	}
	return wd
}

// routingJSON gives each warehouse its URL and key settings and its Shopify location, like
// routing.example.json.
const routingJSON = `{
  "warehouses": [
    {"name": "warehouse-east", "urlSetting": "WAREHOUSE_EAST_API", "keySetting": "WAREHOUSE_EAST_KEY", "locationId": "gid://shopify/Location/1001"},
    {"name": "warehouse-west", "urlSetting": "WAREHOUSE_WEST_API", "keySetting": "WAREHOUSE_WEST_KEY", "locationId": "gid://shopify/Location/1002"},
    {"name": "international", "urlSetting": "INTERNATIONAL_3PL_API", "keySetting": "INTERNATIONAL_3PL_KEY", "locationId": "gid://shopify/Location/1003"}
  ],
  "rules": [
    {"countries": ["US"], "provinces": ["AL", "CT", "DC", "DE", "FL", "GA", "IL", "IN", "KY", "MA", "MD", "ME", "MI", "MS", "NC",
                                        "NH", "NJ", "NY", "OH", "PA", "RI", "SC", "TN", "VA", "VT", "WI", "WV"], "warehouse": "warehouse-east"},
    {"countries": ["US"], "warehouse": "warehouse-west"}
  ],
  "default": "international"
}`

// instance is one running function app: the host simulator with the handler process, its
// DATA_DIR, and the test's own connection to the handler's SQLite file (WAL lets both
// processes use it).
type instance struct {
	name    string
	sim     *hostsim.Sim
	env     map[string]string
	dataDir string
	db      *sqlite.DB
}

// options returns the host simulator options for an app root and a data directory.
func (wd *world) options(t *testing.T, appRoot, dataDir string) hostsim.Options {
	env := maps.Clone(wd.env)
	env["DATA_DIR"] = dataDir
	return hostsim.Options{
		Binary: handlerBin, AppRoot: appRoot, Env: env,
		HostKey: hostKey, MasterKey: masterKey, FunctionKeys: map[string]string{"fulfillment-callback": callbackKey},
		InvokeTimeout: 30 * time.Second, Logf: t.Logf,
	}
}

// start runs one of the two apps (appForwarding or appEnvelope) for the test. When the test
// ends the handler gets SIGTERM and must exit 0, and its whole output must be JSON lines on
// stdout, nothing on stderr and no secret.
func (wd *world) start(t *testing.T, app string) *instance {
	t.Helper()
	root := map[string]string{appForwarding: repo, appEnvelope: envelopeRoot}[app]
	dataDir := filepath.Join(t.TempDir(), "data")
	opts := wd.options(t, root, dataDir)
	sim := hostsim.Start(t, opts) // its cleanup kills the process; ours below runs first
	// The handler has created the schema; the test opens the same file as a second process.
	db, err := sqlite.Open(filepath.Join(dataDir, "orderflow.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	in := &instance{name: app, sim: sim, env: opts.Env, dataDir: dataDir, db: db}
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Errorf("%s: close the test's database connection: %v", app, err)
		}
		if err := sim.Stop(10 * time.Second); err != nil {
			t.Errorf("%s handler: exit after SIGTERM: %v", app, err)
		}
		if err := sim.CheckOutput(true, secrets()...); err != nil {
			t.Errorf("%s handler: %v", app, err)
		}
	})
	return in
}

// copyApp copies host.json and every function folder's function.json from src to dst, letting
// editHost change host.json and editBinding change the trigger binding of named functions.
func copyApp(src, dst string, editHost func(map[string]any) error, editBinding map[string]func(map[string]any)) error {
	var host map[string]any
	if err := readJSON(filepath.Join(src, "host.json"), &host); err != nil {
		return err
	}
	if err := editHost(host); err != nil {
		return fmt.Errorf("copy app: %w", err)
	}
	if err := writeJSON(filepath.Join(dst, "host.json"), host); err != nil {
		return err
	}
	entries, err := os.ReadDir(src)
	if err != nil {
		return err
	}
	n := 0
	for _, e := range entries {
		fj := filepath.Join(src, e.Name(), "function.json")
		if !e.IsDir() {
			continue
		}
		if _, err := os.Stat(fj); err != nil {
			continue
		}
		var fn map[string]any
		if err := readJSON(fj, &fn); err != nil {
			return err
		}
		if edit := editBinding[e.Name()]; edit != nil {
			// The trigger comes first in every function.json of the app.
			bindings, _ := fn["bindings"].([]any)
			trigger, ok := map[string]any(nil), false
			if len(bindings) > 0 {
				trigger, ok = bindings[0].(map[string]any)
			}
			if !ok {
				return fmt.Errorf("copy app: %s has no trigger binding", fj)
			}
			edit(trigger)
		}
		if err := writeJSON(filepath.Join(dst, e.Name(), "function.json"), fn); err != nil {
			return err
		}
		n++
	}
	if n != 8 {
		return fmt.Errorf("copy app: %d function folders in %s, want 8", n, src)
	}
	return nil
}

func readJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o644)
}

func tailText(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

// ---- payloads and webhooks ----

// scenario returns a payload from testdata/scenarios, byte for byte.
func scenario(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repo, "testdata", "scenarios", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// paidOrder is the official orders/create sample made paid, with the given id, updated at ts
// and shipped to country/province.
func paidOrder(t *testing.T, id, country, province string) []byte {
	t.Helper()
	return flowtest.Edit(t, flowtest.Fixture(t, "orders_create.json"), flowtest.Paid, flowtest.OrderID(id),
		flowtest.UpdatedAt("2026-12-03T10:00:00-05:00"), flowtest.ShipTo(country, province))
}

// webhookHeader is what Shopify sends with a delivery: topic, shop, a fresh webhook id and the
// HMAC of body under the deployment's secret.
func webhookHeader(topic string, body []byte) http.Header {
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	h.Set("User-Agent", "Shopify-Captain-Hook")
	h.Set("X-Shopify-Topic", topic)
	h.Set("X-Shopify-Shop-Domain", shop)
	h.Set("X-Shopify-Webhook-Id", flowtest.RandomID())
	h.Set("X-Shopify-Api-Version", "2026-10")
	h.Set("X-Shopify-Hmac-Sha256", webhook.Sign(webhookSecret, body))
	return h
}

// intake is the product's answer to a webhook.
type intake struct {
	Status      string `json:"status"`
	OrderID     string `json:"orderId"`
	RecordID    string `json:"recordId"`
	OrderStatus string `json:"orderStatus"`
	Reason      string `json:"reason"`
	Error       string `json:"error"`
}

func decodeIntake(t *testing.T, res *hostsim.HTTPResult) intake {
	t.Helper()
	var in intake
	if err := json.Unmarshal(res.Body, &in); err != nil {
		t.Fatalf("%s answered %d with a body that is not JSON: %q", res.Function, res.StatusCode, res.Body)
	}
	return in
}

// send delivers a signed webhook to an HTTP function and requires a 200 from the handler.
func (in *instance) send(t *testing.T, function, topic string, body []byte) intake {
	t.Helper()
	res := in.sim.HTTP(http.MethodPost, function, nil, webhookHeader(topic, body), body)
	if res.StatusCode != http.StatusOK || !res.Invoked {
		t.Fatalf("%s %s: status %d invoked %v body %s (invocation: %v)", in.name, function, res.StatusCode, res.Invoked, res.Body, invErr(res.Invocation))
	}
	return decodeIntake(t, res)
}

func invErr(inv *hostsim.Invocation) error {
	if inv == nil {
		return errors.New("not invoked")
	}
	return inv.Err
}

// ---- the store and the queue, read from the test process ----

// order reads an order record by Shopify order id.
func (in *instance) order(t *testing.T, orderID string) *order.Order {
	t.Helper()
	o, err := in.db.Get(context.Background(), order.RecordID(shop, orderID))
	if err != nil {
		t.Fatalf("%s: order %s: %v", in.name, orderID, err)
	}
	return o
}

// takeJob leases the queued job that match accepts, waiting up to 5 s for it to become due. Jobs
// it leased but does not want go back to the queue unchanged. The caller delivers the job to
// fulfillment-router and then completes it with done (what autoCompleteMessages does).
func (in *instance) takeJob(t *testing.T, what string, match func(order.Job) bool) order.Job {
	t.Helper()
	ctx := context.Background()
	deadline := time.Now().Add(5 * time.Second)
	for {
		jobs, err := in.db.Lease(ctx, 1000, time.Minute, nil)
		if err != nil {
			t.Fatal(err)
		}
		var found *order.Job
		var others []string
		for i := range jobs {
			if found == nil && match(jobs[i]) {
				found = &jobs[i]
				continue
			}
			others = append(others, jobs[i].ID)
		}
		if err := in.db.Release(ctx, others...); err != nil {
			t.Fatal(err)
		}
		if found != nil {
			return *found
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: no queued job: %s; queue: %v", in.name, what, in.jobRows(t))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// dispatchJob takes the dispatch job of an order.
func (in *instance) dispatchJob(t *testing.T, orderID string) order.Job {
	t.Helper()
	rec := order.RecordID(shop, orderID)
	return in.takeJob(t, "dispatch of "+orderID, func(j order.Job) bool { return j.Kind == order.JobDispatch && j.Order == rec })
}

// done marks a delivered job finished in the queue table.
func (in *instance) done(t *testing.T, j order.Job) {
	t.Helper()
	if err := in.db.Complete(context.Background(), j.ID); err != nil {
		t.Fatal(err)
	}
}

// jobRow is a row of the queue table.
type jobRow struct {
	ID        string
	State     string
	RunAt     time.Time
	CreatedAt time.Time
	Attempt   int
	Body      string
}

// jobRows reads the whole queue table (read-only, through a plain connection: the product's
// sqlite package has no listing of waiting jobs).
func (in *instance) jobRows(t *testing.T) []jobRow {
	t.Helper()
	rows, err := queryJobs(filepath.Join(in.dataDir, "orderflow.db"))
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

// message is the Service Bus message the product's producer (servicebus.NewMessage) would send
// for j: body, MessageId = job id, content type, subject and application properties.
func message(t *testing.T, j order.Job, deliveryCount int) ([]byte, hostsim.Message) {
	t.Helper()
	m, err := servicebus.NewMessage(j)
	if err != nil {
		t.Fatal(err)
	}
	return m.Body, hostsim.Message{MessageID: *m.MessageID, ContentType: *m.ContentType, Subject: *m.Subject,
		ApplicationProperties: m.ApplicationProperties, DeliveryCount: deliveryCount}
}

// deliver sends j to fulfillment-router as a Service Bus message and requires it to complete on
// that one delivery; it returns the invocation's Logs.
func (in *instance) deliver(t *testing.T, j order.Job, deliveryCount int) []string {
	t.Helper()
	body, msg := message(t, j, deliveryCount)
	res := in.sim.ServiceBus(routerFn, body, msg)
	return completedOnce(t, res)
}

// completedOnce requires a message to be completed on its first delivery and returns the Logs.
func completedOnce(t *testing.T, res *hostsim.ServiceBusResult) []string {
	t.Helper()
	if res.Err != nil {
		t.Fatalf("message %s: %v", res.MessageID, res.Err)
	}
	last := res.Last()
	if res.Outcome != hostsim.Completed || len(res.Deliveries) != 1 {
		var detail string
		if last != nil {
			detail = fmt.Sprintf("last: status %d err %v body %s", last.Invocation.StatusCode, last.Invocation.Err, last.Invocation.Body)
		}
		t.Fatalf("message %s: outcome %s after %d deliveries, want completed on the first; %s", res.MessageID, res.Outcome, len(res.Deliveries), detail)
	}
	return last.Invocation.Reply.Logs
}

// hasLine reports whether a log line contains every part.
func hasLine(lines []string, parts ...string) bool {
	for _, l := range lines {
		ok := true
		for _, p := range parts {
			if !strings.Contains(l, p) {
				ok = false
				break
			}
		}
		if ok {
			return true
		}
	}
	return false
}

// waitOutput waits for a handler output line containing every part: output is read from pipes
// asynchronously, so tests use a line the handler writes for their last request as a barrier
// before inspecting the output.
func (in *instance) waitOutput(t *testing.T, parts ...string) hostsim.Line {
	t.Helper()
	l, ok := in.sim.WaitForOutput(5*time.Second, func(l hostsim.Line) bool { return hasLine([]string{l.Text}, parts...) })
	if !ok {
		t.Fatalf("%s handler: no output line with %q", in.name, parts)
	}
	return l
}

// withQuery adds key=value to a url.Values (nil-safe).
func withQuery(kv ...string) url.Values {
	q := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		q.Add(kv[i], kv[i+1])
	}
	return q
}

// fulfillmentsTo returns the warehouse simulator's POST /fulfillments requests for an order.
func (wd *world) fulfillmentsTo(name, orderID string) []warehousesim.Request {
	var out []warehousesim.Request
	for _, r := range wd.wh[name].Requests() {
		if r.Endpoint == warehousesim.EndpointFulfillments && strings.Contains(r.Body, `"externalOrderId":"`+orderID+`"`) {
			out = append(out, r)
		}
	}
	return out
}

// ordersAt returns the distinct orders a warehouse simulator accepted for a Shopify order id.
func (wd *world) ordersAt(name, orderID string) []warehousesim.Fulfillment {
	var out []warehousesim.Fulfillment
	for _, f := range wd.wh[name].Orders() {
		if f.ExternalOrderID == orderID {
			out = append(out, f)
		}
	}
	return out
}
