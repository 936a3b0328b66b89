package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/shipwell/orderflow/internal/config"
	"github.com/shipwell/orderflow/internal/cosmos"
)

// openCosmos opens the Cosmos DB order log (COSMOS_CONNECTION or COSMOS_ENDPOINT with managed
// identity; COSMOS_DATABASE, COSMOS_CONTAINER; optional COSMOS_RECEIPT_TTL). It makes the one
// Cosmos client of the process and fails at start-up, naming the setting, when the account, the
// database or the container cannot be used.
func openCosmos(ctx context.Context, cfg *config.Config, log *slog.Logger) (*cosmos.Store, error) {
	var ttl time.Duration
	if v := cfg.Lookup(cosmos.SettingReceiptTTL); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			return nil, fmt.Errorf("%s=%q: want a duration such as 720h (empty: keep receipts)", cosmos.SettingReceiptTTL, v)
		}
		ttl = d
	}
	return cosmos.Open(ctx, cosmos.Config{
		ConnectionString: cfg.CosmosConnection,
		Endpoint:         cfg.CosmosEndpoint,
		Database:         cfg.CosmosDatabase,
		Container:        cfg.CosmosContainer,
		ReceiptTTL:       ttl,
		Logger:           log.With("component", "cosmos"),
	})
}
