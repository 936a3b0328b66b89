package shopify

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/shipwell/orderflow/internal/order"
	"github.com/shipwell/orderflow/internal/shopify/gql"
)

// WebhookTopic is a webhook topic the product handles and the path that receives it.
type WebhookTopic struct {
	Topic string // as in X-Shopify-Topic and shopify.app.toml, e.g. "orders/create"
	Enum  string // the GraphQL WebhookSubscriptionTopic, e.g. "ORDERS_CREATE"
	Path  string // the product's route, e.g. "/api/order-created"
}

// WebhookTopics is the product's webhook table (DESIGN.md §5.1).
var WebhookTopics = []WebhookTopic{
	{Topic: "orders/create", Enum: "ORDERS_CREATE", Path: "/api/order-created"},
	{Topic: "orders/paid", Enum: "ORDERS_PAID", Path: "/api/order-paid"},
	{Topic: "orders/fulfilled", Enum: "ORDERS_FULFILLED", Path: "/api/order-fulfilled"},
	{Topic: "orders/cancelled", Enum: "ORDERS_CANCELLED", Path: "/api/order-cancelled"},
	{Topic: "inventory_levels/update", Enum: "INVENTORY_LEVELS_UPDATE", Path: "/api/inventory-updated"},
}

// WebhookSubscription is one of the shop's webhook subscriptions (made through the Admin API
// by this app).
type WebhookSubscription struct {
	ID            string
	Topic         string // GraphQL enum, e.g. ORDERS_CREATE
	URI           string
	Format        string // JSON or XML
	Filter        string
	IncludeFields []string
}

// WebhookAPI is what RegisterWebhooks needs from Shopify; *Client implements it.
type WebhookAPI interface {
	WebhookSubscriptions(ctx context.Context) ([]WebhookSubscription, error)
	CreateWebhookSubscription(ctx context.Context, topicEnum, uri string) (WebhookSubscription, error)
	UpdateWebhookSubscription(ctx context.Context, id, uri string) (WebhookSubscription, error)
}

var _ WebhookAPI = (*Client)(nil)

// WebhookSubscriptions lists every webhook subscription the app has in the shop.
func (c *Client) WebhookSubscriptions(ctx context.Context) ([]WebhookSubscription, error) {
	var out []WebhookSubscription
	after := ""
	for page := 0; page < maxPages; page++ {
		resp, err := gql.WebhookSubscriptions(ctx, c.gql, after)
		if err != nil {
			return nil, fmt.Errorf("list webhook subscriptions: %w", err)
		}
		ws := resp.WebhookSubscriptions
		for _, n := range ws.Nodes {
			out = append(out, subscription(n.WebhookSubscriptionFields))
		}
		if !ws.PageInfo.HasNextPage {
			return out, nil
		}
		after = ws.PageInfo.EndCursor
	}
	return nil, fmt.Errorf("shopify: more than %d pages of webhook subscriptions", maxPages)
}

// CreateWebhookSubscription subscribes uri to a topic (GraphQL enum), JSON format.
func (c *Client) CreateWebhookSubscription(ctx context.Context, topicEnum, uri string) (WebhookSubscription, error) {
	resp, err := gql.WebhookSubscriptionCreate(ctx, c.gql, gql.WebhookSubscriptionTopic(topicEnum),
		gql.WebhookSubscriptionInput{Uri: uri, Format: gql.WebhookSubscriptionFormatJson})
	if err != nil {
		return WebhookSubscription{}, fmt.Errorf("create webhook subscription %s: %w", topicEnum, err)
	}
	p := resp.WebhookSubscriptionCreate
	if err := webhookUserErrors("WebhookSubscriptionCreate", p.UserErrors); err != nil {
		return WebhookSubscription{}, err
	}
	return subscription(p.WebhookSubscription.WebhookSubscriptionFields), nil
}

// UpdateWebhookSubscription points an existing subscription at uri (JSON format).
func (c *Client) UpdateWebhookSubscription(ctx context.Context, id, uri string) (WebhookSubscription, error) {
	resp, err := gql.WebhookSubscriptionUpdate(ctx, c.gql, id,
		gql.WebhookSubscriptionInput{Uri: uri, Format: gql.WebhookSubscriptionFormatJson})
	if err != nil {
		return WebhookSubscription{}, fmt.Errorf("update webhook subscription %s: %w", id, err)
	}
	p := resp.WebhookSubscriptionUpdate
	if err := webhookUserErrors("WebhookSubscriptionUpdate", p.UserErrors); err != nil {
		return WebhookSubscription{}, err
	}
	return subscription(p.WebhookSubscription.WebhookSubscriptionFields), nil
}

func subscription(f gql.WebhookSubscriptionFields) WebhookSubscription {
	return WebhookSubscription{
		ID:            f.Id,
		Topic:         string(f.Topic),
		URI:           f.Uri,
		Format:        string(f.Format),
		Filter:        f.Filter,
		IncludeFields: f.IncludeFields,
	}
}

