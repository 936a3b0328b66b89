package functionsapp_test

import (
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shipwell/orderflow/internal/functions/hostsim"
)

// TestProcessLifecycle starts its own handler the way the host does and checks readiness,
// output hygiene and a graceful stop: SIGTERM while an invocation is in flight lets that
// invocation finish, then the process exits 0.
func TestProcessLifecycle(t *testing.T) {
	w := newWorld(t)
	opts := w.options(t, repo, filepath.Join(t.TempDir(), "data"))
	begin := time.Now()
	sim := hostsim.Start(t, opts) // polls GET / every 25 ms, like the host
	ready := time.Since(begin)
	t.Logf("ready %v after the process was started (host budget: 30 s)", ready.Round(time.Millisecond))
	// Generous: the point is "well inside the host's 30 s", not a benchmark.
	if ready > 5*time.Second {
		t.Fatalf("ready after %v", ready)
	}

	t.Run("GET / answers ready", func(t *testing.T) {
		res, err := http.Get(sim.URL() + "/")
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		var body map[string]string
		if res.StatusCode != http.StatusOK || json.Unmarshal(b, &body) != nil || body["status"] != "ok" {
			t.Fatalf("GET /: %d %s", res.StatusCode, b)
		}
		l, ok := sim.WaitForOutput(5*time.Second, func(l hostsim.Line) bool { return strings.Contains(l.Text, `"msg":"ready"`) })
		if !ok || !strings.Contains(l.Text, `"mode":"functions"`) || !strings.Contains(l.Text, `"addr":"127.0.0.1:`) {
			t.Fatalf("no ready line for functions mode on 127.0.0.1: %q", l.Text)
		}
	})

	t.Run("SIGTERM with an invocation in flight: it finishes, exit 0", func(t *testing.T) {
		arrived, release := w.holdInventory(t, east)
		inflight := make(chan *hostsim.TimerResult, 1)
		go func() { inflight <- sim.Timer(syncFn, hostsim.TimerOptions{}) }()
		select {
		case <-arrived:
		case <-time.After(10 * time.Second):
			t.Fatal("the sync never read east's stock feed")
		}
		stopped := make(chan error, 1)
		sigterm := time.Now()
		go func() { stopped <- sim.Stop(10 * time.Second) }()
		if _, ok := sim.WaitForOutput(5*time.Second, func(l hostsim.Line) bool { return strings.Contains(l.Text, `"msg":"shutting down"`) }); !ok {
			t.Fatal("the handler did not log that it is shutting down")
		}
		release()
		res := <-inflight
		if !res.Succeeded || !hasLine(res.Last().Reply.Logs, "warehouse-east: ") {
			t.Fatalf("the in-flight invocation: succeeded %v logs %q (%v)", res.Succeeded, logsOf(res.Last()), invErr(res.Last()))
		}
		if err := <-stopped; err != nil {
			t.Fatalf("exit after SIGTERM: %v", err)
		}
		took := time.Since(sigterm)
		t.Logf("exited %v after SIGTERM", took.Round(time.Millisecond))
		if took > 5*time.Second {
			t.Fatalf("exit took %v", took)
		}
		out := sim.Stdout()
		if len(out) == 0 || !strings.Contains(out[len(out)-1], `"msg":"stopped"`) {
			t.Fatalf("last stdout line %q, want the stopped line", out[len(out)-1:])
		}
	})

	t.Run("stdout is JSON lines, stderr is empty, no secret anywhere", func(t *testing.T) {
		if !sim.Exited() {
			t.Skip("the handler is still running (the stop subtest failed)")
		}
		if err := sim.CheckOutput(true, secrets()...); err != nil {
			t.Fatal(err)
		}
	})
}
