package main

import (
	"context"
	"errors"
	"log/slog"

	"github.com/shipwell/orderflow/internal/config"
	"github.com/shipwell/orderflow/internal/order"
)

// openCosmos opens the Cosmos DB order log (COSMOS_CONNECTION or COSMOS_ENDPOINT).
func openCosmos(ctx context.Context, cfg *config.Config, log *slog.Logger) (interface {
	order.Store
}, error) {
	return nil, errors.New("COSMOS_CONNECTION/COSMOS_ENDPOINT: the Cosmos DB order log is not built yet")
}
