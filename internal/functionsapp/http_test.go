package functionsapp_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/shipwell/orderflow/internal/flowtest"
	"github.com/shipwell/orderflow/internal/functions/hostsim"
	"github.com/shipwell/orderflow/internal/order"
	"github.com/shipwell/orderflow/internal/warehousesim"
	"github.com/shipwell/orderflow/internal/webhook"
)

// TestOrderCreatedForwarded sends real orders/create payloads through the host simulator with
// forwarding on (host.json as deployed): the raw request reaches /api/order-created, the HMAC is
// checked over the forwarded bytes, the handler's answer goes back as-is, and the function key
// the host passes through never reaches the handler's output.
func TestOrderCreatedForwarded(t *testing.T) {
	w := newWorld(t)
	in := w.start(t, appForwarding)

	// A payload whose bytes a normalising proxy would change: non-ASCII text (raw UTF-8 and a
	// \u escape) and JSON-escaped slashes.
	special := bytes.Replace(
		flowtest.Edit(t, flowtest.Fixture(t, "orders_create.json"), flowtest.Paid, flowtest.UpdatedAt("2026-12-03T10:00:00-05:00"),
			flowtest.Set("note", "NOTE-PLACEHOLDER")),
		[]byte(`"NOTE-PLACEHOLDER"`),
		[]byte(`"Crème brûlée für Zoë – 東京 \u00e9 see https:\/\/acme-demo.example\/orders\/1001"`), 1)
	if !bytes.Contains(special, []byte(`https:\/\/`)) || !bytes.Contains(special, []byte("東京")) {
		t.Fatal("test payload lacks the escaped slashes or the non-ASCII text")
	}

	tests := []struct {
		name, id string
		body     []byte
		query    []string // key, value pairs sent by the caller
		header   map[string]string
		route    string
	}{
		{"scenario: paid, New York", "5900000000001", scenario(t, "orders_create_us_east_ny.json"),
			[]string{"code", hostKey}, nil, east},
		{"official sample made paid, non-ASCII and \\/ escapes", "820982911946154508", special,
			nil, map[string]string{"X-Functions-Key": hostKey}, east},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := webhookHeader("orders/create", tc.body)
			for k, v := range tc.header {
				h.Set(k, v)
			}
			res := in.sim.HTTP(http.MethodPost, "order-created", withQuery(tc.query...), h, tc.body)
			inv := res.Invocation
			if !res.Forwarded || !res.Invoked || inv.Path != "/api/order-created" || inv.Err != nil {
				t.Fatalf("want a forwarded invocation of /api/order-created, got forwarded=%v invoked=%v %+v", res.Forwarded, res.Invoked, inv)
			}
			// The handler received exactly the caller's bytes (the HMAC below could not pass
			// otherwise), and the function key the host passes through.
			if !bytes.Equal(inv.RequestBody, tc.body) {
				t.Fatal("the forwarded body differs from the caller's")
			}
			if len(tc.query) > 0 && !strings.Contains(inv.RawQuery, "code="+hostKey) {
				t.Fatalf("the host passes ?code= through; forwarded query %q", inv.RawQuery)
			}
			if tc.header != nil && inv.RequestHeader.Get("X-Functions-Key") != hostKey {
				t.Fatal("the host passes x-functions-key through; the forwarded request lacks it")
			}
			if res.StatusCode != http.StatusOK || !bytes.Equal(res.Body, inv.Body) {
				t.Fatalf("status %d body %s (handler body %s)", res.StatusCode, res.Body, inv.Body)
			}
			got := decodeIntake(t, res)
			want := intake{Status: "recorded", OrderID: tc.id, RecordID: order.RecordID(shop, tc.id), OrderStatus: "queued"}
			if got != want {
				t.Fatalf("answer %+v, want %+v", got, want)
			}
			o := in.order(t, tc.id)
			if o.Status != order.StatusQueued || o.Route != tc.route || len(o.Lines) != 5 || len(o.Events) != 1 {
				t.Fatalf("record: status %s route %s lines %d events %d", o.Status, o.Route, len(o.Lines), len(o.Events))
			}
			if o.Lines[3].LineItemID != "976318377106520349" {
				t.Fatalf("line item id %q, want 976318377106520349 exactly", o.Lines[3].LineItemID)
			}
		})
	}

	t.Run("the operator CLI shows the record", func(t *testing.T) {
		// The flag goes before the id: the documented `orders show <id> --json` is refused
		// (cmd/handler/ops.go stops parsing flags at the id; reported).
		cli := exec.Command(handlerBin, "orders", "show", "--json", "5900000000001")
		cli.Dir = t.TempDir()
		cli.Env = append(envList(in.env), "PATH="+os.Getenv("PATH"), "HOME="+os.Getenv("HOME"))
		var stdout, stderr bytes.Buffer
		cli.Stdout, cli.Stderr = &stdout, &stderr
		if err := cli.Run(); err != nil {
			t.Fatalf("handler orders show: %v; stderr: %s", err, stderr.String())
		}
		var o order.Order
		if err := json.Unmarshal(stdout.Bytes(), &o); err != nil {
			t.Fatalf("orders show --json: %v: %s", err, stdout.String())
		}
		if o.OrderID != "5900000000001" || o.Status != order.StatusQueued || o.Route != east || o.ShippingAddress.ProvinceCode != "NY" {
			t.Fatalf("orders show: id %s status %s route %s", o.OrderID, o.Status, o.Route)
		}
	})

	t.Run("the same bytes re-encoded do not verify", func(t *testing.T) {
		// Control for the byte-identity claim: a proxy that rewrote \/ as / would break the HMAC.
		id := "820982911946154511"
		body := bytes.Replace(special, []byte(`"id":820982911946154508`), []byte(`"id":`+id), 1)
		h := webhookHeader("orders/create", body)
		normalised := bytes.ReplaceAll(body, []byte(`\/`), []byte(`/`))
		res := in.sim.HTTP(http.MethodPost, "order-created", nil, h, normalised)
		if res.StatusCode != http.StatusUnauthorized {
			t.Fatalf("status %d body %s, want 401", res.StatusCode, res.Body)
		}
		if _, err := in.db.Get(context.Background(), order.RecordID(shop, id)); !errors.Is(err, order.ErrNotFound) {
			t.Fatalf("a delivery with a bad signature was recorded: %v", err)
		}
	})

	t.Run("wrong signature: the handler's 401 is passed through as-is", func(t *testing.T) {
		id := "5900000000109"
		body := paidOrder(t, id, "US", "NY")
		h := webhookHeader("orders/create", body)
		h.Set("X-Shopify-Hmac-Sha256", webhook.Sign("some-other-secret", body))
		res := in.sim.HTTP(http.MethodPost, "order-created", withQuery("code", hostKey), h, body)
		if !res.Invoked || res.StatusCode != http.StatusUnauthorized || !bytes.Equal(res.Body, res.Invocation.Body) ||
			res.Header.Get("Content-Type") != "application/json" {
			t.Fatalf("status %d invoked %v content type %q body %s", res.StatusCode, res.Invoked, res.Header.Get("Content-Type"), res.Body)
		}
		if got := decodeIntake(t, res); got.Error != "invalid webhook signature" {
			t.Fatalf("body %s", res.Body)
		}
		if _, err := in.db.Get(context.Background(), order.RecordID(shop, id)); !errors.Is(err, order.ErrNotFound) {
			t.Fatalf("a delivery with a bad signature was recorded: %v", err)
		}
		// The handler logs the rejection with the invocation id: every earlier line of this test
		// has been captured once that line is.
		in.waitOutput(t, "webhook rejected", res.Invocation.ID)
		if err := in.sim.CheckOutput(true, secrets()...); err != nil {
			t.Fatal(err)
		}
	})
}

