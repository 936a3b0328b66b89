// Command sandbox runs the SIMULATORS a merchant's engineer can try the product against on one
// machine: a simulated Shopify Admin API (http://127.0.0.1:7081) and three simulated warehouses
// (http://127.0.0.1:7082/{warehouse-east,warehouse-west,international}), with the keys and
// locations of local.settings.json.example. They are simulators, not Shopify or a real warehouse.
//
//	go run ./cmd/sandbox                 # serve the simulators (make sandbox)
//	go run ./cmd/sandbox send FILE...    # seed Shopify with each order and send it, signed, to the product
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/shipwell/orderflow/internal/config"
	"github.com/shipwell/orderflow/internal/routing"
	"github.com/shipwell/orderflow/internal/shopifysim"
	"github.com/shipwell/orderflow/internal/warehousesim"
	"github.com/shipwell/orderflow/internal/webhook"
)

var locations = map[string]string{
	"warehouse-east": "gid://shopify/Location/1001",
	"warehouse-west": "gid://shopify/Location/1002",
	"international":  "gid://shopify/Location/1003",
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == "send" {
		if err := send(os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, "sandbox send:", err)
			os.Exit(1)
		}
		return
	}
	if err := serve(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "sandbox:", err)
		os.Exit(1)
	}
}

func serve(args []string) error {
	fs := flag.NewFlagSet("sandbox", flag.ContinueOnError)
	shopAddr := fs.String("shopify", "127.0.0.1:7081", "listen address of the Shopify SIMULATOR")
	whAddr := fs.String("warehouses", "127.0.0.1:7082", "listen address of the warehouse SIMULATORS")
	product := fs.String("product", "http://127.0.0.1:7071", "the product's base URL, for warehouse callbacks")
	token := fs.String("token", "shpat_sandbox_token", "access token the Shopify SIMULATOR accepts")
	if err := fs.Parse(args); err != nil {
		return err
	}
	log := slog.New(slog.NewJSONHandler(os.Stdout, nil))
	sim, err := shopifysim.New(shopifysim.Options{AccessToken: *token, Logger: log})
	if err != nil {
		return err
	}
	keys := map[string]string{"warehouse-east": "east-sandbox-key", "warehouse-west": "west-sandbox-key", "international": "intl-sandbox-key"}
	var whs []*warehousesim.Warehouse
	for _, name := range []string{"warehouse-east", "warehouse-west", "international"} {
		if _, err := sim.AddLocation(locations[name], name); err != nil {
			return err
		}
		w := warehousesim.New(warehousesim.Config{Name: name, Key: keys[name], Logger: log,
			Callback: warehousesim.CallbackConfig{URL: strings.TrimRight(*product, "/") + "/api/fulfillment-callback", Delay: 2 * time.Second}})
		for _, sku := range []string{"SKU2006-001", "SKU2006-020", "SKU2006-035", "LENS-PROTECT-2YR", "CASE-LEATHER-PREM"} {
			w.SetStock(sku, 25)
		}
		whs = append(whs, w)
	}
	for i, sku := range []string{"SKU2006-001", "SKU2006-020", "SKU2006-035", "LENS-PROTECT-2YR", "CASE-LEATHER-PREM"} {
		av := map[string]int{}
		for _, loc := range locations {
			av[loc] = 0
		}
		if _, err := sim.AddInventoryItem(shopifysim.InventoryItem{ID: fmt.Sprint(44000000000 + i), VariantID: fmt.Sprint(45000000000 + i), SKU: sku, Available: av}); err != nil {
			return err
		}
	}
	mux, err := warehousesim.NewMux(whs...)
	if err != nil {
		return err
	}
	errs := make(chan error, 2)
	go func() { errs <- sim.ListenAndServe(*shopAddr) }()
	go func() {
		srv := &http.Server{Addr: *whAddr, Handler: mux, ReadHeaderTimeout: 10 * time.Second}
		errs <- srv.ListenAndServe()
	}()
	fmt.Fprintf(os.Stderr, "SIMULATORS running (not Shopify, not real warehouses):\n"+
		"  Shopify Admin API  http://%s  (token %s; admin: http://%s/_sim/)\n"+
		"  warehouses         http://%s/{warehouse-east,warehouse-west,international}  (admin: http://%s/_sim/)\n"+
		"  callbacks go to    %s/api/fulfillment-callback\n"+
		"Send an order: go run ./cmd/sandbox send testdata/scenarios/orders_create_us_east_ny.json\n",
		*shopAddr, *token, *shopAddr, *whAddr, *whAddr, *product)
	return <-errs
}

