// Command bench is the performance benchmark of `handler serve` (`make bench`). It starts the
// real handler binary on a fresh embedded SQLite database, drives it over loopback with signed
// Shopify webhooks (the 15 KB official orders_create sample and a minimal one-line order, each
// request a new order and a new webhook id), and prints a Markdown report: intake at saturation
// next to a baseline server that only reads the body and checks the HMAC (the ceiling on this
// machine), latency at a fixed offered load (open loop), start-up time, binary size, idle RSS,
// and dispatch throughput to warehouse SIMULATORS that take 20 ms per request.
//
// Every server runs as its own process: the handler, the baseline (this program re-executed
// with --baseline-server) and the warehouse SIMULATORS (--warehouse-sim). The load generator is
// this process, standard library only, on the same machine: the numbers compare servers
// measured in one run, they are not absolute capacities.
//
//	go run ./bench --handler bin/handler [--duration 10s] [--conns 64] [--only intake,fixed,startup,dispatch]
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/shipwell/orderflow/internal/sourcetree"
)

// config is the command line.
type config struct {
	handler     string
	duration    time.Duration
	warmup      time.Duration
	conns       int
	rate        int
	starts      int
	idle        time.Duration
	orders      int
	whDelay     time.Duration
	concurrency []int
	only        map[string]bool
	dir         string
	keep        bool
}

func main() {
	var (
		cfg         config
		baseline    = flag.Bool("baseline-server", false, "internal: run the baseline server (reads the body, checks the HMAC)")
		whSim       = flag.Bool("warehouse-sim", false, "internal: run the warehouse SIMULATORS")
		addr        = flag.String("addr", "127.0.0.1:0", "internal: listen address of --baseline-server / --warehouse-sim")
		delay       = flag.Duration("delay", 0, "internal: --warehouse-sim answer delay")
		only        = flag.String("only", "intake,fixed,startup,dispatch", "sections to run (comma-separated)")
		concurrency = flag.String("worker-concurrency", "16,64", "WORKER_CONCURRENCY values for the dispatch test")
	)
	flag.StringVar(&cfg.handler, "handler", "bin/handler", "the handler binary")
	flag.DurationVar(&cfg.duration, "duration", 10*time.Second, "measured time of each load run")
	flag.DurationVar(&cfg.warmup, "warmup", time.Second, "unmeasured warm-up before each load run")
	flag.IntVar(&cfg.conns, "conns", 64, "concurrent keep-alive connections at saturation")
	flag.IntVar(&cfg.rate, "rate", 1000, "offered load of the fixed-rate test (webhooks/s)")
	flag.IntVar(&cfg.starts, "starts", 10, "start-ups to time")
	flag.DurationVar(&cfg.idle, "idle", 2*time.Second, "idle time before reading the idle RSS")
	flag.IntVar(&cfg.orders, "orders", 1000, "queued orders in the dispatch test")
	flag.DurationVar(&cfg.whDelay, "warehouse-delay", 20*time.Millisecond, "warehouse SIMULATOR time per request in the dispatch test")
	flag.StringVar(&cfg.dir, "dir", "", "where to create the work directory (default: the system temp dir)")
	flag.BoolVar(&cfg.keep, "keep", false, "keep the work directory (databases, logs)")
	flag.Parse()

	var err error
	switch {
	case *baseline:
		err = runBaselineServer(*addr)
	case *whSim:
		err = runWarehouseSim(*addr, *delay)
	default:
		cfg.only = map[string]bool{}
		for _, s := range strings.Split(*only, ",") {
			cfg.only[strings.TrimSpace(s)] = true
		}
		for _, s := range strings.Split(*concurrency, ",") {
			var n int
			if _, err := fmt.Sscan(strings.TrimSpace(s), &n); err != nil || n < 1 {
				fmt.Fprintf(os.Stderr, "bench: --worker-concurrency %q: want integers >= 1\n", *concurrency)
				os.Exit(2)
			}
			cfg.concurrency = append(cfg.concurrency, n)
		}
		err = run(cfg, os.Stdout)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// bench holds what the sections share.
type bench struct {
	cfg    config
	self   string // this program, re-executed for the baseline and the SIMULATORS
	root   string
	work   string
	pl     *payloads
	out    io.Writer
	seq    int
	report report
}

func run(cfg config, out io.Writer) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	root, err := sourcetree.Root()
	if err != nil {
		return err
	}
	if cfg.handler, err = filepath.Abs(cfg.handler); err != nil {
		return err
	}
	if _, err := os.Stat(cfg.handler); err != nil {
		return fmt.Errorf("handler binary: %w (run make build)", err)
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	pl, err := loadPayloads(root)
	if err != nil {
		return err
	}
	work, err := os.MkdirTemp(cfg.dir, "orderflow-bench-")
	if err != nil {
		return err
	}
	if cfg.keep {
		defer fmt.Fprintf(os.Stderr, "bench: kept %s\n", work)
	} else {
		defer os.RemoveAll(work)
	}
	b := &bench{cfg: cfg, self: self, root: root, work: work, pl: pl, out: out}
	b.report.facts = machineFacts(work)
	b.report.cfg = cfg
	b.progress("work directory %s (%s)", work, b.report.facts.fs)
	began := time.Now()
	for _, s := range []struct {
		name string
		f    func(context.Context) error
	}{{"intake", b.intake}, {"fixed", b.fixed}, {"startup", b.startup}, {"dispatch", b.dispatch}} {
		if !cfg.only[s.name] {
			continue
		}
		if err := s.f(ctx); err != nil {
			return fmt.Errorf("%s: %w", s.name, err)
		}
	}
	b.report.elapsed = time.Since(began)
	b.report.print(out)
	return nil
}

func (b *bench) progress(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "bench: "+format+"\n", args...)
}

// facts describes the machine.
type facts struct {
	cpus       int
	model      string
	goVersion  string
	kernel     string
	fs         string
	load       string
	gomaxprocs string
	fsync      time.Duration // median 4 KiB write + fsync in the data directory
}

func machineFacts(dir string) facts {
	f := facts{cpus: runtime.NumCPU(), goVersion: runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH, fs: fsType(dir)}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		f.kernel = strings.TrimSpace(string(b))
	}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
				f.model = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		fs := strings.Fields(string(b))
		if len(fs) >= 3 {
			f.load = strings.Join(fs[:3], " ")
		}
	}
	f.gomaxprocs = os.Getenv("GOMAXPROCS")
	f.fsync = fsyncLatency(dir)
	return f
}

// fsyncLatency is the median time of 50 appends of 4 KiB, each followed by fsync, in dir: what
// one SQLite commit with synchronous=FULL waits for at least.
func fsyncLatency(dir string) time.Duration {
	f, err := os.CreateTemp(dir, "fsync-probe-")
	if err != nil {
		return 0
	}
	defer os.Remove(f.Name())
	defer f.Close()
	buf := make([]byte, 4096)
	var ds []time.Duration
	for range 50 {
		t := time.Now()
		if _, err := f.Write(buf); err != nil {
			return 0
		}
		if err := f.Sync(); err != nil {
			return 0
		}
		ds = append(ds, time.Since(t))
	}
	return median(ds)
}
