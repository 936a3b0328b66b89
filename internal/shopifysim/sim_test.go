package shopifysim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"
)

func TestAuthAndRoutes(t *testing.T) {
	_, ts := newSim(t, Options{})
	for _, token := range []string{"", "wrong"} {
		status, body := gqlPost(t, ts.URL, token, `{ shop { id } }`, nil)
		if status != http.StatusUnauthorized || body["errors"] != "[API] Invalid API key or access token (unrecognized login or wrong password)" {
			t.Errorf("token %q: %d %v", token, status, body)
		}
	}
	resp, err := http.Post(ts.URL+"/admin/api/latest/graphql.json", "application/json", strings.NewReader(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound || resp.Header.Get("X-Simulator") != "shopify" {
		t.Errorf("bad version: %d %v", resp.StatusCode, resp.Header)
	}
	req, _ := http.NewRequest(http.MethodPost, ts.URL+"/admin/api/2026-10/graphql.json", strings.NewReader(`not json`))
	req.Header.Set("X-Shopify-Access-Token", testToken)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(b), "Required parameter missing or invalid") {
		t.Errorf("bad body: %d %s", resp.StatusCode, b)
	}
}

func TestCostBucket(t *testing.T) {
	clock := &fakeClock{t: time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)}
	s, ts := newSim(t, Options{Now: clock.Now})
	if _, err := s.AddInventoryItem(InventoryItem{SKU: "A", Available: map[string]int{"1": 1}}); err != nil {
		t.Fatal(err)
	}
	q := `query($q: String!) { productVariants(first: 100, query: $q) { nodes { id inventoryItem { id } } } }`
	_, body := gqlPost(t, ts.URL, testToken, q, map[string]any{"q": "sku:A"})
	cost := dig(body, "extensions", "cost").(map[string]any)
	if cost["requestedQueryCost"] != json.Number("102") || cost["actualQueryCost"] != json.Number("3") {
		t.Errorf("cost = %v, want requested 102 (2 + 100×1), actual 3", cost)
	}
	ts0 := cost["throttleStatus"].(map[string]any)
	if ts0["maximumAvailable"] != json.Number("2000") || ts0["currentlyAvailable"] != json.Number("1997") || ts0["restoreRate"] != json.Number("100") {
		t.Errorf("throttleStatus = %v", ts0)
	}

	// THROTTLED: HTTP 200, the documented body, nothing executed.
	s.SetBucket(50, -1)
	status, body := gqlPost(t, ts.URL, testToken, q, map[string]any{"q": "sku:A"})
	if status != 200 || body["data"] != nil {
		t.Fatalf("throttled: %d %v", status, body)
	}
	e := body["errors"].([]any)[0].(map[string]any)
	if e["message"] != "Throttled" || dig(e, "extensions", "code") != "THROTTLED" ||
		dig(e, "extensions", "documentation") != "https://shopify.dev/api/usage/rate-limits" {
		t.Errorf("throttled error = %v", e)
	}
	if c := dig(body, "extensions", "cost").(map[string]any); c["actualQueryCost"] != nil || c["requestedQueryCost"] != json.Number("102") {
		t.Errorf("throttled cost = %v", c)
	}
	// 0.6 s later 60 points came back: 110 ≥ 102.
	clock.t = clock.t.Add(600 * time.Millisecond)
	if status, body := gqlPost(t, ts.URL, testToken, q, map[string]any{"q": "sku:A"}); status != 200 || body["errors"] != nil {
		t.Errorf("after refill: %d %v", status, body)
	}

	// A single query above 1,000 points.
	big := `{ productVariants(first: 250) { nodes { inventoryItem { inventoryLevels(first: 10) { nodes { location { id } } } } } } }`
	_, body = gqlPost(t, ts.URL, testToken, big, nil)
	e = body["errors"].([]any)[0].(map[string]any)
	if dig(e, "extensions", "code") != "MAX_COST_EXCEEDED" || !strings.Contains(e["message"].(string), "exceeds the single query max cost limit (1000)") {
		t.Errorf("max cost: %v", body)
	}
}

