package shopify

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/shipwell/orderflow/internal/order"
	"github.com/shipwell/orderflow/internal/shopifysim"
)

func TestNewConfig(t *testing.T) {
	tests := []struct {
		name     string
		cfg      Config
		endpoint string
		err      string
	}{
		{"myshopify host", Config{StoreURL: "acme.myshopify.com", AccessToken: "t"}, "https://acme.myshopify.com/admin/api/2026-10/graphql.json", ""},
		{"https url with slash", Config{StoreURL: "https://acme.myshopify.com/", AccessToken: "t", APIVersion: "2026-07"}, "https://acme.myshopify.com/admin/api/2026-07/graphql.json", ""},
		{"local sandbox", Config{StoreURL: "http://127.0.0.1:8089", AccessToken: "t"}, "http://127.0.0.1:8089/admin/api/2026-10/graphql.json", ""},
		{"unstable", Config{StoreURL: "acme.myshopify.com", AccessToken: "t", APIVersion: "unstable"}, "https://acme.myshopify.com/admin/api/unstable/graphql.json", ""},
		{"no token", Config{StoreURL: "acme.myshopify.com"}, "", "SHOPIFY_ACCESS_TOKEN"},
		{"blank token", Config{StoreURL: "acme.myshopify.com", AccessToken: "  "}, "", "SHOPIFY_ACCESS_TOKEN"},
		{"no store", Config{AccessToken: "t"}, "", "SHOPIFY_STORE_URL"},
		{"bare word", Config{StoreURL: "acme", AccessToken: "t"}, "", "want shop.myshopify.com"},
		{"path", Config{StoreURL: "https://acme.myshopify.com/admin", AccessToken: "t"}, "", "no path"},
		{"ftp", Config{StoreURL: "ftp://acme.myshopify.com", AccessToken: "t"}, "", "want https"},
		{"bad version", Config{StoreURL: "acme.myshopify.com", AccessToken: "t", APIVersion: "2026-11"}, "", "invalid API version"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			logs := &logBuffer{}
			tt.cfg.Logger = slog.New(slog.NewTextHandler(logs, nil))
			c, err := New(tt.cfg)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want it to mention %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.Endpoint() != tt.endpoint {
				t.Errorf("endpoint = %s, want %s", c.Endpoint(), tt.endpoint)
			}
			if !strings.Contains(logs.String(), "apiVersion="+c.APIVersion()) || !strings.Contains(logs.String(), "level=INFO") {
				t.Errorf("start-up log lacks the API version at Info: %s", logs.String())
			}
		})
	}
}

func TestHTTPErrorsArePermanentAndNotRetried(t *testing.T) {
	tests := []struct {
		status int
		body   string
		cause  string
	}{
		{402, `{"errors":"Unavailable Shop"}`, "frozen"},
		{403, `{"errors":"[API] This action requires merchant approval for read_orders scope."}`, "scope"},
		{404, `{"errors":"Not Found"}`, "not found"},
		{423, `{"errors":"This shop is unavailable"}`, "locked"},
		{400, `{"errors":{"query":"Required parameter missing or invalid"}}`, "bad request"},
	}
	for _, tt := range tests {
		t.Run(strings.Fields(tt.cause)[0], func(t *testing.T) {
			e := newEnv(t, shopifysim.Options{}, nil)
			e.sim.InjectFaults(shopifysim.Fault{Kind: shopifysim.FaultHTTP, Status: tt.status, Body: tt.body, Times: 10})
			_, err := e.client.FulfillmentState(context.Background(), "1")
			var he *HTTPError
			if !errors.As(err, &he) || he.StatusCode != tt.status {
				t.Fatalf("err = %v, want *HTTPError %d", err, tt.status)
			}
			if !order.IsPermanent(err) {
				t.Errorf("HTTP %d is not marked permanent", tt.status)
			}
			if !strings.Contains(err.Error(), tt.cause) {
				t.Errorf("error %q does not name the cause %q", err, tt.cause)
			}
			if n := e.sim.Requests(); n != 1 {
				t.Errorf("%d requests, want 1 (never retried)", n)
			}
			if len(e.clock.Sleeps()) != 0 {
				t.Errorf("waited %v before giving up", e.clock.Sleeps())
			}
		})
	}
}

