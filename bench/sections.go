package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"time"
)

// handlerOpts are the settings a handler run differs in.
type handlerOpts struct {
	worker      bool
	sync        string // SQLITE_SYNCHRONOUS
	concurrency int    // WORKER_CONCURRENCY (0: the default)
	whURL       string // the warehouse SIMULATORS' base URL ("" : nothing listens there)
	dataDir     string // "" : a fresh one
}

// runDir returns a new directory for one server run.
func (b *bench) runDir(label string) (string, error) {
	b.seq++
	dir := filepath.Join(b.work, fmt.Sprintf("%02d-%s", b.seq, label))
	return dir, os.MkdirAll(dir, 0o755)
}

func (b *bench) startHandler(ctx context.Context, label string, o handlerOpts) (*child, string, error) {
	dir, err := b.runDir(label)
	if err != nil {
		return nil, "", err
	}
	data := o.dataDir
	if data == "" {
		data = filepath.Join(dir, "data")
	}
	port, err := freePort()
	if err != nil {
		return nil, "", err
	}
	wh := o.whURL
	if wh == "" {
		wh = "http://127.0.0.1:9" // discard port: no job is ever sent there
	}
	worker := "off"
	if o.worker {
		worker = "on"
	}
	if o.sync == "" {
		o.sync = "FULL"
	}
	env := append(baseEnv(),
		"SHOPIFY_WEBHOOK_SECRET="+benchSecret, "SHOPIFY_SHOP_DOMAIN="+benchShop,
		"DATA_DIR="+data, "PORT="+strconv.Itoa(port), "DISPATCH_WORKER="+worker, "SQLITE_SYNCHRONOUS="+o.sync,
		"INVENTORY_SYNC_SCHEDULE=0 0 0 1 1 *",
		"WAREHOUSE_EAST_API="+wh+"/warehouse-east", "WAREHOUSE_EAST_KEY=warehouse-east-bench-key",
		"WAREHOUSE_WEST_API="+wh+"/warehouse-west", "WAREHOUSE_WEST_KEY=warehouse-west-bench-key",
		"INTERNATIONAL_3PL_API="+wh+"/international", "INTERNATIONAL_3PL_KEY=international-bench-key",
	)
	if o.concurrency > 0 {
		env = append(env, "WORKER_CONCURRENCY="+strconv.Itoa(o.concurrency))
	}
	c, err := startChild(ctx, "handler", b.cfg.handler, []string{"serve"}, env, dir, filepath.Join(dir, "handler.log"), port)
	return c, filepath.Join(data, "orderflow.db"), err
}

func (b *bench) startBaseline(ctx context.Context) (*child, error) {
	dir, err := b.runDir("baseline")
	if err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	return startChild(ctx, "baseline server", b.self, []string{"--baseline-server", "--addr", fmt.Sprintf("127.0.0.1:%d", port)},
		baseEnv(), dir, filepath.Join(dir, "baseline.log"), port)
}

func (b *bench) startWarehouses(ctx context.Context, delay time.Duration) (*child, error) {
	dir, err := b.runDir("warehouses")
	if err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	return startChild(ctx, "warehouse SIMULATOR", b.self, []string{"--warehouse-sim", "--addr", fmt.Sprintf("127.0.0.1:%d", port), "--delay", delay.String()},
		baseEnv(), dir, filepath.Join(dir, "warehouses.log"), port)
}

// loadRun is one measured load run against one server.
type loadRun struct {
	server, payload, settings string
	res                       *result
	cpu, gen, wall            time.Duration // server CPU, load generator CPU, measured wall time
	other                     time.Duration // CPU used by every other process on the machine
	hwmKB                     int64
	note                      string
}

// sampler records the server's and the generator's CPU over the measured window.
type sampler struct {
	pid        int
	cpu0, cpu1 time.Duration
	gen0, gen1 time.Duration
	all0, all1 time.Duration
	t0, t1     time.Time
	onStart    func()
	onEnd      func()
}