func TestFaults(t *testing.T) {
	s, ts := newSim(t, Options{})
	s.InjectFaults(
		Fault{Kind: FaultHTTP, Status: 429, RetryAfter: "2.0", Body: `{"errors":"Exceeded"}`, Operation: "Other"},
		Fault{Kind: FaultHTTP, Status: 503, Body: `{"errors":"down"}`, Times: 2},
	)
	q := `query Mine { shop { id } }`
	for i := range 2 {
		req := mustReq(t, ts.URL, q)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 503 {
			t.Errorf("request %d: %d, want 503 (the 429 is for operation Other)", i, resp.StatusCode)
		}
	}
	body, _ := json.Marshal(map[string]any{"query": `query Other { shop { id } }`, "operationName": "Other"})
	req, _ := http.NewRequest(http.MethodPost, ts.URL+"/admin/api/2026-10/graphql.json", bytes.NewReader(body))
	req.Header.Set("X-Shopify-Access-Token", testToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") != "2.0" {
		t.Errorf("429 fault: %d %v", resp.StatusCode, resp.Header)
	}
	s.InjectFaults(Fault{Kind: FaultDrop})
	if _, err := http.DefaultClient.Do(mustReq(t, ts.URL, q)); err == nil {
		t.Error("dropped connection gave an answer")
	}
	if s.Requests() != 4 {
		t.Errorf("requests = %d", s.Requests())
	}
}

func mustReq(t *testing.T, url, query string) *http.Request {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query})
	req, err := http.NewRequest(http.MethodPost, url+"/admin/api/2026-10/graphql.json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Shopify-Access-Token", testToken)
	return req
}

func TestSelectionAliasesFragmentsTypename(t *testing.T) {
	s, ts := newSim(t, Options{})
	it, err := s.AddInventoryItem(InventoryItem{SKU: "ABC-1", Available: map[string]int{"106318430514": 4}})
	if err != nil {
		t.Fatal(err)
	}
	q := `query Q($ids: [ID!]!, $loc: ID!) {
  nodes(ids: $ids) {
    __typename
    ... on InventoryItem { itemId: id ...Level }
  }
}
fragment Level on InventoryItem { level: inventoryLevel(locationId: $loc) { quantities(names: ["available", "on_hand"]) { name q: quantity } } }`
	_, body := gqlPost(t, ts.URL, testToken, q, map[string]any{"ids": []string{it.ID, "gid://shopify/InventoryItem/1"}, "loc": "gid://shopify/Location/106318430514"})
	want := `{"nodes":[{"__typename":"InventoryItem","itemId":"` + it.ID + `","level":{"quantities":[{"name":"available","q":4},{"name":"on_hand","q":4}]}},null]}`
	got, _ := json.Marshal(body["data"])
	if string(got) != want {
		t.Errorf("data\n got %s\nwant %s", got, want)
	}
}

func TestFuzzySKUSearch(t *testing.T) {
	s, ts := newSim(t, Options{})
	for _, sku := range []string{"ABC", "ABC-1", "abc-2", "XABC", "KIT ABC", "ZZZ"} {
		if _, err := s.AddInventoryItem(InventoryItem{SKU: sku}); err != nil {
			t.Fatal(err)
		}
	}
	q := `query($q: String!) { productVariants(first: 50, query: $q) { nodes { sku } } }`
	tests := map[string]string{
		`sku:ABC`:                 "ABC ABC-1 abc-2 KIT ABC",
		`sku:"ABC"`:               "ABC ABC-1 abc-2 KIT ABC",
		`sku:"ZZZ" OR sku:"XABC"`: "XABC ZZZ",
		`skew:ABC`:                "ABC ABC-1 abc-2 XABC KIT ABC ZZZ", // unknown field: everything
		`sku:NOPE`:                "",
	}
	for query, want := range tests {
		_, body := gqlPost(t, ts.URL, testToken, q, map[string]any{"q": query})
		var got []string
		for _, n := range dig(body, "data", "productVariants", "nodes").([]any) {
			got = append(got, n.(map[string]any)["sku"].(string))
		}
		if strings.Join(got, " ") != want {
			t.Errorf("%s → %q, want %q", query, strings.Join(got, " "), want)
		}
	}
}

