package resilience_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestGracefulShutdown sends SIGTERM while webhooks are being received (some of them with
// bodies still arriving), new webhooks keep coming, and dispatches to slow warehouses are in
// flight with a backlog queued behind them. It checks that:
//
//   - every request the server had started handling completes with a proper answer: the
//     half-sent bodies finish after the signal and get 200 "recorded", and no request that got
//     an error instead of an answer was recorded (which would mean it was handled and its
//     answer dropped);
//   - the process exits 0 within 15 s, with no job left leased and the database closed
//     cleanly (WAL checkpointed and removed, integrity check ok);
//   - after a restart the jobs queued before the stop are dispatched, each order exactly once,
//     with no replay (a graceful stop leaves nothing half-done at the warehouse).
func TestGracefulShutdown(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the real binary; skipped under -short")
	}
	ws := startWarehouses(t)
	ws.slow(150*time.Millisecond, 150*time.Millisecond)
	p := newProduct(t, ws, map[string]string{"WORKER_CONCURRENCY": "2"})
	p.start()
	first := makeOrders(t, 40, 7500000000000)
	background := makeOrders(t, 300, 7500000000100)
	slowOnes := makeOrders(t, 4, 7500000000500)

	// A backlog: 40 orders in, the worker dispatches 2 at a time at 150 ms each.
	requireOutcome(t, first, sendAll(newClient(true), p.url(), first, 8), "recorded")

	// Webhooks keep arriving, a connection each, until the server stops accepting them.
	bgAnswers := make([]answer, len(background))
	var bg sync.WaitGroup
	work := make(chan int, len(background))
	for i := range background {
		work <- i
	}
	close(work)
	c := newClient(false)
	for range 6 {
		bg.Add(1)
		go func() {
			defer bg.Done()
			for i := range work {
				a := send(c, p.url(), background[i])
				bgAnswers[i] = a
				var op *net.OpError
				if errors.As(a.Err, &op) && op.Op == "dial" {
					return // the listener is closed: Shopify will retry later
				}
				time.Sleep(5 * time.Millisecond)
			}
		}()
	}
	// Requests in the middle of their bodies when the signal arrives.
	var slow []*slowRequest
	for _, d := range slowOnes {
		slow = append(slow, startSlow(t, fmt.Sprintf("127.0.0.1:%d", p.port), d))
	}
	time.Sleep(200 * time.Millisecond)
	dispatchesInFlight := ws.inFlightNow()
	acceptedAtStop := ws.accepted()

	type exit struct {
		code int
		took time.Duration
	}
	exited := make(chan exit, 1)
	go func() {
		code, took := p.stop(syscall.SIGTERM, 20*time.Second)
		exited <- exit{code, took}
	}()
	time.Sleep(300 * time.Millisecond)
	slowAnswers := make([]answer, len(slow))
	for i, s := range slow {
		slowAnswers[i] = s.finish()
	}
	bg.Wait()
	ex := <-exited

	if ex.code != 0 || ex.took > 15*time.Second {
		t.Errorf("after SIGTERM the handler exited with code %d in %s, want 0 within 15 s", ex.code, ex.took)
	}
	requireOutcome(t, slowOnes, slowAnswers, "recorded")

	// The database was closed cleanly: no WAL left (or an empty one), intact.
	wal := "absent"
	if fi, err := os.Stat(p.dbPath() + "-wal"); err == nil {
		wal = fmt.Sprintf("%d bytes", fi.Size())
		if fi.Size() != 0 {
			t.Errorf("WAL not checkpointed at exit: %s", wal)
		}
	}
	shm := "absent"
	if _, err := os.Stat(p.dbPath() + "-shm"); err == nil {
		shm = "present"
	}
	db := p.db()
	var integrity string
	if err := db.QueryRow("PRAGMA integrity_check").Scan(&integrity); err != nil || integrity != "ok" {
		t.Errorf("integrity_check: %q %v", integrity, err)
	}
	jobs := counts(t, db, "SELECT state, COUNT(*) FROM jobs GROUP BY state")
	db.Close()
	if jobs["leased"] != 0 {
		t.Errorf("jobs left leased after a graceful stop: %v", jobs)
	}
	if jobs["ready"] == 0 {
		t.Errorf("no job was left queued at the stop (jobs %v): the test did not stop with a backlog", jobs)
	}

	// Every background webhook answered 200 is recorded; one that got an error is not.
	recorded := webhookEvents(p.orders())
	var again []*delivery
	var ok, refused, droppedAfterWrite, unsent int
	for i, a := range bgAnswers {
		d := background[i]
		switch {
		case a.Err == nil && a.Status == 0:
			unsent++
			again = append(again, d)
		case a.Err != nil:
			var op *net.OpError
			if errors.As(a.Err, &op) && op.Op == "dial" {
				refused++
			} else {
				droppedAfterWrite++
			}
			if recorded[d.WebhookID] > 0 {
				t.Errorf("order %s was recorded but its sender got %s: an in-flight request lost its answer", d.OrderID, a)
			}
			again = append(again, d)
		case a.Status == http.StatusOK && a.Outcome == "recorded":
			ok++
			if recorded[d.WebhookID] != 1 {
				t.Errorf("order %s was answered 200 but is not in the order log", d.OrderID)
			}
		default:
			t.Errorf("order %s: %s, want 200 recorded or no connection", d.OrderID, a)
		}
	}
	for _, d := range append(append([]*delivery{}, first...), slowOnes...) {
		if recorded[d.WebhookID] != 1 {
			t.Errorf("order %s (answered 200) not in the order log", d.OrderID)
		}
	}

	// Restart (with faster warehouses and more workers, to drain quickly): the backlog is
	// dispatched, exactly once; Shopify redelivers what got no answer.
	ws.slow(5*time.Millisecond, 10*time.Millisecond)
	p.setEnv("WORKER_CONCURRENCY", "8")
	readyIn := p.start()
	requireOutcome(t, again, sendAll(newClient(true), p.url(), again, 4), "recorded")
	all := append(append(append([]*delivery{}, first...), background...), slowOnes...)
	drained := p.waitDispatched(len(all), 30*time.Second)
	rep := ws.checkExactlyOnce(t, all)
	if rep.Replays != 0 {
		t.Errorf("%d replays of an accepted Idempotency-Key after a graceful stop, want 0", rep.Replays)
	}
	t.Logf("at SIGTERM: %d dispatches in flight, %d of %d orders at the warehouses; handler exited %d after %s; WAL %s, -shm %s, jobs %v",
		dispatchesInFlight, acceptedAtStop, len(first), ex.code, ex.took.Round(time.Millisecond), wal, shm, jobs)
	t.Logf("webhooks during the stop: %d half-sent bodies finished after the signal, all 200 recorded; background: %d answered 200, "+
		"%d refused (listener closed), %d reset after the request was written (never handled), %d not sent",
		len(slow), ok, refused, droppedAfterWrite, unsent)
	t.Logf("restart ready in %s; %d redelivered; all %d orders dispatched %s later; %d requests, %d replays",
		readyIn.Round(time.Millisecond), len(again), len(all), drained.Round(time.Millisecond), rep.Requests, rep.Replays)
}

