package shopify

import (
	"context"
	"errors"
	"sort"
	"strings"
	"testing"

	"github.com/shipwell/orderflow/internal/shopifysim"
)

func subsByTopic(e *env) map[string][]string {
	out := map[string][]string{}
	for _, s := range e.sim.WebhookSubscriptions() {
		out[s.Topic] = append(out[s.Topic], s.URI)
	}
	for _, l := range out {
		sort.Strings(l)
	}
	return out
}

func TestRegisterWebhooksCreatesThenChangesNothing(t *testing.T) {
	e := newEnv(t, shopifysim.Options{}, nil)
	ctx := context.Background()
	rep, err := RegisterWebhooks(ctx, e.client, "https://orders.example.com/", nil, false)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Count(ActionCreate) != 5 || !rep.Changed() {
		t.Fatalf("first run:\n%s", rep)
	}
	subs := subsByTopic(e)
	want := map[string]string{
		"ORDERS_CREATE": "https://orders.example.com/api/order-created", "ORDERS_PAID": "https://orders.example.com/api/order-paid",
		"ORDERS_FULFILLED": "https://orders.example.com/api/order-fulfilled", "ORDERS_CANCELLED": "https://orders.example.com/api/order-cancelled",
		"INVENTORY_LEVELS_UPDATE": "https://orders.example.com/api/inventory-updated",
	}
	for topic, uri := range want {
		if len(subs[topic]) != 1 || subs[topic][0] != uri {
			t.Errorf("%s → %v, want [%s]", topic, subs[topic], uri)
		}
	}
	for _, s := range e.sim.WebhookSubscriptions() {
		if s.Format != "JSON" {
			t.Errorf("%s format %s", s.Topic, s.Format)
		}
	}
	mutations := len(e.sim.Mutations())

	rep, err = RegisterWebhooks(ctx, e.client, "https://orders.example.com", nil, false)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Changed() || rep.Count(ActionUnchanged) != 5 {
		t.Errorf("second run changed something:\n%s", rep)
	}
	if n := len(e.sim.Mutations()); n != mutations {
		t.Errorf("second run sent %d mutations", n-mutations)
	}
	if !strings.Contains(rep.String(), "Summary: 0 created, 0 updated, 5 unchanged") {
		t.Errorf("report:\n%s", rep)
	}
}

func TestRegisterWebhooksUpdatesOursLeavesOthers(t *testing.T) {
	e := newEnv(t, shopifysim.Options{}, nil)
	old := e.sim.AddWebhookSubscription("ORDERS_PAID", "https://old-host.example.net/api/order-paid")           // ours: same path
	movedPath := e.sim.AddWebhookSubscription("ORDERS_CANCELLED", "https://orders.example.com/webhooks/cancel") // ours: same host
	foreign := e.sim.AddWebhookSubscription("ORDERS_CREATE", "https://third-party.example.org/hook")            // not ours
	otherTopic := e.sim.AddWebhookSubscription("PRODUCTS_UPDATE", "https://orders.example.com/api/products")    // not our topic
	dup1 := e.sim.AddWebhookSubscription("ORDERS_FULFILLED", "https://orders.example.com/api/order-fulfilled")
	dup2 := e.sim.AddWebhookSubscription("ORDERS_FULFILLED", "https://orders.example.com/api/order-fulfilled")

	rep, err := RegisterWebhooks(context.Background(), e.client, "https://orders.example.com", nil, false)
	if err != nil {
		t.Fatal(err)
	}
	byTopic := map[string][]Change{}
	for _, c := range rep.Changes {
		byTopic[c.Topic] = append(byTopic[c.Topic], c)
	}
	check := func(topic string, actions ...Action) {
		t.Helper()
		var got []Action
		for _, c := range byTopic[topic] {
			got = append(got, c.Action)
		}
		if strings.Join(actionStrings(got), ",") != strings.Join(actionStrings(actions), ",") {
			t.Errorf("%s: %v, want %v", topic, got, actions)
		}
	}
	check("orders/create", ActionCreate)
	check("orders/paid", ActionUpdate)
	check("orders/fulfilled", ActionUnchanged, ActionDuplicate)
	check("orders/cancelled", ActionUpdate)
	check("inventory_levels/update", ActionCreate)
	if c := byTopic["orders/paid"][0]; c.ID != old.ID || c.OldURI != old.URI || c.URI != "https://orders.example.com/api/order-paid" {
		t.Errorf("update = %+v", c)
	}
	if c := byTopic["orders/fulfilled"][1]; c.ID != dup2.ID {
		t.Errorf("duplicate flagged = %s, want %s (keeping %s)", c.ID, dup2.ID, dup1.ID)
	}
	if len(rep.Others) != 2 || rep.Others[0].ID != foreign.ID || rep.Others[1].ID != otherTopic.ID {
		t.Errorf("others = %+v", rep.Others)
	}
	subs := subsByTopic(e)
	if strings.Join(subs["ORDERS_CREATE"], " ") != "https://orders.example.com/api/order-created https://third-party.example.org/hook" {
		t.Errorf("ORDERS_CREATE = %v", subs["ORDERS_CREATE"])
	}
	if strings.Join(subs["ORDERS_CANCELLED"], " ") != "https://orders.example.com/api/order-cancelled" || movedPath.ID == "" {
		t.Errorf("ORDERS_CANCELLED = %v", subs["ORDERS_CANCELLED"])
	}
	if strings.Join(subs["PRODUCTS_UPDATE"], " ") != otherTopic.URI {
		t.Errorf("PRODUCTS_UPDATE touched: %v", subs["PRODUCTS_UPDATE"])
	}
	out := rep.String()
	for _, want := range []string{"update", "https://old-host.example.net/api/order-paid -> https://orders.example.com/api/order-paid",
		"duplicate", "left alone: 2", "https://third-party.example.org/hook"} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}

	// Second run: nothing to do but the same duplicate warning.
	rep, err = RegisterWebhooks(context.Background(), e.client, "https://orders.example.com", nil, false)
	if err != nil || rep.Changed() || rep.Count(ActionDuplicate) != 1 {
		t.Errorf("second run: %v\n%s", err, rep)
	}
}

