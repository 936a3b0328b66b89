package sqlite

import (
	"path/filepath"
	"testing"

	"github.com/shipwell/orderflow/internal/order"
	"github.com/shipwell/orderflow/internal/order/ordertest"
)

func open(t *testing.T, opts Options) *DB {
	t.Helper()
	db, err := Open(filepath.Join(t.TempDir(), "orderflow.db"), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestStoreContract(t *testing.T) {
	t.Run("LocalQueue", func(t *testing.T) {
		ordertest.RunStoreContract(t, func(t *testing.T) order.Store { return open(t, Options{LocalQueue: true}) })
	})
	t.Run("ExternalQueue", func(t *testing.T) {
		ordertest.RunStoreContract(t, func(t *testing.T) order.Store { return open(t, Options{}) })
	})
}
