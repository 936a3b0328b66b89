package shopifysim

import (
	"encoding/json"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"github.com/vektah/gqlparser/v2/ast"
)

// validReasons are the inventory adjustment reasons Shopify accepts (recorded live).
var validReasons = []string{"correction", "cycle_count_available", "damaged", "movement_canceled", "movement_created",
	"movement_received", "movement_updated", "other", "promotion", "quality_control", "received", "reservation_created",
	"reservation_deleted", "reservation_updated", "restock", "safety_stock", "shrinkage"}

// mutationRoot is the Mutation object; its resolvers apply the mutations.
func (s *Server) mutationRoot(x *executor, version string) obj {
	fc := resolver(func(a map[string]any, f *ast.Field) (any, error) { return s.fulfillmentCreate(a, f), nil })
	return obj{
		"__typename":             "Mutation",
		"fulfillmentCreate":      fc,
		"fulfillmentCreateV2":    fc,
		"inventorySetQuantities": resolver(func(a map[string]any, f *ast.Field) (any, error) { return s.inventorySetQuantities(x, a, f) }),
		"webhookSubscriptionCreate": resolver(func(a map[string]any, f *ast.Field) (any, error) {
			return s.webhookCreate(a, version), nil
		}),
		"webhookSubscriptionUpdate": resolver(func(a map[string]any, f *ast.Field) (any, error) {
			return s.webhookUpdate(a, version), nil
		}),
		"webhookSubscriptionDelete": resolver(func(a map[string]any, f *ast.Field) (any, error) {
			return s.webhookDelete(a), nil
		}),
	}
}

// record appends to the mutation log.
func (s *Server) record(field string, args map[string]any, key, outcome string) {
	b, _ := json.Marshal(args)
	s.mutations = append(s.mutations, Mutation{Field: field, Arguments: b, IdempotencyKey: key, Outcome: outcome, At: s.now()})
	s.log.Info("SIMULATOR shopify: mutation", "field", field, "outcome", outcome)
}

func userError(typename string, field []string, msg, code string) obj {
	o := obj{"__typename": typename, "field": field, "message": msg}
	if code != "" {
		o["code"] = code
	}
	return o
}

