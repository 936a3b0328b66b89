package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/shipwell/orderflow/internal/config"
	"github.com/shipwell/orderflow/internal/inventory"
	"github.com/shipwell/orderflow/internal/order"
	"github.com/shipwell/orderflow/internal/orderflow"
	"github.com/shipwell/orderflow/internal/routing"
	"github.com/shipwell/orderflow/internal/servicebus"
	"github.com/shipwell/orderflow/internal/shopify"
	"github.com/shipwell/orderflow/internal/sqlite"
	"github.com/shipwell/orderflow/internal/warehouse"
)

// app is everything one process wires together from the configuration.
type app struct {
	cfg     *config.Config
	log     *slog.Logger
	store   order.Store
	queue   order.Queue
	local   *sqlite.DB        // the embedded database when it holds the queue (nil otherwise)
	bus     *servicebus.Queue // Service Bus when configured
	shopify *shopify.Client   // nil when SHOPIFY_STORE_URL / token are not set
	routing routing.Config
	service *orderflow.Service
	syncer  *inventory.Syncer
	closers []func() error
}

// wiring options: what a command needs.
type needs struct {
	shopify  bool // fail when Shopify is not configured
	existing bool // the embedded database must exist already (operator commands: a mistyped DATA_DIR must not show an empty log)
}

func buildApp(ctx context.Context, cfg *config.Config, log *slog.Logger, n needs) (*app, error) {
	a := &app{cfg: cfg, log: log}
	ok := false
	defer func() {
		if !ok {
			a.close()
		}
	}()

	a.routing = routing.Default()
	if cfg.RoutingConfig != "" {
		rc, err := routing.Load(cfg.RoutingConfig)
		if err != nil {
			return nil, err
		}
		a.routing = rc
	}

	// Storage and queue are chosen by configuration (DESIGN.md §2).
	switch {
	case cfg.UsesCosmos():
		st, err := openCosmos(ctx, cfg, log)
		if err != nil {
			return nil, err
		}
		a.store = st
		a.closers = append(a.closers, st.Close)
	default:
		if _, err := os.Stat(cfg.DatabasePath()); n.existing && err != nil {
			return nil, fmt.Errorf("DATA_DIR=%s: no database at %s (is DATA_DIR right?)", cfg.DataDir, cfg.DatabasePath())
		}
		db, err := sqlite.Open(cfg.DatabasePath(), sqlite.Options{Synchronous: cfg.SQLiteSynchronous, LocalQueue: !cfg.UsesServiceBus()})
		if err != nil {
			return nil, fmt.Errorf("DATA_DIR: %w", err)
		}
		a.store = db
		a.closers = append(a.closers, db.Close)
		if !cfg.UsesServiceBus() {
			a.local, a.queue = db, db
		}
	}
	if cfg.UsesServiceBus() {
		bus, err := servicebus.New(ctx, servicebus.Config{ConnectionString: cfg.ServiceBusConnection,
			Namespace: cfg.ServiceBusNamespace, QueueName: cfg.ServiceBusQueue, Logger: log})
		if err != nil {
			return nil, err
		}
		a.bus, a.queue = bus, bus
		a.closers = append(a.closers, bus.Close)
	} else if a.queue == nil {
		// Cosmos DB without Service Bus: the queue is the embedded one, next to the order log.
		db, err := sqlite.Open(filepath.Join(cfg.DataDir, "queue.db"), sqlite.Options{Synchronous: cfg.SQLiteSynchronous})
		if err != nil {
			return nil, fmt.Errorf("DATA_DIR: %w", err)
		}
		a.local, a.queue = db, db
		a.closers = append(a.closers, db.Close)
	}

	if cfg.StoreURL != "" && cfg.AccessToken != "" {
		c, err := shopify.New(shopify.Config{StoreURL: cfg.StoreURL, AccessToken: cfg.AccessToken, APIVersion: cfg.APIVersion, Logger: log})
		if err != nil {
			return nil, err
		}
		a.shopify = c
	} else if n.shopify {
		return nil, errors.New("Shopify is not configured: set SHOPIFY_STORE_URL and SHOPIFY_ACCESS_TOKEN")
	} else {
		log.Warn("Shopify is not configured (SHOPIFY_STORE_URL, SHOPIFY_ACCESS_TOKEN): fulfillments and inventory sync cannot run")
	}

	whs, sources, err := a.warehouses()
	if err != nil {
		return nil, err
	}
	a.service = &orderflow.Service{
		Store: a.store, Queue: a.queue, Warehouses: whs, Route: a.routing.Route,
		AllowedShop: cfg.ShopDomain, MaxAttempts: cfg.DispatchMaxAttempts,
		RetryBase: cfg.RetryBaseDelay, RetryMax: cfg.RetryMaxDelay, Log: log,
	}
	if a.shopify != nil {
		a.service.Shopify = a.shopify
	}
	host, _ := os.Hostname()
	a.syncer = &inventory.Syncer{Store: a.store, Sources: sources, Holder: fmt.Sprintf("%s-%d", host, os.Getpid()), Log: log}
	if a.shopify != nil {
		a.syncer.Catalog = a.shopify
	}
	ok = true
	return a, nil
}

