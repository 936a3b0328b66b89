package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/shipwell/orderflow/internal/config"
	"github.com/shipwell/orderflow/internal/httpapi"
	"github.com/shipwell/orderflow/internal/inventory"
	"github.com/shipwell/orderflow/internal/order"
	"github.com/shipwell/orderflow/internal/orderflow"
	"github.com/shipwell/orderflow/internal/servicebus"
	"github.com/shipwell/orderflow/internal/webhook"
)

// serve runs the service until ctx ends (SIGTERM/SIGINT), then shuts down gracefully: stop
// taking requests, let in-flight requests and jobs finish (or release them to the queue), close
// the database.
func serve(ctx context.Context, cfg *config.Config, log *slog.Logger) error {
	started := time.Now()
	verifier, err := webhook.NewVerifier(cfg.WebhookSecret, cfg.WebhookSecretPrevious)
	if err != nil {
		return err
	}
	sched, err := inventorySchedule(cfg)
	if err != nil {
		return err
	}
	mode := "standalone"
	addr := ":" + strconv.Itoa(cfg.Port)
	if cfg.FunctionsMode() {
		// The host connects to 127.0.0.1 over IPv4 (reference §1).
		mode, addr = "functions", "127.0.0.1:"+cfg.FunctionsPort
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		if cfg.FunctionsMode() {
			return fmt.Errorf("FUNCTIONS_CUSTOMHANDLER_PORT=%s: %w", cfg.FunctionsPort, err)
		}
		return fmt.Errorf("PORT=%d: %w", cfg.Port, err)
	}
	if !cfg.UsesCosmos() || !cfg.UsesServiceBus() {
		// The embedded database is in use: one serving process per DATA_DIR.
		unlock, err := lockDataDir(cfg.DataDir)
		if err != nil {
			ln.Close()
			return err
		}
		defer unlock()
	}
	a, err := buildApp(ctx, cfg, log, needs{})
	if err != nil {
		ln.Close()
		return err
	}
	defer a.close()
	if a.local != nil {
		// Jobs a crashed predecessor had leased run again now, not when their lease runs out.
		if n, err := a.local.ReclaimLeases(ctx); err != nil {
			return err
		} else if n > 0 {
			log.Warn("reclaimed jobs leased by a previous process that did not stop cleanly", "jobs", n)
		}
	}
	log.Info("starting", append([]any{"mode", mode, "version", version}, cfg.LogAttrs()...)...)

	srv := &httpapi.Server{Service: a.service, Verifier: verifier, Log: log, MaxBodyBytes: cfg.MaxBodyBytes,
		Deadline: cfg.WebhookDeadline, MaxInFlight: cfg.MaxInFlight}
	var root http.Handler
	if cfg.FunctionsMode() {
		// The invocation routes carry no authentication of their own: only the Functions host,
		// on 127.0.0.1, may reach them. Standalone never serves them.
		root = srv.Handler(functionRoutes(a, srv, func() http.Handler { return root }))
	} else {
		root = srv.Handler()
	}
	hs := &http.Server{
		Handler:           root,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	srv.SetReady(true)
	serveErr := make(chan error, 1)
	go func() { serveErr <- hs.Serve(ln) }()
	log.Info("ready", "mode", mode, "addr", ln.Addr().String(), "startup_ms", time.Since(started).Milliseconds())

	bg, stopBG := context.WithCancel(ctx)
	defer stopBG()
	var wg sync.WaitGroup
	spawn := func(name string, f func(context.Context)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f(bg)
			log.Debug("stopped", "component", name)
		}()
	}
	if a.local != nil && cfg.LocalWorker {
		w := &orderflow.Worker{Queue: a.local, Process: a.service.Process, Concurrency: cfg.WorkerConcurrency, Log: log,
			LeaseTTL: 2*cfg.WarehouseTimeout + time.Minute}
		spawn("worker", w.Run)
	}
	if a.bus != nil && !cfg.FunctionsMode() {
		spawn("servicebus", func(ctx context.Context) {
			err := a.bus.Run(ctx, func(ctx context.Context, j order.Job, d servicebus.Delivery) order.Outcome {
				return a.service.Process(ctx, j)
			})
			if err != nil {
				log.Error("service bus consumer stopped", "error", err)
			}
		})
	}
	if a.local == nil || cfg.UsesCosmos() {
		// Jobs are written with their orders, then handed to the queue: re-send any a crash or a
		// queue outage left behind.
		spawn("outbox", func(ctx context.Context) { every(ctx, time.Minute, func() { sweep(ctx, a, log) }) })
	}
	if a.local != nil {
		spawn("prune", func(ctx context.Context) {
			every(ctx, time.Hour, func() {
				if err := a.local.PruneJobs(ctx, 7*24*time.Hour); err != nil && ctx.Err() == nil {
					log.Warn("prune finished jobs", "error", err)
				}
			})
		})
	}
	if !cfg.FunctionsMode() {
		c := cron.New(cron.WithSeconds(), cron.WithLocation(time.UTC), cron.WithLogger(cron.DiscardLogger))
		if _, err := c.AddFunc(sched, func() { runSync(bg, a, log, "schedule") }); err != nil {
			stopBG()
			wg.Wait()
			return fmt.Errorf("inventory sync schedule %q: %w", sched, err)
		}
		c.Start()
		defer func() { <-c.Stop().Done() }()
		log.Info("inventory sync scheduled", "schedule", sched)
	}

	select {
	case <-ctx.Done():
		log.Info("shutting down")
	case err := <-serveErr:
		stopBG()
		wg.Wait()
		return fmt.Errorf("http server: %w", err)
	}
	srv.SetReady(false)
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil {
		log.Warn("http shutdown", "error", err)
	}
	stopBG()
	wg.Wait()
	log.Info("stopped")
	return nil
}

