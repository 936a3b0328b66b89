package hostsim

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

var (
	fakeOnce sync.Once
	fakeBin  string
	fakeErr  error
	fakeDir  string
)

// fakeHandler builds testdata/fakehandler once per test binary.
func fakeHandler(t *testing.T) string {
	t.Helper()
	fakeOnce.Do(func() {
		fakeDir, fakeErr = os.MkdirTemp("", "hostsim-fake-")
		if fakeErr != nil {
			return
		}
		fakeBin = filepath.Join(fakeDir, "handler")
		out, err := exec.Command("go", "build", "-o", fakeBin, "./testdata/fakehandler").CombinedOutput()
		if err != nil {
			fakeErr = err
			fakeBin = string(out)
		}
	})
	if fakeErr != nil {
		t.Fatalf("build fake handler: %v: %s", fakeErr, fakeBin)
	}
	return fakeBin
}

func TestMain(m *testing.M) {
	code := m.Run()
	if fakeDir != "" {
		os.RemoveAll(fakeDir)
	}
	os.Exit(code)
}

func processEnv() map[string]string {
	return map[string]string{"QUEUE": "fulfillment-queue", "APP_SETTING": "from-app-settings", "FUNCTIONS_CUSTOMHANDLER_PORT": "1"}
}

func TestProcessStartEnvironment(t *testing.T) {
	t.Setenv("HOSTSIM_TEST_LEAK", "should-not-reach-the-handler")
	sim := Start(t, Options{Binary: fakeHandler(t), AppRoot: "testdata/app", Env: processEnv()})
	resp, err := http.Get(sim.URL() + "/env")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var env map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&env); err != nil {
		t.Fatal(err)
	}
	root, _ := filepath.Abs("testdata/app")
	port := strconv.Itoa(sim.Port())
	want := map[string]any{
		"cwd": root, "FUNCTIONS_CUSTOMHANDLER_PORT": port, "FUNCTIONS_HTTPWORKER_PORT": port,
		"FUNCTIONS_APP_ROOT_PATH": root, "FUNCTIONS_WORKER_RUNTIME": "custom", "APP_SETTING": "from-app-settings",
	}
	for k, v := range want {
		if env[k] != v {
			t.Errorf("%s = %v, want %v", k, env[k], v)
		}
	}
	if id := env["FUNCTIONS_CUSTOMHANDLER_WORKER_ID"]; id == nil || id != env["FUNCTIONS_HTTPWORKER_ID"] || len(id.(string)) != 36 {
		t.Errorf("worker ids %v / %v", id, env["FUNCTIONS_HTTPWORKER_ID"])
	}
	if _, leaked := env["HOSTSIM_TEST_LEAK"]; leaked {
		t.Error("the test process environment leaked into the handler without InheritEnv")
	}
	if args, _ := env["args"].([]any); len(args) != 2 || args[0] != "--port" || args[1] != port {
		t.Errorf("args = %v, want host.json arguments with %%FUNCTIONS_CUSTOMHANDLER_PORT%% expanded", env["args"])
	}
	if _, ok := sim.WaitForOutput(5*time.Second, func(l Line) bool { return strings.Contains(l.Text, `"listening"`) }); !ok {
		t.Errorf("start-up log line not captured: %v", sim.Output())
	}
}

func TestProcessInheritEnvAndDefaultExecutable(t *testing.T) {
	t.Setenv("HOSTSIM_TEST_LEAK", "inherited")
	// An app root with the handler at defaultExecutablePath, as in the deployed zip.
	root := t.TempDir()
	hostJSON, err := os.ReadFile("testdata/app/host.json")
	if err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(root, "host.json"), string(hostJSON))
	fn, _ := os.ReadFile("testdata/app/fwd/function.json")
	write(t, filepath.Join(root, "fwd", "function.json"), string(fn))
	bin, _ := os.ReadFile(fakeHandler(t))
	if err := os.WriteFile(filepath.Join(root, "handler"), bin, 0o755); err != nil {
		t.Fatal(err)
	}
	sim := Start(t, Options{AppRoot: root, InheritEnv: true})
	resp, err := http.Get(sim.URL() + "/env")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var env map[string]any
	json.NewDecoder(resp.Body).Decode(&env)
	if env["HOSTSIM_TEST_LEAK"] != "inherited" || env["cwd"] != root {
		t.Errorf("env = %v", env)
	}
	res := sim.HTTP(http.MethodPost, "fwd", nil, nil, []byte("x"))
	if res.StatusCode != 200 || string(res.Body) != "forwarded:" {
		t.Errorf("forwarded through the real process: %d %q", res.StatusCode, res.Body)
	}
}

