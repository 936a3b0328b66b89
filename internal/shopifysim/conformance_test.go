package shopifysim

import (
	"encoding/json"
	"sort"
	"strings"
	"testing"
)

// These tests replay requests recorded against a live Shopify store (testdata/) and require the
// simulator to answer the same way, up to generated ids, timestamps and cost numbers.

func TestConformanceErrorShapes(t *testing.T) {
	_, ts := newSim(t, Options{})
	var fx struct {
		Cases map[string]struct {
			Request struct {
				Query     string         `json:"query"`
				Variables map[string]any `json:"variables"`
			} `json:"request"`
			Response struct {
				Status  json.Number    `json:"status"`
				Payload map[string]any `json:"payload"`
			} `json:"response"`
		} `json:"cases"`
	}
	loadFixture(t, "graphql_error_shapes_2025-01.json", &fx)
	skip := map[string]string{
		"missingRequiredArgument": "productCreate's exactly-one-of argument rule is Shopify-specific and productCreate is not simulated",
	}
	names := make([]string, 0, len(fx.Cases))
	for n := range fx.Cases {
		names = append(names, n)
	}
	sort.Strings(names)
	if len(names) < 8 {
		t.Fatalf("fixture has %d cases", len(names))
	}
	for _, name := range names {
		c := fx.Cases[name]
		t.Run(name, func(t *testing.T) {
			if why, ok := skip[name]; ok {
				t.Skip(why)
			}
			status, body := gqlPost(t, ts.URL, testToken, c.Request.Query, c.Request.Variables)
			if status != 200 {
				t.Fatalf("HTTP %d, want 200 (Shopify answers validation errors with 200)", status)
			}
			if _, ok := body["extensions"]; ok {
				t.Errorf("validation error carries extensions (cost): %v", body["extensions"])
			}
			assertSameJSON(t, name, c.Response.Payload, body)
		})
	}
}

// fulfillmentFixture is fulfillmentCreate_cases_2026-04.json.
type fulfillmentFixture struct {
	Mutation string `json:"mutation"`
	Cases    map[string]struct {
		Variables map[string]any `json:"variables"`
		Response  map[string]any `json:"response"`
	} `json:"cases"`
	HydrateQuery    string           `json:"fulfillmentOrderHydrate_query"`
	HydrateExamples []map[string]any `json:"fulfillmentOrderHydrate_examples"`
}

// seedRecordedFulfillmentOrders seeds the fulfillment orders the live capture used, in the
// states its hydrate query showed before the mutations.
func seedRecordedFulfillmentOrders(t *testing.T, s *Server, fx fulfillmentFixture) {
	t.Helper()
	if _, err := s.AddLocation("106318430514", "Shop location"); err != nil {
		t.Fatal(err)
	}
	for _, ex := range fx.HydrateExamples {
		fo, _ := dig(ex, "data", "fulfillmentOrder").(map[string]any)
		if fo == nil {
			continue
		}
		var lines []FulfillmentOrderLine
		for _, n := range dig(fo, "lineItems", "nodes").([]any) {
			n := n.(map[string]any)
			total, _ := n["totalQuantity"].(json.Number).Int64()
			rem, _ := n["remainingQuantity"].(json.Number).Int64()
			r := int(rem)
			lines = append(lines, FulfillmentOrderLine{
				ID: n["id"].(string), LineItemID: dig(n, "lineItem", "id").(string),
				Title: dig(n, "lineItem", "title").(string), Quantity: int(total), Remaining: &r,
			})
		}
		o := Order{
			ID:   dig(fo, "order", "id").(string),
			Name: dig(fo, "order", "name").(string),
			FulfillmentOrders: []FulfillmentOrder{{
				ID: fo["id"].(string), Status: fo["status"].(string),
				LocationID: dig(fo, "assignedLocation", "location", "id").(string), Lines: lines,
			}},
		}
		if _, err := s.AddOrder(o); err != nil {
			t.Fatal(err)
		}
	}
}