// warehouses builds a client per routed warehouse from the settings the routing table names.
func (a *app) warehouses() (map[string]orderflow.Warehouse, []inventory.Source, error) {
	out := map[string]orderflow.Warehouse{}
	var sources []inventory.Source
	for _, w := range a.routing.Warehouses {
		url := w.URL
		if url == "" {
			url = a.cfg.Lookup(w.URLSetting)
		}
		key := a.cfg.Lookup(w.KeySetting)
		loc := w.LocationID
		if loc == "" {
			loc = a.cfg.LocationID
		}
		entry := orderflow.Warehouse{Name: w.Name, Key: key, LocationID: locationGID(loc)}
		switch {
		case url == "":
			a.log.Warn("warehouse has no API URL: orders routed there will be dead-lettered", "warehouse", w.Name, "setting", w.URLSetting)
		case key == "":
			a.log.Warn("warehouse has no key: its orders cannot be sent and its callbacks cannot authenticate", "warehouse", w.Name, "setting", w.KeySetting)
		default:
			c, err := warehouse.New(warehouse.Config{Name: w.Name, BaseURL: url, Key: key, Timeout: a.cfg.WarehouseTimeout, Logger: a.log})
			if err != nil {
				return nil, nil, fmt.Errorf("%s / %s: %w", w.URLSetting, w.KeySetting, err)
			}
			entry.Client = c
			sources = append(sources, inventory.Source{Name: w.Name, Warehouse: c, LocationID: entry.LocationID})
		}
		out[w.Name] = entry
	}
	return out, sources, nil
}

// locationGID accepts a numeric location id or a gid.
func locationGID(s string) string {
	s = strings.TrimSpace(s)
	if s == "" || strings.HasPrefix(s, "gid://") {
		return s
	}
	return "gid://shopify/Location/" + s
}

func (a *app) close() {
	for i := len(a.closers) - 1; i >= 0; i-- {
		if err := a.closers[i](); err != nil {
			a.log.Warn("close", "error", err)
		}
	}
	a.closers = nil
}

// inventorySchedule returns the NCRONTAB schedule of inventory-sync/function.json (or the
// INVENTORY_SYNC_SCHEDULE override).
func inventorySchedule(cfg *config.Config) (string, error) {
	if cfg.InventorySchedule != "" {
		return cfg.InventorySchedule, nil
	}
	b, err := os.ReadFile(filepath.Join("inventory-sync", "function.json"))
	if errors.Is(err, os.ErrNotExist) {
		return "0 0 * * * *", nil
	}
	if err != nil {
		return "", fmt.Errorf("inventory-sync/function.json: %w", err)
	}
	var f struct {
		Bindings []struct {
			Type     string `json:"type"`
			Schedule string `json:"schedule"`
		} `json:"bindings"`
	}
	if err := json.Unmarshal(b, &f); err != nil {
		return "", fmt.Errorf("inventory-sync/function.json: %w", err)
	}
	for _, b := range f.Bindings {
		if b.Type == "timerTrigger" && b.Schedule != "" {
			if strings.HasPrefix(b.Schedule, "%") {
				return "", fmt.Errorf("inventory-sync/function.json: schedule %s is an app setting; set INVENTORY_SYNC_SCHEDULE", b.Schedule)
			}
			return b.Schedule, nil
		}
	}
	return "0 0 * * * *", nil
}
