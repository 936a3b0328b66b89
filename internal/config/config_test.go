package config

import (
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func lookup(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestDefaults(t *testing.T) {
	c, err := FromLookup(lookup(map[string]string{}))
	if err != nil {
		t.Fatal(err)
	}
	if c.Port != 7071 || c.APIVersion != "2026-10" || c.DataDir != "./data" || c.CosmosDatabase != "shopify" ||
		c.CosmosContainer != "orders" || c.ServiceBusQueue != "fulfillment-queue" || c.SQLiteSynchronous != "FULL" ||
		c.WebhookDeadline != 4*time.Second || c.MaxBodyBytes != 10<<20 || !c.LocalWorker || c.LogLevel != slog.LevelInfo ||
		c.FunctionsMode() || c.UsesCosmos() || c.UsesServiceBus() {
		t.Fatalf("%+v", c)
	}
}

func TestValues(t *testing.T) {
	c, err := FromLookup(lookup(map[string]string{
		"SHOPIFY_STORE_URL": "acme.myshopify.com", "PORT": "8080", "RETRY_BASE_DELAY": "500ms", "LOG_LEVEL": "debug",
		"SERVICE_BUS_CONNECTION__fullyQualifiedNamespace": "bus.servicebus.windows.net", "DISPATCH_WORKER": "off",
		"FUNCTIONS_CUSTOMHANDLER_PORT": "40001", "WAREHOUSE_EAST_API": " http://wh ",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if c.ShopDomain != "acme.myshopify.com" || c.Port != 8080 || c.RetryBaseDelay != 500*time.Millisecond ||
		c.LogLevel != slog.LevelDebug || c.ServiceBusNamespace != "bus.servicebus.windows.net" || c.LocalWorker ||
		!c.FunctionsMode() || c.Lookup("WAREHOUSE_EAST_API") != "http://wh" {
		t.Fatalf("%+v", c)
	}
	u, err := c.ShopifyBaseURL()
	if err != nil || u.String() != "https://acme.myshopify.com" {
		t.Fatalf("%v %v", u, err)
	}
}

func TestErrorsNameTheSetting(t *testing.T) {
	for k, v := range map[string]string{
		"PORT": "seventy", "DISPATCH_MAX_ATTEMPTS": "0", "RETRY_BASE_DELAY": "soon", "LOG_LEVEL": "loud",
		"SQLITE_SYNCHRONOUS": "OFF", "SHOPIFY_STORE_URL": "ftp://x", "DISPATCH_WORKER": "maybe", "MAX_BODY_BYTES": "10",
	} {
		_, err := FromLookup(lookup(map[string]string{k: v}))
		if err == nil || !strings.Contains(err.Error(), k) {
			t.Errorf("%s=%s: err = %v", k, v, err)
		}
	}
}

func TestLocalSettingsFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "local.settings.json")
	if err := os.WriteFile(p, []byte(`{"IsEncrypted":false,"Values":{"PORT":"9000","SHOPIFY_WEBHOOK_SECRET":"from-file","DISPATCH_MAX_ATTEMPTS":3}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("SHOPIFY_WEBHOOK_SECRET", "from-env")
	c, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	if c.Port != 9000 || c.WebhookSecret != "from-env" || c.DispatchMaxAttempts != 3 {
		t.Fatalf("port %d secret %q attempts %d", c.Port, c.WebhookSecret, c.DispatchMaxAttempts)
	}
	if err := os.WriteFile(p, []byte(`{not json`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(p); err == nil {
		t.Fatal("broken local.settings.json accepted")
	}
	if _, err := Load(filepath.Join(dir, "missing.json")); err == nil {
		t.Fatal("missing explicit settings file accepted")
	}
}

func TestLogAttrsHaveNoSecrets(t *testing.T) {
	c, _ := FromLookup(lookup(map[string]string{"SHOPIFY_WEBHOOK_SECRET": "s3cret", "SHOPIFY_ACCESS_TOKEN": "shpat_abc",
		"COSMOS_CONNECTION": "AccountEndpoint=x;AccountKey=k3y;", "SERVICE_BUS_CONNECTION": "Endpoint=sb://x;SharedAccessKey=sb-k3y"}))
	var b strings.Builder
	slog.New(slog.NewJSONHandler(&b, nil)).Info("x", c.LogAttrs()...)
	for _, s := range []string{"s3cret", "shpat_abc", "k3y"} {
		if strings.Contains(b.String(), s) {
			t.Fatalf("log attrs contain %q: %s", s, b.String())
		}
	}
}

func TestRetryDelaysOrdered(t *testing.T) {
	_, err := FromLookup(lookup(map[string]string{"RETRY_BASE_DELAY": "1h", "RETRY_MAX_DELAY": "1m"}))
	if err == nil || !strings.Contains(err.Error(), "RETRY_BASE_DELAY=1h0m0s is longer than RETRY_MAX_DELAY") {
		t.Fatalf("err = %v", err)
	}
}