// fulfillmentCreate applies fulfillmentCreate with the userErrors recorded from live Shopify
// (fixtures: fulfillmentCreate_cases_2026-04.json).
func (s *Server) fulfillmentCreate(a map[string]any, f *ast.Field) obj {
	var errs []obj
	fail := func(field []string, msg string) { errs = append(errs, userError("UserError", field, msg, "")) }
	payload := func(ful any) obj {
		if errs == nil {
			errs = []obj{}
		}
		typ := "FulfillmentCreatePayload"
		if f.Name == "fulfillmentCreateV2" {
			typ = "FulfillmentCreateV2Payload"
		}
		return obj{"__typename": typ, "fulfillment": ful, "userErrors": errs}
	}
	in, _ := a["fulfillment"].(map[string]any)
	groups, _ := in["lineItemsByFulfillmentOrder"].([]any)
	if len(groups) == 0 {
		fail([]string{"fulfillment", "lineItemsByFulfillmentOrder"}, "Line items by fulfillment order can't be blank")
	}
	type req struct {
		fo    *simFO
		lines map[string]int // FO line id → quantity; nil: all remaining
	}
	var reqs []req
	// Quantities must be positive (checked first, with the full input path).
	for gi, g := range groups {
		gm, _ := g.(map[string]any)
		lines, _ := gm["fulfillmentOrderLineItems"].([]any)
		for li, l := range lines {
			lm, _ := l.(map[string]any)
			if toInt(lm["quantity"]) <= 0 {
				fail([]string{"fulfillment", "lineItemsByFulfillmentOrder", strconv.Itoa(gi), "fulfillmentOrderLineItems", strconv.Itoa(li), "quantity"},
					"Quantity must be greater than 0")
			}
		}
	}
	if len(errs) > 0 {
		s.record(f.Name, a, "", "userErrors")
		return payload(nil)
	}
	for _, g := range groups {
		gm, _ := g.(map[string]any)
		n, err := numeric("FulfillmentOrder", str(gm["fulfillmentOrderId"]))
		fo, ok := s.fos[n]
		if err != nil || !ok {
			fail([]string{"fulfillment"}, "Fulfillment order does not exist.")
			s.record(f.Name, a, "", "userErrors")
			return payload(nil)
		}
		r := req{fo: fo}
		if lines, present := gm["fulfillmentOrderLineItems"].([]any); present && lines != nil {
			r.lines = map[string]int{}
			for _, l := range lines {
				lm, _ := l.(map[string]any)
				ln, _ := numeric("FulfillmentOrderLineItem", str(lm["id"]))
				r.lines[ln] += toInt(lm["quantity"])
			}
		}
		reqs = append(reqs, r)
	}
	for _, r := range reqs {
		if r.fo.status != "OPEN" && r.fo.status != "IN_PROGRESS" {
			fail([]string{"fulfillment"}, fmt.Sprintf("Fulfillment order %s has an unfulfillable status= %s.", r.fo.id, strings.ToLower(r.fo.status)))
		}
	}
	if len(errs) == 0 {
		for _, r := range reqs[1:] {
			if r.fo.orderID != reqs[0].fo.orderID {
				fail([]string{"fulfillment"}, "All fulfillment orders must belong to the same order.")
				break
			}
			if r.fo.location != reqs[0].fo.location {
				fail([]string{"fulfillment"}, "All fulfillment orders must be assigned to the same location.")
				break
			}
		}
	}
	if len(errs) == 0 {
		for _, r := range reqs {
			for lid, q := range r.lines {
				var line *simFOLine
				for _, l := range r.fo.lines {
					if l.id == lid {
						line = l
					}
				}
				if line == nil {
					fail([]string{"fulfillment"}, "Fulfillment order line item does not exist.")
				} else if q > line.remaining {
					fail([]string{"fulfillment"}, "Invalid fulfillment order line item quantity requested.")
				}
			}
		}
	}
	if len(errs) > 0 {
		s.record(f.Name, a, "", "userErrors")
		return payload(nil)
	}

	ful := Fulfillment{ID: gid("Fulfillment", s.newID()), OrderID: gid("Order", reqs[0].fo.orderID), Status: "SUCCESS",
		NotifyCustomer: in["notifyCustomer"] == true, CreatedAt: s.now(), Lines: []FulfilledLine{}}
	if ti, ok := in["trackingInfo"].(map[string]any); ok {
		ful.TrackingNumber, ful.TrackingURL, ful.Company = str(ti["number"]), str(ti["url"]), str(ti["company"])
		if nums, ok := ti["numbers"].([]any); ok && ful.TrackingNumber == "" && len(nums) > 0 {
			ful.TrackingNumber = str(nums[0])
		}
	}
	for _, r := range reqs {
		for _, l := range r.fo.lines {
			q := l.remaining
			if r.lines != nil {
				q = r.lines[l.id]
			}
			if q <= 0 {
				continue
			}
			l.remaining -= q
			ful.Lines = append(ful.Lines, FulfilledLine{
				FulfillmentOrderID: gid("FulfillmentOrder", r.fo.id), FulfillmentOrderLineID: gid("FulfillmentOrderLineItem", l.id),
				LineItemID: gid("LineItem", l.lineItemID), SKU: l.sku, Quantity: q,
			})
		}
		closed := true
		for _, l := range r.fo.lines {
			if l.remaining > 0 {
				closed = false
			}
		}
		if closed {
			r.fo.status = "CLOSED"
		} else {
			r.fo.status = "IN_PROGRESS"
		}
		r.fo.updatedAt = s.now()
	}
	s.fulfillments = append(s.fulfillments, ful)
	s.record(f.Name, a, "", "applied")
	return payload(s.fulfillmentObj(&s.fulfillments[len(s.fulfillments)-1]))
}

