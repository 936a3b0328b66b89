// Package sqlite is the embedded default: the order log, the webhook receipts, leases and the
// fulfillment queue in one SQLite file (pure Go driver, no cgo). The queue is a table in the same
// database, so an order and its jobs commit in one transaction (a transactional outbox).
//
// Durability: WAL journal, synchronous=FULL by default (every commit is fsynced before Save
// returns, so a 200 to Shopify survives a process crash and a power loss), busy_timeout 5 s.
// Writes go through one writer goroutine that groups concurrent writes into one transaction
// (group commit), each in its own savepoint, so one fsync covers many webhooks.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// Options tune Open.
type Options struct {
	// Synchronous is the SQLite synchronous pragma: FULL (default), NORMAL or EXTRA.
	Synchronous string
	// LocalQueue makes Save move an order's outbox into this database's queue table in the
	// same transaction (standalone mode). Leave false when jobs go to Service Bus.
	LocalQueue bool
	// MaxBatch bounds how many writes share one transaction (default 128).
	MaxBatch int
	// Now is the clock (tests).
	Now func() time.Time
}

// DB is the embedded database. It implements order.Store and order.Queue.
type DB struct {
	path     string
	w        *sql.DB // the single writer connection
	r        *sql.DB // readers
	opts     Options
	writes   chan *writeReq
	notify   chan struct{}        // wakes the worker when jobs are queued
	stmts    map[string]*sql.Stmt // the writer's prepared statements, by SQL text
	getOrder *sql.Stmt            // the order read, on the reader pool
	done     chan struct{}
	wg       sync.WaitGroup

	mu        sync.RWMutex // held for reading while queuing a write; Close takes it for writing
	isClosed  bool
	closeOnce sync.Once
	closed    chan struct{}
}

type writeReq struct {
	ctx  context.Context
	fn   func(tx *sql.Tx) error
	done chan error
}

// ErrClosed is returned for writes after Close.
var ErrClosed = errors.New("sqlite: database closed")