func TestProcessSlowStartAndOutput(t *testing.T) {
	env := processEnv()
	env["FAKE_DELAY_MS"] = "300"
	env["FAKE_STDERR"] = "1"
	env["FAKE_LEAK"] = "sb-secret-value"
	sim := Start(t, Options{Binary: fakeHandler(t), AppRoot: "testdata/app", Env: env})
	res := sim.ServiceBus("busstr", []byte(`{"a":1}`), Message{})
	if res.Outcome != Completed || res.Last().Invocation.Reply.Logs[0] != "done" {
		t.Fatalf("result %+v", res)
	}
	if err := sim.Stop(5 * time.Second); err != nil {
		t.Errorf("Stop: %v (graceful exit expected)", err)
	}
	if !sim.Exited() {
		t.Error("process still running after Stop")
	}
	stdout := sim.Stdout()
	if len(stdout) < 3 || !strings.Contains(stdout[len(stdout)-1], `"stopped"`) {
		t.Errorf("stdout = %v", stdout)
	}
	if got := sim.Stderr(); len(got) != 1 || got[0] != "warn: something went sideways" {
		t.Errorf("stderr = %v", got)
	}
	err := sim.CheckOutput(true, "sb-secret-value")
	if err == nil || !strings.Contains(err.Error(), "contains a secret") || !strings.Contains(err.Error(), "stderr") {
		t.Errorf("CheckOutput = %v, want the secret and the stderr line reported", err)
	}
	if err := sim.CheckOutput(false, "not-in-output"); err != nil {
		t.Errorf("CheckOutput without stderr rule = %v", err)
	}
}

func TestProcessCrashBeforeReady(t *testing.T) {
	env := processEnv()
	env["FAKE_MODE"] = "crash"
	var logs []string
	sim, err := StartE(Options{Binary: fakeHandler(t), AppRoot: "testdata/app", Env: env, Logf: func(f string, a ...any) { logs = append(logs, f) }})
	if err == nil {
		sim.Close()
		t.Fatal("StartE must fail when the handler exits")
	}
	if !strings.Contains(err.Error(), "exited before it was ready") || !strings.Contains(err.Error(), "cannot start (on purpose)") {
		t.Errorf("err = %v, want the exit and the stderr tail", err)
	}
	if sim == nil || !sim.Exited() {
		t.Error("the Sim returned with the error must report the exited process")
	}
}

func TestProcessNeverReady(t *testing.T) {
	env := processEnv()
	env["FAKE_DELAY_MS"] = "5000"
	sim, err := StartE(Options{Binary: fakeHandler(t), AppRoot: "testdata/app", Env: env, StartTimeout: 200 * time.Millisecond})
	if err == nil || !strings.Contains(err.Error(), "not ready") {
		t.Fatalf("err = %v, want a readiness timeout", err)
	}
	if !sim.Exited() {
		t.Error("a handler that never got ready must be killed")
	}
}

func TestProcessKilledByClose(t *testing.T) {
	sim := Start(t, Options{Binary: fakeHandler(t), AppRoot: "testdata/app", Env: processEnv()})
	url := sim.URL()
	sim.Close()
	if !sim.Exited() {
		t.Fatal("Close must stop the process")
	}
	c := &http.Client{Timeout: time.Second}
	if resp, err := c.Get(url + "/env"); err == nil {
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		t.Error("handler still answering after Close")
	}
	res := sim.ServiceBus("busstr", []byte("{}"), Message{MaxDeliveryCount: 2})
	if res.Outcome != DeadLettered || res.Last().Invocation.Err == nil {
		t.Errorf("deliveries to a dead handler must fail: %+v", res)
	}
}
