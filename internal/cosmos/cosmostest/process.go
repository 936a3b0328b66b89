package cosmostest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/shipwell/orderflow/internal/sourcetree"
)

// pinnedPackageVersion is the @vercel/cosmosdb-server version server.js is written against.
const pinnedPackageVersion = "1.0.1"

const (
	startTimeout = 30 * time.Second
	npmTimeout   = 5 * time.Minute
	lockStale    = 10 * time.Minute
)

// errNodeMissing marks a machine without Node.js; only then may tests skip
// (and only when COSMOS_TEST_OPTIONAL=1).
var errNodeMissing = errors.New("node (Node.js >= 20) is not on PATH; the Cosmos DB simulator in tools/cosmos-server needs it")

// serverDir returns tools/cosmos-server of this repository.
func serverDir() (string, error) {
	root, err := sourcetree.Root()
	if err != nil {
		return "", err
	}
	return filepath.Join(root, "tools", "cosmos-server"), nil
}

// ensurePackage runs `npm ci` in dir unless node_modules already holds the
// pinned package. Concurrent test binaries (go test ./... runs packages in
// parallel) serialise on a lock directory so only one of them installs.
func ensurePackage(dir string) error {
	if packageInstalled(dir) {
		return nil
	}
	npm, err := exec.LookPath("npm")
	if err != nil {
		return fmt.Errorf("%s/node_modules is missing and npm is not on PATH: run `npm ci` there: %w", dir, err)
	}
	unlock, err := lockDir(filepath.Join(dir, ".npm-ci.lock"))
	if err != nil {
		return err
	}
	defer unlock()
	if packageInstalled(dir) { // another process installed it while we waited
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), npmTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, npm, "ci", "--no-audit", "--no-fund", "--loglevel=error")
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("npm ci in %s: %w\n%s", dir, err, out)
	}
	if !packageInstalled(dir) {
		return fmt.Errorf("npm ci in %s did not install @vercel/cosmosdb-server %s", dir, pinnedPackageVersion)
	}
	return nil
}

// packageInstalled reports whether npm finished installing the pinned
// package. npm writes node_modules/.package-lock.json last, so its presence
// distinguishes a complete install from one still running in another process.
func packageInstalled(dir string) bool {
	if _, err := os.Stat(filepath.Join(dir, "node_modules", ".package-lock.json")); err != nil {
		return false
	}
	b, err := os.ReadFile(filepath.Join(dir, "node_modules", "@vercel", "cosmosdb-server", "package.json"))
	if err != nil {
		return false
	}
	var pkg struct {
		Version string `json:"version"`
	}
	return json.Unmarshal(b, &pkg) == nil && pkg.Version == pinnedPackageVersion
}

// lockDir takes an exclusive lock by creating path (mkdir is atomic). A lock
// older than lockStale is considered abandoned and removed.
func lockDir(path string) (func(), error) {
	deadline := time.Now().Add(npmTimeout + time.Minute)
	for {
		err := os.Mkdir(path, 0o755)
		if err == nil {
			return func() { _ = os.Remove(path) }, nil
		}
		if !errors.Is(err, os.ErrExist) {
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		if st, serr := os.Stat(path); serr == nil && time.Since(st.ModTime()) > lockStale {
			_ = os.Remove(path)
			continue
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("lock %s: still held after %s (remove it if no npm ci is running)", path, npmTimeout)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// process is a running server.js.
type process struct {
	cmd      *exec.Cmd
	stdin    io.WriteCloser // held open: server.js exits when it closes
	endpoint string
	done     chan struct{}
	stopOnce sync.Once
}

// startProcess launches `node server.js --port 0 ...` and waits for the line
// announcing its endpoint.
func startProcess(args ...string) (*process, error) {
	node, err := exec.LookPath("node")
	if err != nil {
		return nil, errNodeMissing
	}
	dir, err := serverDir()
	if err != nil {
		return nil, err
	}
	if err := ensurePackage(dir); err != nil {
		return nil, err
	}
	cmd := exec.Command(node, append([]string{filepath.Join(dir, "server.js"), "--port", "0", "--host", "127.0.0.1", "--exit-on-stdin-eof"}, args...)...)
	cmd.Dir = dir
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, fmt.Errorf("start cosmos simulator: %w", err)
	}
	// Writers (not StdoutPipe) so that cmd.Wait returns only after all output
	// has been consumed: the error tail is complete when the process is gone.
	ready := make(chan string, 1)
	cmd.Stdout = &lineWriter{onLine: func(line string) {
		if ep, ok := strings.CutPrefix(line, "COSMOS_ENDPOINT="); ok {
			ep, _, _ = strings.Cut(ep, " ")
			select {
			case ready <- ep:
			default:
			}
			return
		}
		fmt.Fprintln(os.Stdout, "cosmos-server:", line) // --verbose request log
	}}
	var errTail tailBuffer
	cmd.Stderr = &lineWriter{onLine: func(line string) {
		// Forward the simulator's errors (e.g. a 500's stack) to the test output.
		errTail.add(line)
		fmt.Fprintln(os.Stderr, "cosmos-server:", line)
	}}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start cosmos simulator: %w", err)
	}
	p := &process{cmd: cmd, stdin: stdin, done: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		close(p.done)
	}()

	select {
	case p.endpoint = <-ready:
		return p, nil
	case <-p.done:
		return nil, fmt.Errorf("cosmos simulator exited during start-up: %s", errTail.String())
	case <-time.After(startTimeout):
		p.stop()
		return nil, fmt.Errorf("cosmos simulator did not announce its endpoint within %s: %s", startTimeout, errTail.String())
	}
}

// stop ends the process (closing stdin asks it to exit; kill if it lingers).
func (p *process) stop() {
	p.stopOnce.Do(func() {
		_ = p.stdin.Close()
		select {
		case <-p.done:
		case <-time.After(2 * time.Second):
			_ = p.cmd.Process.Kill()
			<-p.done
		}
	})
}

// lineWriter calls onLine for every complete line written to it.
type lineWriter struct {
	mu     sync.Mutex
	buf    []byte
	onLine func(string)
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, p...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			return len(p), nil
		}
		w.onLine(strings.TrimRight(string(w.buf[:i]), "\r"))
		w.buf = w.buf[i+1:]
	}
}

// tailBuffer keeps the last lines of the simulator's stderr for error messages.
type tailBuffer struct {
	mu    sync.Mutex
	lines []string
}

func (b *tailBuffer) add(s string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.lines = append(b.lines, s)
	if len(b.lines) > 20 {
		b.lines = b.lines[1:]
	}
}

func (b *tailBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.lines) == 0 {
		return "(no output)"
	}
	return strings.Join(b.lines, "\n")
}
