package sqlite

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/shipwell/orderflow/internal/order"
)

var _ order.Store = (*DB)(nil)

// Get reads one order record.
func (db *DB) Get(ctx context.Context, id string) (*order.Order, error) {
	row := db.getOrder.QueryRowContext(ctx, id)
	o, err := scanOrder(row)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("order %s: %w", id, order.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("read order %s: %w", id, err)
	}
	return o, nil
}

type scanner interface{ Scan(...any) error }

func scanOrder(s scanner) (*order.Order, error) {
	var version int64
	var doc []byte
	if err := s.Scan(&version, &doc); err != nil {
		return nil, err
	}
	o := new(order.Order)
	if err := json.Unmarshal(doc, o); err != nil {
		return nil, fmt.Errorf("decode order document: %w", err)
	}
	o.Version = version
	return o, nil
}

// FindByOrderID returns the records of a Shopify order id.
func (db *DB) FindByOrderID(ctx context.Context, orderID string) ([]*order.Order, error) {
	return db.query(ctx, "SELECT version, doc FROM orders WHERE order_id = ? ORDER BY modified DESC", orderID)
}

// List returns records matching f, most recently modified first.
func (db *DB) List(ctx context.Context, f order.Filter) ([]*order.Order, error) {
	var where []string
	var args []any
	if f.Status != "" {
		where = append(where, "status = ?")
		args = append(args, string(f.Status))
	}
	if f.DeadLettered {
		where = append(where, "has_dead = 1")
	}
	if f.PendingOutbox {
		where = append(where, "has_outbox = 1")
	}
	if f.Attention {
		where = append(where, "attention = 1")
	}
	q := "SELECT version, doc FROM orders"
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	limit := f.Limit
	if limit <= 0 {
		limit = 100
	}
	q += " ORDER BY modified DESC, id LIMIT ?"
	args = append(args, limit)
	return db.query(ctx, q, args...)
}

func (db *DB) query(ctx context.Context, q string, args ...any) ([]*order.Order, error) {
	rows, err := db.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("query orders: %w", err)
	}
	defer rows.Close()
	var out []*order.Order
	for rows.Next() {
		o, err := scanOrder(rows)
		if err != nil {
			return nil, fmt.Errorf("query orders: %w", err)
		}
		out = append(out, o)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("query orders: %w", err)
	}
	return out, nil
}

