package hostsim

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// DefaultHostVersion is the host version the simulator claims (the reference's source commit).
const DefaultHostVersion = "4.1037.0"

// Defaults used when Options leaves a field zero.
const (
	DefaultFunctionKey      = "hostsim-function-key"
	DefaultMasterKey        = "hostsim-master-key"
	DefaultPublicHost       = "localhost:7071"
	DefaultMaxDeliveryCount = 10
	readinessInterval       = 25 * time.Millisecond
	defaultStartTimeout     = 30 * time.Second
	defaultInvokeTimeout    = 60 * time.Second
)

// Options configures Start.
type Options struct {
	// Binary is the handler executable. Empty: host.json defaultExecutablePath resolved against
	// AppRoot (as the host does), else looked up on PATH.
	Binary string
	// Args replaces the host.json arguments when not nil.
	Args []string
	// AppRoot is the folder holding host.json and the function folders. Required.
	AppRoot string
	// Env is the app settings: added to the handler's environment and used to resolve
	// %SETTING% expressions in function.json and the handler arguments.
	Env map[string]string
	// InheritEnv passes the test process's whole environment to the handler, as the real host
	// passes its own. Default: only PATH, HOME, TMPDIR, GOCOVERDIR, GORACE and TZ are inherited,
	// so a developer's shell settings cannot leak into tests.
	InheritEnv bool
	// Handler, when set, replaces the binary: the simulator serves it in-process on the chosen
	// port (no process, no environment, no output capture). For testing the simulator itself
	// and for fast protocol tests.
	Handler http.Handler
	// FunctionKeys maps function name → its key; the key is accepted for that function. Every
	// function also accepts HostKey and MasterKey.
	FunctionKeys map[string]string
	// HostKey is the host-level "default" function key (default DefaultFunctionKey).
	HostKey string
	// MasterKey is the master (admin) key (default DefaultMasterKey).
	MasterKey string
	// HostVersion is sent in X-Azure-Functions-HostVersion and User-Agent (default
	// DefaultHostVersion).
	HostVersion string
	// PublicHost is the Host of simulated callers (default DefaultPublicHost); Scheme is their
	// scheme (default "http": on Azure TLS ends at the front end, §2).
	PublicHost string
	Scheme     string
	// StartTimeout bounds readiness polling (default 30 s, the host's initializationTimeout).
	StartTimeout time.Duration
	// InvokeTimeout bounds each request to the handler (default 60 s). The host waits
	// functionTimeout + 1 min and then restarts the worker; the simulator only fails the
	// invocation, so a hung handler fails a test quickly.
	InvokeTimeout time.Duration
	// MaxDeliveryCount is the queue's maxDeliveryCount (default 10).
	MaxDeliveryCount int
	// Logf receives the simulator's own diagnostics (default: the test's t.Logf).
	Logf func(format string, args ...any)
}

// Line is one line the handler wrote to stdout or stderr.
type Line struct {
	// Stream is "stdout" or "stderr".
	Stream string
	// Text is the line without its newline.
	Text string
}

// Sim is a running simulated host with its handler.
type Sim struct {
	app    *App
	opts   Options
	env    map[string]string // the app settings as the handler sees them (for %expr%)
	port   int
	base   string
	client *http.Client

	cmd      *exec.Cmd
	exited   chan struct{}
	exitErr  error
	server   *httptest.Server
	outMu    sync.Mutex
	outCond  *sync.Cond
	lines    []Line
	stdout   *lineWriter
	stderr   *lineWriter
	closeMu  sync.Mutex
	closed   bool
	recMu    sync.Mutex
	records  []*Invocation
	seq      int64
	resolved map[string]string // function name → resolved entity (queue) name
}

// Start launches the handler like the Functions host and waits until it is ready. It fails the
// test on any error and stops the handler in t.Cleanup (printing its output if the test failed).
func Start(t testing.TB, opts Options) *Sim {
	t.Helper()
	if opts.Logf == nil {
		opts.Logf = t.Logf
	}
	s, err := StartE(opts)
	if s != nil {
		t.Cleanup(func() {
			s.Close()
			if t.Failed() {
				for _, l := range s.Output() {
					t.Logf("handler %s: %s", l.Stream, l.Text)
				}
			}
		})
	}
	if err != nil {
		t.Fatalf("hostsim: %v", err)
	}
	return s
}

