package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/data/azcosmos"

	"github.com/shipwell/orderflow/internal/config"
	"github.com/shipwell/orderflow/internal/cosmos"
	"github.com/shipwell/orderflow/internal/cosmos/cosmostest"
	"github.com/shipwell/orderflow/internal/order"
	"github.com/shipwell/orderflow/internal/order/ordertest"
)

// COSMOS_* settings wire the Cosmos DB order log into the app; bad ones fail start-up naming
// the setting.
func TestBuildAppWithCosmos(t *testing.T) {
	srv := cosmostest.Start(t)
	if srv.HTTPClient() != nil {
		t.Skip("the server needs a custom TLS client, which the settings cannot express")
	}
	c := srv.NewContainer(t, func(p *azcosmos.ContainerProperties) { *p = cosmos.ContainerProperties(p.ID) })
	settings := map[string]string{
		"SHOPIFY_WEBHOOK_SECRET": "test-secret",
		"COSMOS_CONNECTION":      srv.ConnectionString(),
		"COSMOS_DATABASE":        c.DatabaseID,
		"COSMOS_CONTAINER":       c.ContainerID,
		"COSMOS_RECEIPT_TTL":     "720h",
		"DATA_DIR":               t.TempDir(),
	}
	build := func(t *testing.T, change map[string]string) (*app, error) {
		t.Helper()
		m := map[string]string{}
		for k, v := range settings {
			m[k] = v
		}
		for k, v := range change {
			m[k] = v
		}
		cfg, err := config.FromLookup(func(k string) string { return m[k] })
		if err != nil {
			t.Fatalf("config: %v", err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		return buildApp(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), needs{})
	}

	a, err := build(t, nil)
	if err != nil {
		t.Fatalf("buildApp: %v", err)
	}
	defer a.close()
	if _, ok := a.store.(*cosmos.Store); !ok {
		t.Fatalf("store is %T, want *cosmos.Store", a.store)
	}
	o := ordertest.NewOrder("acme-demo.myshopify.com", "1")
	if err := a.store.Save(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	if got, err := a.store.Get(context.Background(), o.ID); err != nil || got.OrderID != "1" {
		t.Fatalf("Get = %v %v", got, err)
	}
	if _, err := a.store.Get(context.Background(), "missing"); !errors.Is(err, order.ErrNotFound) {
		t.Fatalf("Get missing = %v", err)
	}

	for _, tc := range []struct {
		name   string
		change map[string]string
		want   string
	}{
		{"receipt ttl", map[string]string{"COSMOS_RECEIPT_TTL": "a month"}, "COSMOS_RECEIPT_TTL"},
		{"connection string", map[string]string{"COSMOS_CONNECTION": "AccountKey=" + cosmostest.EmulatorKey}, "COSMOS_CONNECTION"},
		{"container", map[string]string{"COSMOS_CONTAINER": "nope"}, "COSMOS_CONTAINER"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, err := build(t, tc.change)
			if err == nil {
				a.close()
				t.Fatal("buildApp succeeded")
			}
			if !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), cosmostest.EmulatorKey) {
				t.Fatalf("error %q: want it to name %s and not contain the key", err, tc.want)
			}
		})
	}
}