// userErrorer is the shape of the generated userErrors entries without a code.
type userErrorer interface {
	GetField() []string
	GetMessage() string
}

func webhookUserErrors[T any, P interface {
	*T
	userErrorer
}](op string, list []T) error {
	if len(list) == 0 {
		return nil
	}
	ue := &UserErrors{Operation: op}
	for i := range list {
		u := P(&list[i])
		ue.Errors = append(ue.Errors, UserError{Field: u.GetField(), Message: u.GetMessage()})
	}
	return order.Permanent(ue)
}

// Action is what RegisterWebhooks did (or, in a dry run, would do) about one subscription.
type Action string

// The actions.
const (
	ActionCreate    Action = "create"    // no subscription for the topic: created one
	ActionUpdate    Action = "update"    // ours, at another address: pointed it at the new one
	ActionUnchanged Action = "unchanged" // already right
	ActionDuplicate Action = "duplicate" // a second subscription for the same topic and address
	ActionStale     Action = "stale"     // ours, at an old address, next to a correct one
)

// Change is one line of a Report.
type Change struct {
	Action Action
	Topic  string // e.g. orders/create
	URI    string // the address it points at (after the change)
	OldURI string // for ActionUpdate
	ID     string // the subscription's gid ("" for a planned create)
	Err    error  // the change failed
}

// Report is what RegisterWebhooks found and did.
type Report struct {
	BaseURL string
	DryRun  bool
	Changes []Change
	// Others are subscriptions left alone: topics the product does not handle, or addresses
	// that are not the product's.
	Others []WebhookSubscription
}

// Count returns how many changes with action a succeeded (or are planned, in a dry run).
func (r Report) Count(a Action) int {
	n := 0
	for _, c := range r.Changes {
		if c.Action == a && c.Err == nil {
			n++
		}
	}
	return n
}

// Failed returns how many changes failed.
func (r Report) Failed() int {
	n := 0
	for _, c := range r.Changes {
		if c.Err != nil {
			n++
		}
	}
	return n
}

// Changed reports whether the run created or updated anything (or would, in a dry run).
func (r Report) Changed() bool { return r.Count(ActionCreate)+r.Count(ActionUpdate) > 0 }

// String renders the report for a terminal.
func (r Report) String() string {
	var b strings.Builder
	if r.DryRun {
		fmt.Fprintf(&b, "Webhook subscriptions for %s (dry run: nothing was changed)\n", r.BaseURL)
	} else {
		fmt.Fprintf(&b, "Webhook subscriptions for %s\n", r.BaseURL)
	}
	for _, c := range r.Changes {
		verb := string(c.Action)
		if r.DryRun && (c.Action == ActionCreate || c.Action == ActionUpdate) {
			verb = "would " + verb
		}
		if c.Err != nil {
			verb = "FAILED " + string(c.Action)
		}
		line := fmt.Sprintf("  %-16s %-24s %s", verb, c.Topic, c.URI)
		switch c.Action {
		case ActionUpdate:
			line = fmt.Sprintf("  %-16s %-24s %s -> %s", verb, c.Topic, c.OldURI, c.URI)
		case ActionDuplicate:
			line += "  (" + c.ID + ": another subscription already delivers here; delete one, or every event arrives twice)"
		case ActionStale:
			line += "  (" + c.ID + ": an old address of this product; delete it if nothing listens there)"
		}
		if c.Err != nil {
			line += "\n      error: " + c.Err.Error()
		}
		b.WriteString(line + "\n")
	}
	if len(r.Others) > 0 {
		fmt.Fprintf(&b, "  left alone: %d other subscription(s):\n", len(r.Others))
		for _, o := range r.Others {
			fmt.Fprintf(&b, "    %-24s %s\n", o.Topic, o.URI)
		}
	}
	created, updated := "created", "updated"
	if r.DryRun {
		created, updated = "to create", "to update"
	}
	fmt.Fprintf(&b, "Summary: %d %s, %d %s, %d unchanged, %d duplicate, %d stale, %d left alone",
		r.Count(ActionCreate), created, r.Count(ActionUpdate), updated, r.Count(ActionUnchanged),
		r.Count(ActionDuplicate), r.Count(ActionStale), len(r.Others))
	if n := r.Failed(); n > 0 {
		fmt.Fprintf(&b, ", %d FAILED", n)
	}
	b.WriteString("\n")
	return b.String()
}

// WebhookBaseURL checks a base URL for webhook addresses (https, a host, no query) and
// returns it without a trailing slash. Shopify refuses http:// addresses.
func WebhookBaseURL(base string) (string, error) {
	u, err := url.Parse(strings.TrimSpace(base))
	if err != nil {
		return "", fmt.Errorf("webhook base URL %q: %w", base, err)
	}
	if u.Scheme != "https" {
		return "", fmt.Errorf("webhook base URL %q: must start with https:// (Shopify refuses other addresses)", base)
	}
	if u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return "", fmt.Errorf("webhook base URL %q: want https://host[/prefix], without query or credentials", base)
	}
	return strings.TrimRight(u.String(), "/"), nil
}