// StartE is Start without a testing.TB: the caller must call Close. On error the handler has
// been stopped; the returned Sim (possibly nil) still holds the captured output.
func StartE(opts Options) (*Sim, error) {
	if opts.AppRoot == "" {
		return nil, errors.New("start: AppRoot required")
	}
	app, err := LoadApp(opts.AppRoot)
	if err != nil {
		return nil, fmt.Errorf("start: %w", err)
	}
	if app.Host.CustomHandler.EnableProxyingHTTPRequest {
		return nil, errors.New("start: customHandler.enableProxyingHttpRequest is not simulated (not in host 4.1037)")
	}
	setDefaults(&opts)
	s := &Sim{app: app, opts: opts, exited: make(chan struct{}), resolved: map[string]string{}}
	s.outCond = sync.NewCond(&s.outMu)
	s.env = map[string]string{}
	for k, v := range opts.Env {
		s.env[k] = v
	}
	if err := s.resolveExpressions(); err != nil {
		return nil, fmt.Errorf("start: %w", err)
	}
	port, err := freePort()
	if err != nil {
		return nil, fmt.Errorf("start: %w", err)
	}
	s.port = port
	s.base = "http://127.0.0.1:" + strconv.Itoa(port)
	s.client = &http.Client{
		Timeout: opts.InvokeTimeout,
		Transport: &http.Transport{
			Proxy:               nil, // the host talks to 127.0.0.1 directly
			DisableCompression:  true,
			MaxIdleConnsPerHost: 64,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	if opts.Handler != nil {
		if err := s.serveInProcess(); err != nil {
			return nil, fmt.Errorf("start: %w", err)
		}
	} else if err := s.launch(); err != nil {
		return s, fmt.Errorf("start: %w", err)
	}
	if err := s.waitReady(); err != nil {
		s.Close()
		return s, fmt.Errorf("start: %w", err)
	}
	return s, nil
}

func setDefaults(o *Options) {
	if o.HostKey == "" {
		o.HostKey = DefaultFunctionKey
	}
	if o.MasterKey == "" {
		o.MasterKey = DefaultMasterKey
	}
	if o.HostVersion == "" {
		o.HostVersion = DefaultHostVersion
	}
	if o.PublicHost == "" {
		o.PublicHost = DefaultPublicHost
	}
	if o.Scheme == "" {
		o.Scheme = "http"
	}
	if o.StartTimeout <= 0 {
		o.StartTimeout = defaultStartTimeout
	}
	if o.InvokeTimeout <= 0 {
		o.InvokeTimeout = defaultInvokeTimeout
	}
	if o.MaxDeliveryCount <= 0 {
		o.MaxDeliveryCount = DefaultMaxDeliveryCount
	}
	if o.Logf == nil {
		o.Logf = func(string, ...any) {}
	}
}

// resolveExpressions resolves %SETTING% in the trigger properties the host resolves at
// indexing time; an unset setting fails start-up, as it fails the function on a real host.
func (s *Sim) resolveExpressions() error {
	for name, fn := range s.app.Functions {
		t := fn.Trigger
		for _, v := range []string{t.QueueName, t.TopicName, t.SubscriptionName, t.Schedule, t.Route} {
			if _, err := expandSettings(v, s.env); err != nil {
				return fmt.Errorf("function %s: %w", name, err)
			}
		}
		if t.Is("serviceBusTrigger") {
			entity, _ := expandSettings(t.QueueName, s.env)
			if entity == "" {
				topic, _ := expandSettings(t.TopicName, s.env)
				sub, _ := expandSettings(t.SubscriptionName, s.env)
				entity = topic + "/Subscriptions/" + sub
			}
			s.resolved[name] = entity
		}
		if t.Is("timerTrigger") && strings.Contains(t.Schedule, "%") {
			expr, _ := expandSettings(t.Schedule, s.env)
			if _, err := ParseSchedule(expr); err != nil {
				return fmt.Errorf("function %s: %w", name, err)
			}
		}
	}
	return nil
}

// freePort asks the OS for a free loopback port, like the host's GetUnusedTcpPort.
func freePort() (int, error) {
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func (s *Sim) serveInProcess() error {
	l, err := net.Listen("tcp4", "127.0.0.1:"+strconv.Itoa(s.port))
	if err != nil {
		return fmt.Errorf("listen in-process: %w", err)
	}
	s.server = httptest.NewUnstartedServer(s.opts.Handler)
	s.server.Listener.Close()
	s.server.Listener = l
	s.server.Start()
	close(s.exited)
	return nil
}

// launch starts the handler process (§1).
func (s *Sim) launch() error {
	desc := s.app.Host.CustomHandler.Description
	bin := s.opts.Binary
	if bin == "" {
		if desc.DefaultExecutablePath == "" {
			return errors.New("host.json customHandler.description.defaultExecutablePath is empty")
		}
		candidate := filepath.Join(s.app.Root, desc.DefaultExecutablePath)
		if _, err := os.Stat(candidate); err == nil {
			bin = candidate
		} else if p, err := exec.LookPath(desc.DefaultExecutablePath); err == nil {
			bin = p
		} else {
			return fmt.Errorf("handler %q not found in the app root or on PATH", desc.DefaultExecutablePath)
		}
	}
	workerID := newGUID()
	env := s.baseEnv()
	for k, v := range s.opts.Env {
		env[k] = v
	}
	if _, ok := env["FUNCTIONS_WORKER_RUNTIME"]; !ok {
		env["FUNCTIONS_WORKER_RUNTIME"] = "custom"
	}
	// The host sets these itself, overwriting any app setting of the same name (§7.13).
	port := strconv.Itoa(s.port)
	env["FUNCTIONS_CUSTOMHANDLER_PORT"] = port
	env["FUNCTIONS_HTTPWORKER_PORT"] = port
	env["FUNCTIONS_CUSTOMHANDLER_WORKER_ID"] = workerID
	env["FUNCTIONS_HTTPWORKER_ID"] = workerID
	env["FUNCTIONS_APP_ROOT_PATH"] = s.app.Root
	args := s.opts.Args
	if args == nil {
		args = append(append([]string(nil), desc.Arguments...), desc.WorkerArguments...)
		if desc.DefaultWorkerPath != "" {
			args = append([]string{desc.DefaultWorkerPath}, args...)
		}
		for i, a := range args {
			expanded, err := expandSettings(a, env)
			if err != nil {
				return fmt.Errorf("handler argument: %w", err)
			}
			args[i] = expanded
		}
	}
	dir := s.app.Root
	if wd := desc.WorkingDirectory; wd != "" {
		if filepath.IsAbs(wd) {
			dir = wd
		} else {
			dir = filepath.Join(s.app.Root, wd)
		}
	}
	s.stdout = &lineWriter{sim: s, stream: "stdout"}
	s.stderr = &lineWriter{sim: s, stream: "stderr"}
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Env = envList(env)
	cmd.Stdout = s.stdout
	cmd.Stderr = s.stderr
	cmd.WaitDelay = 2 * time.Second
	if err := cmd.Start(); err != nil {
		close(s.exited)
		return fmt.Errorf("launch %s: %w", bin, err)
	}
	s.cmd = cmd
	go func() {
		err := cmd.Wait()
		s.stdout.flush()
		s.stderr.flush()
		s.outMu.Lock()
		s.exitErr = err
		s.outCond.Broadcast()
		s.outMu.Unlock()
		close(s.exited)
	}()
	return nil
}

func (s *Sim) baseEnv() map[string]string {
	env := map[string]string{}
	if s.opts.InheritEnv {
		for _, kv := range os.Environ() {
			if k, v, ok := strings.Cut(kv, "="); ok {
				env[k] = v
			}
		}
		return env
	}
	for _, k := range []string{"PATH", "HOME", "TMPDIR", "GOCOVERDIR", "GORACE", "TZ"} {
		if v, ok := os.LookupEnv(k); ok {
			env[k] = v
		}
	}
	return env
}

func envList(env map[string]string) []string {
	out := make([]string, 0, len(env))
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	return out
}

// waitReady polls GET / every 25 ms: any HTTP response means ready, a socket error means not
// yet (§1). It gives up after StartTimeout or when the process exits.
func (s *Sim) waitReady() error {
	deadline := time.Now().Add(s.opts.StartTimeout)
	probe := &http.Client{Timeout: time.Second, Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}}
	for {
		resp, err := probe.Get(s.base + "/")
		if err == nil {
			resp.Body.Close()
			return nil
		}
		if s.server == nil {
			select {
			case <-s.exited:
				return fmt.Errorf("handler exited before it was ready (%v); stderr: %s", s.ExitErr(), tail(s.Stderr(), 10))
			default:
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("handler not ready on 127.0.0.1:%d after %v (last error: %v)", s.port, s.opts.StartTimeout, err)
		}
		time.Sleep(readinessInterval)
	}
}

func tail(lines []string, n int) string {
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}

// Close stops the handler (SIGKILL, like a host shutting down a worker it gave up on) and waits
// for its output to be collected. It is safe to call more than once.
func (s *Sim) Close() {
	s.closeMu.Lock()
	defer s.closeMu.Unlock()
	if s.closed {
		return
	}
	s.closed = true
	if s.server != nil {
		s.server.Close()
		return
	}
	if s.cmd != nil && s.cmd.Process != nil {
		select {
		case <-s.exited:
		default:
			_ = s.cmd.Process.Kill()
		}
		<-s.exited
	}
	if s.client != nil {
		s.client.CloseIdleConnections()
	}
}

// Stop asks the handler to exit with SIGTERM and waits up to grace before killing it. It
// returns the process's exit error (nil for exit status 0). After Stop, Output is complete.
func (s *Sim) Stop(grace time.Duration) error {
	if s.server != nil || s.cmd == nil {
		s.Close()
		return nil
	}
	select {
	case <-s.exited:
	default:
		_ = s.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-s.exited:
		case <-time.After(grace):
			s.opts.Logf("hostsim: handler did not exit within %v of SIGTERM; killing it", grace)
		}
	}
	s.Close()
	return s.ExitErr()
}

// Exited reports whether the handler process has exited.
func (s *Sim) Exited() bool {
	if s.server != nil {
		return false
	}
	select {
	case <-s.exited:
		return true
	default:
		return false
	}
}

// ExitErr returns the process's exit error once it has exited.
func (s *Sim) ExitErr() error {
	s.outMu.Lock()
	defer s.outMu.Unlock()
	return s.exitErr
}

// App returns the loaded function app.
func (s *Sim) App() *App { return s.app }

// Port returns the handler's port (FUNCTIONS_CUSTOMHANDLER_PORT).
func (s *Sim) Port() int { return s.port }

// URL returns http://127.0.0.1:<port>, the handler's base URL.
func (s *Sim) URL() string { return s.base }

// FunctionKey returns a key accepted for every function (the host "default" key).
func (s *Sim) FunctionKey() string { return s.opts.HostKey }

// MasterKey returns the master key.
func (s *Sim) MasterKey() string { return s.opts.MasterKey }

// Output returns every line the handler wrote so far, in order.
func (s *Sim) Output() []Line {
	s.outMu.Lock()
	defer s.outMu.Unlock()
	return append([]Line(nil), s.lines...)
}

// Stdout returns the stdout lines so far.
func (s *Sim) Stdout() []string { return s.stream("stdout") }

// Stderr returns the stderr lines so far.
func (s *Sim) Stderr() []string { return s.stream("stderr") }

func (s *Sim) stream(name string) []string {
	var out []string
	for _, l := range s.Output() {
		if l.Stream == name {
			out = append(out, l.Text)
		}
	}
	return out
}

// WaitForOutput waits up to timeout for a line matching match (lines already captured count)
// and returns it. Output is read asynchronously from pipes, so use this (or Stop) before
// asserting on a line written just before a response.
func (s *Sim) WaitForOutput(timeout time.Duration, match func(Line) bool) (Line, bool) {
	deadline := time.Now().Add(timeout)
	timer := time.AfterFunc(timeout, func() {
		s.outMu.Lock()
		s.outCond.Broadcast()
		s.outMu.Unlock()
	})
	defer timer.Stop()
	s.outMu.Lock()
	defer s.outMu.Unlock()
	seen := 0
	for {
		for ; seen < len(s.lines); seen++ {
			if match(s.lines[seen]) {
				return s.lines[seen], true
			}
		}
		if time.Now().After(deadline) || s.exitedLocked() {
			return Line{}, false
		}
		s.outCond.Wait()
	}
}

func (s *Sim) exitedLocked() bool {
	select {
	case <-s.exited:
		return s.server == nil
	default:
		return false
	}
}

// CheckOutput returns an error describing every problem with the captured output: a stdout
// line that is not a JSON object (the host turns stdout into Information logs; the product logs
// JSON), any stderr line when noStderr is set (the host logs stderr lines as errors), and any
// line containing one of secrets. Call it after Stop, or after WaitForOutput, so the output is
// complete.
func (s *Sim) CheckOutput(noStderr bool, secrets ...string) error {
	var problems []string
	for i, l := range s.Output() {
		for _, secret := range secrets {
			if secret != "" && strings.Contains(l.Text, secret) {
				problems = append(problems, fmt.Sprintf("line %d (%s) contains a secret", i+1, l.Stream))
			}
		}
		switch l.Stream {
		case "stdout":
			var obj map[string]json.RawMessage
			if err := json.Unmarshal([]byte(l.Text), &obj); err != nil {
				problems = append(problems, fmt.Sprintf("line %d (stdout) is not a JSON object: %.120q", i+1, l.Text))
			}
		case "stderr":
			if noStderr {
				problems = append(problems, fmt.Sprintf("line %d (stderr, an error in Application Insights): %.120q", i+1, l.Text))
			}
		}
	}
	if len(problems) > 0 {
		return errors.New("handler output: " + strings.Join(problems, "; "))
	}
	return nil
}

// lineWriter splits a stream into lines and records them.
type lineWriter struct {
	sim    *Sim
	stream string
	mu     sync.Mutex
	buf    []byte
}

// maxLine bounds one captured line; longer lines are split.
const maxLine = 1 << 20

func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, p...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			if len(w.buf) > maxLine {
				w.emit(w.buf[:maxLine])
				w.buf = append([]byte(nil), w.buf[maxLine:]...)
				continue
			}
			return len(p), nil
		}
		w.emit(w.buf[:i])
		w.buf = w.buf[i+1:]
	}
}