// TestOrderWebhooks drives order-paid, order-cancelled, order-fulfilled and inventory-updated
// through forwarding, each with a payload that changes the record the way its topic should.
func TestOrderWebhooks(t *testing.T) {
	w := newWorld(t)
	in := w.start(t, appForwarding)
	created := func(t *testing.T, id, financial string) {
		t.Helper()
		body := flowtest.Edit(t, paidOrder(t, id, "US", "CA"), flowtest.Set("financial_status", financial))
		r := in.send(t, "order-created", "orders/create", body)
		want := map[string]string{"paid": "queued", "pending": "received"}[financial]
		if r.Status != "recorded" || r.OrderStatus != want {
			t.Fatalf("orders/create: %+v, want %s", r, want)
		}
	}
	official := func(t *testing.T, name string) []byte { return flowtest.Fixture(t, name) }
	later := flowtest.UpdatedAt("2026-12-03T11:00:00-05:00")

	t.Run("order-paid: received → queued", func(t *testing.T) {
		id := "5900000000201"
		created(t, id, "pending")
		if o := in.order(t, id); o.Status != order.StatusReceived || !strings.Contains(o.Reason, "awaiting payment") {
			t.Fatalf("before payment: %s %q", o.Status, o.Reason)
		}
		body := flowtest.Edit(t, official(t, "orders_paid.json"), flowtest.Paid, flowtest.OrderID(id), later, flowtest.ShipTo("US", "CA"))
		r := in.send(t, "order-paid", "orders/paid", body)
		if r.Status != "recorded" || r.OrderStatus != "queued" || r.OrderID != id {
			t.Fatalf("orders/paid: %+v", r)
		}
		o := in.order(t, id)
		if o.Status != order.StatusQueued || o.Route != west || o.FinancialStatus != "paid" || len(o.Events) != 2 {
			t.Fatalf("record: %s route %s financial %s events %d", o.Status, o.Route, o.FinancialStatus, len(o.Events))
		}
	})

	t.Run("order-cancelled: cancelled_at set → cancelled", func(t *testing.T) {
		id := "5900000000202"
		created(t, id, "paid")
		body := flowtest.Edit(t, official(t, "orders_cancelled.json"), flowtest.OrderID(id), flowtest.Cancelled("2026-12-03T11:00:00-05:00"),
			flowtest.ShipTo("US", "CA"))
		r := in.send(t, "order-cancelled", "orders/cancelled", body)
		if r.Status != "recorded" || r.OrderStatus != "cancelled" {
			t.Fatalf("orders/cancelled: %+v", r)
		}
		o := in.order(t, id)
		if o.Status != order.StatusCancelled || o.CancelledAt == nil || o.Reason != "cancelled before dispatch" {
			t.Fatalf("record: %s cancelled_at %v reason %q", o.Status, o.CancelledAt, o.Reason)
		}
	})

	t.Run("order-fulfilled: fulfillment_status fulfilled → fulfilled", func(t *testing.T) {
		id := "5900000000203"
		created(t, id, "paid")
		body := flowtest.Edit(t, official(t, "orders_fulfilled.json"), flowtest.Paid, flowtest.OrderID(id), later,
			flowtest.ShipTo("US", "CA"), flowtest.Set("fulfillment_status", "fulfilled"))
		r := in.send(t, "order-fulfilled", "orders/fulfilled", body)
		if r.Status != "recorded" || r.OrderStatus != "fulfilled" {
			t.Fatalf("orders/fulfilled: %+v", r)
		}
		if o := in.order(t, id); o.Status != order.StatusFulfilled {
			t.Fatalf("record: %s %q", o.Status, o.Reason)
		}
	})

	t.Run("inventory-updated: the delivery is recorded", func(t *testing.T) {
		body := official(t, "inventory_levels_update.json")
		h := webhookHeader("inventory_levels/update", body)
		res := in.sim.HTTP(http.MethodPost, "inventory-updated", nil, h, body)
		if !res.Forwarded || res.StatusCode != http.StatusOK {
			t.Fatalf("status %d forwarded %v body %s", res.StatusCode, res.Forwarded, res.Body)
		}
		r := decodeIntake(t, res)
		if r.Status != "recorded" || r.Reason != "item 271878346596884015 at location 24826418" {
			t.Fatalf("inventory_levels/update: %+v", r)
		}
		receipts, err := in.db.ListReceipts(context.Background(), order.ReceiptInventory, 1000)
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, rc := range receipts {
			found = found || (rc.WebhookID == h.Get("X-Shopify-Webhook-Id") && rc.Topic == "inventory_levels/update" && rc.Shop == shop)
		}
		if !found {
			t.Fatalf("no inventory receipt for webhook %s in %+v", h.Get("X-Shopify-Webhook-Id"), receipts)
		}
	})
}