func (s *sampler) phases(warmup, measure time.Duration) phases {
	return phases{warmup: warmup, measure: measure,
		onStart: func() {
			s.cpu0, _ = cpuTime(s.pid)
			s.all0, _ = machineBusy()
			s.gen0, s.t0 = selfCPU(), time.Now()
			if s.onStart != nil {
				s.onStart()
			}
		},
		onEnd: func() {
			s.cpu1, _ = cpuTime(s.pid)
			s.all1, _ = machineBusy()
			s.gen1, s.t1 = selfCPU(), time.Now()
			if s.onEnd != nil {
				s.onEnd()
			}
		}}
}

func (s *sampler) fill(r *loadRun) {
	if s.t0.IsZero() || s.t1.IsZero() {
		return
	}
	r.cpu, r.gen, r.wall = s.cpu1-s.cpu0, s.gen1-s.gen0, s.t1.Sub(s.t0)
	r.other = max(0, s.all1-s.all0-r.cpu-r.gen)
	if m, err := memKB(s.pid, "VmHWM"); err == nil {
		r.hwmKB = m["VmHWM"]
	}
}

// saturate runs the closed loop against c and stops c.
func (b *bench) saturate(ctx context.Context, c *child, server, settings string, tpl *template, sm *sampler) (*loadRun, error) {
	defer c.stop()
	b.seq++
	src := newSource(strconv.Itoa(b.seq), 700_000_000_000_000_000+int64(b.seq)*10_000_000_000, tpl)
	if sm == nil {
		sm = &sampler{}
	}
	sm.pid = c.pid()
	b.progress("%s, %s, %s: %d connections for %s (+%s warm-up)", server, tpl.name, settings, b.cfg.conns, b.cfg.duration, b.cfg.warmup)
	res, err := closedLoop(ctx, c.base+"/api/order-created", src, b.cfg.conns, sm.phases(b.cfg.warmup, b.cfg.duration), 0)
	if err != nil {
		return nil, err
	}
	r := &loadRun{server: server, payload: tpl.name, settings: settings, res: res}
	sm.fill(r)
	b.progress("  %.0f accepted/s, %d not accepted, p99 %s", res.rate(), res.nonOK(), fmtDur(res.quantile(0.99)))
	return r, nil
}

// intake measures accepted webhooks/s at saturation: the baseline and the handler on both
// payloads, then the handler with the dispatch worker on, then with synchronous=NORMAL.
func (b *bench) intake(ctx context.Context) error {
	for _, tpl := range []*template{b.pl.large, b.pl.small} {
		c, err := b.startBaseline(ctx)
		if err != nil {
			return err
		}
		r, err := b.saturate(ctx, c, "baseline (read body + HMAC)", "-", tpl, nil)
		if err != nil {
			return err
		}
		b.report.intake = append(b.report.intake, r)
		c, _, err = b.startHandler(ctx, "intake", handlerOpts{sync: "FULL"})
		if err != nil {
			return err
		}
		if r, err = b.saturate(ctx, c, "handler serve", "FULL, worker off", tpl, nil); err != nil {
			return err
		}
		b.report.intake = append(b.report.intake, r)
	}

	// The dispatch worker on, sending to warehouse SIMULATORS that answer at once: the small
	// order is queued for dispatch (the official sample is a cancelled order: nothing to send).
	wh, err := b.startWarehouses(ctx, 0)
	if err != nil {
		return err
	}
	c, _, err := b.startHandler(ctx, "intake-worker", handlerOpts{sync: "FULL", worker: true, whURL: wh.base})
	if err != nil {
		wh.stop()
		return err
	}
	var done0, done1 simCount
	sm := &sampler{
		onStart: func() { _ = getJSON(ctx, wh.base+"/_bench/count", &done0) },
		onEnd:   func() { _ = getJSON(ctx, wh.base+"/_bench/count", &done1) },
	}
	r, err := b.saturate(ctx, c, "handler serve", "FULL, worker on (default 16)", b.pl.small, sm)
	wh.stop()
	if err != nil {
		return err
	}
	if r.wall > 0 {
		n := done1.Orders - done0.Orders
		r.note = fmt.Sprintf("the worker dispatched %d orders to the warehouse SIMULATORS during the window (%.0f/s) while %.0f/s came in; the rest stayed queued", n, float64(n)/r.wall.Seconds(), r.res.rate())
	}
	b.report.intake = append(b.report.intake, r)

	for _, tpl := range []*template{b.pl.large, b.pl.small} {
		c, _, err := b.startHandler(ctx, "intake-normal", handlerOpts{sync: "NORMAL"})
		if err != nil {
			return err
		}
		r, err := b.saturate(ctx, c, "handler serve", "NORMAL, worker off", tpl, nil)
		if err != nil {
			return err
		}
		b.report.intake = append(b.report.intake, r)
	}
	return nil
}