// slowRequest is a webhook whose body is only half sent.
type slowRequest struct {
	conn net.Conn
	rest []byte
}

// startSlow sends the headers and half the body of d's delivery on a new connection.
func startSlow(t *testing.T, addr string, d *delivery) *slowRequest {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	h := http.Header{}
	setWebhookHeaders(h, d)
	var head bytes.Buffer
	fmt.Fprintf(&head, "POST /api/order-created HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\nConnection: close\r\n", addr, len(d.Body))
	if err := h.Write(&head); err != nil {
		t.Fatal(err)
	}
	head.WriteString("\r\n")
	half := len(d.Body) / 2
	head.Write(d.Body[:half])
	if _, err := conn.Write(head.Bytes()); err != nil {
		t.Fatal(err)
	}
	return &slowRequest{conn: conn, rest: d.Body[half:]}
}

// finish sends the rest of the body and reads the answer.
func (s *slowRequest) finish() answer {
	began := time.Now()
	_ = s.conn.SetDeadline(time.Now().Add(15 * time.Second))
	if _, err := s.conn.Write(s.rest); err != nil {
		return answer{Err: err, Took: time.Since(began)}
	}
	res, err := http.ReadResponse(bufio.NewReader(s.conn), nil)
	if err != nil {
		return answer{Err: err, Wrote: true, Took: time.Since(began)}
	}
	defer res.Body.Close()
	var body struct {
		Status string `json:"status"`
	}
	err = json.NewDecoder(res.Body).Decode(&body)
	return answer{Status: res.StatusCode, Outcome: body.Status, Err: err, Wrote: true, Took: time.Since(began)}
}
