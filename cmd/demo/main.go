// Command demo runs the whole product once on this machine: it starts the Shopify and warehouse
// SIMULATORS, starts the real handler binary against them on the embedded SQLite default, sends
// real Shopify webhook payloads signed as Shopify signs them, waits for every order to reach its
// expected end state, runs one inventory sync, and prints a report. It exits 0 only if every
// order ended where it should. `make demo` builds the binary and runs this.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/shipwell/orderflow/internal/sourcetree"

	"github.com/shipwell/orderflow/internal/order"
	"github.com/shipwell/orderflow/internal/shopifysim"
	"github.com/shipwell/orderflow/internal/warehousesim"
	"github.com/shipwell/orderflow/internal/webhook"
)

const (
	shop   = "demo-shop.myshopify.com"
	secret = "demo-webhook-secret"
	token  = "shpat_demo_token"
)

var locations = map[string]string{
	"warehouse-east": "gid://shopify/Location/1001",
	"warehouse-west": "gid://shopify/Location/1002",
	"international":  "gid://shopify/Location/1003",
}

// scenario is one webhook delivery and the end state its order must reach.
type scenario struct {
	label     string
	file      string // under testdata/
	orderID   string
	warehouse string // where Shopify's fulfillment order is (the expected route)
	want      order.Status
	reason    string // substring of the hold reason, for held orders
	repeat    bool   // deliver twice (a Shopify retry): must be recognised
}

var scenarios = []scenario{
	{label: "official orders_create sample, as Shopify sends it (cancelled)", file: "shopify/webhooks/orders_create.json",
		orderID: "820982911946154508", warehouse: "warehouse-east", want: order.StatusCancelled},
	{label: "official sample, paid copy (ids above 2^53)", file: "scenarios/orders_create_paid_bigids.json",
		orderID: "820982911946154999", warehouse: "warehouse-east", want: order.StatusFulfilled, repeat: true},
	{label: "US east (NY)", file: "scenarios/orders_create_us_east_ny.json", orderID: "5900000000001", warehouse: "warehouse-east", want: order.StatusFulfilled},
	{label: "US west (CA)", file: "scenarios/orders_create_us_west_ca.json", orderID: "5900000000002", warehouse: "warehouse-west", want: order.StatusFulfilled},
	{label: "international (DE)", file: "scenarios/orders_create_international_de.json", orderID: "5900000000003", warehouse: "international", want: order.StatusFulfilled},
	{label: "real draft order, no shipping address", file: "shopify/webhooks/realworld_2025-01_orders_create_draft_order_no_shipping_address.json",
		orderID: "6200407294252", warehouse: "warehouse-east", want: order.StatusHeld, reason: "no shipping address"},
	{label: "real HKD order, no address, no SKUs", file: "shopify/webhooks/realworld_2025-01_orders_create_hkd.json",
		orderID: "6198424240428", warehouse: "warehouse-east", want: order.StatusHeld, reason: "line without SKU"},
}

func main() {
	handler := flag.String("handler", "bin/handler", "the handler binary to run")
	timeout := flag.Duration("timeout", 60*time.Second, "how long to wait for the orders")
	keep := flag.Bool("keep", false, "keep the data directory and logs")
	flag.Parse()
	code, err := run(*handler, *timeout, *keep)
	if err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
	os.Exit(code)
}