// fixed offers cfg.rate webhooks/s (open loop) of the 15 KB sample and measures latency from
// the scheduled send time.
func (b *bench) fixed(ctx context.Context) error {
	c, _, err := b.startHandler(ctx, "fixed", handlerOpts{sync: "FULL"})
	if err != nil {
		return err
	}
	defer c.stop()
	b.seq++
	src := newSource(strconv.Itoa(b.seq), 700_000_000_000_000_000+int64(b.seq)*10_000_000_000, b.pl.large)
	sm := &sampler{pid: c.pid()}
	b.progress("handler serve, %s: open loop at %d/s for %s (+%s warm-up)", b.pl.large.name, b.cfg.rate, b.cfg.duration, b.cfg.warmup)
	res, err := openLoop(ctx, c.base+"/api/order-created", src, b.cfg.rate, sm.phases(b.cfg.warmup, b.cfg.duration))
	if err != nil {
		return err
	}
	r := &loadRun{server: "handler serve", payload: b.pl.large.name, settings: "FULL, worker off", res: res}
	sm.fill(r)
	b.report.fixed = r
	b.progress("  p50 %s p99 %s max %s", fmtDur(res.quantile(0.5)), fmtDur(res.quantile(0.99)), fmtDur(res.max()))
	return nil
}

// startup times exec → first GET / answered 200 on a fresh DATA_DIR, then reads the idle RSS.
func (b *bench) startup(ctx context.Context) error {
	st, err := os.Stat(b.cfg.handler)
	if err != nil {
		return err
	}
	b.report.binSize = st.Size()
	b.progress("start-up: %d starts on fresh data directories", b.cfg.starts)
	for i := 0; i < b.cfg.starts; i++ {
		c, _, err := b.startHandler(ctx, "startup", handlerOpts{sync: "FULL", worker: true})
		if err != nil {
			return err
		}
		b.report.startups = append(b.report.startups, c.ready.Sub(c.started))
		if i == b.cfg.starts-1 {
			time.Sleep(b.cfg.idle)
			m, err := memKB(c.pid(), "VmRSS", "VmHWM")
			if err != nil {
				c.stop()
				return err
			}
			b.report.idleRSS, b.report.idleHWM = m["VmRSS"], m["VmHWM"]
		}
		c.stop()
	}
	return nil
}

// dispatchRun is one drain of the queued orders.
type dispatchRun struct {
	concurrency  int
	sync         string        // SQLITE_SYNCHRONOUS
	fromExec     time.Duration // exec → the warehouses accepted every order
	fromReady    time.Duration // first GET / answered → the warehouses accepted every order
	done         int           // orders in status dispatched in the order log afterwards
	orders, reqs int           // distinct orders and fulfillment requests the warehouses saw
	cpu          time.Duration
	timedOut     bool
}

