package order

import (
	"errors"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)

func policy() Policy {
	return Policy{
		Route: func(a *Address) (string, error) {
			switch {
			case a.CountryCode == "US" && a.ProvinceCode == "NY":
				return "east", nil
			case a.CountryCode == "US":
				return "west", nil
			case a.CountryCode == "":
				return "", errors.New("no country")
			}
			return "intl", nil
		},
		HighPriority: func(total string) bool { return total == "999.00" },
	}
}

func snap(mod func(*Snapshot)) *Snapshot {
	s := &Snapshot{OrderID: "820982911946154508", Name: "#1001", FinancialStatus: "paid", UpdatedAt: t0, TotalPrice: "10.00",
		Lines: []Line{
			{LineItemID: "1", SKU: "A", Name: "a", Quantity: 2, FulfillableQuantity: 2, RequiresShipping: true},
			{LineItemID: "2", SKU: "", Name: "download", Quantity: 1, FulfillableQuantity: 1, RequiresShipping: false},
			{LineItemID: "3", SKU: "GC", Name: "gift card", Quantity: 1, FulfillableQuantity: 1, RequiresShipping: true, GiftCard: true},
		},
		ShippingAddress: &Address{CountryCode: "US", ProvinceCode: "NY"}}
	if mod != nil {
		mod(s)
	}
	return s
}

func delivery(topic, id string, at time.Time) Delivery {
	return Delivery{Topic: topic, Shop: "acme.myshopify.com", WebhookID: id, ReceivedAt: at}
}

// step is one delivery and the state it must leave.
type step struct {
	topic     string
	snap      *Snapshot
	status    Status
	jobs      []JobKind
	reason    string // substring
	route     string
	applied   bool
	attention string // substring
}