func TestAddOrderFromOfficialWebhookSample(t *testing.T) {
	s, _ := newSim(t, Options{})
	body, err := os.ReadFile("testdata/orders_create.json")
	if err != nil {
		t.Fatal(err)
	}
	o, err := s.AddOrderFromWebhook(body, "106318430514")
	if err != nil {
		t.Fatal(err)
	}
	if o.ID != "gid://shopify/Order/820982911946154508" || o.Name != "#9999" {
		t.Errorf("order = %s %s", o.ID, o.Name)
	}
	if len(o.FulfillmentOrders) != 1 || o.FulfillmentOrders[0].Status != "OPEN" || o.FulfillmentOrders[0].LocationID != "gid://shopify/Location/106318430514" {
		t.Fatalf("FOs = %+v", o.FulfillmentOrders)
	}
	lines := o.FulfillmentOrders[0].Lines
	if len(lines) != 5 {
		t.Fatalf("%d lines", len(lines))
	}
	if lines[3].LineItemID != "gid://shopify/LineItem/976318377106520349" || lines[3].SKU != "SKU2006-020" || lines[3].Quantity != 1 {
		t.Errorf("line 3 = %+v (ids above 2^53 must stay exact)", lines[3])
	}
	if _, err := s.AddOrderFromWebhook([]byte(`{"id": 1.5e3}`), "1"); err == nil {
		t.Error("a float id was accepted")
	}
	if _, err := s.AddOrderFromWebhook([]byte(`not json`), "1"); err == nil {
		t.Error("bad JSON accepted")
	}
}

func TestAdminAPI(t *testing.T) {
	s, ts := newSim(t, Options{})
	sample, _ := os.ReadFile("testdata/orders_create.json")
	do := func(method, path, body string, want int) []byte {
		t.Helper()
		req, _ := http.NewRequest(method, ts.URL+path, strings.NewReader(body))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != want {
			t.Fatalf("%s %s: %d %s, want %d", method, path, resp.StatusCode, b, want)
		}
		if resp.Header.Get("X-Simulator") != "shopify" {
			t.Errorf("%s %s lacks X-Simulator", method, path)
		}
		return b
	}
	var o Order
	if err := json.Unmarshal(do("POST", "/_sim/orders/from-webhook?location=5", string(sample), 201), &o); err != nil {
		t.Fatal(err)
	}
	do("POST", "/_sim/orders/from-webhook", string(sample), 400)
	foID := o.FulfillmentOrders[0].ID
	do("POST", "/_sim/fulfillment-orders/"+strings.TrimPrefix(foID, "gid://shopify/FulfillmentOrder/")+"/hold", "", 204)
	var got Order
	_ = json.Unmarshal(do("GET", "/_sim/orders/820982911946154508", "", 200), &got)
	if got.FulfillmentOrders[0].Status != "ON_HOLD" {
		t.Errorf("after hold: %+v", got.FulfillmentOrders[0])
	}
	do("POST", "/_sim/fulfillment-orders/"+strings.TrimPrefix(foID, "gid://shopify/FulfillmentOrder/")+"/release", "", 204)
	do("POST", "/_sim/orders/820982911946154508/cancel", "", 204)
	_ = json.Unmarshal(do("GET", "/_sim/orders/820982911946154508", "", 200), &got)
	if got.FulfillmentOrders[0].Status != "CLOSED" || !got.Cancelled {
		t.Errorf("after cancel: %+v", got)
	}
	do("GET", "/_sim/orders/1", "", 404)

	var items []InventoryItem
	_ = json.Unmarshal(do("POST", "/_sim/inventory", `[{"sku":"A-1","available":{"5":3}},{"sku":"A-1"}]`, 201), &items)
	if len(items) != 2 || items[0].Available["gid://shopify/Location/5"] != 3 {
		t.Errorf("seeded = %+v", items)
	}
	_ = json.Unmarshal(do("GET", "/_sim/inventory", "", 200), &items)
	if len(items) != 2 {
		t.Errorf("inventory = %+v", items)
	}
	do("POST", "/_sim/inventory", `[{"sku":"A-1","bogus":1}]`, 400)
	do("POST", "/_sim/faults", `[{"kind":"http","status":500}]`, 204)
	if len(s.faults) != 1 {
		t.Errorf("faults = %+v", s.faults)
	}
	if b := do("GET", "/_sim/fulfillments", "", 200); strings.TrimSpace(string(b)) != "[]" {
		t.Errorf("fulfillments = %s", b)
	}
	if b := do("GET", "/_sim/", "", 200); !strings.Contains(string(b), "SIMULATOR") {
		t.Errorf("index = %s", b)
	}
}