// Open opens (creating if needed) the database file at path and migrates its schema.
func Open(path string, opts Options) (*DB, error) {
	if opts.Synchronous == "" {
		opts.Synchronous = "FULL"
	}
	if opts.MaxBatch <= 0 {
		opts.MaxBatch = 128
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, fmt.Errorf("open database: DATA_DIR %s: %w", filepath.Dir(path), err)
	}
	dsn := func(txlock string) string {
		q := url.Values{}
		q.Add("_pragma", "busy_timeout(5000)")
		q.Add("_pragma", "journal_mode(WAL)")
		q.Add("_pragma", "synchronous("+opts.Synchronous+")")
		q.Add("_txlock", txlock)
		return "file:" + path + "?" + q.Encode()
	}
	w, err := sql.Open("sqlite", dsn("immediate"))
	if err != nil {
		return nil, fmt.Errorf("open database %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	r, err := sql.Open("sqlite", dsn("deferred"))
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("open database %s: %w", path, err)
	}
	r.SetMaxOpenConns(8)
	r.SetMaxIdleConns(8)
	db := &DB{path: path, w: w, r: r, opts: opts, writes: make(chan *writeReq, 1024),
		notify: make(chan struct{}, 1), closed: make(chan struct{})}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := db.migrate(ctx); err != nil {
		w.Close()
		r.Close()
		return nil, fmt.Errorf("open database %s: %w", path, err)
	}
	if err := db.prepare(ctx); err != nil {
		w.Close()
		r.Close()
		return nil, fmt.Errorf("open database %s: %w", path, err)
	}
	db.wg.Add(1)
	go db.writer()
	return db, nil
}

const schema = `
CREATE TABLE IF NOT EXISTS orders (
	id         TEXT PRIMARY KEY,
	shop       TEXT NOT NULL,
	order_id   TEXT NOT NULL,
	status     TEXT NOT NULL,
	version    INTEGER NOT NULL,
	has_outbox INTEGER NOT NULL DEFAULT 0,
	has_dead   INTEGER NOT NULL DEFAULT 0,
	attention  INTEGER NOT NULL DEFAULT 0,
	modified   INTEGER NOT NULL,
	doc        BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS orders_order_id ON orders(order_id);
CREATE INDEX IF NOT EXISTS orders_status ON orders(status, modified);
CREATE INDEX IF NOT EXISTS orders_outbox ON orders(has_outbox) WHERE has_outbox = 1;
CREATE INDEX IF NOT EXISTS orders_dead ON orders(has_dead) WHERE has_dead = 1;
CREATE TABLE IF NOT EXISTS receipts (
	shop        TEXT NOT NULL,
	webhook_id  TEXT NOT NULL,
	topic       TEXT NOT NULL,
	kind        TEXT NOT NULL,
	reason      TEXT NOT NULL,
	body        BLOB,
	received_at INTEGER NOT NULL,
	PRIMARY KEY (shop, webhook_id)
);
CREATE INDEX IF NOT EXISTS receipts_kind ON receipts(kind, received_at);
CREATE TABLE IF NOT EXISTS jobs (
	id          TEXT PRIMARY KEY,
	kind        TEXT NOT NULL,
	order_id    TEXT NOT NULL,
	warehouse   TEXT NOT NULL,
	priority    INTEGER NOT NULL,
	body        BLOB NOT NULL,
	state       TEXT NOT NULL,
	run_at      INTEGER NOT NULL,
	lease_until INTEGER NOT NULL DEFAULT 0,
	attempt     INTEGER NOT NULL DEFAULT 0,
	last_error  TEXT NOT NULL DEFAULT '',
	created_at  INTEGER NOT NULL,
	updated_at  INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS jobs_runnable ON jobs(state, run_at);
CREATE TABLE IF NOT EXISTS leases (
	name   TEXT PRIMARY KEY,
	holder TEXT NOT NULL,
	until  INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS state (
	key   TEXT PRIMARY KEY,
	value BLOB NOT NULL
);
`

func (db *DB) migrate(ctx context.Context) error {
	if _, err := db.w.ExecContext(ctx, schema); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	return nil
}

// Path is the database file.
func (db *DB) Path() string { return db.path }

// write runs fn in a transaction shared with other concurrent writes (group commit): fn runs in
// its own savepoint, so its failure rolls back only its own changes. write returns after the
// transaction committed (and, with synchronous=FULL, reached the disk).
func (db *DB) write(ctx context.Context, fn func(tx *sql.Tx) error) error {
	req := &writeReq{ctx: ctx, fn: fn, done: make(chan error, 1)}
	db.mu.RLock()
	if db.isClosed {
		db.mu.RUnlock()
		return ErrClosed
	}
	select {
	case db.writes <- req:
		db.mu.RUnlock()
	case <-ctx.Done():
		db.mu.RUnlock()
		return ctx.Err()
	}
	// Once queued the write will run; wait for its result even if ctx ends, so the caller never
	// reports failure for a write that committed.
	return <-req.done
}

func (db *DB) writer() {
	defer db.wg.Done()
	for {
		var first *writeReq
		select {
		case first = <-db.writes:
		case <-db.closed:
			// Drain what was queued before Close.
			for {
				select {
				case r := <-db.writes:
					db.commit([]*writeReq{r})
				default:
					return
				}
			}
		}
		batch := []*writeReq{first}
	fill:
		for len(batch) < db.opts.MaxBatch {
			select {
			case r := <-db.writes:
				batch = append(batch, r)
			default:
				break fill
			}
		}
		db.commit(batch)
	}
}

func (db *DB) commit(batch []*writeReq) {
	results := make([]error, len(batch))
	fail := func(err error) {
		for _, r := range batch {
			r.done <- err
		}
	}
	ctx := context.Background()
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		fail(fmt.Errorf("begin: %w", err))
		return
	}
	for i, r := range batch {
		if err := r.ctx.Err(); err != nil {
			results[i] = err
			continue
		}
		if _, err := db.exec(ctx, tx, sqlSavepoint); err != nil {
			results[i] = fmt.Errorf("savepoint: %w", err)
			continue
		}
		if err := r.fn(tx); err != nil {
			results[i] = err
			if _, rerr := db.exec(ctx, tx, sqlRollbackTo); rerr != nil {
				tx.Rollback()
				fail(fmt.Errorf("rollback to savepoint: %w (after %v)", rerr, err))
				return
			}
		}
		if _, err := db.exec(ctx, tx, sqlReleaseSavepnt); err != nil {
			tx.Rollback()
			fail(fmt.Errorf("release savepoint: %w", err))
			return
		}
	}
	if err := tx.Commit(); err != nil {
		fail(fmt.Errorf("commit: %w", err))
		return
	}
	for i, r := range batch {
		r.done <- results[i]
	}
}

// Ping checks the database answers.
func (db *DB) Ping(ctx context.Context) error {
	var n int
	if err := db.r.QueryRowContext(ctx, "SELECT 1").Scan(&n); err != nil {
		return fmt.Errorf("ping database: %w", err)
	}
	return nil
}

// Close stops the writer after the queued writes, checkpoints the WAL and closes the file.
func (db *DB) Close() error {
	var err error
	db.closeOnce.Do(func() {
		db.mu.Lock()
		db.isClosed = true
		close(db.closed)
		db.mu.Unlock()
		db.wg.Wait()
		for _, st := range db.stmts {
			st.Close()
		}
		db.getOrder.Close()
		_, _ = db.w.Exec("PRAGMA wal_checkpoint(TRUNCATE)")
		err = errors.Join(db.r.Close(), db.w.Close())
	})
	return err
}

func ms(t time.Time) int64 { return t.UnixMilli() }
