package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/shipwell/orderflow/internal/order"
)

var _ order.Queue = (*DB)(nil)

// Enqueue queues jobs to run now; a job id already present is left as it is.
func (db *DB) Enqueue(ctx context.Context, jobs ...order.Job) error {
	if len(jobs) == 0 {
		return nil
	}
	now := db.opts.Now()
	if err := db.write(ctx, func(tx *sql.Tx) error { return db.insertJobs(ctx, tx, jobs, now, now) }); err != nil {
		return fmt.Errorf("enqueue: %w", err)
	}
	db.wake()
	return nil
}

// Schedule queues j to run at the given time.
func (db *DB) Schedule(ctx context.Context, j order.Job, at time.Time) error {
	now := db.opts.Now()
	if err := db.write(ctx, func(tx *sql.Tx) error { return db.insertJobs(ctx, tx, []order.Job{j}, at, now) }); err != nil {
		return fmt.Errorf("schedule %s: %w", j.ID, err)
	}
	db.wake()
	return nil
}

func (db *DB) insertJobs(ctx context.Context, tx *sql.Tx, jobs []order.Job, runAt, now time.Time) error {
	for _, j := range jobs {
		body, err := json.Marshal(j)
		if err != nil {
			return fmt.Errorf("encode job %s: %w", j.ID, err)
		}
		prio := 0
		if j.Priority == order.PriorityHigh {
			prio = 1
		}
		if _, err := db.exec(ctx, tx, sqlInsertJob,
			j.ID, string(j.Kind), j.Order, j.Warehouse, prio, body, ms(runAt), j.Attempt, ms(now), ms(now)); err != nil {
			return fmt.Errorf("insert job %s: %w", j.ID, err)
		}
	}
	return nil
}

func (db *DB) wake() {
	select {
	case db.notify <- struct{}{}:
	default:
	}
}

// Wake returns a channel that receives when jobs were queued.
func (db *DB) Wake() <-chan struct{} { return db.notify }

// Lease takes up to n runnable jobs (ready and due, or leased by a worker whose lease ran out,
// for example one that crashed) for ttl, high priority first, skipping the given warehouses.
func (db *DB) Lease(ctx context.Context, n int, ttl time.Duration, skip []string) ([]order.Job, error) {
	now := db.opts.Now()
	var jobs []order.Job
	err := db.write(ctx, func(tx *sql.Tx) error {
		jobs = jobs[:0]
		q := `UPDATE jobs SET state = 'leased', lease_until = ?, updated_at = ?
			WHERE id IN (SELECT id FROM jobs
				WHERE ((state = 'ready' AND run_at <= ?) OR (state = 'leased' AND lease_until <= ?))`
		args := []any{ms(now.Add(ttl)), ms(now), ms(now), ms(now)}
		if len(skip) > 0 {
			q += " AND warehouse NOT IN (?" + strings.Repeat(", ?", len(skip)-1) + ")"
			for _, w := range skip {
				args = append(args, w)
			}
		}
		q += ` ORDER BY priority DESC, run_at LIMIT ?) RETURNING body, attempt`
		args = append(args, n)
		rows, err := tx.QueryContext(ctx, q, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var body []byte
			var attempt int
			if err := rows.Scan(&body, &attempt); err != nil {
				return err
			}
			var j order.Job
			if err := json.Unmarshal(body, &j); err != nil {
				return fmt.Errorf("decode job: %w", err)
			}
			j.Attempt = attempt
			jobs = append(jobs, j)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("lease jobs: %w", err)
	}
	return jobs, nil
}

// Complete marks a job finished.
func (db *DB) Complete(ctx context.Context, id string) error {
	now := db.opts.Now()
	err := db.write(ctx, func(tx *sql.Tx) error {
		_, err := db.exec(ctx, tx, sqlCompleteJob, ms(now), id)
		return err
	})
	if err != nil {
		return fmt.Errorf("complete job %s: %w", id, err)
	}
	return nil
}

// Retry puts a leased job back to run at the given time with its attempt count.
func (db *DB) Retry(ctx context.Context, j order.Job, at time.Time, reason string) error {
	now := db.opts.Now()
	body, err := json.Marshal(j)
	if err != nil {
		return fmt.Errorf("retry job %s: %w", j.ID, err)
	}
	err = db.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE jobs SET state = 'ready', run_at = ?, lease_until = 0, attempt = ?, last_error = ?, body = ?, updated_at = ?
			WHERE id = ?`, ms(at), j.Attempt, truncate(reason, 500), body, ms(now), j.ID)
		return err
	})
	if err != nil {
		return fmt.Errorf("retry job %s: %w", j.ID, err)
	}
	return nil
}

// Release returns leased jobs to the queue unchanged (graceful shutdown).
func (db *DB) Release(ctx context.Context, ids ...string) error {
	if len(ids) == 0 {
		return nil
	}
	now := db.opts.Now()
	err := db.write(ctx, func(tx *sql.Tx) error {
		for _, id := range ids {
			if _, err := tx.ExecContext(ctx, "UPDATE jobs SET state = 'ready', lease_until = 0, updated_at = ? WHERE id = ? AND state = 'leased'", ms(now), id); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("release jobs: %w", err)
	}
	return nil
}

// ReclaimLeases puts every leased job back to ready. Call it only when no other worker uses the
// database (at start-up, holding the data directory's lock): the jobs of a worker that crashed
// then run again at once instead of after their lease runs out. It returns how many it reclaimed.
func (db *DB) ReclaimLeases(ctx context.Context) (int, error) {
	now := db.opts.Now()
	var n int64
	err := db.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, "UPDATE jobs SET state = 'ready', lease_until = 0, updated_at = ? WHERE state = 'leased'", ms(now))
		if err != nil {
			return err
		}
		n, _ = res.RowsAffected()
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("reclaim leased jobs: %w", err)
	}
	if n > 0 {
		db.wake()
	}
	return int(n), nil
}

// NextRunAt returns when the earliest waiting job becomes runnable (zero if none is waiting).
func (db *DB) NextRunAt(ctx context.Context) (time.Time, error) {
	var at sql.NullInt64
	err := db.r.QueryRowContext(ctx, `SELECT MIN(CASE state WHEN 'ready' THEN run_at ELSE lease_until END)
		FROM jobs WHERE state IN ('ready', 'leased')`).Scan(&at)
	if err != nil {
		return time.Time{}, fmt.Errorf("next job time: %w", err)
	}
	if !at.Valid {
		return time.Time{}, nil
	}
	return time.UnixMilli(at.Int64), nil
}

// JobStats counts jobs by state.
func (db *DB) JobStats(ctx context.Context) (map[string]int, error) {
	rows, err := db.r.QueryContext(ctx, "SELECT state, COUNT(*) FROM jobs GROUP BY state")
	if err != nil {
		return nil, fmt.Errorf("job stats: %w", err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var s string
		var n int
		if err := rows.Scan(&s, &n); err != nil {
			return nil, err
		}
		out[s] = n
	}
	return out, rows.Err()
}

// PruneJobs deletes finished jobs older than age.
func (db *DB) PruneJobs(ctx context.Context, age time.Duration) error {
	cut := db.opts.Now().Add(-age)
	return db.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, "DELETE FROM jobs WHERE state = 'done' AND updated_at < ?", ms(cut))
		return err
	})
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}
