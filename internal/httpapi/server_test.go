package httpapi

import (
	"bufio"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestSlowBodyDoesNotHoldASlot: a client that sends the headers and then trickles the body is
// cut off at the webhook deadline (408), so it cannot keep a concurrency slot.
func TestSlowBodyDoesNotHoldASlot(t *testing.T) {
	s := &Server{Deadline: 300 * time.Millisecond, MaxInFlight: 1, QueueWait: 50 * time.Millisecond,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	s.SetReady(true)
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()

	conn, err := net.Dial("tcp", strings.TrimPrefix(srv.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /api/order-created HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"id\":")
	start := time.Now()
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusRequestTimeout || time.Since(start) > 5*time.Second {
		t.Fatalf("slow body: %d after %s", res.StatusCode, time.Since(start))
	}
	// The slot is free again: a normal request is served (401: unsigned), not shed (503).
	r, err := http.Post(srv.URL+"/api/order-created", "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	if r.StatusCode != http.StatusUnauthorized {
		t.Fatalf("next request: %d", r.StatusCode)
	}
}

// TestSlowSenderDoesNotTakeWorkSlots: a client stalling in its body holds a reader slot, not one
// of the MaxInFlight processing slots that authenticated deliveries need.
func TestSlowSenderDoesNotTakeWorkSlots(t *testing.T) {
	s := &Server{Deadline: 3 * time.Second, MaxInFlight: 1, QueueWait: 50 * time.Millisecond,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	conn, err := net.Dial("tcp", strings.TrimPrefix(srv.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /api/order-created HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{")
	time.Sleep(100 * time.Millisecond) // the stalled request is now reading its body
	r, err := http.Post(srv.URL+"/api/order-created", "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	if r.StatusCode != http.StatusUnauthorized {
		t.Fatalf("a request next to a stalled sender got %d, want 401 (it was shed)", r.StatusCode)
	}
}
