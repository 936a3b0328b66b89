package functionsapp_test

import (
	"database/sql"
	"fmt"
	"time"
)

// queryJobs reads every row of the product's queue table through a plain read connection (the
// "sqlite" driver is registered by the product's sqlite package).
func queryJobs(path string) ([]jobRow, error) {
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(5000)")
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	defer db.Close()
	rows, err := db.Query("SELECT id, state, run_at, created_at, attempt, body FROM jobs ORDER BY created_at, id")
	if err != nil {
		return nil, fmt.Errorf("read jobs: %w", err)
	}
	defer rows.Close()
	var out []jobRow
	for rows.Next() {
		var r jobRow
		var runAt, created int64
		var body []byte
		if err := rows.Scan(&r.ID, &r.State, &runAt, &created, &r.Attempt, &body); err != nil {
			return nil, fmt.Errorf("read jobs: %w", err)
		}
		r.RunAt, r.CreatedAt, r.Body = time.UnixMilli(runAt), time.UnixMilli(created), string(body)
		out = append(out, r)
	}
	return out, rows.Err()
}
