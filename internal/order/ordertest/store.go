// Package ordertest holds what tests of the order package's implementations share: the store
// contract suite every order.Store must pass (SQLite and Cosmos DB), and small builders.
package ordertest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/shipwell/orderflow/internal/order"
)

// NewOrder returns a valid record for shop and order id, with a shippable line and an address.
func NewOrder(shop, orderID string) *order.Order {
	now := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	return &order.Order{
		ID: order.RecordID(shop, orderID), Shop: shop, OrderID: orderID, Name: "#1001", OrderNumber: 1001,
		Status: order.StatusReceived, FinancialStatus: "paid", Currency: "USD", TotalPrice: "404.95",
		Lines: []order.Line{{LineItemID: "976318377106520349", SKU: "IPOD2008PINK", Name: "IPod Nano - 8gb",
			Quantity: 1, FulfillableQuantity: 1, RequiresShipping: true, Price: "199.00"}},
		ShippingAddress: &order.Address{Name: "Steve Shipper", Address1: "123 Shipping Street", City: "Shippington",
			ProvinceCode: "KY", Zip: "40003", CountryCode: "US"},
		UpdatedAt: now, CreatedAt: now,
		Events: []order.Event{{Topic: "orders/create", Source: "webhook", WebhookID: "w-1", ReceivedAt: now, Applied: true}},
	}
}