func TestConformanceFulfillmentCreate(t *testing.T) {
	s, ts := newSim(t, Options{})
	var fx fulfillmentFixture
	loadFixture(t, "fulfillmentCreate_cases_2026-04.json", &fx)
	seedRecordedFulfillmentOrders(t, s, fx)

	// The hydrate reads first: same fulfillment order states as recorded.
	hydrateIDs := []string{"9825095713074", "9825095811378", "9825095844146", "9825095876914", "999999999", "999999998",
		"9825095909682", "9825098105138", "9825098170674"}
	if len(hydrateIDs) != len(fx.HydrateExamples) {
		t.Fatalf("fixture has %d hydrate examples", len(fx.HydrateExamples))
	}
	for i, id := range hydrateIDs {
		status, body := gqlPost(t, ts.URL, testToken, fx.HydrateQuery, map[string]any{"id": "gid://shopify/FulfillmentOrder/" + id})
		if status != 200 {
			t.Fatalf("hydrate %s: HTTP %d", id, status)
		}
		assertSameJSON(t, "hydrate "+id, fx.HydrateExamples[i], body)
	}

	order := []string{"cancelled", "nonPositiveQuantity", "nonPositiveQuantityV2", "overFulfill", "missingFulfillmentOrder",
		"missingFulfillmentOrderV2", "closed", "inProgress", "happyPath"}
	if len(order) != len(fx.Cases) {
		t.Fatalf("fixture has %d cases", len(fx.Cases))
	}
	for _, name := range order {
		c := fx.Cases[name]
		query := fx.Mutation
		if strings.HasSuffix(name, "V2") {
			query = strings.Replace(query, "fulfillmentCreate(", "fulfillmentCreateV2(", 1)
			query = strings.Replace(query, "FulfillmentInput!", "FulfillmentV2Input!", 1)
		}
		status, body := gqlPost(t, ts.URL, testToken, query, c.Variables)
		if status != 200 {
			t.Fatalf("%s: HTTP %d", name, status)
		}
		assertSameJSON(t, name, c.Response, body)
	}

	// Effects: the two successes decremented remaining quantities and closed their orders.
	for _, id := range []string{"9825098105138", "9825098170674"} {
		o, ok := s.Order(orderOfFO(t, s, id))
		if !ok {
			t.Fatalf("order of %s missing", id)
		}
		fo := o.FulfillmentOrders[0]
		if fo.Status != "CLOSED" || *fo.Lines[0].Remaining != 0 {
			t.Errorf("FO %s after fulfilling everything: status %s remaining %d, want CLOSED 0", id, fo.Status, *fo.Lines[0].Remaining)
		}
	}
	fs := s.Fulfillments("")
	if len(fs) != 2 || fs[1].TrackingNumber != "FCP-HAPPY-1783035559545" || fs[1].Company != "Hermes" || fs[1].Lines[0].Quantity != 1 {
		t.Errorf("fulfillments = %+v", fs)
	}
	ok, failed := 0, 0
	for _, m := range s.Mutations() {
		switch m.Outcome {
		case "applied":
			ok++
		case "userErrors":
			failed++
		}
	}
	if ok != 2 || failed != 7 {
		t.Errorf("mutation log: %d applied, %d refused; want 2 and 7", ok, failed)
	}
}

func orderOfFO(t *testing.T, s *Server, foID string) string {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	fo, ok := s.fos[foID]
	if !ok {
		t.Fatalf("no FO %s", foID)
	}
	return fo.orderID
}

type inventoryFixture struct {
	Mutation string `json:"mutation_inventorySetQuantities"`
	Cases    map[string]struct {
		Variables map[string]any `json:"variables"`
		Response  map[string]any `json:"response"`
	} `json:"cases"`
	Unknown map[string]struct {
		Variables map[string]any `json:"variables"`
		Response  map[string]any `json:"response"`
	} `json:"unknownIdValidation"`
}