// every runs f now and then every interval until ctx ends.
func every(ctx context.Context, interval time.Duration, f func()) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		f()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func sweep(ctx context.Context, a *app, log *slog.Logger) {
	n, err := a.service.SweepOutbox(ctx)
	if err != nil && ctx.Err() == nil {
		log.Warn("outbox sweep", "error", err)
	}
	if n > 0 {
		log.Info("outbox sweep re-sent jobs", "jobs", n)
	}
}

// runSync runs one inventory sync and logs its outcome.
func runSync(ctx context.Context, a *app, log *slog.Logger, trigger string) (inventory.Report, error) {
	if a.syncer.Catalog == nil {
		err := errors.New("Shopify is not configured (SHOPIFY_STORE_URL, SHOPIFY_ACCESS_TOKEN)")
		log.Error("inventory sync skipped", "error", err)
		return inventory.Report{}, err
	}
	rep, err := a.syncer.Run(ctx, trigger, false)
	switch {
	case errors.Is(err, inventory.ErrRunning):
		log.Warn("inventory sync skipped: another sync is running")
	case err != nil:
		log.Error("inventory sync failed", "error", err)
	default:
		log.Info("inventory sync done", "trigger", trigger, "duration_ms", rep.FinishedAt.Sub(rep.StartedAt).Milliseconds())
	}
	return rep, err
}

func syncInventory(ctx context.Context, cfg *config.Config, log *slog.Logger, out io.Writer) error {
	a, err := buildApp(ctx, cfg, log, needs{shopify: true})
	if err != nil {
		return err
	}
	defer a.close()
	rep, err := runSync(ctx, a, log, "command")
	printSyncReport(out, rep)
	return err
}

func printSyncReport(out io.Writer, rep inventory.Report) {
	for _, w := range rep.Warehouses {
		fmt.Fprintf(out, "%-16s feed %d SKUs: %d updated (%d batches), %d unchanged", w.Name, w.FeedSKUs, w.Updated, w.Batches, w.Unchanged)
		if w.InFlight > 0 {
			fmt.Fprintf(out, ", %d adjusted for queued orders", w.InFlight)
		}
		fmt.Fprintln(out)
		for _, l := range []struct {
			label string
			skus  []string
		}{{"unknown in Shopify", w.Unknown}, {"ambiguous (several items)", w.Ambiguous},
			{"listed twice in the feed", w.Duplicated}, {"not stocked at the location", w.NotStocked},
			{"negative in the feed (set to 0)", w.Negative}, {"errors", w.Errors}} {
			if len(l.skus) > 0 {
				fmt.Fprintf(out, "  %s: %v\n", l.label, l.skus)
			}
		}
	}
}