func actionStrings(a []Action) []string {
	out := make([]string, len(a))
	for i, x := range a {
		out[i] = string(x)
	}
	return out
}

func TestRegisterWebhooksDryRun(t *testing.T) {
	e := newEnv(t, shopifysim.Options{}, nil)
	e.sim.AddWebhookSubscription("ORDERS_PAID", "https://old.example.com/api/order-paid")
	rep, err := RegisterWebhooks(context.Background(), e.client, "https://orders.example.com", nil, true)
	if err != nil {
		t.Fatal(err)
	}
	if len(e.sim.Mutations()) != 0 {
		t.Errorf("dry run sent %d mutations", len(e.sim.Mutations()))
	}
	if rep.Count(ActionCreate) != 4 || rep.Count(ActionUpdate) != 1 {
		t.Errorf("plan:\n%s", rep)
	}
	out := rep.String()
	for _, want := range []string{"dry run: nothing was changed", "would create", "would update", "4 to create, 1 to update"} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
}

func TestRegisterWebhooksRefusals(t *testing.T) {
	e := newEnv(t, shopifysim.Options{}, nil)
	for _, base := range []string{"http://orders.example.com", "orders.example.com", "https://", "https://x.example.com/?a=1"} {
		if _, err := RegisterWebhooks(context.Background(), e.client, base, nil, false); err == nil {
			t.Errorf("base %q accepted", base)
		}
	}
	if e.sim.Requests() != 0 {
		t.Error("refused base URL reached Shopify")
	}
	// Shopify refuses its own domains: the failures are reported, not hidden.
	rep, err := RegisterWebhooks(context.Background(), e.client, "https://acme.myshopify.com", WebhookTopics[:2], false)
	var ue *UserErrors
	if !errors.As(err, &ue) || !strings.Contains(err.Error(), "Address cannot be a Shopify or an internal domain") {
		t.Fatalf("err = %v", err)
	}
	if !strings.Contains(rep.String(), "FAILED create") || !strings.Contains(rep.String(), "0 created, 0 updated, 0 unchanged, 0 duplicate, 0 stale, 0 left alone, 2 FAILED") || rep.Failed() != 2 {
		t.Errorf("report:\n%s", rep)
	}
}

func TestAppTOML(t *testing.T) {
	got, err := AppTOML("https://orders.example.com/", "2026-10", WebhookTopics[:2])
	if err != nil {
		t.Fatal(err)
	}
	want := `# shopify.app.toml: app-specific webhook subscriptions (apply with ` + "`shopify app deploy`" + `).
# Shopify does not delete these after failed deliveries, unlike Admin API subscriptions.
[webhooks]
api_version = "2026-10"

  [[webhooks.subscriptions]]
  topics = ["orders/create"]
  uri = "https://orders.example.com/api/order-created"

  [[webhooks.subscriptions]]
  topics = ["orders/paid"]
  uri = "https://orders.example.com/api/order-paid"
`
	if got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
	full, err := AppTOML("https://orders.example.com", "", nil)
	if err != nil || strings.Count(full, "[[webhooks.subscriptions]]") != 5 || !strings.Contains(full, `topics = ["inventory_levels/update"]`) {
		t.Errorf("full TOML (%v):\n%s", err, full)
	}
	if _, err := AppTOML("http://orders.example.com", "", nil); err == nil {
		t.Error("http base accepted")
	}
}