// Save creates or replaces (compare-and-swap on Version) an order record. With LocalQueue the
// outbox jobs are inserted into the queue table in the same transaction.
func (db *DB) Save(ctx context.Context, o *order.Order) error {
	if o.ID == "" {
		return errors.New("save order: empty id")
	}
	outbox := o.Outbox
	if db.opts.LocalQueue {
		o.Outbox = nil
	}
	doc, err := json.Marshal(o)
	o.Outbox = outbox
	if err != nil {
		return fmt.Errorf("save order %s: encode: %w", o.ID, err)
	}
	now := db.opts.Now()
	next := o.Version + 1
	hasOutbox := boolInt(len(o.Outbox) > 0 && !db.opts.LocalQueue)
	hasDead, attention := boolInt(len(o.DeadLetters) > 0), boolInt(o.Attention != "")
	err = db.write(ctx, func(tx *sql.Tx) error {
		if o.Version == 0 {
			_, err := db.exec(ctx, tx, sqlInsertOrder,
				o.ID, o.Shop, o.OrderID, string(o.Status), next, hasOutbox, hasDead, attention, ms(now), doc)
			if isConstraint(err) {
				return order.ErrConflict
			}
			if err != nil {
				return err
			}
		} else {
			res, err := db.exec(ctx, tx, sqlUpdateOrder,
				string(o.Status), next, hasOutbox, hasDead, attention, ms(now), doc, o.ID, o.Version)
			if err != nil {
				return err
			}
			if n, _ := res.RowsAffected(); n != 1 {
				return order.ErrConflict
			}
		}
		if db.opts.LocalQueue {
			return db.insertJobs(ctx, tx, outbox, now, now)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("save order %s: %w", o.ID, err)
	}
	o.Version = next
	if db.opts.LocalQueue && len(outbox) > 0 {
		o.Outbox = nil
		db.wake()
	}
	return nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func isConstraint(err error) bool {
	return err != nil && strings.Contains(err.Error(), "constraint failed")
}

// RecordReceipt stores a non-order delivery once per (shop, webhook id). A delivery without a
// webhook id is keyed by the hash of its body.
func (db *DB) RecordReceipt(ctx context.Context, r order.Receipt) (bool, error) {
	id := r.WebhookID
	if id == "" {
		sum := sha256.Sum256(r.Body)
		id = "sha256:" + hex.EncodeToString(sum[:])
	}
	if r.ReceivedAt.IsZero() {
		r.ReceivedAt = db.opts.Now()
	}
	var inserted bool
	err := db.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO receipts (shop, webhook_id, topic, kind, reason, body, received_at)
			VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (shop, webhook_id) DO NOTHING`,
			r.Shop, id, r.Topic, r.Kind, r.Reason, r.Body, ms(r.ReceivedAt))
		if err != nil {
			return err
		}
		n, _ := res.RowsAffected()
		inserted = n == 1
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("record receipt %s/%s: %w", r.Shop, id, err)
	}
	return inserted, nil
}

// ListReceipts returns receipts of one kind, newest first.
func (db *DB) ListReceipts(ctx context.Context, kind string, limit int) ([]order.Receipt, error) {
	if limit <= 0 {
		limit = 100
	}
	rows, err := db.r.QueryContext(ctx, `SELECT shop, webhook_id, topic, kind, reason, body, received_at FROM receipts
		WHERE kind = ? ORDER BY received_at DESC LIMIT ?`, kind, limit)
	if err != nil {
		return nil, fmt.Errorf("list receipts: %w", err)
	}
	defer rows.Close()
	var out []order.Receipt
	for rows.Next() {
		var r order.Receipt
		var at int64
		if err := rows.Scan(&r.Shop, &r.WebhookID, &r.Topic, &r.Kind, &r.Reason, &r.Body, &at); err != nil {
			return nil, fmt.Errorf("list receipts: %w", err)
		}
		r.ReceivedAt = time.UnixMilli(at).UTC()
		out = append(out, r)
	}
	return out, rows.Err()
}

// AcquireLease takes or renews a named lease.
func (db *DB) AcquireLease(ctx context.Context, name, holder string, ttl time.Duration) error {
	now := db.opts.Now()
	var got bool
	err := db.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO leases (name, holder, until) VALUES (?, ?, ?)
			ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, until = excluded.until
			WHERE leases.until <= ? OR leases.holder = excluded.holder`,
			name, holder, ms(now.Add(ttl)), ms(now))
		if err != nil {
			return err
		}
		n, _ := res.RowsAffected()
		got = n == 1
		return nil
	})
	if err != nil {
		return fmt.Errorf("acquire lease %s: %w", name, err)
	}
	if !got {
		return fmt.Errorf("acquire lease %s: %w", name, order.ErrLeaseHeld)
	}
	return nil
}

// ReleaseLease gives up a lease held by holder.
func (db *DB) ReleaseLease(ctx context.Context, name, holder string) error {
	err := db.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, "DELETE FROM leases WHERE name = ? AND holder = ?", name, holder)
		return err
	})
	if err != nil {
		return fmt.Errorf("release lease %s: %w", name, err)
	}
	return nil
}

// PutState stores a named value.
func (db *DB) PutState(ctx context.Context, key string, value []byte) error {
	err := db.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO state (key, value) VALUES (?, ?)
			ON CONFLICT (key) DO UPDATE SET value = excluded.value`, key, value)
		return err
	})
	if err != nil {
		return fmt.Errorf("put state %s: %w", key, err)
	}
	return nil
}

// GetState reads a named value.
func (db *DB) GetState(ctx context.Context, key string) ([]byte, error) {
	var v []byte
	err := db.r.QueryRowContext(ctx, "SELECT value FROM state WHERE key = ?", key).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("state %s: %w", key, order.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("get state %s: %w", key, err)
	}
	return v, nil
}