// RegisterWebhooks makes the shop's subscriptions match topics (WebhookTopics when nil), each
// delivering to baseURL + its path. It lists what exists, creates what is missing, points the
// product's own subscriptions that use another address (same path on another host, or another
// path on the same host) at the new one, flags duplicates, and leaves everything else alone.
// A second run changes nothing. With dryRun it only plans. The error joins the failures of
// individual changes (the report shows them too).
func RegisterWebhooks(ctx context.Context, api WebhookAPI, baseURL string, topics []WebhookTopic, dryRun bool) (Report, error) {
	base, err := WebhookBaseURL(baseURL)
	if err != nil {
		return Report{}, order.Permanent(err)
	}
	if topics == nil {
		topics = WebhookTopics
	}
	rep := Report{BaseURL: base, DryRun: dryRun}
	existing, err := api.WebhookSubscriptions(ctx)
	if err != nil {
		return rep, err
	}
	baseHost := hostOf(base)
	claimed := map[string]bool{} // subscription ids accounted for
	var errs []error
	for _, t := range topics {
		want := base + t.Path
		var exact, ours []WebhookSubscription
		for _, s := range existing {
			if s.Topic != t.Enum {
				continue
			}
			switch {
			case s.URI == want:
				exact = append(exact, s)
			case pathOf(s.URI) == t.Path || (hostOf(s.URI) != "" && hostOf(s.URI) == baseHost):
				ours = append(ours, s)
			}
		}
		switch {
		case len(exact) > 0:
			rep.Changes = append(rep.Changes, Change{Action: ActionUnchanged, Topic: t.Topic, URI: want, ID: exact[0].ID})
			for _, d := range exact[1:] {
				rep.Changes = append(rep.Changes, Change{Action: ActionDuplicate, Topic: t.Topic, URI: want, ID: d.ID})
			}
			for _, s := range ours {
				rep.Changes = append(rep.Changes, Change{Action: ActionStale, Topic: t.Topic, URI: s.URI, ID: s.ID})
			}
		case len(ours) > 0:
			ch := Change{Action: ActionUpdate, Topic: t.Topic, URI: want, OldURI: ours[0].URI, ID: ours[0].ID}
			if !dryRun {
				if _, err := api.UpdateWebhookSubscription(ctx, ours[0].ID, want); err != nil {
					ch.Err = err
					errs = append(errs, fmt.Errorf("%s: %w", t.Topic, err))
				}
			}
			rep.Changes = append(rep.Changes, ch)
			for _, s := range ours[1:] {
				rep.Changes = append(rep.Changes, Change{Action: ActionStale, Topic: t.Topic, URI: s.URI, ID: s.ID})
			}
		default:
			ch := Change{Action: ActionCreate, Topic: t.Topic, URI: want}
			if !dryRun {
				s, err := api.CreateWebhookSubscription(ctx, t.Enum, want)
				if err != nil {
					ch.Err = err
					errs = append(errs, fmt.Errorf("%s: %w", t.Topic, err))
				}
				ch.ID = s.ID
			}
			rep.Changes = append(rep.Changes, ch)
		}
		for _, s := range exact {
			claimed[s.ID] = true
		}
		for _, s := range ours {
			claimed[s.ID] = true
		}
	}
	for _, s := range existing {
		if !claimed[s.ID] {
			rep.Others = append(rep.Others, s)
		}
	}
	return rep, errors.Join(errs...)
}

func hostOf(uri string) string {
	u, err := url.Parse(uri)
	if err != nil {
		return ""
	}
	return strings.ToLower(u.Host)
}

func pathOf(uri string) string {
	u, err := url.Parse(uri)
	if err != nil {
		return ""
	}
	return u.Path
}

// AppTOML renders the [webhooks] section of shopify.app.toml equivalent to RegisterWebhooks
// (topics: WebhookTopics when nil), for merchants who declare subscriptions in the app
// configuration instead: Shopify never deletes those after failed deliveries.
func AppTOML(baseURL, apiVersion string, topics []WebhookTopic) (string, error) {
	base, err := WebhookBaseURL(baseURL)
	if err != nil {
		return "", err
	}
	if apiVersion == "" {
		apiVersion = DefaultAPIVersion
	}
	if topics == nil {
		topics = WebhookTopics
	}
	var b strings.Builder
	b.WriteString("# shopify.app.toml: app-specific webhook subscriptions (apply with `shopify app deploy`).\n")
	b.WriteString("# Shopify does not delete these after failed deliveries, unlike Admin API subscriptions.\n")
	b.WriteString("[webhooks]\n")
	fmt.Fprintf(&b, "api_version = %s\n", tomlString(apiVersion))
	for _, t := range topics {
		b.WriteString("\n  [[webhooks.subscriptions]]\n")
		fmt.Fprintf(&b, "  topics = [%s]\n", tomlString(t.Topic))
		fmt.Fprintf(&b, "  uri = %s\n", tomlString(base+t.Path))
	}
	return b.String(), nil
}

// tomlString quotes s as a TOML basic string.
func tomlString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\u%04X`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}