func run(handlerBin string, timeout time.Duration, keep bool) (int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout+30*time.Second)
	defer cancel()
	root, err := sourcetree.Root()
	if err != nil {
		return 1, err
	}
	handlerBin, err = filepath.Abs(handlerBin)
	if err != nil {
		return 1, err
	}
	work, err := os.MkdirTemp("", "orderflow-demo-")
	if err != nil {
		return 1, err
	}
	if !keep {
		defer os.RemoveAll(work)
	}
	simLog, err := os.Create(filepath.Join(work, "simulators.log"))
	if err != nil {
		return 1, err
	}
	defer simLog.Close()
	log := slog.New(slog.NewJSONHandler(simLog, nil))

	// The SIMULATORS: one Shopify store, three warehouses on one listener.
	sim, err := shopifysim.New(shopifysim.Options{AccessToken: token, Logger: log})
	if err != nil {
		return 1, err
	}
	for wh, loc := range locations {
		if _, err := sim.AddLocation(loc, wh); err != nil {
			return 1, err
		}
	}
	shopURL, stopShop, err := listen(sim)
	if err != nil {
		return 1, err
	}
	defer stopShop()
	productPort, err := freePort()
	if err != nil {
		return 1, err
	}
	productURL := fmt.Sprintf("http://127.0.0.1:%d", productPort)
	whs := map[string]*warehousesim.Warehouse{}
	var list []*warehousesim.Warehouse
	for _, name := range []string{"warehouse-east", "warehouse-west", "international"} {
		w := warehousesim.New(warehousesim.Config{Name: name, Key: name + "-demo-key", Logger: log,
			Callback: warehousesim.CallbackConfig{URL: productURL + "/api/fulfillment-callback", Delay: 300 * time.Millisecond}})
		whs[name], list = w, append(list, w)
		defer w.Close()
	}
	mux, err := warehousesim.NewMux(list...)
	if err != nil {
		return 1, err
	}
	whURL, stopWH, err := listen(mux)
	if err != nil {
		return 1, err
	}
	defer stopWH()
	seedInventory(sim, whs)

	// The product: the real binary, standalone, on a fresh SQLite file.
	env := append(os.Environ(),
		"SHOPIFY_WEBHOOK_SECRET="+secret, "SHOPIFY_STORE_URL="+shopURL, "SHOPIFY_ACCESS_TOKEN="+token,
		"SHOPIFY_SHOP_DOMAIN="+shop, "SHOPIFY_LOCATION_ID=", "DATA_DIR="+filepath.Join(work, "data"),
		fmt.Sprintf("PORT=%d", productPort), "RETRY_BASE_DELAY=200ms", "RETRY_MAX_DELAY=2s",
		"INVENTORY_SYNC_SCHEDULE=0 0 0 1 1 *", "ROUTING_CONFIG="+filepath.Join(work, "routing.json"),
		"WAREHOUSE_EAST_API="+whURL+"/warehouse-east", "WAREHOUSE_EAST_KEY=warehouse-east-demo-key",
		"WAREHOUSE_WEST_API="+whURL+"/warehouse-west", "WAREHOUSE_WEST_KEY=warehouse-west-demo-key",
		"INTERNATIONAL_3PL_API="+whURL+"/international", "INTERNATIONAL_3PL_KEY=international-demo-key",
	)
	if err := writeRouting(filepath.Join(work, "routing.json")); err != nil {
		return 1, err
	}
	productLog, err := os.Create(filepath.Join(work, "handler.log"))
	if err != nil {
		return 1, err
	}
	defer productLog.Close()
	cmd := exec.CommandContext(ctx, handlerBin, "serve")
	cmd.Dir, cmd.Env, cmd.Stdout, cmd.Stderr = work, env, productLog, productLog
	started := time.Now()
	if err := cmd.Start(); err != nil {
		return 1, fmt.Errorf("start %s: %w", handlerBin, err)
	}
	defer func() {
		_ = cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
		}
	}()
	if err := waitReady(ctx, productURL); err != nil {
		return 1, fmt.Errorf("%w (see %s)", err, productLog.Name())
	}
	fmt.Printf("handler ready in %s on %s (SIMULATORS: Shopify %s, warehouses %s)\n\n", time.Since(started).Round(time.Millisecond), productURL, shopURL, whURL)

	// Deliver the webhooks.
	for _, sc := range scenarios {
		body, err := os.ReadFile(filepath.Join(root, "testdata", sc.file))
		if err != nil {
			return 1, err
		}
		if _, err := sim.AddOrderFromWebhook(body, locations[sc.warehouse]); err != nil {
			return 1, fmt.Errorf("seed %s: %w", sc.file, err)
		}
		id := fmt.Sprintf("demo-%s", sc.orderID)
		n := 1
		if sc.repeat {
			n = 2
		}
		for i := 0; i < n; i++ {
			status, answer, err := deliver(ctx, productURL, "orders/create", id, body)
			if err != nil {
				return 1, err
			}
			fmt.Printf("→ %-60s %d %s\n", sc.label, status, answer)
		}
	}

	// Wait for the end states.
	fmt.Println()
	final, err := waitStates(ctx, handlerBin, work, env, timeout)
	if err != nil {
		return 1, err
	}
	ok := report(final, sim)

	// One inventory sync.
	fmt.Println("\ninventory sync (handler sync-inventory):")
	out, err := runHandler(ctx, handlerBin, work, env, "sync-inventory")
	fmt.Print(indent(out))
	if err != nil {
		fmt.Println("  sync failed:", err)
		ok = false
	}
	for _, it := range sim.InventoryItems() {
		if it.SKU == "SKU2006-001" {
			fmt.Printf("  Shopify now has SKU2006-001 available: east %d, west %d, international %d\n",
				it.Available[locations["warehouse-east"]], it.Available[locations["warehouse-west"]], it.Available[locations["international"]])
		}
	}
	if keep {
		fmt.Printf("\nkept %s (handler.log, simulators.log, data/)\n", work)
	}
	if !ok {
		fmt.Println("\nDEMO FAILED: some orders did not reach their expected state")
		return 1, nil
	}
	fmt.Println("\nDEMO OK: every order reached its expected state")
	return 0, nil
}