func TestLifecycle(t *testing.T) {
	cancelled := t0.Add(time.Hour)
	tests := []struct {
		name  string
		steps []step
	}{
		{"paid order is queued with only shippable lines", []step{
			{topic: TopicOrdersCreate, snap: snap(nil), status: StatusQueued, jobs: []JobKind{JobDispatch}, route: "east", applied: true},
		}},
		{"pending waits for paid", []step{
			{topic: TopicOrdersCreate, snap: snap(func(s *Snapshot) { s.FinancialStatus = "pending" }), status: StatusReceived, reason: "awaiting payment", applied: true},
			{topic: TopicOrdersPaid, snap: snap(func(s *Snapshot) { s.UpdatedAt = t0.Add(time.Minute) }), status: StatusQueued, jobs: []JobKind{JobDispatch}, applied: true},
		}},
		{"authorized dispatches", []step{
			{topic: TopicOrdersCreate, snap: snap(func(s *Snapshot) { s.FinancialStatus = "authorized" }), status: StatusQueued, jobs: []JobKind{JobDispatch}, applied: true},
		}},
		{"paid again does not queue twice", []step{
			{topic: TopicOrdersCreate, snap: snap(nil), status: StatusQueued, jobs: []JobKind{JobDispatch}, applied: true},
			{topic: TopicOrdersPaid, snap: snap(func(s *Snapshot) { s.UpdatedAt = t0.Add(time.Minute) }), status: StatusQueued, applied: true},
		}},
		{"address change before dispatch re-routes", []step{
			{topic: TopicOrdersCreate, snap: snap(nil), status: StatusQueued, jobs: []JobKind{JobDispatch}, route: "east", applied: true},
			{topic: TopicOrdersUpdated, snap: snap(func(s *Snapshot) { s.UpdatedAt = t0.Add(time.Minute); s.ShippingAddress.ProvinceCode = "CA" }),
				status: StatusQueued, jobs: []JobKind{JobDispatch}, route: "west", applied: true},
		}},
		{"late stale retry does not move the order back", []step{
			{topic: TopicOrdersUpdated, snap: snap(func(s *Snapshot) { s.UpdatedAt = t0.Add(time.Minute); s.ShippingAddress.ProvinceCode = "CA" }),
				status: StatusQueued, jobs: []JobKind{JobDispatch}, route: "west", applied: true},
			{topic: TopicOrdersCreate, snap: snap(nil), status: StatusQueued, route: "west", applied: false},
		}},
		{"no shipping address is held, then fixed", []step{
			{topic: TopicOrdersCreate, snap: snap(func(s *Snapshot) { s.ShippingAddress = nil }), status: StatusHeld, reason: ReasonNoAddress, applied: true},
			{topic: TopicOrdersUpdated, snap: snap(func(s *Snapshot) { s.UpdatedAt = t0.Add(time.Minute) }), status: StatusQueued, jobs: []JobKind{JobDispatch}, applied: true},
		}},
		{"missing SKU and address both reported", []step{
			{topic: TopicOrdersCreate, snap: snap(func(s *Snapshot) { s.ShippingAddress = nil; s.Lines[0].SKU = " " }), status: StatusHeld,
				reason: "no shipping address; line without SKU: 1 (a)", applied: true},
		}},
		{"no route is held", []step{
			{topic: TopicOrdersCreate, snap: snap(func(s *Snapshot) { s.ShippingAddress.CountryCode = "" }), status: StatusHeld, reason: "no route", applied: true},
		}},
		{"nothing shippable needs no fulfillment", []step{
			{topic: TopicOrdersCreate, snap: snap(func(s *Snapshot) { s.Lines = s.Lines[1:] }), status: StatusNothingToShip, applied: true},
		}},
		{"refunded without cancel is held", []step{
			{topic: TopicOrdersCreate, snap: snap(func(s *Snapshot) { s.FinancialStatus = "refunded" }), status: StatusHeld, reason: "payment refunded", applied: true},
		}},
		{"cancel first creates a cancelled record from its payload", []step{
			{topic: TopicOrdersCancelled, snap: snap(func(s *Snapshot) { s.CancelledAt = &cancelled; s.UpdatedAt = cancelled }), status: StatusCancelled, applied: true},
			{topic: TopicOrdersCreate, snap: snap(nil), status: StatusCancelled, applied: false},
			{topic: TopicOrdersPaid, snap: snap(func(s *Snapshot) { s.UpdatedAt = cancelled.Add(time.Minute) }), status: StatusCancelled, applied: true},
		}},
		{"cancel while queued stops the dispatch", []step{
			{topic: TopicOrdersCreate, snap: snap(nil), status: StatusQueued, jobs: []JobKind{JobDispatch}, applied: true},
			{topic: TopicOrdersCancelled, snap: snap(func(s *Snapshot) { s.CancelledAt = &cancelled; s.UpdatedAt = cancelled }), status: StatusCancelled, applied: true},
		}},
		{"cancelled topic without cancelled_at is an update", []step{
			{topic: TopicOrdersCancelled, snap: snap(nil), status: StatusQueued, jobs: []JobKind{JobDispatch}, applied: true},
		}},
		{"fulfilled by hand before dispatch stops it", []step{
			{topic: TopicOrdersCreate, snap: snap(nil), status: StatusQueued, jobs: []JobKind{JobDispatch}, applied: true},
			{topic: TopicOrdersFulfilled, snap: snap(func(s *Snapshot) { s.UpdatedAt = t0.Add(time.Minute); s.FulfillmentStatus = "fulfilled" }),
				status: StatusFulfilled, reason: "outside the product", applied: true},
		}},
		{"high total is high priority", []step{
			{topic: TopicOrdersCreate, snap: snap(func(s *Snapshot) { s.TotalPrice = "999.00" }), status: StatusQueued, jobs: []JobKind{JobDispatch}, applied: true},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := &Order{}
			for i, st := range tc.steps {
				jobs := o.ApplyWebhook(delivery(st.topic, "w"+string(rune('a'+i)), t0), st.snap, policy())
				var kinds []JobKind
				for _, j := range jobs {
					kinds = append(kinds, j.Kind)
				}
				ev := o.Events[len(o.Events)-1]
				if o.Status != st.status || len(kinds) != len(st.jobs) || ev.Applied != st.applied ||
					!strings.Contains(o.Reason, st.reason) || (st.route != "" && o.Route != st.route) {
					t.Fatalf("step %d (%s): status %s reason %q route %q jobs %v applied %v note %q; want %s %q %q %v %v",
						i, st.topic, o.Status, o.Reason, o.Route, kinds, ev.Applied, ev.Note, st.status, st.reason, st.route, st.jobs, st.applied)
				}
				for k, j := range jobs {
					if j.Kind != st.jobs[k] {
						t.Fatalf("step %d job %d kind %s, want %s", i, k, j.Kind, st.jobs[k])
					}
				}
			}
			if o.ID != "acme.myshopify.com-820982911946154508" || len(o.Events) != len(tc.steps) {
				t.Fatalf("id %q events %d", o.ID, len(o.Events))
			}
		})
	}
}

