package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/shipwell/orderflow/internal/config"
	"github.com/shipwell/orderflow/internal/order"
	"github.com/shipwell/orderflow/internal/shopify"
)

func ordersCmd(ctx context.Context, cfg *config.Config, log *slog.Logger, args []string, out io.Writer) error {
	if len(args) == 0 {
		return usageError{"orders: want list or show"}
	}
	switch args[0] {
	case "list":
		fs := newFlags("orders list")
		status := fs.String("status", "", "only this status")
		attention := fs.Bool("attention", false, "only orders flagged for the operator")
		limit := fs.Int("limit", 100, "at most this many")
		asJSON := fs.Bool("json", false, "JSON output")
		if pos, err := parseArgs(fs, args[1:]); err != nil || len(pos) > 0 {
			return usageError{fmt.Sprintf("orders list: %v%v", err, pos)}
		}
		if *status != "" && !order.Status(*status).Valid() {
			return usageError{fmt.Sprintf("orders list: unknown status %q", *status)}
		}
		a, err := buildApp(ctx, cfg, log, needs{existing: true})
		if err != nil {
			return err
		}
		defer a.close()
		os, err := a.store.List(ctx, order.Filter{Status: order.Status(*status), Attention: *attention, Limit: *limit})
		if err != nil {
			return err
		}
		if *asJSON {
			return writeJSON(out, os)
		}
		printOrders(out, os)
		if len(os) == *limit {
			fmt.Fprintf(out, "(the first %d; there may be more: --limit N)\n", *limit)
		}
		return nil
	case "show":
		fs := newFlags("orders show")
		asJSON := fs.Bool("json", false, "JSON output")
		pos, err := parseArgs(fs, args[1:])
		if err != nil {
			return usageError{"orders show: " + err.Error()}
		}
		if len(pos) != 1 {
			return usageError{"orders show: want one order id"}
		}
		a, err := buildApp(ctx, cfg, log, needs{existing: true})
		if err != nil {
			return err
		}
		defer a.close()
		o, err := findRecord(ctx, a, pos[0])
		if err != nil {
			return err
		}
		if *asJSON {
			e := json.NewEncoder(out)
			e.SetIndent("", "  ")
			return e.Encode(o)
		}
		printOrder(out, o)
		return nil
	}
	return usageError{fmt.Sprintf("orders: unknown subcommand %q", args[0])}
}

// findRecord accepts a record id or a Shopify order id.
func findRecord(ctx context.Context, a *app, id string) (*order.Order, error) {
	o, err := a.store.Get(ctx, id)
	if err == nil || !errors.Is(err, order.ErrNotFound) {
		return o, err
	}
	os, err := a.store.FindByOrderID(ctx, id)
	if err != nil {
		return nil, err
	}
	switch len(os) {
	case 0:
		return nil, fmt.Errorf("no order %s", id)
	case 1:
		return os[0], nil
	}
	var ids []string
	for _, o := range os {
		ids = append(ids, o.ID)
	}
	return nil, fmt.Errorf("order %s exists in several shops; use a record id: %s", id, strings.Join(ids, ", "))
}

