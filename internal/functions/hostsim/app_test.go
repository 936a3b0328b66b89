package hostsim

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestLoadAppTestdata(t *testing.T) {
	app, err := LoadApp("testdata/app")
	if err != nil {
		t.Fatalf("LoadApp: %v", err)
	}
	want := map[string]struct {
		trigger    string
		forwarding bool
	}{
		"fwd": {"httpTrigger", true}, "secure": {"httpTrigger", true},
		"envelope": {"httpTrigger", false}, "envreturn": {"httpTrigger", false}, // an extra binding stops forwarding
		"bus": {"serviceBusTrigger", false}, "busstr": {"serviceBusTrigger", false},
		"tick": {"timerTrigger", false}, "tickretry": {"timerTrigger", false}, "nomon": {"timerTrigger", false},
	}
	if len(app.Functions) != len(want) {
		t.Errorf("functions = %d, want %d", len(app.Functions), len(want))
	}
	for name, w := range want {
		fn, ok := app.Functions[name]
		if !ok {
			t.Errorf("function %s missing", name)
			continue
		}
		if !fn.Trigger.Is(w.trigger) || fn.Forwarding != w.forwarding {
			t.Errorf("%s: trigger %s forwarding %v, want %s %v", name, fn.Trigger.Type, fn.Forwarding, w.trigger, w.forwarding)
		}
	}
	if app.Host.RoutePrefix() != "api" || app.Host.Timeout() != 5*time.Minute {
		t.Errorf("routePrefix %q timeout %v", app.Host.RoutePrefix(), app.Host.Timeout())
	}
	if app.Functions["tickretry"].Retry == nil || app.Functions["tickretry"].Retry.MaxRetryCount != 2 {
		t.Errorf("retry policy = %+v", app.Functions["tickretry"].Retry)
	}
}

func TestMatchRoute(t *testing.T) {
	app, err := LoadApp("testdata/app")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		method, path string
		want         string
		params       map[string]string
	}{
		{"POST", "/api/fwd", "fwd", nil},
		{"GET", "/API/FWD/", "fwd", nil},
		{"PUT", "/api/fwd", "", nil}, // method not allowed → no match
		{"POST", "/api/secure", "secure", nil},
		{"POST", "/api/items/42", "envelope", map[string]string{"id": "42"}},
		{"POST", "/api/items", "", nil},
		{"POST", "/api/items/1/2", "", nil},
		{"POST", "/fwd", "", nil}, // the prefix is required
	}
	for _, tc := range tests {
		fn, params, ok := app.MatchRoute(tc.method, tc.path)
		got := ""
		if ok {
			got = fn.Name
		}
		if got != tc.want {
			t.Errorf("%s %s → %q, want %q", tc.method, tc.path, got, tc.want)
		}
		for k, v := range tc.params {
			if params[k] != v {
				t.Errorf("%s: param %s = %q, want %q", tc.path, k, params[k], v)
			}
		}
	}
}

func TestLoadAppRejects(t *testing.T) {
	okHost := `{"version":"2.0","customHandler":{"description":{"defaultExecutablePath":"handler"}}}`
	okFn := `{"bindings":[{"type":"httpTrigger","direction":"in","name":"req"},{"type":"http","direction":"out","name":"res"}]}`
	tests := []struct {
		name, host, fnName, fn, wantErr string
	}{
		{"version 1", `{"version":"1.0"}`, "f", okFn, "version"},
		{"comment in host.json", "{\"version\":\"2.0\" // c\n}", "f", okFn, "host.json"},
		{"trailing data", okHost + "{}", "f", okFn, "trailing"},
		{"bad functionTimeout", `{"version":"2.0","functionTimeout":"5 minutes"}`, "f", okFn, "functionTimeout"},
		{"two triggers", okHost, "f", `{"bindings":[{"type":"httpTrigger","direction":"in","name":"a"},{"type":"timerTrigger","direction":"in","name":"b","schedule":"0 * * * * *"}]}`, "trigger"},
		{"no trigger", okHost, "f", `{"bindings":[{"type":"http","direction":"out","name":"res"}]}`, "trigger"},
		{"bad direction", okHost, "f", `{"bindings":[{"type":"httpTrigger","direction":"sideways","name":"req"}]}`, "direction"},
		{"missing name", okHost, "f", `{"bindings":[{"type":"httpTrigger","direction":"in"}]}`, "name"},
		{"5-field cron", okHost, "f", `{"bindings":[{"type":"timerTrigger","direction":"in","name":"t","schedule":"0 * * * *"}]}`, "6"},
		{"bad authLevel", okHost, "f", `{"bindings":[{"type":"httpTrigger","direction":"in","name":"req","authLevel":"user"}]}`, "authLevel"},
		{"sb without queue", okHost, "f", `{"bindings":[{"type":"serviceBusTrigger","direction":"in","name":"m","connection":"X"}]}`, "queueName"},
		{"sb without connection", okHost, "f", `{"bindings":[{"type":"serviceBusTrigger","direction":"in","name":"m","queueName":"q"}]}`, "connection"},
		{"bad function name", okHost, "1bad", okFn, "function name"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			write(t, filepath.Join(dir, "host.json"), tc.host)
			write(t, filepath.Join(dir, tc.fnName, "function.json"), tc.fn)
			_, err := LoadApp(dir)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("err = %v, want one mentioning %q", err, tc.wantErr)
			}
		})
	}
}

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestParseScheduleAndTimeSpan(t *testing.T) {
	base := time.Date(2025, 11, 20, 10, 15, 30, 0, time.UTC)
	tests := []struct {
		expr    string
		next    time.Time
		wantErr bool
	}{
		{"0 0 * * * *", time.Date(2025, 11, 20, 11, 0, 0, 0, time.UTC), false},
		{"0 30 2 * * *", time.Date(2025, 11, 21, 2, 30, 0, 0, time.UTC), false},
		{"*/10 * * * * *", time.Date(2025, 11, 20, 10, 15, 40, 0, time.UTC), false},
		{"00:05:00", base.Add(5 * time.Minute), false},
		{"1.00:00:00", base.Add(24 * time.Hour), false},
		{"0 * * * *", time.Time{}, true},
		{"00:00:00", time.Time{}, true},
		{"nonsense", time.Time{}, true},
	}
	for _, tc := range tests {
		s, err := ParseSchedule(tc.expr)
		if (err != nil) != tc.wantErr {
			t.Errorf("ParseSchedule(%q) err = %v", tc.expr, err)
			continue
		}
		if err == nil && !s.Next(base).Equal(tc.next) {
			t.Errorf("ParseSchedule(%q).Next = %v, want %v", tc.expr, s.Next(base), tc.next)
		}
	}
	if d, err := ParseTimeSpan("00:00:00.5"); err != nil || d != 500*time.Millisecond {
		t.Errorf("ParseTimeSpan fraction = %v, %v", d, err)
	}
}

func TestExpandSettings(t *testing.T) {
	env := map[string]string{"QUEUE": "fulfillment-queue", "EMPTY": ""}
	if got, err := expandSettings("%QUEUE%", env); err != nil || got != "fulfillment-queue" {
		t.Errorf("got %q, %v", got, err)
	}
	if got, err := expandSettings("pre-%EMPTY%-post", env); err != nil || got != "pre--post" {
		t.Errorf("got %q, %v", got, err)
	}
	if _, err := expandSettings("%MISSING%", env); err == nil || !strings.Contains(err.Error(), "MISSING") {
		t.Errorf("missing setting: %v", err)
	}
	if got, err := expandSettings("plain", env); err != nil || got != "plain" {
		t.Errorf("got %q, %v", got, err)
	}
}