func TestShippableLinesOnly(t *testing.T) {
	o := &Order{}
	o.ApplyWebhook(delivery(TopicOrdersCreate, "w", t0), snap(nil), policy())
	if len(o.Lines) != 1 || o.Lines[0].SKU != "A" || o.Lines[0].FulfillableQuantity != 2 {
		t.Fatalf("lines %+v", o.Lines)
	}
}

func TestPriorityAndJobIDs(t *testing.T) {
	o := &Order{}
	jobs := o.ApplyWebhook(delivery(TopicOrdersCreate, "w", t0), snap(func(s *Snapshot) { s.TotalPrice = "999.00" }), policy())
	j := jobs[0]
	if j.Priority != PriorityHigh || j.ID != "dispatch:acme.myshopify.com-820982911946154508:east:1" || j.OrderID != "820982911946154508" {
		t.Fatalf("job %+v", j)
	}
	if IdempotencyKey(o.ID, o.Route) != "acme.myshopify.com-820982911946154508:east" {
		t.Fatal(IdempotencyKey(o.ID, o.Route))
	}
}

func TestCancelAfterDispatchAndShipping(t *testing.T) {
	at := t0.Add(time.Hour)
	o := &Order{}
	o.ApplyWebhook(delivery(TopicOrdersCreate, "w1", t0), snap(nil), policy())
	if jobs := o.Dispatched("WH-1", t0); len(jobs) != 0 || o.Status != StatusDispatched {
		t.Fatalf("dispatched: %v %s", jobs, o.Status)
	}
	jobs := o.ApplyWebhook(delivery(TopicOrdersCancelled, "w2", at), snap(func(s *Snapshot) { s.CancelledAt = &at; s.UpdatedAt = at }), policy())
	if o.Status != StatusCancelled || len(jobs) != 1 || jobs[0].Kind != JobCancel {
		t.Fatalf("cancel after dispatch: %s %v", o.Status, jobs)
	}
	if jobs := o.Cancel(at, at); len(jobs) != 0 {
		t.Fatal("second cancel queued another warehouse cancel")
	}

	s := &Order{}
	s.ApplyWebhook(delivery(TopicOrdersCreate, "w1", t0), snap(nil), policy())
	s.Dispatched("WH-2", t0)
	s.Status = StatusShipped
	jobs = s.ApplyWebhook(delivery(TopicOrdersCancelled, "w2", at), snap(func(x *Snapshot) { x.CancelledAt = &at; x.UpdatedAt = at }), policy())
	if s.Status != StatusShipped || len(jobs) != 0 || !strings.Contains(s.Attention, "after shipping") {
		t.Fatalf("cancel after shipping: %s %v %q", s.Status, jobs, s.Attention)
	}
}