func TestConformanceInventorySetQuantities(t *testing.T) {
	s, ts := newSim(t, Options{})
	var fx inventoryFixture
	loadFixture(t, "inventorySetQuantities_cases_2026-04.json", &fx)
	if _, err := s.AddLocation("106318430514", "Shop location"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AddInventoryItem(InventoryItem{ID: "53469430055218", SKU: "HAR-408", Available: map[string]int{"106318430514": 0}}); err != nil {
		t.Fatal(err)
	}
	// The recorded success selected id and createdAt too.
	withIDs := strings.Replace(fx.Mutation, "inventoryAdjustmentGroup {\n", "inventoryAdjustmentGroup {\n      id\n      createdAt\n", 1)
	withCodes := strings.Replace(fx.Mutation, "      field\n      message\n", "      field\n      message\n      code\n", 1)
	noDirective := strings.Replace(strings.Replace(fx.Mutation, " @idempotent(key: $idempotencyKey)", "", 1),
		", $idempotencyKey: String!", "", 1)

	type step struct {
		name, query string
		vars        map[string]any
		want        map[string]any
	}
	steps := []step{
		{"inventorySetQuantities", withIDs, fx.Cases["inventorySetQuantities"].Variables, fx.Cases["inventorySetQuantities"].Response},
		{"missingSetIdempotency", noDirective, fx.Cases["missingSetIdempotency"].Variables, fx.Cases["missingSetIdempotency"].Response},
		{"missingSetChangeFromQuantity", fx.Mutation, fx.Cases["missingSetChangeFromQuantity"].Variables, fx.Cases["missingSetChangeFromQuantity"].Response},
		{"legacySetShape", fx.Mutation, fx.Cases["legacySetShape"].Variables, fx.Cases["legacySetShape"].Response},
		{"setUnknownInventoryItem", withCodes, fx.Unknown["setUnknownInventoryItem"].Variables, fx.Unknown["setUnknownInventoryItem"].Response},
		{"setUnknownLocation", withCodes, fx.Unknown["setUnknownLocation"].Variables, fx.Unknown["setUnknownLocation"].Response},
	}
	for _, st := range steps {
		if st.vars == nil || st.want == nil {
			t.Fatalf("%s: missing in fixture", st.name)
		}
		vars := st.vars
		if st.name == "missingSetIdempotency" {
			vars = map[string]any{"input": st.vars["input"]}
		}
		status, body := gqlPost(t, ts.URL, testToken, st.query, vars)
		if status != 200 {
			t.Fatalf("%s: HTTP %d", st.name, status)
		}
		want, got := st.want, body
		if errs, ok := want["errors"].([]any); ok {
			// Locations depend on the document's layout, which the capture does not keep.
			want, got = withoutLocations(want, errs), withoutLocations(got, got["errors"].([]any))
		}
		assertSameJSON(t, st.name, want, got)
	}
	if q, _ := s.Available("53469430055218", "106318430514"); q != 5 {
		t.Errorf("available after the recorded set = %d, want 5", q)
	}

	// The on-hand cases' userErrors (negative, too high, invalid reason) carry the same
	// messages and codes on inventorySetQuantities, under its own input path.
	for name, c := range map[string]string{
		"setOnHandNegativeQuantity": "quantities", "setOnHandTooHighQuantity": "quantities", "setOnHandInvalidReason": "",
	} {
		rec := fx.Unknown[name]
		in := rec.Variables["input"].(map[string]any)
		q := in["setQuantities"].([]any)[0].(map[string]any)
		q["changeFromQuantity"] = 5
		vars := map[string]any{"idempotencyKey": name, "input": map[string]any{
			"name": "available", "reason": in["reason"], "quantities": []any{q},
		}}
		_, body := gqlPost(t, ts.URL, testToken, withCodes, vars)
		got := dig(body, "data", "inventorySetQuantities", "userErrors").([]any)
		want := dig(rec.Response, "data", "inventorySetOnHandQuantities", "userErrors").([]any)
		if len(got) != 1 {
			t.Fatalf("%s: userErrors = %v", name, got)
		}
		g, w := got[0].(map[string]any), want[0].(map[string]any)
		if g["message"] != w["message"] || g["code"] != w["code"] {
			t.Errorf("%s: got %v, recorded %v", name, g, w)
		}
		wantField := w["field"]
		if c == "quantities" {
			wantField = []any{"input", "quantities", "0", "quantity"}
		}
		assertSameJSON(t, name+" field", wantField, g["field"])
	}
}

func withoutLocations(body map[string]any, errs []any) map[string]any {
	out := map[string]any{}
	for k, v := range body {
		out[k] = v
	}
	list := make([]any, len(errs))
	for i, e := range errs {
		m := map[string]any{}
		for k, v := range e.(map[string]any) {
			if k != "locations" {
				m[k] = v
			}
		}
		list[i] = m
	}
	out["errors"] = list
	return out
}

const webhookFields = `id topic format includeFields metafieldNamespaces filter createdAt updatedAt
  endpoint { __typename ... on WebhookHttpEndpoint { callbackUrl } }`

func TestConformanceWebhookSubscriptions(t *testing.T) {
	s, ts := newSim(t, Options{})
	var fx struct {
		Cases map[string]struct {
			Variables map[string]any `json:"variables"`
			Response  struct {
				Status  json.Number    `json:"status"`
				Payload map[string]any `json:"payload"`
			} `json:"response"`
		} `json:"cases"`
	}
	loadFixture(t, "webhookSubscription_cases_2026-04.json", &fx)
	create := `mutation($topic: WebhookSubscriptionTopic!, $webhookSubscription: WebhookSubscriptionInput!) {
  webhookSubscriptionCreate(topic: $topic, webhookSubscription: $webhookSubscription) {
    webhookSubscription { ` + webhookFields + ` }
    userErrors { field message } } }`
	update := `mutation($id: ID!, $webhookSubscription: WebhookSubscriptionInput!) {
  webhookSubscriptionUpdate(id: $id, webhookSubscription: $webhookSubscription) {
    webhookSubscription { ` + webhookFields + ` }
    userErrors { field message } } }`
	detail := `query($id: ID!) { webhookSubscription(id: $id) { ` + webhookFields + ` } }`
	del := `mutation($id: ID!) { webhookSubscriptionDelete(id: $id) { deletedWebhookSubscriptionId userErrors { field message } } }`
	validation := `mutation($unknownId: ID!, $unknownUpdateInput: WebhookSubscriptionInput!) {
  updateUnknown: webhookSubscriptionUpdate(id: $unknownId, webhookSubscription: $unknownUpdateInput) {
    webhookSubscription { id } userErrors { field message } }
  deleteUnknown: webhookSubscriptionDelete(id: $unknownId) { deletedWebhookSubscriptionId userErrors { field message } }
  createMissingUri: webhookSubscriptionCreate(topic: SHOP_UPDATE, webhookSubscription: {format: JSON}) {
    webhookSubscription { id } userErrors { field message } } }`
	uriValidation := `mutation($baselineTopic: WebhookSubscriptionTopic!, $baselineWebhookSubscription: WebhookSubscriptionInput!) {
  createHttpUriRejected: webhookSubscriptionCreate(topic: SHOP_UPDATE, webhookSubscription: {uri: "http://example.com/hook", format: JSON}) {
    webhookSubscription { id } userErrors { field message } }
  createInternalDomainRejected: webhookSubscriptionCreate(topic: SHOP_UPDATE, webhookSubscription: {uri: "https://localhost/hook", format: JSON}) {
    webhookSubscription { id } userErrors { field message } }
  createShopifyDomainRejected: webhookSubscriptionCreate(topic: SHOP_UPDATE, webhookSubscription: {uri: "https://acme-demo.myshopify.com/hook", format: JSON}) {
    webhookSubscription { id } userErrors { field message } }
  baselineCreate: webhookSubscriptionCreate(topic: $baselineTopic, webhookSubscription: $baselineWebhookSubscription) {
    webhookSubscription { id } userErrors { field message } } }`

	docs := map[string]string{
		"create": create, "createWithoutFilter": create, "createWithEmptyFilter": create, "createValidFilter": create,
		"createUpdateBase": create, "createInvalidFilter": create,
		"update": update, "updateValidFilter": update, "updateInvalidFilter": update, "updateBlankUri": update,
		"updateHttpUri": update, "updateInvalidPubSub": update, "updateHttp": update,
		"detailAfterCreate": detail, "detailAfterUpdate": detail, "postDeleteDetail": detail, "detailWithoutFilter": detail,
		"detailValidFilter": detail, "detailAfterValidUpdate": detail, "detailAfterFailedUpdates": detail,
		"delete": del, "deleteWithoutFilter": del, "deleteWithEmptyFilter": del, "deleteValidFilter": del, "deleteUpdateBase": del,
		"validation": validation, "primary": uriValidation,
	}
	order := []string{"/lifecycle/create", "/lifecycle/detailAfterCreate", "/lifecycle/update", "/lifecycle/detailAfterUpdate",
		"/lifecycle/delete", "/lifecycle/postDeleteDetail", "/filterDefault/createWithoutFilter", "/filterDefault/detailWithoutFilter",
		"/filterDefault/deleteWithoutFilter", "/filterDefault/createWithEmptyFilter", "/filterDefault/deleteWithEmptyFilter",
		"/filterValidation/createValidFilter", "/filterValidation/detailValidFilter", "/filterValidation/deleteValidFilter",
		"/filterValidation/createUpdateBase", "/filterValidation/updateValidFilter", "/filterValidation/detailAfterValidUpdate",
		"/filterValidation/updateInvalidFilter", "/filterValidation/deleteUpdateBase", "/filterValidation/createInvalidFilter",
		"/updateValidation/create", "/updateValidation/updateBlankUri", "/updateValidation/updateHttpUri",
		"/updateValidation/updateInvalidPubSub", "/updateValidation/detailAfterFailedUpdates", "/updateValidation/delete",
		"/validation", "uri-validation/primary", "uri-validation/updateHttp"}
	// Recorded subscription ids → the simulator's ids for the same subscriptions.
	ids := map[string]string{}
	replayed := 0
	for _, name := range order {
		c, ok := fx.Cases[name]
		if !ok {
			t.Fatalf("fixture lacks %s", name)
		}
		doc := docs[name[strings.LastIndexByte(name, '/')+1:]]
		if doc == "" {
			t.Fatalf("no document for %s", name)
		}
		vars := map[string]any{}
		for k, v := range c.Variables {
			if id, ok := v.(string); ok && ids[id] != "" {
				v = ids[id]
			}
			vars[k] = v
		}
		status, body := gqlPost(t, ts.URL, testToken, doc, vars)
		if want, _ := c.Response.Status.Int64(); int(want) != status {
			t.Fatalf("%s: HTTP %d, recorded %d", name, status, want)
		}
		// Map newly created ids.
		for _, path := range [][]string{{"webhookSubscriptionCreate", "webhookSubscription", "id"}, {"baselineCreate", "webhookSubscription", "id"}} {
			rec, _ := dig(c.Response.Payload, append([]string{"data"}, path...)...).(string)
			got, _ := dig(body, append([]string{"data"}, path...)...).(string)
			if rec != "" && got != "" {
				ids[rec] = got
			}
		}
		assertSameJSON(t, name, c.Response.Payload, body)
		replayed++
	}
	if replayed != len(order) {
		t.Fatalf("replayed %d", replayed)
	}
	if got := s.WebhookSubscriptions(); len(got) != 1 || got[0].URI != "https://example.com/hermes-webhook-uri-validation-1777966202288" {
		t.Errorf("subscriptions left = %+v, want only the uri-validation baseline", got)
	}
}

func TestConformanceOrderFulfillmentOrdersRead(t *testing.T) {
	s, ts := newSim(t, Options{})
	var fx struct {
		Operations map[string]struct {
			Query     string         `json:"query"`
			Variables map[string]any `json:"variables"`
			Response  struct {
				Payload map[string]any `json:"payload"`
			} `json:"response"`
		} `json:"operations"`
	}
	loadFixture(t, "order_fulfillmentOrders_read_2025-01.json", &fx)
	if _, err := s.AddLocation("106318430514", "Shop location"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AddOrder(Order{ID: "8891466154290", Name: "#1721", FulfillmentOrders: []FulfillmentOrder{{
		ID: "9829595414834", LocationID: "106318430514",
		Lines: []FulfillmentOrderLine{{SKU: "ASSIGNED-LOCATION-20260704231734", Quantity: 1}},
	}}}); err != nil {
		t.Fatal(err)
	}
	op := fx.Operations["downstreamRead"]
	status, body := gqlPost(t, ts.URL, testToken, op.Query, op.Variables)
	if status != 200 {
		t.Fatalf("HTTP %d", status)
	}
	assertSameJSON(t, "downstreamRead", op.Response.Payload, body)
}
