package shopifysim

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"
)

const testToken = "shpat_test_token"

// fakeClock is a settable clock.
type fakeClock struct{ t time.Time }

func (c *fakeClock) Now() time.Time { return c.t }

func newSim(t *testing.T, opts Options) (*Server, *httptest.Server) {
	t.Helper()
	if opts.AccessToken == "" {
		opts.AccessToken = testToken
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	s, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s)
	t.Cleanup(ts.Close)
	return s, ts
}

// gqlPost sends a GraphQL request and returns the HTTP status and the decoded body.
func gqlPost(t *testing.T, url, token, query string, vars any) (int, map[string]any) {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req, _ := http.NewRequest(http.MethodPost, url+"/admin/api/2026-10/graphql.json", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("X-Shopify-Access-Token", token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.Header.Get("X-Simulator") != "shopify" {
		t.Errorf("response lacks X-Simulator: shopify")
	}
	var out map[string]any
	raw, _ := io.ReadAll(resp.Body)
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&out); err != nil {
		t.Fatalf("decode %s: %v", raw, err)
	}
	return resp.StatusCode, out
}

// loadFixture reads testdata/name into v (numbers as json.Number).
func loadFixture(t *testing.T, name string, v any) {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		t.Fatal(err)
	}
}

var (
	reVolatileGID = regexp.MustCompile(`^gid://shopify/(Fulfillment|FulfillmentLineItem|InventoryAdjustmentGroup|WebhookSubscription)/\d+$`)
	reTimestamp   = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$`)
)

// normalize replaces what legitimately differs between the live store and the simulator:
// generated ids, timestamps, and the numbers of extensions.cost (its shape stays).
func normalize(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := map[string]any{}
		for k, e := range x {
			if k == "cost" {
				out[k] = costShape(e)
				continue
			}
			out[k] = normalize(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = normalize(e)
		}
		return out
	case string:
		if m := reVolatileGID.FindStringSubmatch(x); m != nil {
			return "gid://shopify/" + m[1] + "/*"
		}
		if reTimestamp.MatchString(x) {
			return "<time>"
		}
	}
	return v
}

// costShape keeps the keys of extensions.cost and whether actualQueryCost is null.
func costShape(v any) any {
	m, ok := v.(map[string]any)
	if !ok {
		return v
	}
	out := map[string]any{}
	for k, e := range m {
		switch {
		case k == "throttleStatus":
			ts := map[string]any{}
			if tm, ok := e.(map[string]any); ok {
				for tk := range tm {
					ts[tk] = "<n>"
				}
			}
			out[k] = ts
		case e == nil:
			out[k] = nil
		default:
			out[k] = "<n>"
		}
	}
	return out
}

// assertSameJSON compares two decoded JSON values after normalize.
func assertSameJSON(t *testing.T, label string, want, got any) {
	t.Helper()
	w, g := normalize(roundTrip(want)), normalize(roundTrip(got))
	if !reflect.DeepEqual(w, g) {
		wb, _ := json.MarshalIndent(w, "", "  ")
		gb, _ := json.MarshalIndent(g, "", "  ")
		t.Errorf("%s: simulator answer differs from the recorded one\nrecorded:\n%s\nsimulator:\n%s", label, wb, gb)
	}
}

// roundTrip re-decodes v so that both sides use the same Go types.
func roundTrip(v any) any {
	b, _ := json.Marshal(v)
	var out any
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	_ = dec.Decode(&out)
	return out
}

func dig(v any, path ...string) any {
	for _, p := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[p]
	}
	return v
}

func mustContain(t *testing.T, s, sub string) {
	t.Helper()
	if !strings.Contains(s, sub) {
		t.Errorf("%q does not contain %q", s, sub)
	}
}