// TestEnvelopeMode runs the webhooks against a host configured without forwarding: the handler
// gets the §2 invocation envelope at POST /<function>, with the body as a string (or base64 for
// application/octet-stream), and answers through Outputs.res.
func TestEnvelopeMode(t *testing.T) {
	w := newWorld(t)
	in := w.start(t, appEnvelope)

	t.Run("a UTF-8 JSON webhook verifies", func(t *testing.T) {
		body := scenario(t, "orders_create_international_de.json")
		res := in.sim.HTTP(http.MethodPost, "order-created", nil, webhookHeader("orders/create", body), body)
		if res.Forwarded || res.Invocation == nil || res.Invocation.Kind != hostsim.KindHTTP || res.Invocation.Path != "/order-created" {
			t.Fatalf("want an envelope invocation of /order-created, got %+v", res.Invocation)
		}
		if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != "application/json" {
			t.Fatalf("status %d content type %q body %s (invocation %v)", res.StatusCode, res.Header.Get("Content-Type"), res.Body, invErr(res.Invocation))
		}
		if r := decodeIntake(t, res); r.Status != "recorded" || r.OrderStatus != "queued" || r.OrderID != "5900000000003" {
			t.Fatalf("answer %+v", r)
		}
		if got := envelopeBody(t, res.Invocation); got != string(body) {
			t.Fatal("Data.req.Body is not the body text")
		}
		if o := in.order(t, "5900000000003"); o.Route != intl || o.Status != order.StatusQueued {
			t.Fatalf("record: route %s status %s", o.Route, o.Status)
		}
	})

	// A body that only survives as bytes: invalid UTF-8 inside a string value.
	raw := bytes.Replace(paidOrder(t, "5900000000303", "US", "NY"), []byte(`"note":null`), []byte("\"note\":\"caf\xe9 \xff\""), 1)
	if !bytes.Contains(raw, []byte("\xff")) {
		t.Fatal("test payload has no invalid UTF-8")
	}
	bom := append([]byte("\xef\xbb\xbf"), paidOrder(t, "5900000000304", "US", "NY")...)

	t.Run("application/octet-stream verifies byte-exactly", func(t *testing.T) {
		h := webhookHeader("orders/create", raw)
		h.Set("Content-Type", "application/octet-stream")
		res := in.sim.HTTP(http.MethodPost, "order-created", nil, h, raw)
		if res.StatusCode != http.StatusOK {
			t.Fatalf("status %d body %s (invocation %v)", res.StatusCode, res.Body, invErr(res.Invocation))
		}
		if r := decodeIntake(t, res); r.Status != "recorded" || r.OrderID != "5900000000303" {
			t.Fatalf("answer %+v", r)
		}
		got, err := base64.StdEncoding.DecodeString(envelopeBody(t, res.Invocation))
		if err != nil || !bytes.Equal(got, raw) {
			t.Fatalf("Data.req.Body is not the base64 of the raw bytes (%v)", err)
		}
	})

	t.Run("the mode's limit: BOM or invalid UTF-8 as text cannot verify", func(t *testing.T) {
		for _, tc := range []struct {
			name, contentType, id string
			body                  []byte
		}{
			{"invalid UTF-8 as application/json", "application/json", "5900000000303", raw},
			{"BOM as text/json", "text/json", "5900000000304", bom},
		} {
			h := webhookHeader("orders/create", tc.body)
			h.Set("Content-Type", tc.contentType)
			res := in.sim.HTTP(http.MethodPost, "order-created", nil, h, tc.body)
			if res.StatusCode != http.StatusUnauthorized || decodeIntake(t, res).Error != "invalid webhook signature" {
				t.Fatalf("%s: status %d body %s, want the handler's 401", tc.name, res.StatusCode, res.Body)
			}
		}
		// The BOM one never got in; the octet-stream copy of the other one did, above, once.
		if _, err := in.db.Get(context.Background(), order.RecordID(shop, "5900000000304")); !errors.Is(err, order.ErrNotFound) {
			t.Fatalf("an unverifiable delivery was recorded: %v", err)
		}
		// The same BOM body as octet-stream verifies (the HMAC is over the exact bytes).
		h := webhookHeader("orders/create", bom)
		h.Set("Content-Type", "application/octet-stream")
		if res := in.sim.HTTP(http.MethodPost, "order-created", nil, h, bom); res.StatusCode != http.StatusOK {
			t.Fatalf("BOM as octet-stream: status %d body %s", res.StatusCode, res.Body)
		}
	})

	t.Run("fulfillment-callback through the envelope", func(t *testing.T) {
		cb := []byte(`{"externalOrderId":"5900000000399","trackingNumber":"1Z999","carrier":"UPS"}`)
		h := http.Header{"Content-Type": {"application/json"}, "Authorization": {"Bearer " + whKeys[east]}}
		if res := in.sim.HTTP(http.MethodPost, "fulfillment-callback", nil, h, cb); res.StatusCode != http.StatusUnauthorized || res.Invoked {
			t.Fatalf("without a function key: status %d invoked %v", res.StatusCode, res.Invoked)
		}
		res := in.sim.HTTP(http.MethodPost, "fulfillment-callback", withQuery("code", callbackKey), h, cb)
		if !res.Invoked || res.Forwarded || res.StatusCode != http.StatusNotFound || !strings.Contains(string(res.Body), "unknown order") {
			t.Fatalf("unknown order: status %d body %s (invocation %v)", res.StatusCode, res.Body, invErr(res.Invocation))
		}
	})
}