func TestCancelDuringDispatch(t *testing.T) {
	at := t0.Add(time.Hour)
	o := &Order{}
	o.ApplyWebhook(delivery(TopicOrdersCreate, "w1", t0), snap(nil), policy())
	o.ApplyWebhook(delivery(TopicOrdersCancelled, "w2", at), snap(func(s *Snapshot) { s.CancelledAt = &at; s.UpdatedAt = at }), policy())
	// The warehouse accepted the order while the cancel was being recorded.
	jobs := o.Dispatched("WH-9", at)
	if o.Status != StatusCancelled || len(jobs) != 1 || jobs[0].Kind != JobCancel || o.WarehouseFulfillmentID != "WH-9" {
		t.Fatalf("%s %v %q", o.Status, jobs, o.WarehouseFulfillmentID)
	}
}

func TestSeenDelivery(t *testing.T) {
	o := &Order{}
	d := Delivery{Topic: TopicOrdersCreate, Shop: "s", WebhookID: "w1", EventID: "e1", ReceivedAt: t0}
	o.ApplyWebhook(d, snap(nil), policy())
	for _, tc := range []struct {
		topic, wh, ev string
		want          bool
	}{
		{TopicOrdersCreate, "w1", "", true},
		{TopicOrdersCreate, "w2", "e1", true},  // second subscription, same event
		{TopicOrdersPaid, "w3", "e1", false},   // same action, another topic: a real delivery
		{TopicOrdersCreate, "w4", "e2", false}, // new event
		{TopicOrdersCreate, "", "", false},
	} {
		if got := o.SeenDelivery(tc.topic, tc.wh, tc.ev); got != tc.want {
			t.Errorf("SeenDelivery(%s, %s, %s) = %v", tc.topic, tc.wh, tc.ev, got)
		}
	}
}

func TestDeadLetterAndReplay(t *testing.T) {
	o := &Order{}
	jobs := o.ApplyWebhook(delivery(TopicOrdersCreate, "w1", t0), snap(nil), policy())
	o.DeadLetterJob(jobs[0], "400 bad address", t0)
	if o.Status != StatusDeadLettered || len(o.DeadLetters) != 1 {
		t.Fatalf("%s %d", o.Status, len(o.DeadLetters))
	}
	if n := o.Replay("", t0); n != 1 || o.Status != StatusQueued || len(o.Outbox) != 1 || len(o.DeadLetters) != 0 {
		t.Fatalf("replay: %d %s %d %d", n, o.Status, len(o.Outbox), len(o.DeadLetters))
	}
	if o.Outbox[0].ID == jobs[0].ID || o.Outbox[0].Generation != 2 {
		t.Fatalf("replayed job must be a new job: %+v", o.Outbox[0])
	}
	// A dead dispatch of an order cancelled meanwhile is dropped, not sent.
	c := &Order{}
	jobs = c.ApplyWebhook(delivery(TopicOrdersCreate, "w1", t0), snap(nil), policy())
	c.DeadLetterJob(jobs[0], "timeout", t0)
	c.Cancel(t0, t0)
	if n := c.Replay("", t0); n != 0 || len(c.Outbox) != 0 || len(c.DeadLetters) != 0 {
		t.Fatalf("replay of cancelled order: %d %d %d", n, len(c.Outbox), len(c.DeadLetters))
	}
}

func TestRecordIDIsSafe(t *testing.T) {
	for _, tc := range []struct{ shop, id, want string }{
		{"Acme-Demo.myshopify.com", "820982911946154508", "acme-demo.myshopify.com-820982911946154508"},
		{"a/b?c#d\\e", "1", "a_b_c_d_e-1"},
	} {
		got := RecordID(tc.shop, tc.id)
		if got != tc.want || strings.ContainsAny(got, "/\\?#") {
			t.Errorf("RecordID(%q, %q) = %q, want %q", tc.shop, tc.id, got, tc.want)
		}
	}
}
