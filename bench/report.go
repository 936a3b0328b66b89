package main

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"
)

// Targets of issue 7 on the reference 2-core machine.
const (
	targetRatio    = 0.5
	targetP99      = 50 * time.Millisecond
	targetStartup  = 50 * time.Millisecond
	targetIdleRSS  = 40 << 10 // KiB
	targetDispatch = 3 * time.Second
)

// report is everything measured, printed as Markdown at the end.
type report struct {
	cfg      config
	facts    facts
	elapsed  time.Duration
	intake   []*loadRun
	fixed    *loadRun
	startups []time.Duration
	binSize  int64
	idleRSS  int64 // KiB
	idleHWM  int64
	ingest   *result
	dispatch []*dispatchRun
}

func (r *report) print(w io.Writer) {
	f := r.facts
	p := func(format string, args ...any) { fmt.Fprintf(w, format+"\n", args...) }
	p("## Performance")
	p("")
	cmd := "go run ./bench --handler bin/handler"
	if r.cfg.duration != 10*time.Second || r.cfg.conns != 64 {
		cmd += fmt.Sprintf(" --duration %s --conns %d", r.cfg.duration, r.cfg.conns)
	}
	p("Measured with `make bench` (`%s`) on %s.", cmd, time.Now().UTC().Format("2006-01-02"))
	model := ""
	if f.model != "" {
		model = " (" + f.model + ")"
	}
	maxprocs := ""
	if f.gomaxprocs != "" {
		maxprocs = ", GOMAXPROCS=" + f.gomaxprocs
	}
	p("Machine: %d CPUs%s, %s, Linux %s, data directory on %s (4 KiB write + fsync: %s), load average at start %s%s.",
		f.cpus, model, f.goVersion, f.kernel, f.fs, fmtDur(f.fsync), f.load, maxprocs)
	p("The load generator (this program, standard library HTTP client) runs on the same machine and")
	p("shares its CPUs: compare the rows of one run, not absolute capacities. Every request is a new")
	p("order (unique order id) with a new webhook id, signed like Shopify signs it; each load run")
	p("lasts %s after a %s warm-up, and every server is a fresh process (fresh `DATA_DIR`).", r.cfg.duration, r.cfg.warmup)
	p("Server CPU is user+system time from /proc/<pid>/stat over the measured window (100%% = one")
	p("core); peak RSS is VmHWM.")

	if len(r.intake) > 0 {
		p("")
		p("### Intake at saturation (%d keep-alive connections, closed loop)", r.cfg.conns)
		p("")
		p("Only 200 answers count as accepted. The official sample is a cancelled order: the handler")
		p("records it (one order row per webhook). The minimal order is paid and shippable: the handler")
		p("records it and queues its dispatch job in the same transaction. \"worker off\" is")
		p("`DISPATCH_WORKER=off` (intake alone); \"worker on\" sends the queued orders to warehouse")
		p("SIMULATORS that answer at once, competing with intake for the CPU and the database writer.")
		p("Latencies are measured at the client, from just before sending to the end of the answer.")
		p("")
		p("| server | payload | SQLite sync, dispatch worker | accepted/s | not accepted | p50 | p99 | max | server CPU | CPU per webhook | peak RSS | load generator CPU | other processes' CPU |")
		p("|---|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
		for _, x := range r.intake {
			p("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |", x.server, x.payload, x.settings,
				fmtRate(x.res.rate()), fmtNonOK(x.res), fmtDur(x.res.quantile(0.5)), fmtDur(x.res.quantile(0.99)), fmtDur(x.res.max()),
				fmtCPU(x.cpu, x.wall), perWebhook(x.cpu, x.res.ok), fmtKB(x.hwmKB), fmtCPU(x.gen, x.wall), fmtCPU(x.other, x.wall))
		}
		var worst *loadRun
		for _, x := range r.intake {
			if x.wall > 0 && x.other.Seconds() > 0.1*x.wall.Seconds() && (worst == nil || x.other > worst.other) {
				worst = x
			}
		}
		if worst != nil {
			p("")
			p("**Warning:** other processes used up to %s of the CPU during a run: the machine was not idle; rerun for clean numbers.", fmtCPU(worst.other, worst.wall))
		}
		for _, x := range r.intake {
			if x.note != "" {
				p("")
				p("With the worker on (%s): %s.", x.payload, x.note)
			}
		}
		p("")
		for _, tplName := range r.payloadNames() {
			base, full, normal := r.find("baseline", tplName, ""), r.find("handler", tplName, "FULL, worker off"), r.find("handler", tplName, "NORMAL, worker off")
			if base != nil && full != nil && base.res.rate() > 0 {
				ratio := full.res.rate() / base.res.rate()
				p("- %s: durable intake %s/s = **%.2f×** the baseline's %s/s (target ≥ %.2f: %s).",
					tplName, fmtRate(full.res.rate()), ratio, fmtRate(base.res.rate()), targetRatio, verdict(ratio >= targetRatio))
			}
			if full != nil && normal != nil && full.res.rate() > 0 {
				p("- %s: `SQLITE_SYNCHRONOUS=NORMAL` %s/s vs `FULL` %s/s (%+.0f%%).", tplName,
					fmtRate(normal.res.rate()), fmtRate(full.res.rate()), 100*(normal.res.rate()/full.res.rate()-1))
			}
		}
	}

	if x := r.fixed; x != nil {
		p("")
		p("### Fixed offered load (open loop, latency from the scheduled send time)")
		p("")
		p("| offered | payload | settings | answered 200 | not accepted | p50 | p99 | max | server CPU | peak RSS | load generator CPU | other processes' CPU |")
		p("|---|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
		p("| %d webhooks/s for %s | %s | %s | %d (%s/s) | %s | %s | %s | %s | %s | %s | %s | %s |", r.cfg.rate, r.cfg.duration, x.payload, x.settings,
			x.res.ok, fmtRate(x.res.rate()), fmtNonOK(x.res), fmtDur(x.res.quantile(0.5)), fmtDur(x.res.quantile(0.99)), fmtDur(x.res.max()),
			fmtCPU(x.cpu, x.wall), fmtKB(x.hwmKB), fmtCPU(x.gen, x.wall), fmtCPU(x.other, x.wall))
	}

	if len(r.startups) > 0 {
		lo, hi := r.startups[0], r.startups[0]
		for _, d := range r.startups {
			lo, hi = min(lo, d), max(hi, d)
		}
		p("")
		p("### Start-up, size, memory")
		p("")
		p("| measure | value | target |")
		p("|---|--:|--:|")
		p("| start-up: exec → first `GET /` answered 200, fresh `DATA_DIR` (median of %d; min–max) | %s (%s–%s) | < %s %s |",
			len(r.startups), fmtDur(median(r.startups)), fmtDur(lo), fmtDur(hi), fmtDur(targetStartup), verdict(median(r.startups) < targetStartup))
		p("| binary size (bin/handler) | %.1f MB | |", float64(r.binSize)/1e6)
		p("| idle RSS, %s after start-up (worker on, nothing queued) | %s (peak %s) | < %s %s |", r.cfg.idle,
			fmtKB(r.idleRSS), fmtKB(r.idleHWM), fmtKB(targetIdleRSS), verdict(r.idleRSS < targetIdleRSS))
	}

	if len(r.dispatch) > 0 {
		p("")
		p("### Dispatch throughput (%d queued orders, warehouse SIMULATORS taking %s per request)", r.cfg.orders, r.cfg.whDelay)
		p("")
		if r.ingest != nil {
			p("The orders (the minimal order shipped to New York, California and Germany in turn: one")
			p("third per warehouse) were taken in with the worker off (%s/s); the handler was then", fmtRate(r.ingest.rate()))
			p("restarted with the worker on, on a copy of that database, and timed from exec until the")
			p("warehouse SIMULATORS had accepted the last order (polled every 5 ms); afterwards the order log")
			p("was checked with `handler orders list --status dispatched`.")
			p("")
		}
		p("| WORKER_CONCURRENCY (per warehouse), SQLite sync | exec → all dispatched | ready → all dispatched | dispatches/s | floor (orders × %s ÷ concurrency) | warehouse requests / distinct orders | dispatched in the order log | server CPU | target < %s |", r.cfg.whDelay, fmtDur(targetDispatch))
		p("|---|--:|--:|--:|--:|--:|--:|--:|--:|")
		for _, d := range r.dispatch {
			floor := time.Duration(r.cfg.orders) * r.cfg.whDelay / time.Duration(effective(d.concurrency, len(warehouseNames)))
			status := verdict(!d.timedOut && d.fromExec < targetDispatch)
			if d.timedOut {
				status = fmt.Sprintf("timed out with %d accepted", d.orders)
			}
			p("| %d (%d), %s | %s | %s | %s | %s | %d / %d | %d | %s | %s |", d.concurrency, max(1, d.concurrency/2), d.sync, fmtDur(d.fromExec), fmtDur(d.fromReady),
				fmtRate(float64(d.orders)/d.fromReady.Seconds()), fmtDur(floor), d.reqs, d.orders, d.done, fmtCPU(d.cpu, d.fromExec), status)
		}
	}

	p("")
	p("### Targets")
	p("")
	p("| target | measured | |")
	p("|---|---|---|")
	for _, tplName := range r.payloadNames() {
		base, full := r.find("baseline", tplName, ""), r.find("handler", tplName, "FULL, worker off")
		if base != nil && full != nil && base.res.rate() > 0 {
			ratio := full.res.rate() / base.res.rate()
			p("| durable intake ≥ %.1f× baseline (%s) | %.2f× | %s |", targetRatio, tplName, ratio, verdict(ratio >= targetRatio))
		}
	}
	if x := r.fixed; x != nil {
		p("| p99 < %s at %d webhooks/s | %s | %s |", fmtDur(targetP99), r.cfg.rate, fmtDur(x.res.quantile(0.99)), verdict(x.res.quantile(0.99) < targetP99 && x.res.nonOK() == 0))
	}
	if len(r.startups) > 0 {
		p("| start-up < %s | %s | %s |", fmtDur(targetStartup), fmtDur(median(r.startups)), verdict(median(r.startups) < targetStartup))
		p("| idle RSS < %s | %s | %s |", fmtKB(targetIdleRSS), fmtKB(r.idleRSS), verdict(r.idleRSS < targetIdleRSS))
	}
	for _, d := range r.dispatch {
		p("| %d dispatches < %s (WORKER_CONCURRENCY=%d, %s) | %s | %s |", r.cfg.orders, fmtDur(targetDispatch), d.concurrency, d.sync, fmtDur(d.fromExec), verdict(!d.timedOut && d.fromExec < targetDispatch))
	}
	p("")
	p("(The whole benchmark took %s.)", r.elapsed.Round(time.Second))
}

func (r *report) payloadNames() []string {
	var out []string
	for _, x := range r.intake {
		if !contains(out, x.payload) {
			out = append(out, x.payload)
		}
	}
	return out
}

func (r *report) find(server, payload, settings string) *loadRun {
	for _, x := range r.intake {
		if strings.HasPrefix(x.server, server) && x.payload == payload && (settings == "" || x.settings == settings) {
			return x
		}
	}
	return nil
}

// effective is how many dispatches can run at once: the worker's concurrency, capped per
// warehouse at concurrency/2 (at least 1), with the orders spread over n warehouses.
func effective(concurrency, n int) int {
	return min(concurrency, n*max(1, concurrency/2))
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

func verdict(ok bool) string {
	if ok {
		return "met"
	}
	return "**missed**"
}

func fmtDur(d time.Duration) string {
	switch {
	case d <= 0:
		return "0"
	case d < time.Millisecond:
		return fmt.Sprintf("%.0f µs", float64(d)/float64(time.Microsecond))
	case d < 10*time.Millisecond:
		return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond))
	case d < time.Second:
		return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond))
	default:
		return fmt.Sprintf("%.2f s", d.Seconds())
	}
}

func fmtRate(r float64) string {
	if r >= 100 {
		return fmt.Sprintf("%.0f", r)
	}
	return fmt.Sprintf("%.1f", r)
}

func fmtCPU(cpu, wall time.Duration) string {
	if wall <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.0f%% (%.1f s)", 100*cpu.Seconds()/wall.Seconds(), cpu.Seconds())
}

func perWebhook(cpu time.Duration, n int) string {
	if n == 0 {
		return "-"
	}
	return fmtDur(cpu / time.Duration(n))
}

func fmtKB(kb int64) string {
	if kb <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f MiB", float64(kb)/1024)
}

func fmtNonOK(r *result) string {
	n := r.nonOK()
	if n == 0 {
		return "0"
	}
	var parts []string
	for _, s := range slices.Sorted(maps.Keys(r.status)) {
		parts = append(parts, fmt.Sprintf("%d×%d", r.status[s], s))
	}
	if r.errs > 0 {
		parts = append(parts, fmt.Sprintf("%d errors", r.errs))
	}
	return fmt.Sprintf("%d (%s)", n, strings.Join(parts, ", "))
}