const setDoc = `mutation($input: InventorySetQuantitiesInput!, $key: String!) {
  inventorySetQuantities(input: $input) @idempotent(key: $key) {
    inventoryAdjustmentGroup { changes { name delta } }
    userErrors { field message code }
  }
}`

func setVars(key string, qs ...map[string]any) map[string]any {
	list := make([]any, len(qs))
	for i, q := range qs {
		list[i] = q
	}
	return map[string]any{"key": key, "input": map[string]any{"name": "available", "reason": "correction", "quantities": list}}
}

func TestInventorySetQuantitiesRules(t *testing.T) {
	s, ts := newSim(t, Options{})
	it, err := s.AddInventoryItem(InventoryItem{SKU: "A", Available: map[string]int{"1": 2}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.AddLocation("2", "Unstocked"); err != nil {
		t.Fatal(err)
	}
	q := func(qty int, from any) map[string]any {
		return map[string]any{"inventoryItemId": it.ID, "locationId": "gid://shopify/Location/1", "quantity": qty, "changeFromQuantity": from}
	}
	userErrs := func(body map[string]any) string {
		var parts []string
		for _, e := range dig(body, "data", "inventorySetQuantities", "userErrors").([]any) {
			m := e.(map[string]any)
			parts = append(parts, fmt.Sprint(m["field"], " ", m["code"]))
		}
		return strings.Join(parts, "; ")
	}

	// CAS mismatch: nothing applied.
	_, body := gqlPost(t, ts.URL, testToken, setDoc, setVars("k1", q(5, 1)))
	if got := userErrs(body); got != "[input quantities 0 changeFromQuantity] CHANGE_FROM_QUANTITY_STALE" {
		t.Errorf("stale: %s", got)
	}
	// Applied; changes rows for available and on_hand.
	_, body = gqlPost(t, ts.URL, testToken, setDoc, setVars("k2", q(5, 2)))
	if got, _ := json.Marshal(dig(body, "data", "inventorySetQuantities", "inventoryAdjustmentGroup")); string(got) !=
		`{"changes":[{"delta":3,"name":"available"},{"delta":3,"name":"on_hand"}]}` {
		t.Errorf("group = %s", got)
	}
	// Replay: same outcome, not applied again.
	if err := s.SetStock(it.ID, "1", 1); err != nil {
		t.Fatal(err)
	}
	_, replay := gqlPost(t, ts.URL, testToken, setDoc, setVars("k2", q(5, 2)))
	if a, b := fmt.Sprint(replay["data"]), fmt.Sprint(body["data"]); a != b {
		t.Errorf("replay %s, original %s", a, b)
	}
	if n, _ := s.Available(it.ID, "1"); n != 1 {
		t.Errorf("replay applied again: %d", n)
	}
	// Same key, other variables.
	_, body = gqlPost(t, ts.URL, testToken, setDoc, setVars("k2", q(6, 1)))
	if got := userErrs(body); !strings.Contains(got, "IDEMPOTENCY_KEY_PARAMETER_MISMATCH") {
		t.Errorf("mismatch: %s", got)
	}
	// Null changeFromQuantity skips the compare; duplicates and unstocked locations refused.
	_, body = gqlPost(t, ts.URL, testToken, setDoc, setVars("k3", q(7, nil)))
	if got := userErrs(body); got != "" {
		t.Errorf("null compare: %s", got)
	}
	unstocked := map[string]any{"inventoryItemId": it.ID, "locationId": "2", "quantity": 1, "changeFromQuantity": 0}
	_, body = gqlPost(t, ts.URL, testToken, setDoc, setVars("k4", q(8, 7), q(9, 7), unstocked))
	if got := userErrs(body); got != "[input quantities 1 inventoryItemId] NO_DUPLICATE_INVENTORY_ITEM_ID_GROUP_ID_PAIR; [input quantities 2 locationId] ITEM_NOT_STOCKED_AT_LOCATION" {
		t.Errorf("dup/unstocked: %s", got)
	}
	if n, _ := s.Available(it.ID, "1"); n != 7 {
		t.Errorf("available = %d, want 7 (refused call applied nothing)", n)
	}
	// Over the 250 cap: a top-level error.
	var many []map[string]any
	for i := range 251 {
		many = append(many, q(i, nil))
	}
	_, body = gqlPost(t, ts.URL, testToken, setDoc, setVars("k5", many...))
	if e := body["errors"].([]any)[0].(map[string]any); dig(e, "extensions", "code") != "MAX_INPUT_SIZE_EXCEEDED" {
		t.Errorf("251: %v", e)
	}
	// Whitespace key.
	_, body = gqlPost(t, ts.URL, testToken, setDoc, setVars("  ", q(1, nil)))
	if e := body["errors"].([]any)[0].(map[string]any); dig(e, "extensions", "code") != "BAD_REQUEST" {
		t.Errorf("blank key: %v", e)
	}
}

func TestWebhookDuplicateAndFilters(t *testing.T) {
	s, ts := newSim(t, Options{})
	doc := `mutation($topic: WebhookSubscriptionTopic!, $sub: WebhookSubscriptionInput!) {
  webhookSubscriptionCreate(topic: $topic, webhookSubscription: $sub) { webhookSubscription { id uri } userErrors { field message } } }`
	create := func(topic, uri string) []any {
		_, body := gqlPost(t, ts.URL, testToken, doc, map[string]any{"topic": topic, "sub": map[string]any{"uri": uri, "format": "JSON"}})
		return dig(body, "data", "webhookSubscriptionCreate", "userErrors").([]any)
	}
	if errs := create("ORDERS_CREATE", "https://h.example.com/api/order-created"); len(errs) != 0 {
		t.Fatal(errs)
	}
	errs := create("ORDERS_CREATE", "https://h.example.com/api/order-created")
	if len(errs) != 1 || errs[0].(map[string]any)["message"] != "Address for this topic has already been taken" {
		t.Errorf("duplicate: %v", errs)
	}
	if errs := create("ORDERS_PAID", "https://h.example.com/api/order-created"); len(errs) != 0 {
		t.Errorf("same address, other topic: %v", errs)
	}
	for _, bad := range []string{"http://h.example.com/x", "https://10.0.0.1/x", "ftp://h.example.com/x", ""} {
		if errs := create("ORDERS_CANCELLED", bad); len(errs) == 0 {
			t.Errorf("%q accepted", bad)
		}
	}
	if errs := create("ORDERS_CANCELLED", "pubsub://proj:topic"); len(errs) != 0 {
		t.Errorf("pubsub refused: %v", errs)
	}
	if n := len(s.WebhookSubscriptions()); n != 3 {
		t.Errorf("%d subscriptions", n)
	}
}
