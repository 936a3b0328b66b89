package main

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/shipwell/orderflow/internal/functions/hostsim"
)

// TestAppConfiguration checks the repository's host.json and function.json files as the host
// SIMULATOR loads them (same validation as the host's start-up) against the product's contract
// (DESIGN.md §3, reference §3-§5).
func TestAppConfiguration(t *testing.T) {
	app, err := hostsim.LoadApp("..")
	if err != nil {
		t.Fatalf("LoadApp: %v", err)
	}
	h := app.Host
	if d := h.CustomHandler.Description; d.DefaultExecutablePath != "handler" || d.WorkingDirectory != "" || d.Arguments == nil || len(d.Arguments) != 0 {
		t.Errorf("customHandler.description = %+v", d)
	}
	if !h.CustomHandler.EnableForwardingHTTPRequest || h.CustomHandler.EnableProxyingHTTPRequest {
		t.Errorf("customHandler = %+v, want forwarding on, proxying off", h.CustomHandler)
	}
	if h.ExtensionBundle.ID != "Microsoft.Azure.Functions.ExtensionBundle" || h.ExtensionBundle.Version != "[4.*, 5.0.0)" {
		t.Errorf("extensionBundle = %+v", h.ExtensionBundle)
	}
	if h.RoutePrefix() != "api" {
		t.Errorf("routePrefix = %q", h.RoutePrefix())
	}
	timeout := h.Timeout()
	if timeout <= 0 || timeout > 10*time.Minute {
		t.Errorf("functionTimeout %q: must be set and within the Consumption maximum (10 min)", h.FunctionTimeout)
	}
	sb := h.Extensions.ServiceBus
	if sb == nil {
		t.Fatal("extensions.serviceBus missing")
	}
	if sb.AutoCompleteMessages == nil || !*sb.AutoCompleteMessages {
		t.Error("autoCompleteMessages must be true: a custom handler cannot settle messages itself")
	}
	if sb.PrefetchCount != 0 || sb.MaxConcurrentCalls < 1 || sb.MaxConcurrentCalls > 32 {
		t.Errorf("prefetchCount %d maxConcurrentCalls %d", sb.PrefetchCount, sb.MaxConcurrentCalls)
	}
	lock, err := hostsim.ParseTimeSpan(sb.MaxAutoLockRenewalDuration)
	if err != nil || lock < timeout {
		t.Errorf("maxAutoLockRenewalDuration %q must cover functionTimeout %v (%v)", sb.MaxAutoLockRenewalDuration, timeout, err)
	}

	if len(app.Functions) != len(functionNames) {
		t.Errorf("%d functions, want %d", len(app.Functions), len(functionNames))
	}
	for _, name := range functionNames {
		fn := app.Functions[name]
		if fn == nil {
			t.Errorf("function %s missing", name)
			continue
		}
		tr := fn.Trigger
		switch name {
		case "fulfillment-router":
			if !tr.Is("serviceBusTrigger") || tr.QueueName != "%SERVICE_BUS_QUEUE%" || tr.Connection != "SERVICE_BUS_CONNECTION" ||
				tr.DataType != "binary" || tr.Cardinality != "" || len(fn.Bindings) != 1 {
				t.Errorf("%s: %+v", name, tr)
			}
		case "inventory-sync":
			if !tr.Is("timerTrigger") || tr.Schedule != "0 0 * * * *" || tr.UseMonitor == nil || !*tr.UseMonitor || tr.RunOnStartup || len(fn.Bindings) != 1 {
				t.Errorf("%s: %+v", name, tr)
			}
		default:
			wantLevel := "anonymous"
			if name == "fulfillment-callback" {
				wantLevel = "function"
			}
			if !tr.Is("httpTrigger") || tr.Name != "req" || tr.AuthLevel != wantLevel || tr.Route != name ||
				len(tr.Methods) != 1 || tr.Methods[0] != "post" {
				t.Errorf("%s: %+v", name, tr)
			}
			// Exactly one httpTrigger and one http output, or the host stops forwarding.
			if !fn.HTTPInAndOut || !fn.Forwarding || len(fn.Bindings) != 2 || fn.Bindings[1].Name != "res" {
				t.Errorf("%s: forwarding does not apply (bindings %+v)", name, fn.Bindings)
			}
			if f, _, ok := app.MatchRoute(http.MethodPost, "/api/"+name); !ok || f.Name != name {
				t.Errorf("POST /api/%s does not reach %s", name, name)
			}
		}
	}
}

// TestAppStartsUnderSimulator starts the repository's app root in the host SIMULATOR (with an
// in-process stand-in handler): the %SERVICE_BUS_QUEUE% setting is required, like on Azure,
// and webhook requests are forwarded to /api/<name> while fulfillment-callback needs a key.
func TestAppStartsUnderSimulator(t *testing.T) {
	paths := make(chan string, 10)
	stub := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			paths <- r.URL.Path
		}
		w.WriteHeader(http.StatusOK)
	})
	if _, err := hostsim.StartE(hostsim.Options{AppRoot: "..", Handler: stub}); err == nil || !strings.Contains(err.Error(), "SERVICE_BUS_QUEUE") {
		t.Errorf("without SERVICE_BUS_QUEUE: %v, want the host's indexing error", err)
	}
	sim := hostsim.Start(t, hostsim.Options{AppRoot: "..", Handler: stub, Env: map[string]string{"SERVICE_BUS_QUEUE": "fulfillment-queue"}})
	if res := sim.HTTP(http.MethodPost, "order-created", nil, nil, []byte("{}")); res.StatusCode != 200 || !res.Forwarded || <-paths != "/api/order-created" {
		t.Errorf("order-created: %d forwarded=%v", res.StatusCode, res.Forwarded)
	}
	if res := sim.HTTP(http.MethodPost, "fulfillment-callback", nil, nil, []byte("{}")); res.StatusCode != 401 || res.Invoked {
		t.Errorf("fulfillment-callback without a key: %d invoked=%v", res.StatusCode, res.Invoked)
	}
	if res := sim.HTTP(http.MethodGet, "order-paid", nil, nil, nil); res.StatusCode != 404 {
		t.Errorf("GET order-paid: %d, want 404 (methods: post)", res.StatusCode)
	}
	if res := sim.ServiceBus("fulfillment-router", []byte("{}"), hostsim.Message{}); res.Queue != "fulfillment-queue" {
		t.Errorf("queue = %q", res.Queue)
	}
}
