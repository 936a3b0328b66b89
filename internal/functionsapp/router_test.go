package functionsapp_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/shipwell/orderflow/internal/functions/hostsim"
	"github.com/shipwell/orderflow/internal/order"
	"github.com/shipwell/orderflow/internal/servicebus"
	"github.com/shipwell/orderflow/internal/warehousesim"
)

// bigLineIDs are the line item ids of the official orders/create sample, all above 2^53.
var bigLineIDs = []string{"487817672276298554", "789012345678901234", "890123456789012345", "976318377106520349", "315789986012684393"}

// sentToWarehouse is the part of a warehouse order body the tests check.
type sentToWarehouse struct {
	ExternalOrderID string `json:"externalOrderId"`
	Items           []struct {
		SKU        string `json:"sku"`
		LineItemID string `json:"lineItemId"`
	} `json:"items"`
}

// TestFulfillmentRouter delivers queued jobs to fulfillment-router as Service Bus messages the
// way the host does (binary mode per function.json; MessageId, DeliveryCount and application
// properties in Metadata) and checks what reached the warehouse SIMULATOR.
func TestFulfillmentRouter(t *testing.T) {
	w := newWorld(t)
	in := w.start(t, appForwarding)

	t.Run("ids above 2^53 survive; a redelivery does not order twice", func(t *testing.T) {
		id := "820982911946154999"
		r := in.send(t, "order-created", "orders/create", scenario(t, "orders_create_paid_bigids.json"))
		if r.OrderStatus != "queued" || r.OrderID != id {
			t.Fatalf("orders/create: %+v", r)
		}
		j := in.dispatchJob(t, id)
		body, msg := message(t, j, 1)
		if msg.MessageID != j.ID || msg.ApplicationProperties[servicebus.PropRoute] != east ||
			msg.ApplicationProperties[servicebus.PropPriority] != order.PriorityNormal {
			t.Fatalf("message %+v for job %+v", msg, j)
		}
		res := in.sim.ServiceBus(routerFn, body, msg)
		logs := completedOnce(t, res)
		in.done(t, j)
		if !hasLine(logs, j.ID, "(delivery 1, attempt 1): done: dispatched, fulfillmentId ") {
			t.Fatalf("logs %q", logs)
		}
		// The host sent base64 of the exact body (dataType binary) and the metadata the
		// handler read back (its log line shows the delivery count).
		data, md, err := res.Last().Invocation.Envelope()
		if err != nil {
			t.Fatal(err)
		}
		if want := `"` + b64(body) + `"`; string(data["message"]) != want {
			t.Fatalf("Data.message %s, want the base64 of the body", data["message"])
		}
		var mid string
		if err := json.Unmarshal(md["MessageId"], &mid); err != nil || mid != fmt.Sprintf("%q", j.ID) {
			t.Fatalf("Metadata.MessageId %s, want the job id double-encoded", md["MessageId"])
		}

		sent := w.fulfillmentsTo(east, id)
		accepted := w.ordersAt(east, id)
		if len(sent) != 1 || len(accepted) != 1 || sent[0].Status != http.StatusCreated {
			t.Fatalf("warehouse saw %d requests and %d orders for %s, want 1 and 1", len(sent), len(accepted), id)
		}
		var got sentToWarehouse
		if err := json.Unmarshal([]byte(sent[0].Body), &got); err != nil {
			t.Fatal(err)
		}
		var lineIDs []string
		for _, it := range got.Items {
			lineIDs = append(lineIDs, it.LineItemID)
		}
		if got.ExternalOrderID != id || strings.Join(lineIDs, ",") != strings.Join(bigLineIDs, ",") {
			t.Fatalf("warehouse got externalOrderId %s lineItemIds %v", got.ExternalOrderID, lineIDs)
		}
		key := order.IdempotencyKey(order.RecordID(shop, id), east)
		if sent[0].IdempotencyKey != key {
			t.Fatalf("Idempotency-Key %q, want %q", sent[0].IdempotencyKey, key)
		}
		o := in.order(t, id)
		if o.Status != order.StatusDispatched || o.WarehouseFulfillmentID != accepted[0].ID {
			t.Fatalf("record: %s fulfillment %q (warehouse %s)", o.Status, o.WarehouseFulfillmentID, accepted[0].ID)
		}

		// The same message again, as Service Bus redelivers it after a lost lock.
		logs = in.deliver(t, j, 2)
		if !hasLine(logs, j.ID, "(delivery 2, attempt 1): done: not dispatched: order is dispatched") {
			t.Fatalf("redelivery logs %q", logs)
		}
		if n, m := len(w.fulfillmentsTo(east, id)), len(w.ordersAt(east, id)); n != 1 || m != 1 {
			t.Fatalf("after the redelivery the warehouse saw %d requests and %d orders, want 1 and 1", n, m)
		}
		if got := in.order(t, id); got.Status != order.StatusDispatched || len(got.Attempts) != 1 {
			t.Fatalf("after the redelivery: %s with %d attempts", got.Status, len(got.Attempts))
		}
	})

	t.Run("a crash after the warehouse accepted: the redelivery reuses the Idempotency-Key", func(t *testing.T) {
		id := "5900000000503"
		in.send(t, "order-created", "orders/create", paidOrder(t, id, "US", "NY"))
		j := in.dispatchJob(t, id)
		// The first delivery's warehouse call went through, then the process died before it
		// recorded the answer: the message was not completed and comes back with DeliveryCount 2.
		key := order.IdempotencyKey(order.RecordID(shop, id), east)
		first := w.acceptAtWarehouse(t, east, key, id)
		logs := in.deliver(t, j, 2)
		in.done(t, j)
		if !hasLine(logs, j.ID, "(delivery 2, attempt 1): done: dispatched, fulfillmentId "+first) {
			t.Fatalf("logs %q", logs)
		}
		sent, accepted := w.fulfillmentsTo(east, id), w.ordersAt(east, id)
		if len(sent) != 2 || sent[1].IdempotencyKey != key || !sent[1].Replay || len(accepted) != 1 {
			t.Fatalf("warehouse: %d requests (%+v), %d orders; want the product's request to be a replay of the same key, and 1 order", len(sent), sent, len(accepted))
		}
		if o := in.order(t, id); o.Status != order.StatusDispatched || o.WarehouseFulfillmentID != first {
			t.Fatalf("record: %s %q, want dispatched %s", o.Status, o.WarehouseFulfillmentID, first)
		}
	})

	t.Run("a transient warehouse failure completes the message and schedules a retry", func(t *testing.T) {
		id := "5900000000502"
		in.send(t, "order-created", "orders/create", paidOrder(t, id, "US", "CA"))
		j := in.dispatchJob(t, id)
		if err := w.wh[west].InjectFault(warehousesim.Fault{Endpoint: warehousesim.EndpointFulfillments, Status: http.StatusServiceUnavailable, Count: 1}); err != nil {
			t.Fatal(err)
		}
		defer w.wh[west].ClearFaults()
		body, msg := message(t, j, 1)
		res := in.sim.ServiceBus(routerFn, body, msg)
		// 2xx: the host completes the message instead of abandoning it (no delivery burnt).
		logs := completedOnce(t, res)
		in.done(t, j)
		if st := res.Last().Invocation.StatusCode; st < 200 || st > 299 {
			t.Fatalf("invocation status %d", st)
		}
		retryID := j.ID + ":retry1"
		if !hasLine(logs, j.ID, "retry: ") || !hasLine(logs, "retry scheduled as "+retryID) {
			t.Fatalf("logs %q", logs)
		}
		var row *jobRow
		for _, r := range in.jobRows(t) {
			if r.ID == retryID {
				row = &r
			}
		}
		if row == nil || row.State != "ready" || row.Attempt != 1 {
			t.Fatalf("retry job %s: %+v", retryID, row)
		}
		// Scheduled in the future: RETRY_BASE_DELAY=50ms gives a first backoff of 25–50 ms.
		if wait := row.RunAt.Sub(row.CreatedAt); wait < 20*time.Millisecond || wait > 100*time.Millisecond {
			t.Fatalf("retry scheduled %v after it was written, want 25–50 ms", wait)
		}
		o := in.order(t, id)
		if o.Status != order.StatusQueued || len(o.Attempts) != 1 || o.Attempts[0].Outcome != "retry" || !strings.Contains(o.Attempts[0].Detail, "503") {
			t.Fatalf("record after the failure: %s attempts %+v", o.Status, o.Attempts)
		}

		retry := in.takeJob(t, "retry of "+id, func(r order.Job) bool { return r.ID == retryID })
		if retry.Attempt != 1 || retry.Order != j.Order || retry.Generation != j.Generation {
			t.Fatalf("retry job %+v", retry)
		}
		logs = in.deliver(t, retry, 1)
		in.done(t, retry)
		if !hasLine(logs, retryID, "attempt 2): done: dispatched") {
			t.Fatalf("retry logs %q", logs)
		}
		sent, accepted := w.fulfillmentsTo(west, id), w.ordersAt(west, id)
		if len(sent) != 2 || sent[0].Status != http.StatusServiceUnavailable || sent[1].Status != http.StatusCreated || len(accepted) != 1 {
			t.Fatalf("warehouse: %d requests %+v, %d orders", len(sent), sent, len(accepted))
		}
		if o := in.order(t, id); o.Status != order.StatusDispatched {
			t.Fatalf("record: %s", o.Status)
		}
	})

	t.Run("a body that is not a job is completed and quarantined", func(t *testing.T) {
		bodies := map[string]string{
			"fa-invalid-text":   "not a job at all",
			"fa-invalid-number": `{"id":"dispatch:x","kind":"dispatch","order":820982911946154999,"warehouse":"warehouse-east"}`,
			"fa-invalid-kind":   `{"id":"teleport:x","kind":"teleport","order":"acme-demo.myshopify.com-1","warehouse":"warehouse-east"}`,
		}
		for mid, body := range bodies {
			res := in.sim.ServiceBus(routerFn, []byte(body), hostsim.Message{MessageID: mid})
			logs := completedOnce(t, res) // not abandoned and redelivered up to maxDeliveryCount
			if !hasLine(logs, "invalid message quarantined") {
				t.Fatalf("%s: logs %q", mid, logs)
			}
		}
		receipts, err := in.db.ListReceipts(context.Background(), order.ReceiptQuarantine, 1000)
		if err != nil {
			t.Fatal(err)
		}
		for mid, body := range bodies {
			found := false
			for _, r := range receipts {
				if r.WebhookID == "message-"+mid {
					found = r.Topic == "fulfillment-queue" && string(r.Body) == body && r.Reason != ""
				}
			}
			if !found {
				t.Fatalf("no quarantine receipt for message %s", mid)
			}
		}
	})

	t.Run("string mode: a double-encoded body decodes too", func(t *testing.T) {
		// The envelope app's fulfillment-router has no "dataType": the host double-encodes.
		env := w.start(t, appEnvelope)
		id := "5900000000003"
		env.send(t, "order-created", "orders/create", scenario(t, "orders_create_international_de.json"))
		j := env.dispatchJob(t, id)
		body, msg := message(t, j, 1)
		res := env.sim.ServiceBus(routerFn, body, msg)
		logs := completedOnce(t, res)
		env.done(t, j)
		if !hasLine(logs, j.ID, "done: dispatched") {
			t.Fatalf("logs %q", logs)
		}
		data, _, err := res.Last().Invocation.Envelope()
		if err != nil {
			t.Fatal(err)
		}
		var outer, inner string
		if err := json.Unmarshal(data["message"], &outer); err != nil || json.Unmarshal([]byte(outer), &inner) != nil || inner != string(body) {
			t.Fatalf("Data.message %.80s is not the body double-encoded", data["message"])
		}
		if n, m := len(w.fulfillmentsTo(intl, id)), len(w.ordersAt(intl, id)); n != 1 || m != 1 {
			t.Fatalf("international saw %d requests and %d orders", n, m)
		}
		if o := env.order(t, id); o.Status != order.StatusDispatched {
			t.Fatalf("record: %s", o.Status)
		}
	})
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

// acceptAtWarehouse posts an order to a warehouse SIMULATOR directly with the given
// Idempotency-Key, as an earlier attempt of the product would have, and returns the
// fulfillment id.
func (w *world) acceptAtWarehouse(t *testing.T, name, key, orderID string) string {
	t.Helper()
	body := fmt.Sprintf(`{"externalOrderId":%q,"items":[{"sku":"SKU2006-001","quantity":1,"lineItemId":"487817672276298554"}],`+
		`"shippingAddress":{"country":"US","province":"NY"}}`, orderID)
	req, err := http.NewRequest(http.MethodPost, w.env[warehouseURLSetting[name]]+"/fulfillments", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+whKeys[name])
	req.Header.Set("Idempotency-Key", key)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var out struct {
		FulfillmentID string `json:"fulfillmentId"`
	}
	if err := json.NewDecoder(res.Body).Decode(&out); err != nil || res.StatusCode != http.StatusCreated || out.FulfillmentID == "" {
		t.Fatalf("warehouse simulator: %d %v %+v", res.StatusCode, err, out)
	}
	return out.FulfillmentID
}

// warehouseURLSetting names each warehouse's URL setting (as in the routing file).
var warehouseURLSetting = map[string]string{east: "WAREHOUSE_EAST_API", west: "WAREHOUSE_WEST_API", intl: "INTERNATIONAL_3PL_API"}
