package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/shipwell/orderflow/internal/warehousesim"
	"github.com/shipwell/orderflow/internal/webhook"
)

// warehouseNames are the warehouses of the default routing table.
var warehouseNames = []string{"warehouse-east", "warehouse-west", "international"}

// baselineHandler is the ceiling: it reads the body (as the product does, up to 10 MiB) and
// checks the HMAC with the product's own Verifier, and nothing else.
func baselineHandler(v *webhook.Verifier) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"status":"ok"}`+"\n")
	})
	mux.HandleFunc("POST /api/order-created", func(w http.ResponseWriter, r *http.Request) {
		var buf bytes.Buffer
		if r.ContentLength > 0 {
			buf.Grow(int(r.ContentLength) + 1)
		}
		if _, err := buf.ReadFrom(http.MaxBytesReader(w, r.Body, 10<<20)); err != nil {
			http.Error(w, `{"error":"could not read the body"}`, http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		if !v.Verify(buf.Bytes(), r.Header.Get("X-Shopify-Hmac-Sha256")) {
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = io.WriteString(w, `{"error":"invalid webhook signature"}`+"\n")
			return
		}
		_, _ = io.WriteString(w, `{"status":"recorded"}`+"\n")
	})
	return mux
}

// runBaselineServer serves the baseline on addr until SIGTERM/SIGINT (the --baseline-server
// mode: its own process, so it does not share the load generator's Go runtime).
func runBaselineServer(addr string) error {
	v, err := webhook.NewVerifier(benchSecret, "")
	if err != nil {
		return err
	}
	return serveUntilSignal(addr, baselineHandler(v))
}

// runWarehouseSim serves the three warehouse SIMULATORS on addr until SIGTERM/SIGINT (the
// --warehouse-sim mode).
func runWarehouseSim(addr string, delay time.Duration) error {
	h, closeSim, err := warehouseSim(delay)
	if err != nil {
		return err
	}
	defer closeSim()
	return serveUntilSignal(addr, h)
}

// warehouseSim returns the three warehouse SIMULATORS under /{name}/ (as cmd/demo serves them),
// each answering every API request after delay, without callbacks, plus GET /_bench/count for
// the benchmark's polling: fulfillments accepted (201: a new order; a repeated
// Idempotency-Key answers 200) and fulfillment requests, counted as they are answered.
func warehouseSim(delay time.Duration) (http.Handler, func(), error) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	var ws []*warehousesim.Warehouse
	closeAll := func() {
		for _, w := range ws {
			w.Close()
		}
	}
	for _, name := range warehouseNames {
		w := warehousesim.New(warehousesim.Config{Name: name, Key: name + "-bench-key", Logger: log})
		ws = append(ws, w)
		if delay > 0 {
			if err := w.InjectFault(warehousesim.Fault{Delay: delay}); err != nil {
				closeAll()
				return nil, nil, err
			}
		}
	}
	mux, err := warehousesim.NewMux(ws...)
	if err != nil {
		closeAll()
		return nil, nil, err
	}
	var created, requests atomic.Int64
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet && r.URL.Path == "/_bench/count" {
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("X-Simulator", "warehouse")
			_ = json.NewEncoder(w).Encode(simCount{Orders: int(created.Load()), Requests: int(requests.Load())})
			return
		}
		if r.Method != http.MethodPost || !strings.HasSuffix(r.URL.Path, "/fulfillments") {
			mux.ServeHTTP(w, r)
			return
		}
		sw := &statusWriter{ResponseWriter: w}
		mux.ServeHTTP(sw, r)
		requests.Add(1)
		if sw.status == http.StatusCreated {
			created.Add(1)
		}
	})
	return h, closeAll, nil
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s *statusWriter) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

// simCount is the answer of the warehouse SIMULATORS' GET /_bench/count.
type simCount struct {
	Orders   int `json:"orders"`
	Requests int `json:"requests"`
}

func serveUntilSignal(addr string, h http.Handler) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return nil
}