// RunStoreContract runs the contract every order.Store must meet. newStore returns an empty
// store for one subtest.
func RunStoreContract(t *testing.T, newStore func(t *testing.T) order.Store) {
	ctx := context.Background()
	const shop = "acme-demo.myshopify.com"

	t.Run("GetMissing", func(t *testing.T) {
		s := newStore(t)
		if _, err := s.Get(ctx, "acme-404"); !errors.Is(err, order.ErrNotFound) {
			t.Fatalf("Get missing: err = %v, want ErrNotFound", err)
		}
	})

	t.Run("CreateAndRead", func(t *testing.T) {
		s := newStore(t)
		o := NewOrder(shop, "820982911946154508")
		if err := s.Save(ctx, o); err != nil {
			t.Fatal(err)
		}
		if o.Version == 0 {
			t.Fatal("Save did not set Version")
		}
		got, err := s.Get(ctx, o.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.ID != o.ID || got.OrderID != "820982911946154508" || got.TotalPrice != "404.95" ||
			got.Lines[0].LineItemID != "976318377106520349" || got.ShippingAddress.Zip != "40003" ||
			!got.UpdatedAt.Equal(o.UpdatedAt) || len(got.Events) != 1 || got.Version != o.Version {
			t.Fatalf("read back %+v", got)
		}
	})

	t.Run("CreateTwiceConflicts", func(t *testing.T) {
		s := newStore(t)
		if err := s.Save(ctx, NewOrder(shop, "1")); err != nil {
			t.Fatal(err)
		}
		if err := s.Save(ctx, NewOrder(shop, "1")); !errors.Is(err, order.ErrConflict) {
			t.Fatalf("second create: err = %v, want ErrConflict", err)
		}
	})

	t.Run("OptimisticConcurrency", func(t *testing.T) {
		s := newStore(t)
		o := NewOrder(shop, "2")
		if err := s.Save(ctx, o); err != nil {
			t.Fatal(err)
		}
		a, _ := s.Get(ctx, o.ID)
		b, _ := s.Get(ctx, o.ID)
		a.Status = order.StatusQueued
		if err := s.Save(ctx, a); err != nil {
			t.Fatal(err)
		}
		b.Status = order.StatusCancelled
		if err := s.Save(ctx, b); !errors.Is(err, order.ErrConflict) {
			t.Fatalf("stale save: err = %v, want ErrConflict", err)
		}
		got, _ := s.Get(ctx, o.ID)
		if got.Status != order.StatusQueued || got.Version != a.Version {
			t.Fatalf("status %s version %d, want queued %d", got.Status, got.Version, a.Version)
		}
	})

	t.Run("ConcurrentUpdatesLoseNothing", func(t *testing.T) {
		s := newStore(t)
		o := NewOrder(shop, "3")
		if err := s.Save(ctx, o); err != nil {
			t.Fatal(err)
		}
		const n = 8
		var wg sync.WaitGroup
		errs := make(chan error, n)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for try := 0; try < 100; try++ {
					cur, err := s.Get(ctx, o.ID)
					if err != nil {
						errs <- err
						return
					}
					cur.Events = append(cur.Events, order.Event{Topic: fmt.Sprintf("t%d", i), Source: "test"})
					err = s.Save(ctx, cur)
					if err == nil {
						return
					}
					if !errors.Is(err, order.ErrConflict) {
						errs <- err
						return
					}
				}
				errs <- fmt.Errorf("writer %d: too many conflicts", i)
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		got, _ := s.Get(ctx, o.ID)
		if len(got.Events) != n+1 {
			t.Fatalf("events = %d, want %d (a lost update)", len(got.Events), n+1)
		}
	})

	t.Run("FindByOrderID", func(t *testing.T) {
		s := newStore(t)
		for _, sh := range []string{shop, "other.myshopify.com"} {
			if err := s.Save(ctx, NewOrder(sh, "77")); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.Save(ctx, NewOrder(shop, "78")); err != nil {
			t.Fatal(err)
		}
		got, err := s.FindByOrderID(ctx, "77")
		if err != nil || len(got) != 2 {
			t.Fatalf("FindByOrderID: %d records, %v", len(got), err)
		}
		if got, _ := s.FindByOrderID(ctx, "79"); len(got) != 0 {
			t.Fatalf("FindByOrderID unknown: %d records", len(got))
		}
	})

	t.Run("ListFilters", func(t *testing.T) {
		s := newStore(t)
		mk := func(id string, st order.Status, mod func(*order.Order)) {
			o := NewOrder(shop, id)
			o.Status = st
			if mod != nil {
				mod(o)
			}
			if err := s.Save(ctx, o); err != nil {
				t.Fatal(err)
			}
		}
		mk("10", order.StatusHeld, nil)
		mk("11", order.StatusHeld, func(o *order.Order) { o.Attention = "look" })
		mk("12", order.StatusQueued, nil)
		mk("13", order.StatusDeadLettered, func(o *order.Order) {
			o.DeadLetters = []order.DeadLetter{{Job: order.Job{ID: "dispatch:x", Kind: order.JobDispatch}, Reason: "400"}}
		})
		ids := func(f order.Filter) []string {
			os, err := s.List(ctx, f)
			if err != nil {
				t.Fatal(err)
			}
			var out []string
			for _, o := range os {
				out = append(out, o.OrderID)
			}
			slices.Sort(out)
			return out
		}
		for _, tc := range []struct {
			f    order.Filter
			want []string
		}{
			{order.Filter{Status: order.StatusHeld}, []string{"10", "11"}},
			{order.Filter{Status: order.StatusQueued}, []string{"12"}},
			{order.Filter{DeadLettered: true}, []string{"13"}},
			{order.Filter{Attention: true}, []string{"11"}},
			{order.Filter{}, []string{"10", "11", "12", "13"}},
			{order.Filter{Status: order.StatusFulfilled}, nil},
		} {
			if got := ids(tc.f); !slices.Equal(got, tc.want) {
				t.Errorf("List(%+v) = %v, want %v", tc.f, got, tc.want)
			}
		}
		if got, _ := s.List(ctx, order.Filter{Limit: 2}); len(got) != 2 {
			t.Errorf("Limit 2 returned %d", len(got))
		}
	})

	t.Run("Outbox", func(t *testing.T) {
		s := newStore(t)
		o := NewOrder(shop, "20")
		o.Outbox = []order.Job{{ID: "dispatch:" + o.ID + ":warehouse-east:1", Kind: order.JobDispatch, Order: o.ID}}
		if err := s.Save(ctx, o); err != nil {
			t.Fatal(err)
		}
		pending, err := s.List(ctx, order.Filter{PendingOutbox: true})
		if err != nil {
			t.Fatal(err)
		}
		if len(o.Outbox) == 0 {
			// The store absorbed the outbox into its own queue in the same transaction.
			if len(pending) != 0 {
				t.Fatalf("absorbed outbox still listed as pending: %d", len(pending))
			}
			return
		}
		if len(pending) != 1 || len(pending[0].Outbox) != 1 {
			t.Fatalf("pending outbox: %d records", len(pending))
		}
		o.Outbox = nil
		if err := s.Save(ctx, o); err != nil {
			t.Fatal(err)
		}
		if pending, _ := s.List(ctx, order.Filter{PendingOutbox: true}); len(pending) != 0 {
			t.Fatalf("cleared outbox still pending")
		}
	})

	t.Run("Receipts", func(t *testing.T) {
		s := newStore(t)
		body := []byte("not json \x00\xff")
		r := order.Receipt{Shop: shop, WebhookID: "wh-1", Topic: "orders/create", Kind: order.ReceiptQuarantine,
			Reason: "payload is not a JSON object", Body: body, ReceivedAt: time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC)}
		if ok, err := s.RecordReceipt(ctx, r); err != nil || !ok {
			t.Fatalf("first: %v %v", ok, err)
		}
		if ok, err := s.RecordReceipt(ctx, r); err != nil || ok {
			t.Fatalf("duplicate: %v %v", ok, err)
		}
		r2 := r
		r2.Shop = "other.myshopify.com"
		if ok, err := s.RecordReceipt(ctx, r2); err != nil || !ok {
			t.Fatalf("same webhook id, other shop: %v %v", ok, err)
		}
		inv := order.Receipt{Shop: shop, WebhookID: "wh-2", Topic: "inventory_levels/update", Kind: order.ReceiptInventory}
		if ok, err := s.RecordReceipt(ctx, inv); err != nil || !ok {
			t.Fatalf("inventory: %v %v", ok, err)
		}
		got, err := s.ListReceipts(ctx, order.ReceiptQuarantine, 10)
		if err != nil || len(got) != 2 {
			t.Fatalf("ListReceipts: %d %v", len(got), err)
		}
		if string(got[0].Body) != string(body) || got[0].Reason != r.Reason || got[0].Topic != "orders/create" {
			t.Fatalf("receipt read back %+v", got[0])
		}
	})

	t.Run("Leases", func(t *testing.T) {
		s := newStore(t)
		if err := s.AcquireLease(ctx, "inventory-sync", "a", time.Minute); err != nil {
			t.Fatal(err)
		}
		if err := s.AcquireLease(ctx, "inventory-sync", "b", time.Minute); !errors.Is(err, order.ErrLeaseHeld) {
			t.Fatalf("second holder: err = %v, want ErrLeaseHeld", err)
		}
		if err := s.AcquireLease(ctx, "inventory-sync", "a", time.Minute); err != nil {
			t.Fatalf("renew: %v", err)
		}
		if err := s.ReleaseLease(ctx, "inventory-sync", "b"); err != nil {
			t.Fatal(err)
		}
		if err := s.AcquireLease(ctx, "inventory-sync", "b", time.Minute); !errors.Is(err, order.ErrLeaseHeld) {
			t.Fatalf("release by non-holder freed the lease: %v", err)
		}
		if err := s.ReleaseLease(ctx, "inventory-sync", "a"); err != nil {
			t.Fatal(err)
		}
		if err := s.AcquireLease(ctx, "inventory-sync", "b", 50*time.Millisecond); err != nil {
			t.Fatalf("after release: %v", err)
		}
		time.Sleep(120 * time.Millisecond)
		if err := s.AcquireLease(ctx, "inventory-sync", "c", time.Minute); err != nil {
			t.Fatalf("after expiry: %v", err)
		}
	})

	t.Run("State", func(t *testing.T) {
		s := newStore(t)
		if _, err := s.GetState(ctx, "last-sync"); !errors.Is(err, order.ErrNotFound) {
			t.Fatalf("missing state: %v", err)
		}
		for _, v := range []string{`{"at":"1"}`, `{"at":"2"}`} {
			if err := s.PutState(ctx, "last-sync", []byte(v)); err != nil {
				t.Fatal(err)
			}
			got, err := s.GetState(ctx, "last-sync")
			if err != nil || string(got) != v {
				t.Fatalf("GetState = %q %v, want %q", got, err, v)
			}
		}
	})

	t.Run("Ping", func(t *testing.T) {
		if err := newStore(t).Ping(ctx); err != nil {
			t.Fatal(err)
		}
	})
}
