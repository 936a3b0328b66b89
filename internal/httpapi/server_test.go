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