func deadLettersCmd(ctx context.Context, cfg *config.Config, log *slog.Logger, args []string, out io.Writer) error {
	if len(args) == 0 {
		return usageError{"dead-letters: want list or replay"}
	}
	switch args[0] {
	case "list":
		fs := newFlags("dead-letters list")
		asJSON := fs.Bool("json", false, "JSON output")
		if err := fs.Parse(args[1:]); err != nil {
			return usageError{"dead-letters list: " + err.Error()}
		}
		a, err := buildApp(ctx, cfg, log, needs{existing: true})
		if err != nil {
			return err
		}
		defer a.close()
		os, err := a.store.List(ctx, order.Filter{DeadLettered: true, Limit: 1000})
		if err != nil {
			return err
		}
		if *asJSON {
			return writeJSON(out, os)
		}
		tw := tabwriter.NewWriter(out, 2, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ORDER\tRECORD\tJOB\tAT\tREASON")
		for _, o := range os {
			for _, dl := range o.DeadLetters {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", o.OrderID, o.ID, dl.Job.ID, dl.At.Format(time.RFC3339), dl.Reason)
			}
		}
		return tw.Flush()
	case "replay":
		fs := newFlags("dead-letters replay")
		all := fs.Bool("all", false, "replay every dead letter")
		job := fs.String("job", "", "only this job id")
		pos, err := parseArgs(fs, args[1:])
		if err != nil {
			return usageError{"dead-letters replay: " + err.Error()}
		}
		if *all == (len(pos) == 1) || len(pos) > 1 {
			return usageError{"dead-letters replay: want an order id or --all"}
		}
		a, err := buildApp(ctx, cfg, log, needs{existing: true})
		if err != nil {
			return err
		}
		defer a.close()
		var n int
		if *all {
			n, err = a.service.ReplayAll(ctx)
		} else {
			var o *order.Order
			if o, err = findRecord(ctx, a, pos[0]); err != nil {
				return err
			}
			n, err = a.service.Replay(ctx, o.ID, *job)
		}
		fmt.Fprintf(out, "%d job(s) queued again\n", n)
		return err
	}
	return usageError{fmt.Sprintf("dead-letters: unknown subcommand %q", args[0])}
}

func quarantineCmd(ctx context.Context, cfg *config.Config, log *slog.Logger, args []string, out io.Writer) error {
	if len(args) == 0 || args[0] != "list" {
		return usageError{"quarantine: want list"}
	}
	fs := newFlags("quarantine list")
	asJSON := fs.Bool("json", false, "JSON output (includes the raw bodies)")
	if err := fs.Parse(args[1:]); err != nil {
		return usageError{"quarantine list: " + err.Error()}
	}
	a, err := buildApp(ctx, cfg, log, needs{existing: true})
	if err != nil {
		return err
	}
	defer a.close()
	rs, err := a.store.ListReceipts(ctx, order.ReceiptQuarantine, 1000)
	if err != nil {
		return err
	}
	if *asJSON {
		return writeJSON(out, rs)
	}
	tw := tabwriter.NewWriter(out, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "RECEIVED\tSHOP\tTOPIC\tWEBHOOK ID\tBYTES\tREASON")
	for _, r := range rs {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\n", r.ReceivedAt.Format(time.RFC3339), r.Shop, r.Topic, r.WebhookID, len(r.Body), r.Reason)
	}
	return tw.Flush()
}

func registerWebhooks(ctx context.Context, cfg *config.Config, log *slog.Logger, args []string, out io.Writer) error {
	fs := newFlags("register-webhooks")
	base := fs.String("base-url", "", "public https base URL of this deployment, e.g. https://myapp.azurewebsites.net")
	dry := fs.Bool("dry-run", false, "show the plan, change nothing")
	if err := fs.Parse(args); err != nil {
		return usageError{"register-webhooks: " + err.Error()}
	}
	if *base == "" {
		return usageError{"register-webhooks: --base-url is required"}
	}
	baseURL, err := shopify.WebhookBaseURL(*base)
	if err != nil {
		return err
	}
	if cfg.StoreURL == "" || cfg.AccessToken == "" {
		return errors.New("register-webhooks: set SHOPIFY_STORE_URL and SHOPIFY_ACCESS_TOKEN")
	}
	c, err := shopify.New(shopify.Config{StoreURL: cfg.StoreURL, AccessToken: cfg.AccessToken, APIVersion: cfg.APIVersion, Logger: log})
	if err != nil {
		return err
	}
	rep, err := shopify.RegisterWebhooks(ctx, c, baseURL, shopify.WebhookTopics, *dry)
	fmt.Fprint(out, rep.String())
	if err != nil {
		return err
	}
	toml, err := shopify.AppTOML(baseURL, c.APIVersion(), shopify.WebhookTopics)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "\nThe same subscriptions declared in shopify.app.toml (app-specific subscriptions are never\ndeleted by Shopify after failed deliveries):\n\n%s", toml)
	return nil
}

