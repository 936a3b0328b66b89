package sqlite

import (
	"context"
	"database/sql"
	"fmt"
)

// The hot statements: prepared once at Open, so SQLite does not parse them again for every
// webhook (the driver keeps no statement cache of its own).
const (
	sqlSavepoint      = "SAVEPOINT w"
	sqlRollbackTo     = "ROLLBACK TO w"
	sqlReleaseSavepnt = "RELEASE w"
	sqlGetOrder       = "SELECT version, doc FROM orders WHERE id = ?"
	sqlInsertOrder    = `INSERT INTO orders (id, shop, order_id, status, version, has_outbox, has_dead, attention, modified, doc)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
	sqlUpdateOrder = `UPDATE orders SET status = ?, version = ?, has_outbox = ?, has_dead = ?, attention = ?, modified = ?, doc = ?
		WHERE id = ? AND version = ?`
	sqlInsertJob = `INSERT INTO jobs (id, kind, order_id, warehouse, priority, body, state, run_at, attempt, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, 'ready', ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`
	sqlCompleteJob = "UPDATE jobs SET state = 'done', lease_until = 0, updated_at = ? WHERE id = ?"
)

// prepare prepares the writer's hot statements on its single connection (before the writer
// goroutine holds it in a transaction) and the order read on the reader pool.
func (db *DB) prepare(ctx context.Context) error {
	db.stmts = map[string]*sql.Stmt{}
	for _, q := range []string{sqlSavepoint, sqlRollbackTo, sqlReleaseSavepnt, sqlInsertOrder, sqlUpdateOrder, sqlInsertJob, sqlCompleteJob} {
		st, err := db.w.PrepareContext(ctx, q)
		if err != nil {
			return fmt.Errorf("prepare %.40q: %w", q, err)
		}
		db.stmts[q] = st
	}
	st, err := db.r.PrepareContext(ctx, sqlGetOrder)
	if err != nil {
		return fmt.Errorf("prepare %.40q: %w", sqlGetOrder, err)
	}
	db.getOrder = st
	return nil
}

// exec runs q in tx, through its prepared statement when it has one.
func (db *DB) exec(ctx context.Context, tx *sql.Tx, q string, args ...any) (sql.Result, error) {
	if st, ok := db.stmts[q]; ok {
		return tx.StmtContext(ctx, st).ExecContext(ctx, args...)
	}
	return tx.ExecContext(ctx, q, args...)
}