// envelopeBody returns Data.req.Body of an HTTP envelope invocation.
func envelopeBody(t *testing.T, inv *hostsim.Invocation) string {
	t.Helper()
	data, _, err := inv.Envelope()
	if err != nil {
		t.Fatal(err)
	}
	var req struct{ Body *string }
	if err := json.Unmarshal(data["req"], &req); err != nil || req.Body == nil {
		t.Fatalf("Data.req has no string Body: %v", err)
	}
	return *req.Body
}

// TestFulfillmentCallback: the host enforces authLevel function before the handler sees
// anything; the handler then authenticates the warehouse by its bearer key; a good callback
// ships the order, and the resulting fulfill job, delivered to fulfillment-router, creates the
// Shopify fulfillment.
func TestFulfillmentCallback(t *testing.T) {
	w := newWorld(t)
	in := w.start(t, appForwarding)
	id := "5900000000401"
	body := paidOrder(t, id, "US", "NY")
	if _, err := w.shopify.AddOrderFromWebhook(body, flowtest.LocEast); err != nil {
		t.Fatal(err)
	}
	in.send(t, "order-created", "orders/create", body)
	j := in.dispatchJob(t, id)
	in.deliver(t, j, 1)
	in.done(t, j)
	o := in.order(t, id)
	if o.Status != order.StatusDispatched || o.WarehouseFulfillmentID == "" {
		t.Fatalf("before the callback: %s fulfillment %q", o.Status, o.WarehouseFulfillmentID)
	}
	tracking := warehousesim.TrackingNumber(east, id)
	cb, _ := json.Marshal(warehousesim.CallbackBody{ExternalOrderID: id, TrackingNumber: tracking, Carrier: "UPS",
		TrackingURL: "https://www.ups.com/track?tracknum=" + tracking, FulfillmentID: o.WarehouseFulfillmentID, ShipmentID: "SHIP-" + id})
	bearer := http.Header{"Content-Type": {"application/json"}, "Authorization": {"Bearer " + whKeys[east]}}

	t.Run("no function key: the host answers 401, the handler is not invoked", func(t *testing.T) {
		before := len(in.sim.Invocations())
		for _, q := range [][]string{nil, {"code", "not-the-key"}} {
			res := in.sim.HTTP(http.MethodPost, "fulfillment-callback", withQuery(q...), bearer, cb)
			if res.StatusCode != http.StatusUnauthorized || res.Invoked {
				t.Fatalf("query %v: status %d invoked %v", q, res.StatusCode, res.Invoked)
			}
		}
		if n := len(in.sim.Invocations()); n != before {
			t.Fatalf("the handler was contacted %d times", n-before)
		}
	})

	t.Run("function key, no warehouse bearer: the handler's 401", func(t *testing.T) {
		h := http.Header{"Content-Type": {"application/json"}, "X-Functions-Key": {callbackKey}}
		res := in.sim.HTTP(http.MethodPost, "fulfillment-callback", nil, h, cb)
		if !res.Invoked || !res.Forwarded || res.StatusCode != http.StatusUnauthorized ||
			!strings.Contains(string(res.Body), "unknown or missing warehouse key") {
			t.Fatalf("status %d invoked %v body %s", res.StatusCode, res.Invoked, res.Body)
		}
		if got := in.order(t, id).Status; got != order.StatusDispatched {
			t.Fatalf("an unauthenticated callback changed the order to %s", got)
		}
	})

	t.Run("function key and bearer: shipped, then fulfilled in Shopify", func(t *testing.T) {
		res := in.sim.HTTP(http.MethodPost, "fulfillment-callback", withQuery("code", callbackKey), bearer, cb)
		if res.StatusCode != http.StatusOK || !res.Forwarded || !strings.Contains(res.Invocation.RawQuery, "code=") {
			t.Fatalf("status %d body %s query %q", res.StatusCode, res.Body, res.Invocation.RawQuery)
		}
		o := in.order(t, id)
		if o.Status != order.StatusShipped || len(o.Shipments) != 1 || o.Shipments[0].TrackingNumber != tracking {
			t.Fatalf("after the callback: %s shipments %+v", o.Status, o.Shipments)
		}
		rec := order.RecordID(shop, id)
		fj := in.takeJob(t, "fulfill of "+id, func(j order.Job) bool { return j.Kind == order.JobFulfill && j.Order == rec })
		logs := in.deliver(t, fj, 1)
		in.done(t, fj)
		if !hasLine(logs, fj.ID, "done") {
			t.Fatalf("router logs %q", logs)
		}
		fs := w.shopify.Fulfillments(id)
		if len(fs) != 1 || fs[0].TrackingNumber != tracking {
			t.Fatalf("Shopify fulfillments %+v", fs)
		}
		if o := in.order(t, id); o.Status != order.StatusFulfilled || o.Shipments[0].ShopifyFulfillmentID == "" {
			t.Fatalf("after the fulfill job: %s %+v", o.Status, o.Shipments)
		}
		in.waitOutput(t, "job done", fj.ID)
		if err := in.sim.CheckOutput(true, secrets()...); err != nil {
			t.Fatal(err)
		}
	})
}

// envList turns app settings into an environment.
func envList(env map[string]string) []string {
	out := make([]string, 0, len(env))
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	return out
}