// writeJSON prints v as indented JSON; an empty list prints [] (not null).
func writeJSON[T any](out io.Writer, v []T) error {
	if v == nil {
		v = []T{}
	}
	e := json.NewEncoder(out)
	e.SetIndent("", "  ")
	return e.Encode(v)
}

func printOrders(out io.Writer, os []*order.Order) {
	tw := tabwriter.NewWriter(out, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ORDER\tNAME\tSTATUS\tROUTE\tUPDATED\tREASON")
	for _, o := range os {
		reason := o.Reason
		if o.Attention != "" {
			reason = strings.TrimPrefix(reason+"; ATTENTION: "+o.Attention, "; ")
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", o.OrderID, o.Name, o.Status, dash(o.Route), o.UpdatedAt.UTC().Format(time.RFC3339), reason)
	}
	tw.Flush()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func printOrder(out io.Writer, o *order.Order) {
	fmt.Fprintf(out, "order %s %s (record %s, shop %s)\n", o.OrderID, o.Name, o.ID, o.Shop)
	fmt.Fprintf(out, "status:     %s", o.Status)
	if o.Reason != "" {
		fmt.Fprintf(out, " (%s)", o.Reason)
	}
	fmt.Fprintln(out)
	if o.Attention != "" {
		fmt.Fprintf(out, "ATTENTION:  %s\n", o.Attention)
	}
	fmt.Fprintf(out, "route:      %s   priority: %s   total: %s %s   payment: %s\n", dash(o.Route), dash(o.Priority), dash(o.TotalPrice), o.Currency, dash(o.FinancialStatus))
	fmt.Fprintf(out, "ship to:    %s\n", o.ShippingAddress.Summary())
	if o.WarehouseFulfillmentID != "" {
		fmt.Fprintf(out, "warehouse:  fulfillment %s\n", o.WarehouseFulfillmentID)
	}
	fmt.Fprintf(out, "lines:\n")
	for _, l := range o.Lines {
		fmt.Fprintf(out, "  %s × %d  %s (line %s)\n", dash(l.SKU), l.FulfillableQuantity, l.Name, l.LineItemID)
	}
	fmt.Fprintf(out, "events:\n")
	for _, e := range o.Events {
		applied := "applied"
		if !e.Applied {
			applied = "not applied"
		}
		fmt.Fprintf(out, "  %s  %-18s %-8s %s", e.ReceivedAt.UTC().Format(time.RFC3339), e.Topic, e.Source, applied)
		if e.WebhookID != "" {
			fmt.Fprintf(out, "  webhook %s", e.WebhookID)
		}
		if e.Note != "" {
			fmt.Fprintf(out, "  — %s", e.Note)
		}
		fmt.Fprintln(out)
	}
	if len(o.Attempts) > 0 {
		fmt.Fprintf(out, "attempts:\n")
		for _, at := range o.Attempts {
			fmt.Fprintf(out, "  %s  %-8s %-16s #%d %-6s %s\n", at.At.UTC().Format(time.RFC3339), at.Kind, at.Warehouse, at.Attempt, at.Outcome, at.Detail)
		}
	}
	for _, s := range o.Shipments {
		fmt.Fprintf(out, "shipment %s: %s %s", s.Key, s.Carrier, s.TrackingNumber)
		if s.ShopifyFulfillmentID != "" {
			fmt.Fprintf(out, " → Shopify fulfillment %s", s.ShopifyFulfillmentID)
		} else {
			fmt.Fprintf(out, " (Shopify fulfillment pending)")
		}
		fmt.Fprintln(out)
		for _, n := range s.Notes {
			fmt.Fprintf(out, "  note: %s\n", n)
		}
	}
	for _, dl := range o.DeadLetters {
		fmt.Fprintf(out, "dead letter %s at %s: %s\n", dl.Job.ID, dl.At.UTC().Format(time.RFC3339), dl.Reason)
	}
}
