package shopifysim

import (
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/vektah/gqlparser/v2/ast"
)

const timeFormat = "2006-01-02T15:04:05Z"

func ts(t time.Time) string { return t.UTC().Format(timeFormat) }

// queryRoot is the QueryRoot object. Fields not listed resolve to null.
func (s *Server) queryRoot(version string) obj {
	return obj{
		"__typename": "QueryRoot",
		"order": resolver(func(a map[string]any, _ *ast.Field) (any, error) {
			return s.orderByGID(str(a["id"])), nil
		}),
		"fulfillmentOrder": resolver(func(a map[string]any, _ *ast.Field) (any, error) {
			n, err := numeric("FulfillmentOrder", str(a["id"]))
			if err != nil {
				return nil, nil
			}
			if fo, ok := s.fos[n]; ok {
				return s.foObj(fo), nil
			}
			return nil, nil
		}),
		"inventoryItem": resolver(func(a map[string]any, _ *ast.Field) (any, error) {
			n, err := numeric("InventoryItem", str(a["id"]))
			if err != nil {
				return nil, nil
			}
			if it, ok := s.items[n]; ok {
				return s.itemObj(it), nil
			}
			return nil, nil
		}),
		"location": resolver(func(a map[string]any, _ *ast.Field) (any, error) {
			n, err := numeric("Location", str(a["id"]))
			if err != nil {
				return nil, nil
			}
			if l, ok := s.locations[n]; ok {
				return s.locationObj(l), nil
			}
			return nil, nil
		}),
		"nodes": resolver(func(a map[string]any, _ *ast.Field) (any, error) {
			ids, _ := a["ids"].([]any)
			out := make([]any, len(ids))
			for i, id := range ids {
				if o := s.node(str(id)); o != nil {
					out[i] = o
				}
			}
			return out, nil
		}),
		"node": resolver(func(a map[string]any, _ *ast.Field) (any, error) {
			if o := s.node(str(a["id"])); o != nil {
				return o, nil
			}
			return nil, nil
		}),
		"productVariants": resolver(func(a map[string]any, _ *ast.Field) (any, error) {
			var nodes []obj
			for _, it := range s.searchItems(str(a["query"])) {
				nodes = append(nodes, s.variantObj(it))
			}
			return connection("ProductVariant", nodes, a), nil
		}),
		"inventoryItems": resolver(func(a map[string]any, _ *ast.Field) (any, error) {
			var nodes []obj
			for _, it := range s.searchItems(str(a["query"])) {
				nodes = append(nodes, s.itemObj(it))
			}
			return connection("InventoryItem", nodes, a), nil
		}),
		"webhookSubscription": resolver(func(a map[string]any, _ *ast.Field) (any, error) {
			if w := s.webhookByID(str(a["id"])); w != nil {
				return s.webhookObj(w, version), nil
			}
			return nil, nil
		}),
		"webhookSubscriptions": resolver(func(a map[string]any, _ *ast.Field) (any, error) {
			topics := map[string]bool{}
			if list, ok := a["topics"].([]any); ok {
				for _, t := range list {
					topics[str(t)] = true
				}
			}
			uri := str(a["uri"])
			if uri == "" {
				uri = str(a["callbackUrl"])
			}
			format := str(a["format"])
			var nodes []obj
			for _, w := range s.sortedWebhooks() {
				if len(topics) > 0 && !topics[w.Topic] || uri != "" && w.URI != uri || format != "" && w.Format != format {
					continue
				}
				nodes = append(nodes, s.webhookObj(w, version))
			}
			return connection("WebhookSubscription", nodes, a), nil
		}),
	}
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

// node resolves a gid of a type the simulator knows.
func (s *Server) node(id string) obj {
	rest, ok := strings.CutPrefix(id, "gid://shopify/")
	if !ok {
		return nil
	}
	typ, n, _ := strings.Cut(rest, "/")
	switch typ {
	case "Order":
		if o := s.orderByGID(id); o != nil {
			return o
		}
	case "FulfillmentOrder":
		if fo, ok := s.fos[n]; ok {
			return s.foObj(fo)
		}
	case "InventoryItem":
		if it, ok := s.items[n]; ok {
			return s.itemObj(it)
		}
	case "ProductVariant":
		for _, it := range s.items {
			if it.variantID == n {
				return s.variantObj(it)
			}
		}
	case "Location":
		if l, ok := s.locations[n]; ok {
			return s.locationObj(l)
		}
	case "WebhookSubscription":
		if w := s.webhookByID(id); w != nil {
			return s.webhookObj(w, "")
		}
	}
	return nil
}

func (s *Server) orderByGID(id string) obj {
	n, err := numeric("Order", id)
	if err != nil {
		return nil
	}
	o, ok := s.orders[n]
	if !ok {
		return nil
	}
	return s.orderObj(o)
}

func (s *Server) orderObj(o *simOrder) obj {
	return obj{
		"__typename":       "Order",
		"id":               gid("Order", o.id),
		"legacyResourceId": o.id,
		"name":             o.name,
		"createdAt":        ts(o.createdAt),
		"cancelledAt": func() any {
			if o.cancelled {
				return ts(o.createdAt)
			}
			return nil
		}(),
		"displayFulfillmentStatus": s.displayFulfillmentStatus(o),
		"fulfillmentOrders": resolver(func(a map[string]any, _ *ast.Field) (any, error) {
			nodes := make([]obj, 0, len(o.fos))
			for _, fo := range o.fos {
				nodes = append(nodes, s.foObj(fo))
			}
			return connection("FulfillmentOrder", nodes, a), nil
		}),
		"fulfillments": resolver(func(a map[string]any, _ *ast.Field) (any, error) {
			out := []obj{}
			for i := range s.fulfillments {
				f := &s.fulfillments[i]
				if f.OrderID == gid("Order", o.id) {
					out = append(out, s.fulfillmentObj(f))
				}
			}
			if n := toInt(a["first"]); n > 0 && n < len(out) {
				out = out[:n]
			}
			return out, nil
		}),
	}
}

func (s *Server) displayFulfillmentStatus(o *simOrder) string {
	total, remaining := 0, 0
	for _, fo := range o.fos {
		for _, l := range fo.lines {
			total += l.total
			remaining += l.remaining
		}
	}
	switch {
	case total > 0 && remaining == 0:
		return "FULFILLED"
	case remaining < total:
		return "PARTIALLY_FULFILLED"
	}
	for _, fo := range o.fos {
		if fo.status == "IN_PROGRESS" {
			return "IN_PROGRESS"
		}
	}
	return "UNFULFILLED"
}

func (s *Server) foObj(fo *simFO) obj {
	loc := s.locations[fo.location]
	actions := []any{}
	switch fo.status {
	case "OPEN":
		actions = append(actions, actionObj("CREATE_FULFILLMENT"), actionObj("REPORT_PROGRESS"), actionObj("MOVE"), actionObj("HOLD"))
	case "IN_PROGRESS":
		actions = append(actions, actionObj("CREATE_FULFILLMENT"), actionObj("REPORT_PROGRESS"), actionObj("HOLD"), actionObj("MARK_AS_OPEN"))
	case "ON_HOLD":
		actions = append(actions, actionObj("RELEASE_HOLD"))
	}
	holds := []any{}
	if fo.status == "ON_HOLD" {
		holds = append(holds, obj{"__typename": "FulfillmentHold", "id": gid("FulfillmentHold", fo.id), "handle": "sim-hold",
			"reason": "OTHER", "reasonNotes": "held in the SIMULATOR", "displayReason": "Other", "heldByRequestingApp": false})
	}
	return obj{
		"__typename":    "FulfillmentOrder",
		"id":            gid("FulfillmentOrder", fo.id),
		"status":        fo.status,
		"requestStatus": "UNSUBMITTED",
		"updatedAt":     ts(fo.updatedAt),
		"createdAt":     ts(fo.updatedAt),
		"fulfillAt":     ts(fo.updatedAt.Truncate(time.Hour)),
		"fulfillBy":     nil,
		"merchantRequests": resolver(func(a map[string]any, _ *ast.Field) (any, error) {
			return connection("FulfillmentOrderMerchantRequest", nil, a), nil
		}),
		"assignedLocation": obj{
			"__typename":  "FulfillmentOrderAssignedLocation",
			"name":        loc.name,
			"countryCode": "US",
			"location":    s.locationObj(loc),
		},
		"supportedActions": actions,
		"fulfillmentHolds": holds,
		"lineItems": resolver(func(a map[string]any, _ *ast.Field) (any, error) {
			nodes := make([]obj, 0, len(fo.lines))
			for _, l := range fo.lines {
				nodes = append(nodes, s.foLineObj(l))
			}
			return connection("FulfillmentOrderLineItem", nodes, a), nil
		}),
		"order": resolver(func(map[string]any, *ast.Field) (any, error) {
			if o, ok := s.orders[fo.orderID]; ok {
				return s.orderObj(o), nil
			}
			return nil, nil
		}),
	}
}

func actionObj(a string) obj {
	return obj{"__typename": "FulfillmentOrderSupportedAction", "action": a}
}

func (s *Server) foLineObj(l *simFOLine) obj {
	var sku any
	if l.sku != "" {
		sku = l.sku
	}
	return obj{
		"__typename":        "FulfillmentOrderLineItem",
		"id":                gid("FulfillmentOrderLineItem", l.id),
		"remainingQuantity": l.remaining,
		"totalQuantity":     l.total,
		"sku":               sku,
		"productTitle":      l.title,
		"requiresShipping":  true,
		"lineItem":          s.lineItemObj(l),
	}
}

func (s *Server) lineItemObj(l *simFOLine) obj {
	var sku any
	if l.sku != "" {
		sku = l.sku
	}
	return obj{
		"__typename":          "LineItem",
		"id":                  gid("LineItem", l.lineItemID),
		"sku":                 sku,
		"title":               l.title,
		"name":                l.title,
		"quantity":            l.total,
		"fulfillableQuantity": l.remaining,
		"requiresShipping":    true,
	}
}

func (s *Server) locationObj(l *simLocation) obj {
	return obj{
		"__typename":           "Location",
		"id":                   gid("Location", l.id),
		"legacyResourceId":     l.id,
		"name":                 l.name,
		"isActive":             true,
		"isFulfillmentService": false,
	}
}

func (s *Server) fulfillmentObj(f *Fulfillment) obj {
	tracking := []obj{}
	if f.TrackingNumber != "" || f.TrackingURL != "" || f.Company != "" {
		tracking = append(tracking, obj{
			"__typename": "FulfillmentTrackingInfo",
			"number":     nilIfEmpty(f.TrackingNumber),
			"url":        nilIfEmpty(f.TrackingURL),
			"company":    nilIfEmpty(f.Company),
		})
	}
	return obj{
		"__typename":       "Fulfillment",
		"id":               f.ID,
		"legacyResourceId": f.ID[strings.LastIndexByte(f.ID, '/')+1:],
		"name":             "#" + f.ID[strings.LastIndexByte(f.ID, '/')+1:],
		"status":           f.Status,
		"displayStatus":    "FULFILLED",
		"createdAt":        ts(f.CreatedAt),
		"updatedAt":        ts(f.CreatedAt),
		"totalQuantity": func() int {
			n := 0
			for _, l := range f.Lines {
				n += l.Quantity
			}
			return n
		}(),
		"trackingInfo": resolver(func(a map[string]any, _ *ast.Field) (any, error) {
			if n := toInt(a["first"]); n > 0 && n < len(tracking) {
				return tracking[:n], nil
			}
			return tracking, nil
		}),
		"fulfillmentLineItems": resolver(func(a map[string]any, _ *ast.Field) (any, error) {
			nodes := make([]obj, 0, len(f.Lines))
			for i, l := range f.Lines {
				title := l.SKU
				if fo, ok := s.fos[strings.TrimPrefix(l.FulfillmentOrderID, "gid://shopify/FulfillmentOrder/")]; ok {
					for _, fl := range fo.lines {
						if gid("FulfillmentOrderLineItem", fl.id) == l.FulfillmentOrderLineID {
							title = fl.title
						}
					}
				}
				nodes = append(nodes, obj{
					"__typename": "FulfillmentLineItem",
					"id":         gid("FulfillmentLineItem", strings.TrimPrefix(f.ID, "gid://shopify/Fulfillment/")+strconv.Itoa(i)),
					"quantity":   l.Quantity,
					"lineItem": obj{
						"__typename": "LineItem",
						"id":         l.LineItemID,
						"title":      title,
						"name":       title,
						"sku":        nilIfEmpty(l.SKU),
					},
				})
			}
			return connection("FulfillmentLineItem", nodes, a), nil
		}),
	}
}

func nilIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func (s *Server) variantObj(it *simItem) obj {
	return obj{
		"__typename":       "ProductVariant",
		"id":               gid("ProductVariant", it.variantID),
		"legacyResourceId": it.variantID,
		"sku":              nilIfEmpty(it.sku),
		"title":            "Default Title",
		"displayName":      it.sku,
		"inventoryItem":    resolver(func(map[string]any, *ast.Field) (any, error) { return s.itemObj(it), nil }),
		"product":          obj{"__typename": "Product", "id": gid("Product", it.productID), "title": it.sku},
	}
}

func (s *Server) itemObj(it *simItem) obj {
	return obj{
		"__typename":       "InventoryItem",
		"id":               gid("InventoryItem", it.id),
		"legacyResourceId": it.id,
		"sku":              nilIfEmpty(it.sku),
		"tracked":          it.tracked,
		"variant":          resolver(func(map[string]any, *ast.Field) (any, error) { return s.variantObj(it), nil }),
		"inventoryLevel": resolver(func(a map[string]any, _ *ast.Field) (any, error) {
			n, err := numeric("Location", str(a["locationId"]))
			if err != nil {
				return nil, nil
			}
			if _, ok := it.available[n]; !ok {
				return nil, nil
			}
			return s.levelObj(it, n), nil
		}),
		"inventoryLevels": resolver(func(a map[string]any, _ *ast.Field) (any, error) {
			locs := make([]string, 0, len(it.available))
			for l := range it.available {
				locs = append(locs, l)
			}
			sort.Strings(locs)
			nodes := make([]obj, len(locs))
			for i, l := range locs {
				nodes[i] = s.levelObj(it, l)
			}
			return connection("InventoryLevel", nodes, a), nil
		}),
	}
}

func (s *Server) levelObj(it *simItem, loc string) obj {
	return obj{
		"__typename": "InventoryLevel",
		"id":         "gid://shopify/InventoryLevel/" + loc + "?inventory_item_id=" + it.id,
		"isActive":   true,
		"item":       resolver(func(map[string]any, *ast.Field) (any, error) { return s.itemObj(it), nil }),
		"location":   s.locationObj(s.locations[loc]),
		"quantities": resolver(func(a map[string]any, _ *ast.Field) (any, error) {
			names, _ := a["names"].([]any)
			out := []obj{}
			for _, n := range names {
				name := str(n)
				var q int
				switch name {
				case "available":
					q = it.available[loc]
				case "on_hand":
					q = it.onHand[loc]
				case "committed", "reserved", "damaged", "safety_stock", "quality_control", "incoming":
					q = 0
				default:
					continue
				}
				out = append(out, obj{"__typename": "InventoryQuantity", "id": "gid://shopify/InventoryQuantity/" + it.id + "-" + loc + "-" + name,
					"name": name, "quantity": q})
			}
			return out, nil
		}),
	}
}

// searchItems runs a productVariants/inventoryItems search the way Shopify's search is fuzzy:
// sku:ABC matches SKUs that start with ABC or have a token starting with it (case-insensitive),
// so "ABC" also finds "ABC-1". Terms are joined with OR (AND and juxtaposition are treated as
// OR too). A field the simulator does not know matches everything, as Shopify ignores unknown
// fields. Results are in id order.
func (s *Server) searchItems(query string) []*simItem {
	terms := parseSearch(query)
	var out []*simItem
	for _, id := range s.itemOrder {
		it := s.items[id]
		if len(terms) == 0 || matchesAny(it, terms) {
			out = append(out, it)
		}
	}
	return out
}

type searchTerm struct{ field, value string }

// parseSearch splits a Shopify search query into field:value terms (quoted values unescaped).
func parseSearch(q string) []searchTerm {
	var terms []searchTerm
	i := 0
	for i < len(q) {
		for i < len(q) && (q[i] == ' ' || q[i] == '\t' || q[i] == '(' || q[i] == ')') {
			i++
		}
		if i >= len(q) {
			break
		}
		start := i
		for i < len(q) && q[i] != ' ' && q[i] != ':' && q[i] != '"' {
			i++
		}
		word := q[start:i]
		if i < len(q) && q[i] == ':' {
			i++
			val, n := readValue(q[i:])
			i += n
			terms = append(terms, searchTerm{field: strings.ToLower(word), value: val})
			continue
		}
		if word == "OR" || word == "AND" || word == "NOT" || word == "" {
			if i < len(q) && q[i] == '"' {
				val, n := readValue(q[i:])
				i += n
				terms = append(terms, searchTerm{value: val})
			}
			continue
		}
		terms = append(terms, searchTerm{value: word})
	}
	return terms
}

// readValue reads a bare or quoted search value and returns it and the bytes consumed.
func readValue(s string) (string, int) {
	if s == "" {
		return "", 0
	}
	if s[0] != '"' {
		end := strings.IndexAny(s, " )")
		if end < 0 {
			end = len(s)
		}
		return strings.ReplaceAll(s[:end], `\`, ""), end
	}
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		switch s[i] {
		case '\\':
			if i+1 < len(s) {
				i++
				b.WriteByte(s[i])
			}
		case '"':
			return b.String(), i + 1
		default:
			b.WriteByte(s[i])
		}
	}
	return b.String(), len(s)
}

func matchesAny(it *simItem, terms []searchTerm) bool {
	for _, t := range terms {
		switch t.field {
		case "sku", "":
			if fuzzyMatch(it.sku, t.value) {
				return true
			}
		case "id":
			if t.value == it.id || t.value == gid("InventoryItem", it.id) || t.value == it.variantID {
				return true
			}
		default:
			return true // unknown field: ignored by Shopify, so everything matches
		}
	}
	return false
}

// fuzzyMatch: case-insensitive prefix match on the whole SKU or on any of its tokens.
func fuzzyMatch(sku, v string) bool {
	if v == "" {
		return true
	}
	sku, v = strings.ToLower(sku), strings.ToLower(v)
	if strings.HasPrefix(sku, v) {
		return true
	}
	for _, tok := range strings.FieldsFunc(sku, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) }) {
		if strings.HasPrefix(tok, v) {
			return true
		}
	}
	return false
}

func (s *Server) sortedWebhooks() []*WebhookSubscription {
	out := append([]*WebhookSubscription(nil), s.webhooks...)
	sort.SliceStable(out, func(i, j int) bool { return out[i].CreatedAt.Before(out[j].CreatedAt) })
	return out
}

func (s *Server) webhookByID(id string) *WebhookSubscription {
	n, err := numeric("WebhookSubscription", id)
	if err != nil {
		return nil
	}
	for _, w := range s.webhooks {
		if w.ID == gid("WebhookSubscription", n) {
			return w
		}
	}
	return nil
}

func (s *Server) webhookObj(w *WebhookSubscription, version string) obj {
	var filter any
	if w.Filter != nil {
		filter = *w.Filter
	}
	var endpoint obj
	switch {
	case strings.HasPrefix(w.URI, "pubsub://"):
		proj, topic, _ := strings.Cut(strings.TrimPrefix(w.URI, "pubsub://"), ":")
		endpoint = obj{"__typename": "WebhookPubSubEndpoint", "pubSubProject": proj, "pubSubTopic": topic}
	case strings.HasPrefix(w.URI, "arn:"):
		endpoint = obj{"__typename": "WebhookEventBridgeEndpoint", "arn": w.URI}
	default:
		endpoint = obj{"__typename": "WebhookHttpEndpoint", "callbackUrl": w.URI}
	}
	if version == "" {
		version = "2026-10"
	}
	return obj{
		"__typename":          "WebhookSubscription",
		"id":                  w.ID,
		"legacyResourceId":    strings.TrimPrefix(w.ID, "gid://shopify/WebhookSubscription/"),
		"topic":               w.Topic,
		"uri":                 w.URI,
		"callbackUrl":         w.URI,
		"format":              w.Format,
		"filter":              filter,
		"includeFields":       w.IncludeFields,
		"metafieldNamespaces": w.Namespaces,
		"metafields":          []obj{},
		"name":                nilIfEmpty(w.Name),
		"createdAt":           ts(w.CreatedAt),
		"updatedAt":           ts(w.UpdatedAt),
		"endpoint":            endpoint,
		"apiVersion":          obj{"__typename": "ApiVersion", "handle": version, "displayName": version, "supported": true},
	}
}