func (w *lineWriter) flush() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.buf) > 0 {
		w.emit(w.buf)
		w.buf = nil
	}
}

func (w *lineWriter) emit(b []byte) {
	text := strings.TrimSuffix(string(b), "\r")
	w.sim.outMu.Lock()
	w.sim.lines = append(w.sim.lines, Line{Stream: w.stream, Text: text})
	w.sim.outCond.Broadcast()
	w.sim.outMu.Unlock()
}

// newGUID returns a random version-4 GUID in the host's format.
func newGUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// record stores an invocation for Invocations.
func (s *Sim) record(inv *Invocation) {
	s.recMu.Lock()
	defer s.recMu.Unlock()
	s.records = append(s.records, inv)
}

// Invocations returns every request the simulator sent to the handler (forwarded requests and
// invocation envelopes), in order.
func (s *Sim) Invocations() []*Invocation {
	s.recMu.Lock()
	defer s.recMu.Unlock()
	return append([]*Invocation(nil), s.records...)
}

// nextSequence returns increasing Service Bus sequence numbers.
func (s *Sim) nextSequence() int64 {
	s.recMu.Lock()
	defer s.recMu.Unlock()
	s.seq++
	return s.seq
}

// ctx returns a context bounded by InvokeTimeout.
func (s *Sim) ctx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), s.opts.InvokeTimeout)
}
