// Package config reads the product's settings from the environment and, when present, from the
// Values of local.settings.json (the environment wins). Every setting is documented in the
// README; secrets are kept out of String() and error messages.
package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Config is every setting the product reads.
type Config struct {
	WebhookSecret         string // SHOPIFY_WEBHOOK_SECRET
	WebhookSecretPrevious string // SHOPIFY_WEBHOOK_SECRET_PREVIOUS
	StoreURL              string // SHOPIFY_STORE_URL
	AccessToken           string // SHOPIFY_ACCESS_TOKEN
	APIVersion            string // SHOPIFY_API_VERSION
	LocationID            string // SHOPIFY_LOCATION_ID
	ShopDomain            string // SHOPIFY_SHOP_DOMAIN

	CosmosConnection string // COSMOS_CONNECTION
	CosmosEndpoint   string // COSMOS_ENDPOINT
	CosmosDatabase   string // COSMOS_DATABASE
	CosmosContainer  string // COSMOS_CONTAINER

	ServiceBusConnection string // SERVICE_BUS_CONNECTION
	ServiceBusNamespace  string // SERVICE_BUS_NAMESPACE
	ServiceBusQueue      string // SERVICE_BUS_QUEUE

	RoutingConfig string // ROUTING_CONFIG
	DataDir       string // DATA_DIR
	Port          int    // PORT
	FunctionsPort string // FUNCTIONS_CUSTOMHANDLER_PORT (set by the Functions host)

	LogLevel            slog.Level    // LOG_LEVEL
	DispatchMaxAttempts int           // DISPATCH_MAX_ATTEMPTS
	RetryBaseDelay      time.Duration // RETRY_BASE_DELAY
	RetryMaxDelay       time.Duration // RETRY_MAX_DELAY
	WorkerConcurrency   int           // WORKER_CONCURRENCY
	WebhookDeadline     time.Duration // WEBHOOK_DEADLINE
	MaxInFlight         int           // MAX_IN_FLIGHT_REQUESTS
	MaxBodyBytes        int64         // MAX_BODY_BYTES
	WarehouseTimeout    time.Duration // WAREHOUSE_TIMEOUT
	SQLiteSynchronous   string        // SQLITE_SYNCHRONOUS
	InventorySchedule   string        // INVENTORY_SYNC_SCHEDULE (default: inventory-sync/function.json)
	// LocalWorker says whether the in-process worker drains the embedded queue (DISPATCH_WORKER:
	// on by default; "off" leaves jobs to another process, e.g. tests driving fulfillment-router).
	LocalWorker bool

	lookup func(string) string
}

// Load reads the settings. settingsFile may be "" (then ./local.settings.json is tried).
func Load(settingsFile string) (*Config, error) {
	values := map[string]string{}
	path := settingsFile
	if path == "" {
		path = "local.settings.json"
	}
	if b, err := os.ReadFile(path); err == nil {
		var f struct {
			Values map[string]any `json:"Values"`
		}
		if err := json.Unmarshal(b, &f); err != nil {
			return nil, fmt.Errorf("read %s: %w", path, err)
		}
		for k, v := range f.Values {
			switch v := v.(type) {
			case string:
				values[k] = v
			case nil:
			default:
				values[k] = fmt.Sprint(v)
			}
		}
	} else if settingsFile != "" {
		return nil, fmt.Errorf("read %s: %w", settingsFile, err)
	}
	lookup := func(k string) string {
		if v, ok := os.LookupEnv(k); ok {
			return v
		}
		return values[k]
	}
	return FromLookup(lookup)
}