// inventorySetQuantities applies the 2026-04+ rules: @idempotent(key:) required (BAD_REQUEST),
// changeFromQuantity required on every quantity (INVALID_FIELD_ARGUMENTS), 250 cap,
// idempotency replay, compare-and-swap, and the recorded userErrors.
func (s *Server) inventorySetQuantities(x *executor, a map[string]any, f *ast.Field) (any, error) {
	dir := f.Directives.ForName("idempotent")
	if dir == nil {
		s.record(f.Name, a, "", "error")
		return nil, &fieldError{message: "The @idempotent directive is required for this mutation but was not provided.", code: "BAD_REQUEST"}
	}
	key := str(dir.ArgumentMap(x.vars)["key"])
	if strings.TrimSpace(key) == "" {
		s.record(f.Name, a, key, "error")
		return nil, &fieldError{message: "The idempotency key cannot be an empty string or whitespace only.", code: "BAD_REQUEST"}
	}
	in, _ := a["input"].(map[string]any)
	quantities, _ := in["quantities"].([]any)
	for _, q := range quantities {
		qm, _ := q.(map[string]any)
		if _, ok := qm["changeFromQuantity"]; !ok {
			s.record(f.Name, a, key, "error")
			fe := &fieldError{message: "InventoryQuantityInput must include the following argument: changeFromQuantity.", code: "INVALID_FIELD_ARGUMENTS"}
			if arg := f.Arguments.ForName("input"); arg != nil && arg.Value != nil && arg.Value.Kind == ast.Variable && arg.Value.VariableDefinition != nil {
				fe.locs = locOf(arg.Value.VariableDefinition.Position)
			}
			return nil, fe
		}
	}
	if len(quantities) > 250 {
		s.record(f.Name, a, key, "error")
		return nil, &fieldError{message: fmt.Sprintf("The input array size of %d is greater than the maximum allowed of 250.", len(quantities)),
			code: "MAX_INPUT_SIZE_EXCEEDED", ext: map[string]any{"path": []any{"input", "quantities"}}}
	}
	canon, _ := json.Marshal(a)
	if rec, ok := s.idempotency[key]; ok {
		if rec.args == string(canon) {
			s.record(f.Name, a, key, "replayed")
			return rec.payload, nil
		}
		s.record(f.Name, a, key, "userErrors")
		return obj{"__typename": "InventorySetQuantitiesPayload", "inventoryAdjustmentGroup": nil, "userErrors": []obj{
			userError("InventorySetQuantitiesUserError", []string{"idempotencyKey"},
				"The idempotency key was already used with different arguments.", "IDEMPOTENCY_KEY_PARAMETER_MISMATCH"),
		}}, nil
	}

	var errs []obj
	fail := func(field []string, msg, code string) {
		errs = append(errs, userError("InventorySetQuantitiesUserError", field, msg, code))
	}
	name := str(in["name"])
	if name != "available" && name != "on_hand" {
		fail([]string{"input", "name"}, "The quantity name must be either 'available' or 'on_hand'.", "INVALID_NAME")
	}
	reason := str(in["reason"])
	okReason := false
	for _, r := range validReasons {
		okReason = okReason || r == reason
	}
	if !okReason {
		fail([]string{"input", "reason"}, "The specified reason is invalid. Valid values are: "+strings.Join(validReasons, ", ")+".", "INVALID_REASON")
	}
	type change struct {
		item *simItem
		loc  string
		qty  int
	}
	var changes []change
	seen := map[string]bool{}
	for i, q := range quantities {
		qm, _ := q.(map[string]any)
		idx := strconv.Itoa(i)
		path := func(last string) []string { return []string{"input", "quantities", idx, last} }
		itemN, err := numeric("InventoryItem", str(qm["inventoryItemId"]))
		item := s.items[itemN]
		if err != nil || item == nil {
			fail(path("inventoryItemId"), "The specified inventory item could not be found.", "INVALID_INVENTORY_ITEM")
		}
		locN, err := numeric("Location", str(qm["locationId"]))
		if _, ok := s.locations[locN]; err != nil || !ok {
			fail(path("locationId"), "The specified location could not be found.", "INVALID_LOCATION")
			continue
		}
		qty := toInt(qm["quantity"])
		switch {
		case qty < 0:
			fail(path("quantity"), "The quantity can't be negative.", "INVALID_QUANTITY_NEGATIVE")
		case qty > 1_000_000_000:
			fail(path("quantity"), "The quantity can't be higher than 1,000,000,000.", "INVALID_QUANTITY_TOO_HIGH")
		}
		if item == nil {
			continue
		}
		if seen[itemN+"/"+locN] {
			fail(path("inventoryItemId"), "The combination of inventoryItemId and locationId must be unique.", "NO_DUPLICATE_INVENTORY_ITEM_ID_GROUP_ID_PAIR")
			continue
		}
		seen[itemN+"/"+locN] = true
		current, stocked := item.available[locN]
		if name == "on_hand" {
			current = item.onHand[locN]
		}
		if !stocked {
			fail(path("locationId"), "The specified inventory item is not stocked at the location.", "ITEM_NOT_STOCKED_AT_LOCATION")
			continue
		}
		if cf, ok := qm["changeFromQuantity"]; ok && cf != nil && toInt(cf) != current {
			fail(path("changeFromQuantity"), fmt.Sprintf("The specified compare quantity (%d) does not match the current quantity (%d).", toInt(cf), current),
				"CHANGE_FROM_QUANTITY_STALE")
			continue
		}
		changes = append(changes, change{item: item, loc: locN, qty: qty})
	}
	payload := obj{"__typename": "InventorySetQuantitiesPayload", "inventoryAdjustmentGroup": nil, "userErrors": []obj{}}
	if len(errs) > 0 {
		payload["userErrors"] = errs
		s.idempotency[key] = idemRecord{args: string(canon), payload: payload}
		s.record(f.Name, a, key, "userErrors")
		return payload, nil
	}
	rows := []obj{}
	for _, c := range changes {
		var delta int
		if name == "on_hand" {
			delta = c.qty - c.item.onHand[c.loc]
		} else {
			delta = c.qty - c.item.available[c.loc]
		}
		c.item.available[c.loc] += delta
		c.item.onHand[c.loc] += delta
		if delta == 0 {
			continue
		}
		for _, n := range []string{"available", "on_hand"} {
			rows = append(rows, obj{"__typename": "InventoryChange", "name": n, "delta": delta, "quantityAfterChange": nil,
				"item": s.itemObj(c.item), "location": s.locationObj(s.locations[c.loc]), "ledgerDocumentUri": nil})
		}
	}
	var ref any
	if r := str(in["referenceDocumentUri"]); r != "" {
		ref = r
	}
	payload["inventoryAdjustmentGroup"] = obj{
		"__typename": "InventoryAdjustmentGroup", "id": gid("InventoryAdjustmentGroup", s.newID()), "createdAt": ts(s.now()),
		"reason": reason, "referenceDocumentUri": ref, "changes": rows,
	}
	s.idempotency[key] = idemRecord{args: string(canon), payload: payload}
	s.record(f.Name, a, key, "applied")
	return payload, nil
}