// seedInventory gives Shopify the demo's SKUs at every location, with traps the sync must not
// fall into, and gives each warehouse a stock feed.
func seedInventory(sim *shopifysim.Server, whs map[string]*warehousesim.Warehouse) {
	zero := map[string]int{}
	for _, loc := range locations {
		zero[loc] = 0
	}
	skus := []string{"SKU2006-001", "SKU2006-020", "SKU2006-035", "LENS-PROTECT-2YR", "CASE-LEATHER-PREM",
		"SKU2006-0011",   // a prefix match of SKU2006-001: Shopify's fuzzy search returns it too
		"DUP-1", "DUP-1"} // the same SKU on two items: ambiguous, reported
	for i, sku := range skus {
		av := map[string]int{}
		for k, v := range zero {
			av[k] = v
		}
		if _, err := sim.AddInventoryItem(shopifysim.InventoryItem{ID: fmt.Sprint(44000000000 + i), VariantID: fmt.Sprint(45000000000 + i), SKU: sku, Available: av}); err != nil {
			panic(err) // seeding fixed data: a failure is a bug in the demo
		}
	}
	for i, name := range []string{"warehouse-east", "warehouse-west", "international"} {
		w := whs[name]
		w.SetStock("SKU2006-001", 40+i)
		w.SetStock("SKU2006-020", 12)
		w.SetStock("LENS-PROTECT-2YR", 7)
		w.SetStock("DUP-1", 3)
		w.SetStock("NOT-IN-SHOPIFY", 5)
	}
}

func writeRouting(path string) error {
	cfg := map[string]any{
		"warehouses": []map[string]string{
			{"name": "warehouse-east", "urlSetting": "WAREHOUSE_EAST_API", "keySetting": "WAREHOUSE_EAST_KEY", "locationId": locations["warehouse-east"]},
			{"name": "warehouse-west", "urlSetting": "WAREHOUSE_WEST_API", "keySetting": "WAREHOUSE_WEST_KEY", "locationId": locations["warehouse-west"]},
			{"name": "international", "urlSetting": "INTERNATIONAL_3PL_API", "keySetting": "INTERNATIONAL_3PL_KEY", "locationId": locations["international"]},
		},
		"rules": []map[string]any{
			{"countries": []string{"US"}, "provinces": []string{"AL", "CT", "DC", "DE", "FL", "GA", "IL", "IN", "KY", "MA", "MD", "ME", "MI", "MS", "NC", "NH", "NJ", "NY", "OH", "PA", "RI", "SC", "TN", "VA", "VT", "WI", "WV"}, "warehouse": "warehouse-east"},
			{"countries": []string{"US"}, "warehouse": "warehouse-west"},
		},
		"default": "international",
	}
	b, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o600)
}