// FromLookup builds a Config from a lookup function (tests use a map).
func FromLookup(lookup func(string) string) (*Config, error) {
	get := func(k, def string) string {
		if v := strings.TrimSpace(lookup(k)); v != "" {
			return v
		}
		return def
	}
	c := &Config{
		WebhookSecret:         lookup("SHOPIFY_WEBHOOK_SECRET"),
		WebhookSecretPrevious: lookup("SHOPIFY_WEBHOOK_SECRET_PREVIOUS"),
		StoreURL:              get("SHOPIFY_STORE_URL", ""),
		AccessToken:           strings.TrimSpace(lookup("SHOPIFY_ACCESS_TOKEN")),
		APIVersion:            get("SHOPIFY_API_VERSION", "2026-10"),
		LocationID:            get("SHOPIFY_LOCATION_ID", ""),
		ShopDomain:            strings.ToLower(get("SHOPIFY_SHOP_DOMAIN", "")),
		CosmosConnection:      get("COSMOS_CONNECTION", ""),
		CosmosEndpoint:        get("COSMOS_ENDPOINT", ""),
		CosmosDatabase:        get("COSMOS_DATABASE", "shopify"),
		CosmosContainer:       get("COSMOS_CONTAINER", "orders"),
		ServiceBusConnection:  get("SERVICE_BUS_CONNECTION", ""),
		ServiceBusNamespace:   get("SERVICE_BUS_NAMESPACE", get("SERVICE_BUS_CONNECTION__fullyQualifiedNamespace", "")),
		ServiceBusQueue:       get("SERVICE_BUS_QUEUE", "fulfillment-queue"),
		RoutingConfig:         get("ROUTING_CONFIG", ""),
		DataDir:               get("DATA_DIR", "./data"),
		FunctionsPort:         get("FUNCTIONS_CUSTOMHANDLER_PORT", ""),
		SQLiteSynchronous:     strings.ToUpper(get("SQLITE_SYNCHRONOUS", "FULL")),
		InventorySchedule:     get("INVENTORY_SYNC_SCHEDULE", ""),
		lookup:                lookup,
	}
	var errs []error
	intVar := func(k string, def, min int) int {
		s := get(k, "")
		if s == "" {
			return def
		}
		n, err := strconv.Atoi(s)
		if err != nil || n < min {
			errs = append(errs, fmt.Errorf("%s=%q: want an integer >= %d", k, s, min))
			return def
		}
		return n
	}
	durVar := func(k string, def time.Duration) time.Duration {
		s := get(k, "")
		if s == "" {
			return def
		}
		d, err := time.ParseDuration(s)
		if err != nil || d <= 0 {
			errs = append(errs, fmt.Errorf("%s=%q: want a positive duration like 500ms or 2s", k, s))
			return def
		}
		return d
	}
	c.Port = intVar("PORT", 7071, 1)
	c.DispatchMaxAttempts = intVar("DISPATCH_MAX_ATTEMPTS", 8, 1)
	c.WorkerConcurrency = intVar("WORKER_CONCURRENCY", 16, 1)
	c.MaxInFlight = intVar("MAX_IN_FLIGHT_REQUESTS", 256, 1)
	c.MaxBodyBytes = int64(intVar("MAX_BODY_BYTES", 10<<20, 1024))
	c.RetryBaseDelay = durVar("RETRY_BASE_DELAY", 2*time.Second)
	c.RetryMaxDelay = durVar("RETRY_MAX_DELAY", 10*time.Minute)
	c.WebhookDeadline = durVar("WEBHOOK_DEADLINE", 4*time.Second)
	c.WarehouseTimeout = durVar("WAREHOUSE_TIMEOUT", 15*time.Second)
	if c.RetryBaseDelay > c.RetryMaxDelay {
		errs = append(errs, fmt.Errorf("RETRY_BASE_DELAY=%s is longer than RETRY_MAX_DELAY=%s", c.RetryBaseDelay, c.RetryMaxDelay))
	}
	if c.Port > 65535 {
		errs = append(errs, fmt.Errorf("PORT=%d: out of range", c.Port))
	}
	switch v := strings.ToLower(get("DISPATCH_WORKER", "on")); v {
	case "on", "true", "1":
		c.LocalWorker = true
	case "off", "false", "0":
	default:
		errs = append(errs, fmt.Errorf("DISPATCH_WORKER=%q: want on or off", v))
	}
	switch lv := strings.ToLower(get("LOG_LEVEL", "info")); lv {
	case "debug":
		c.LogLevel = slog.LevelDebug
	case "info":
		c.LogLevel = slog.LevelInfo
	case "warn", "warning":
		c.LogLevel = slog.LevelWarn
	case "error":
		c.LogLevel = slog.LevelError
	default:
		errs = append(errs, fmt.Errorf("LOG_LEVEL=%q: want debug, info, warn or error", lv))
	}
	switch c.SQLiteSynchronous {
	case "FULL", "NORMAL", "EXTRA":
	default:
		errs = append(errs, fmt.Errorf("SQLITE_SYNCHRONOUS=%q: want FULL, NORMAL or EXTRA", c.SQLiteSynchronous))
	}
	if c.StoreURL != "" {
		if _, err := c.ShopifyBaseURL(); err != nil {
			errs = append(errs, err)
		}
	}
	if c.ShopDomain == "" {
		if u, err := c.ShopifyBaseURL(); err == nil && strings.HasSuffix(u.Hostname(), ".myshopify.com") {
			c.ShopDomain = strings.ToLower(u.Hostname())
		}
	}
	return c, errors.Join(errs...)
}

// Lookup returns any setting by name (warehouse URLs and keys named by the routing file).
func (c *Config) Lookup(name string) string {
	if c.lookup == nil || name == "" {
		return ""
	}
	return strings.TrimSpace(c.lookup(name))
}

// ShopifyBaseURL returns the store's base URL: https://shop.myshopify.com for a bare domain,
// or the full URL as given (tests and the sandbox use http://127.0.0.1:port).
func (c *Config) ShopifyBaseURL() (*url.URL, error) {
	s := strings.TrimRight(c.StoreURL, "/")
	if s == "" {
		return nil, errors.New("SHOPIFY_STORE_URL is not set")
	}
	if !strings.Contains(s, "://") {
		s = "https://" + s
	}
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return nil, fmt.Errorf("SHOPIFY_STORE_URL=%q: want shop.myshopify.com or an http(s)://host[:port] URL", c.StoreURL)
	}
	return u, nil
}

// FunctionsMode reports whether the Azure Functions host started the process.
func (c *Config) FunctionsMode() bool { return c.FunctionsPort != "" }

// UsesCosmos reports whether the order log is in Cosmos DB.
func (c *Config) UsesCosmos() bool { return c.CosmosConnection != "" || c.CosmosEndpoint != "" }

// UsesServiceBus reports whether the queue is Service Bus.
func (c *Config) UsesServiceBus() bool {
	return c.ServiceBusConnection != "" || c.ServiceBusNamespace != ""
}

// DatabasePath is the embedded SQLite file.
func (c *Config) DatabasePath() string { return filepath.Join(c.DataDir, "orderflow.db") }

// LogAttrs are the settings worth logging at start-up: no secrets, only whether they are set.
func (c *Config) LogAttrs() []any {
	set := func(s string) bool { return s != "" }
	return []any{
		slog.String("store_url", c.StoreURL), slog.String("api_version", c.APIVersion),
		slog.String("shop_domain", c.ShopDomain), slog.Bool("access_token_set", set(c.AccessToken)),
		slog.Bool("previous_secret_set", set(c.WebhookSecretPrevious)),
		slog.Bool("cosmos", c.UsesCosmos()), slog.Bool("service_bus", c.UsesServiceBus()),
		slog.String("data_dir", c.DataDir), slog.String("routing_config", c.RoutingConfig),
	}
}