var (
	webhookNamePattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,50}$`)
	addressField       = []string{"webhookSubscription", "callbackUrl"}
)

// checkAddress returns Shopify's userErrors for a webhook address (recorded messages).
func checkAddress(uri string) []obj {
	e := func(msg string) obj { return userError("UserError", addressField, msg, "") }
	if strings.TrimSpace(uri) == "" {
		return []obj{e("Address can't be blank")}
	}
	if strings.HasPrefix(uri, "arn:aws:events:") {
		return nil
	}
	scheme, rest, ok := strings.Cut(uri, "://")
	if !ok {
		return []obj{e("Address is invalid")}
	}
	switch strings.ToLower(scheme) {
	case "https":
		u, err := url.Parse(uri)
		if err != nil || u.Host == "" {
			return []obj{e("Address is invalid")}
		}
		if internalHost(u.Hostname()) {
			return []obj{e("Address cannot be a Shopify or an internal domain")}
		}
		return nil
	case "pubsub":
		project, topic, ok := strings.Cut(rest, ":")
		if ok && project != "" && topic != "" && !strings.ContainsAny(topic, ":/") {
			return nil
		}
		return []obj{e("Address protocol pubsub:// is not supported"),
			e("Address is not a valid GCP pub/sub format. Format should be pubsub://project:topic")}
	}
	return []obj{e("Address protocol " + strings.ToLower(scheme) + ":// is not supported")}
}

func internalHost(h string) bool {
	h = strings.ToLower(strings.TrimSuffix(h, "."))
	if h == "localhost" || strings.HasSuffix(h, ".localhost") || strings.HasSuffix(h, ".local") || strings.HasSuffix(h, ".internal") ||
		h == "shopify.com" || strings.HasSuffix(h, ".shopify.com") || strings.HasSuffix(h, ".myshopify.com") ||
		strings.HasSuffix(h, ".shopifycloud.com") || h == "myshopify.com" {
		return true
	}
	if ip := net.ParseIP(h); ip != nil {
		return ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() || ip.IsUnspecified()
	}
	return false
}

// validFilter: every term of a webhook filter must name a field (field:value).
func validFilter(f string) bool {
	for _, t := range strings.Fields(f) {
		t = strings.Trim(t, "()")
		if t == "" || t == "AND" || t == "OR" || t == "NOT" {
			continue
		}
		if !strings.Contains(t, ":") {
			return false
		}
	}
	return true
}

func stringList(v any) []string {
	list, _ := v.([]any)
	out := make([]string, 0, len(list))
	for _, x := range list {
		out = append(out, str(x))
	}
	return out
}

// applyWebhookInput validates in for w (a copy of the subscription to change, or a new one;
// self is the stored subscription, nil when creating) and applies it to w when valid. It
// returns the userErrors.
func (s *Server) applyWebhookInput(self, w *WebhookSubscription, in map[string]any, creating bool) []obj {
	uri, hasURI := in["uri"]
	if !hasURI || uri == nil {
		uri, hasURI = in["callbackUrl"]
	}
	newURI := w.URI
	var errs []obj
	if creating || hasURI {
		newURI = str(uri)
		errs = append(errs, checkAddress(newURI)...)
	}
	filter, hasFilter := in["filter"]
	if hasFilter && filter != nil && !validFilter(str(filter)) {
		errs = append(errs, userError("UserError", []string{"webhookSubscription"},
			"The specified filter is invalid, please ensure you specify the field(s) you wish to filter on.", ""))
	}
	name, hasName := in["name"]
	if hasName && name != nil && str(name) != "" {
		if !webhookNamePattern.MatchString(str(name)) {
			errs = append(errs, userError("UserError", []string{"webhookSubscription", "name"},
				"Name must be at most 50 characters: letters, digits, '_' and '-'", ""))
		}
		for _, o := range s.webhooks {
			if o != self && o.Name == str(name) {
				errs = append(errs, userError("UserError", []string{"webhookSubscription", "name"}, "Name already exists, no duplicate allowed", ""))
			}
		}
	}
	if len(errs) == 0 {
		for _, o := range s.webhooks {
			if o != self && o.Topic == w.Topic && o.URI == newURI {
				errs = append(errs, userError("UserError", addressField, "Address for this topic has already been taken", ""))
				break
			}
		}
	}
	if len(errs) > 0 {
		return errs
	}
	w.URI = newURI
	if f, ok := in["format"]; ok && f != nil {
		w.Format = str(f)
	}
	if hasFilter {
		if filter == nil {
			w.Filter = nil
		} else {
			v := str(filter)
			w.Filter = &v
		}
	}
	if v, ok := in["includeFields"]; ok {
		w.IncludeFields = stringList(v)
	}
	if v, ok := in["metafieldNamespaces"]; ok {
		w.Namespaces = stringList(v)
	}
	if hasName {
		w.Name = str(name)
	}
	w.UpdatedAt = s.now()
	return nil
}

func (s *Server) webhookCreate(a map[string]any, version string) obj {
	in, _ := a["webhookSubscription"].(map[string]any)
	w := &WebhookSubscription{Topic: str(a["topic"]), Format: "JSON", IncludeFields: []string{}, Namespaces: []string{}, CreatedAt: s.now()}
	if errs := s.applyWebhookInput(nil, w, in, true); errs != nil {
		s.record("webhookSubscriptionCreate", a, "", "userErrors")
		return obj{"__typename": "WebhookSubscriptionCreatePayload", "webhookSubscription": nil, "userErrors": errs}
	}
	w.ID = gid("WebhookSubscription", s.newID())
	s.webhooks = append(s.webhooks, w)
	s.record("webhookSubscriptionCreate", a, "", "applied")
	return obj{"__typename": "WebhookSubscriptionCreatePayload", "webhookSubscription": s.webhookObj(w, version), "userErrors": []obj{}}
}

func (s *Server) webhookUpdate(a map[string]any, version string) obj {
	w := s.webhookByID(str(a["id"]))
	if w == nil {
		s.record("webhookSubscriptionUpdate", a, "", "userErrors")
		return obj{"__typename": "WebhookSubscriptionUpdatePayload", "webhookSubscription": nil,
			"userErrors": []obj{userError("UserError", []string{"id"}, "Webhook subscription does not exist", "")}}
	}
	in, _ := a["webhookSubscription"].(map[string]any)
	cp := *w
	if errs := s.applyWebhookInput(w, &cp, in, false); errs != nil {
		s.record("webhookSubscriptionUpdate", a, "", "userErrors")
		return obj{"__typename": "WebhookSubscriptionUpdatePayload", "webhookSubscription": nil, "userErrors": errs}
	}
	*w = cp
	s.record("webhookSubscriptionUpdate", a, "", "applied")
	return obj{"__typename": "WebhookSubscriptionUpdatePayload", "webhookSubscription": s.webhookObj(w, version), "userErrors": []obj{}}
}

func (s *Server) webhookDelete(a map[string]any) obj {
	w := s.webhookByID(str(a["id"]))
	if w == nil {
		s.record("webhookSubscriptionDelete", a, "", "userErrors")
		return obj{"__typename": "WebhookSubscriptionDeletePayload", "deletedWebhookSubscriptionId": nil,
			"userErrors": []obj{userError("UserError", []string{"id"}, "Webhook subscription does not exist", "")}}
	}
	for i, o := range s.webhooks {
		if o == w {
			s.webhooks = append(s.webhooks[:i], s.webhooks[i+1:]...)
			break
		}
	}
	s.record("webhookSubscriptionDelete", a, "", "applied")
	return obj{"__typename": "WebhookSubscriptionDeletePayload", "deletedWebhookSubscriptionId": w.ID, "userErrors": []obj{}}
}