// dispatch ingests cfg.orders orders spread over the three warehouses with the worker off, then
// restarts the handler on a copy of that database with the worker on against warehouse
// SIMULATORS that take cfg.whDelay per request, and times the drain.
func (b *bench) dispatch(ctx context.Context) error {
	c, dbPath, err := b.startHandler(ctx, "dispatch-seed", handlerOpts{sync: "FULL"})
	if err != nil {
		return err
	}
	b.seq++
	src := newSource(strconv.Itoa(b.seq), 700_000_000_000_000_000+int64(b.seq)*10_000_000_000, b.pl.mixed...)
	b.progress("dispatch: ingesting %d orders (worker off)", b.cfg.orders)
	res, err := closedLoop(ctx, c.base+"/api/order-created", src, b.cfg.conns, phases{}, b.cfg.orders)
	c.stop()
	if err != nil {
		return err
	}
	if res.ok != b.cfg.orders {
		return fmt.Errorf("ingest: %d of %d accepted (%v %s)", res.ok, b.cfg.orders, res.status, res.firstErr)
	}
	queued, err := b.countOrders(ctx, c, "queued")
	if err != nil {
		return err
	}
	if queued != b.cfg.orders {
		return fmt.Errorf("ingest: %d orders queued, want %d", queued, b.cfg.orders)
	}
	b.report.ingest = res
	seed := filepath.Dir(dbPath)

	type setting struct {
		n    int
		sync string
	}
	var settings []setting
	for _, n := range b.cfg.concurrency {
		settings = append(settings, setting{n, "FULL"})
	}
	// The same drain without an fsync per commit, to show what the durability costs here.
	settings = append(settings, setting{b.cfg.concurrency[0], "NORMAL"})
	for _, st := range settings {
		n := st.n
		dir, err := b.runDir("dispatch-data")
		if err != nil {
			return err
		}
		if err := copyDir(seed, dir); err != nil {
			return err
		}
		wh, err := b.startWarehouses(ctx, b.cfg.whDelay)
		if err != nil {
			return err
		}
		b.progress("dispatch: WORKER_CONCURRENCY=%d, SQLITE_SYNCHRONOUS=%s, warehouses take %s per request", n, st.sync, b.cfg.whDelay)
		d, err := b.drain(ctx, n, st.sync, dir, wh)
		wh.stop()
		if err != nil {
			return err
		}
		b.report.dispatch = append(b.report.dispatch, d)
		b.progress("  %d dispatched in %s from exec", d.done, fmtDur(d.fromExec))
	}
	return nil
}

func (b *bench) drain(ctx context.Context, n int, sync, dataDir string, wh *child) (*dispatchRun, error) {
	c, _, err := b.startHandler(ctx, fmt.Sprintf("dispatch-%d", n), handlerOpts{sync: sync, worker: true, concurrency: n, whURL: wh.base, dataDir: dataDir})
	if err != nil {
		return nil, err
	}
	d := &dispatchRun{concurrency: n, sync: sync}
	deadline := time.Now().Add(2 * time.Minute)
	var cnt simCount
	for {
		if err := getJSON(ctx, wh.base+"/_bench/count", &cnt); err != nil {
			c.stop()
			return nil, err
		}
		if cnt.Orders >= b.cfg.orders {
			now := time.Now()
			d.fromExec, d.fromReady = now.Sub(c.started), now.Sub(c.ready)
			break
		}
		if time.Now().After(deadline) {
			d.timedOut = true
			d.fromExec, d.fromReady = time.Since(c.started), time.Since(c.ready)
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	d.cpu, _ = cpuTime(c.pid())
	// Let the last dispatches be recorded, then check that the order log agrees with the
	// warehouses.
	time.Sleep(200 * time.Millisecond)
	c.stop()
	if err := getJSON(ctx, wh.base+"/_bench/count", &cnt); err != nil {
		return nil, err
	}
	d.orders, d.reqs = cnt.Orders, cnt.Requests
	if d.done, err = b.countOrders(ctx, c, "dispatched"); err != nil {
		return nil, err
	}
	return d, nil
}

// countOrders counts the order records in a status with `handler orders list` (c stopped).
func (b *bench) countOrders(ctx context.Context, c *child, status string) (int, error) {
	cmd := exec.CommandContext(ctx, b.cfg.handler, "orders", "list", "--status", status, "--json", "--limit", strconv.Itoa(10*b.cfg.orders+1000))
	cmd.Dir, cmd.Env = c.cmd.Dir, c.cmd.Env
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return 0, fmt.Errorf("handler orders list: %w: %s", err, errb.String())
	}
	var list []json.RawMessage
	if err := json.Unmarshal(out.Bytes(), &list); err != nil {
		return 0, fmt.Errorf("handler orders list: %w", err)
	}
	return len(list), nil
}

func getJSON(ctx context.Context, url string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, res.Status)
	}
	return json.NewDecoder(res.Body).Decode(v)
}

// copyDir copies the regular files of src into dst (a stopped handler's data directory).
func copyDir(src, dst string) error {
	ents, err := os.ReadDir(src)
	if err != nil {
		return err
	}
	for _, e := range ents {
		if !e.Type().IsRegular() {
			continue
		}
		if err := copyFile(filepath.Join(src, e.Name()), filepath.Join(dst, e.Name())); err != nil {
			return err
		}
	}
	return nil
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

func median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}