func TestBadTokenIs401(t *testing.T) {
	e := newEnv(t, shopifysim.Options{}, func(c *Config) { c.AccessToken = "shpat_wrong" })
	_, err := e.client.FulfillmentState(context.Background(), "820982911946154508")
	var he *HTTPError
	if !errors.As(err, &he) || he.StatusCode != 401 || !order.IsPermanent(err) {
		t.Fatalf("err = %v, want permanent *HTTPError 401", err)
	}
	for _, want := range []string{"access token", "SHOPIFY_ACCESS_TOKEN", "Invalid API key"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	if strings.Contains(err.Error(), "shpat_wrong") {
		t.Error("the token leaked into the error")
	}
}

func TestGraphQLErrors(t *testing.T) {
	tests := []struct {
		name      string
		fault     shopifysim.Fault
		code      string
		permanent bool
		requests  int
	}{
		{"access denied", shopifysim.Fault{Kind: shopifysim.FaultGraphQLError, Code: "ACCESS_DENIED",
			Message: "Access denied for fulfillmentOrders field. Required access: `read_merchant_managed_fulfillment_orders` access scope."},
			"ACCESS_DENIED", true, 1},
		{"undefined field", shopifysim.Fault{Kind: shopifysim.FaultGraphQLError, Code: "undefinedField", Message: "Field 'x' doesn't exist on type 'Order'"},
			"undefinedField", true, 1},
		{"internal error retried", shopifysim.Fault{Kind: shopifysim.FaultGraphQLError, Code: "INTERNAL_SERVER_ERROR", Message: "Internal error", Times: 2},
			"", false, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, shopifysim.Options{}, nil)
			e.seedOrder(t, "5001", "1", shopifysim.FulfillmentOrderLine{SKU: "A", Quantity: 1})
			e.sim.InjectFaults(tt.fault)
			_, err := e.client.FulfillmentState(context.Background(), "5001")
			if n := e.sim.Requests(); n != tt.requests {
				t.Errorf("%d requests, want %d", n, tt.requests)
			}
			if tt.code == "" {
				if err != nil {
					t.Fatalf("err = %v after retries", err)
				}
				return
			}
			var ge *GraphQLError
			if !errors.As(err, &ge) || ge.Code() != tt.code {
				t.Fatalf("err = %v, want *GraphQLError %s", err, tt.code)
			}
			if order.IsPermanent(err) != tt.permanent {
				t.Errorf("permanent = %v, want %v", order.IsPermanent(err), tt.permanent)
			}
			if tt.code == "ACCESS_DENIED" && !strings.Contains(err.Error(), "scope") {
				t.Errorf("access denied error does not mention the scope: %v", err)
			}
		})
	}
}

func TestMaxCostExceededIsPermanent(t *testing.T) {
	e := newEnv(t, shopifysim.Options{MaxQueryCost: 100}, nil)
	_, err := e.client.FulfillmentState(context.Background(), "1")
	var ge *GraphQLError
	if !errors.As(err, &ge) || ge.Code() != CodeMaxCostExceeded || !order.IsPermanent(err) {
		t.Fatalf("err = %v, want permanent MAX_COST_EXCEEDED", err)
	}
	if e.sim.Requests() != 1 {
		t.Errorf("%d requests, want 1", e.sim.Requests())
	}
}

func TestDeprecationWarnedOncePerReason(t *testing.T) {
	e := newEnv(t, shopifysim.Options{}, nil)
	e.seedOrder(t, "5002", "1", shopifysim.FulfillmentOrderLine{SKU: "A", Quantity: 1})
	e.sim.SetDeprecationReason("https://shopify.dev/api/usage/versioning#deprecation-practices")
	for range 3 {
		if _, err := e.client.FulfillmentState(context.Background(), "5002"); err != nil {
			t.Fatal(err)
		}
	}
	e.sim.SetDeprecationReason("another reason")
	if _, err := e.client.FulfillmentState(context.Background(), "5002"); err != nil {
		t.Fatal(err)
	}
	logs := e.logs.String()
	if n := strings.Count(logs, "deprecated API usage"); n != 2 {
		t.Errorf("%d deprecation warnings, want 2 (one per distinct reason):\n%s", n, logs)
	}
	if !strings.Contains(logs, "level=WARN") || !strings.Contains(logs, "another reason") {
		t.Errorf("warning lacks level or reason:\n%s", logs)
	}
}

func TestGIDs(t *testing.T) {
	tests := []struct {
		fn   func(string) (string, error)
		in   string
		want string
		err  bool
	}{
		{OrderGID, "820982911946154508", "gid://shopify/Order/820982911946154508", false},
		{OrderGID, "18446744073709551615", "gid://shopify/Order/18446744073709551615", false},
		{OrderGID, "gid://shopify/Order/6198424240428", "gid://shopify/Order/6198424240428", false},
		{OrderGID, "gid://shopify/Location/1", "", true},
		{OrderGID, "8.2e17", "", true},
		{OrderGID, "", "", true},
		{LocationGID, " 106318430514 ", "gid://shopify/Location/106318430514", false},
		{LocationGID, "gid://shopify/Location/106318430514", "gid://shopify/Location/106318430514", false},
		{LocationGID, "-1", "", true},
		{InventoryItemGID, "53469430055218", "gid://shopify/InventoryItem/53469430055218", false},
	}
	for _, tt := range tests {
		got, err := tt.fn(tt.in)
		if (err != nil) != tt.err || got != tt.want {
			t.Errorf("%q → %q, %v; want %q (error %v)", tt.in, got, err, tt.want, tt.err)
		}
	}
	if NumericID("gid://shopify/InventoryLevel/5?inventory_item_id=7") != "5" || NumericID("42") != "42" {
		t.Error("NumericID")
	}
}

func TestRedirectIsReportedNotFollowed(t *testing.T) {
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("the redirect was followed: %s %s", r.Method, r.URL)
	}))
	defer target.Close()
	redirector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, target.URL+r.URL.Path, http.StatusMovedPermanently)
	}))
	defer redirector.Close()
	c, err := New(Config{StoreURL: redirector.URL, AccessToken: "t", Logger: discard()})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.FulfillmentState(context.Background(), "1")
	var he *HTTPError
	if !errors.As(err, &he) || he.StatusCode != 301 || !order.IsPermanent(err) || !strings.Contains(err.Error(), ".myshopify.com") {
		t.Fatalf("err = %v", err)
	}
}