// send seeds the Shopify SIMULATOR with each order (one fulfillment order at the location of
// the warehouse the default routing picks) and sends it to the product, signed with
// SHOPIFY_WEBHOOK_SECRET from local.settings.json or the environment.
func send(args []string) error {
	fs := flag.NewFlagSet("send", flag.ContinueOnError)
	product := fs.String("product", "http://127.0.0.1:7071", "the product's base URL")
	shopAdmin := fs.String("shopify", "http://127.0.0.1:7081", "the Shopify SIMULATOR")
	topic := fs.String("topic", "orders/create", "webhook topic")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return errors.New("want one or more payload files")
	}
	cfg, err := config.Load("")
	if err != nil {
		return err
	}
	if cfg.WebhookSecret == "" {
		return errors.New("SHOPIFY_WEBHOOK_SECRET is not set (local.settings.json or the environment)")
	}
	rc := routing.Default()
	if cfg.RoutingConfig != "" {
		if rc, err = routing.Load(cfg.RoutingConfig); err != nil {
			return err
		}
	}
	shop := cfg.ShopDomain
	if shop == "" {
		shop = "sandbox-shop.myshopify.com"
	}
	paths := map[string]string{"orders/create": "order-created", "orders/paid": "order-paid", "orders/fulfilled": "order-fulfilled",
		"orders/cancelled": "order-cancelled", "inventory_levels/update": "inventory-updated"}
	path, ok := paths[*topic]
	if !ok {
		return fmt.Errorf("unknown topic %q", *topic)
	}
	for _, f := range fs.Args() {
		body, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		if *topic == "orders/create" {
			snap, err := webhook.DecodeOrder(body)
			if err != nil {
				return fmt.Errorf("%s: %w", f, err)
			}
			loc := cfg.LocationID
			if snap.ShippingAddress != nil {
				if r, err := rc.Route(snap.ShippingAddress); err == nil {
					if w, ok := rc.Warehouse(r); ok && w.LocationID != "" {
						loc = w.LocationID
					}
				}
			}
			if err := post(*shopAdmin+"/_sim/orders/from-webhook?location="+url.QueryEscape(loc), body, nil); err != nil {
				return fmt.Errorf("seed Shopify SIMULATOR with %s: %w", f, err)
			}
		}
		h := map[string]string{
			"X-Shopify-Topic": *topic, "X-Shopify-Hmac-Sha256": webhook.Sign(cfg.WebhookSecret, body),
			"X-Shopify-Shop-Domain": shop, "X-Shopify-Webhook-Id": fmt.Sprintf("sandbox-%d", time.Now().UnixNano()),
			"X-Shopify-API-Version": "2026-10", "X-Shopify-Triggered-At": time.Now().UTC().Format(time.RFC3339Nano),
		}
		if err := post(*product+"/api/"+path, body, h); err != nil {
			return fmt.Errorf("%s: %w", f, err)
		}
	}
	return nil
}

func post(url string, body []byte, headers map[string]string) error {
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if headers != nil {
		var r map[string]any
		_ = json.Unmarshal(b, &r)
		fmt.Printf("%s → %d %v\n", url, res.StatusCode, r)
	}
	if res.StatusCode >= 300 {
		return fmt.Errorf("%s: HTTP %d: %s", url, res.StatusCode, b)
	}
	return nil
}
