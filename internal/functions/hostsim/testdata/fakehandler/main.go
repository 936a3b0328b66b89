// Command fakehandler is a tiny stand-in for the product's handler binary, used by the hostsim
// tests to check how the SIMULATOR starts, probes, captures and stops a real process.
package main

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"
)

func main() {
	logger := slog.New(slog.NewJSONHandler(os.Stdout, nil))
	if os.Getenv("FAKE_MODE") == "crash" {
		fmt.Fprintln(os.Stderr, "fatal: cannot start (on purpose)")
		os.Exit(3)
	}
	if ms, _ := strconv.Atoi(os.Getenv("FAKE_DELAY_MS")); ms > 0 {
		time.Sleep(time.Duration(ms) * time.Millisecond)
	}
	if os.Getenv("FAKE_STDERR") != "" {
		fmt.Fprintln(os.Stderr, "warn: something went sideways")
	}
	port := os.Getenv("FUNCTIONS_CUSTOMHANDLER_PORT")
	l, err := net.Listen("tcp4", "127.0.0.1:"+port)
	if err != nil {
		fmt.Fprintln(os.Stderr, "listen:", err)
		os.Exit(1)
	}
	logger.Info("listening", "port", port)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /env", func(w http.ResponseWriter, r *http.Request) {
		cwd, _ := os.Getwd()
		out := map[string]any{"cwd": cwd, "args": os.Args[1:]}
		for _, k := range []string{"FUNCTIONS_CUSTOMHANDLER_PORT", "FUNCTIONS_HTTPWORKER_PORT", "FUNCTIONS_CUSTOMHANDLER_WORKER_ID",
			"FUNCTIONS_HTTPWORKER_ID", "FUNCTIONS_APP_ROOT_PATH", "FUNCTIONS_WORKER_RUNTIME", "APP_SETTING", "HOSTSIM_TEST_LEAK"} {
			if v, ok := os.LookupEnv(k); ok {
				out[k] = v
			}
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(out)
	})
	mux.HandleFunc("POST /busstr", func(w http.ResponseWriter, r *http.Request) {
		logger.Info("delivery", "invocation_id", r.Header.Get("X-Azure-Functions-InvocationId"), "leak", os.Getenv("FAKE_LEAK"))
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"Outputs":{},"Logs":["done"],"ReturnValue":null}`))
	})
	mux.HandleFunc("POST /api/fwd", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("forwarded:" + r.URL.RawQuery))
	})
	srv := &http.Server{Handler: mux}
	go func() {
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, syscall.SIGTERM)
		<-sig
		logger.Info("shutting down")
		srv.Close()
	}()
	if err := srv.Serve(l); err != http.ErrServerClosed {
		fmt.Fprintln(os.Stderr, "serve:", err)
		os.Exit(1)
	}
	logger.Info("stopped")
}