// deliver signs the body as Shopify does and posts it.
func deliver(ctx context.Context, base, topic, webhookID string, body []byte) (int, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/api/order-created", bytes.NewReader(body))
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Shopify-Topic", topic)
	req.Header.Set("X-Shopify-Hmac-Sha256", webhook.Sign(secret, body))
	req.Header.Set("X-Shopify-Shop-Domain", shop)
	req.Header.Set("X-Shopify-Webhook-Id", webhookID)
	req.Header.Set("X-Shopify-API-Version", "2026-10")
	req.Header.Set("X-Shopify-Triggered-At", time.Now().UTC().Format("2006-01-02T15:04:05.000000Z"))
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	var r struct {
		Status string `json:"status"`
		Order  string `json:"orderStatus"`
	}
	_ = json.Unmarshal(b, &r)
	return res.StatusCode, r.Status + " (" + r.Order + ")", nil
}

// waitStates polls `handler orders list --json` until every scenario reached its end state.
func waitStates(ctx context.Context, bin, dir string, env []string, timeout time.Duration) (map[string]*order.Order, error) {
	deadline := time.Now().Add(timeout)
	for {
		out, err := runHandler(ctx, bin, dir, env, "orders", "list", "--json", "--limit", "1000")
		if err != nil {
			return nil, fmt.Errorf("handler orders list: %w: %s", err, out)
		}
		var os []*order.Order
		if err := json.Unmarshal([]byte(out), &os); err != nil {
			return nil, fmt.Errorf("handler orders list: %w", err)
		}
		got := map[string]*order.Order{}
		for _, o := range os {
			got[o.OrderID] = o
		}
		done := true
		for _, sc := range scenarios {
			o := got[sc.orderID]
			if o == nil || o.Status != sc.want || (sc.want == order.StatusFulfilled && !fulfilledInShopify(o)) {
				done = false
			}
		}
		if done || time.Now().After(deadline) {
			return got, nil
		}
		time.Sleep(250 * time.Millisecond)
	}
}

func fulfilledInShopify(o *order.Order) bool {
	for _, s := range o.Shipments {
		if s.ShopifyFulfillmentID == "" {
			return false
		}
	}
	return len(o.Shipments) > 0
}

// report prints one line per order and says whether all are as expected.
func report(got map[string]*order.Order, sim *shopifysim.Server) bool {
	tw := tabwriter.NewWriter(os.Stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "RESULT\tORDER\tSTATUS\tROUTE\tWAREHOUSE ID\tTRACKING\tSHOPIFY FULFILLMENT\tNOTE")
	ok := true
	for _, sc := range scenarios {
		o := got[sc.orderID]
		if o == nil {
			fmt.Fprintf(tw, "FAIL\t%s\t(no record)\t\t\t\t\t%s\n", sc.orderID, sc.label)
			ok = false
			continue
		}
		tracking, fulfillment := "-", "-"
		if len(o.Shipments) > 0 {
			tracking, fulfillment = o.Shipments[0].TrackingNumber, o.Shipments[0].ShopifyFulfillmentID
			if fulfillment == "" {
				fulfillment = "(pending)"
			}
		}
		good := o.Status == sc.want && strings.Contains(o.Reason, sc.reason)
		if sc.want == order.StatusFulfilled {
			fs := sim.Fulfillments(sc.orderID)
			good = good && fulfilledInShopify(o) && len(fs) == 1 && fs[0].TrackingNumber == tracking
		}
		note := sc.label
		if o.Reason != "" {
			note += ": " + o.Reason
		}
		mark := "ok"
		if !good {
			mark, ok = "FAIL", false
			note += fmt.Sprintf(" (want %s)", sc.want)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", mark, o.OrderID, o.Status, dash(o.Route), dash(o.WarehouseFulfillmentID), tracking, fulfillment, note)
	}
	tw.Flush()
	return ok
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func runHandler(ctx context.Context, bin, dir string, env []string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir, cmd.Env = dir, env
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return out.String() + errb.String(), err
	}
	return out.String(), nil
}

func indent(s string) string {
	if s == "" {
		return ""
	}
	return "  " + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n  ") + "\n"
}

func listen(h http.Handler) (string, func(), error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	return "http://" + ln.Addr().String(), func() { _ = srv.Close() }, nil
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

func waitReady(ctx context.Context, base string) error {
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/", nil)
		if res, err := http.DefaultClient.Do(req); err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(25 * time.Millisecond)
	}
	return errors.New("handler did not become ready within 15 s")
}
