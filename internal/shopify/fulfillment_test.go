package shopify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/shipwell/orderflow/internal/order"
	"github.com/shipwell/orderflow/internal/shopifysim"
)

func TestFulfillmentStatePaginatesAndKeepsBigIDs(t *testing.T) {
	e := newEnv(t, shopifysim.Options{}, nil)
	// Seven fulfillment orders (pages of 5) at two locations; one has 60 lines (pages of 50).
	var fos []shopifysim.FulfillmentOrder
	for i := range 7 {
		loc := "106318430514"
		if i%2 == 1 {
			loc = "gid://shopify/Location/7"
		}
		n := 1
		if i == 6 {
			n = 60
		}
		fo := shopifysim.FulfillmentOrder{LocationID: loc}
		for j := range n {
			fo.Lines = append(fo.Lines, shopifysim.FulfillmentOrderLine{SKU: fmt.Sprintf("SKU-%d-%d", i, j), Quantity: 2})
		}
		fos = append(fos, fo)
	}
	fos[2].Status = "ON_HOLD"
	seeded, err := e.sim.AddOrder(shopifysim.Order{ID: "820982911946154508", FulfillmentOrders: fos})
	if err != nil {
		t.Fatal(err)
	}
	st, err := e.client.FulfillmentState(context.Background(), "820982911946154508")
	if err != nil {
		t.Fatal(err)
	}
	if st.OrderGID != "gid://shopify/Order/820982911946154508" {
		t.Errorf("order gid = %s", st.OrderGID)
	}
	if len(st.FulfillmentOrders) != 7 {
		t.Fatalf("%d fulfillment orders, want 7", len(st.FulfillmentOrders))
	}
	for i, fo := range st.FulfillmentOrders {
		want := seeded.FulfillmentOrders[i]
		if fo.ID != want.ID || fo.LocationID != want.LocationID || fo.Status != want.Status {
			t.Errorf("FO %d = %s %s %s, want %s %s %s", i, fo.ID, fo.LocationID, fo.Status, want.ID, want.LocationID, want.Status)
		}
		if len(fo.Lines) != len(want.Lines) {
			t.Errorf("FO %d: %d lines, want %d", i, len(fo.Lines), len(want.Lines))
			continue
		}
		for j, l := range fo.Lines {
			w := want.Lines[j]
			if l.ID != w.ID || l.LineItemID != w.LineItemID || l.SKU != w.SKU || l.TotalQuantity != 2 || l.RemainingQuantity != 2 {
				t.Errorf("FO %d line %d = %+v, want %+v", i, j, l, w)
			}
		}
	}
	if st.FulfillmentOrders[1].LocationID != "gid://shopify/Location/7" || st.FulfillmentOrders[2].Status != "ON_HOLD" {
		t.Error("locations or statuses lost")
	}
}

func TestFulfillmentStateUnknownOrder(t *testing.T) {
	e := newEnv(t, shopifysim.Options{}, nil)
	_, err := e.client.FulfillmentState(context.Background(), "123")
	if !errors.Is(err, order.ErrNotFound) || !order.IsPermanent(err) {
		t.Fatalf("err = %v, want permanent ErrNotFound", err)
	}
	if _, err := e.client.FulfillmentState(context.Background(), "#1001"); !order.IsPermanent(err) {
		t.Errorf("bad id: err = %v, want permanent", err)
	}
}

func TestCreateFulfillmentEverythingRemaining(t *testing.T) {
	e := newEnv(t, shopifysim.Options{}, nil)
	o := e.seedOrder(t, "820982911946154508", "106318430514",
		shopifysim.FulfillmentOrderLine{SKU: "IPOD2008PINK", Quantity: 1},
		shopifysim.FulfillmentOrderLine{SKU: "CASE", Quantity: 2})
	ctx := context.Background()
	foID := o.FulfillmentOrders[0].ID
	id, err := e.client.CreateFulfillment(ctx, order.FulfillmentRequest{
		Orders:         []order.FulfillmentOrderLines{{FulfillmentOrderID: foID}},
		TrackingNumber: "1Z999AA10123456784", Company: "UPS", URL: "https://www.ups.com/track?tracknum=1Z999AA10123456784",
		NotifyCustomer: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(id, "gid://shopify/Fulfillment/") {
		t.Errorf("id = %q", id)
	}
	// The exact mutation: no fulfillmentOrderLineItems (everything remaining), tracking, notify.
	muts := e.sim.Mutations()
	if len(muts) != 1 || muts[0].Field != "fulfillmentCreate" || muts[0].Outcome != "applied" {
		t.Fatalf("mutations = %+v", muts)
	}
	var args struct {
		Fulfillment map[string]any `json:"fulfillment"`
	}
	if err := json.Unmarshal(muts[0].Arguments, &args); err != nil {
		t.Fatal(err)
	}
	want := `{"lineItemsByFulfillmentOrder":[{"fulfillmentOrderId":"` + foID + `"}],"notifyCustomer":true,` +
		`"trackingInfo":{"company":"UPS","number":"1Z999AA10123456784","url":"https://www.ups.com/track?tracknum=1Z999AA10123456784"}}`
	if got, _ := json.Marshal(args.Fulfillment); string(got) != want {
		t.Errorf("fulfillment input\n got %s\nwant %s", got, want)
	}
	after, _ := e.sim.Order("820982911946154508")
	if fo := after.FulfillmentOrders[0]; fo.Status != "CLOSED" || *fo.Lines[0].Remaining != 0 || *fo.Lines[1].Remaining != 0 {
		t.Errorf("FO after = %+v", fo)
	}
	// The fulfillment is listed with its tracking number.
	st, err := e.client.FulfillmentState(ctx, "820982911946154508")
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Fulfillments) != 1 || st.Fulfillments[0].ID != id || st.Fulfillments[0].Status != "SUCCESS" ||
		fmt.Sprint(st.Fulfillments[0].TrackingNumbers) != "[1Z999AA10123456784]" {
		t.Errorf("fulfillments = %+v", st.Fulfillments)
	}
	if st.FulfillmentOrders[0].Status != "CLOSED" {
		t.Errorf("status = %s", st.FulfillmentOrders[0].Status)
	}
}

func TestCreateFulfillmentSomeLines(t *testing.T) {
	e := newEnv(t, shopifysim.Options{}, nil)
	o := e.seedOrder(t, "6198424240428", "1",
		shopifysim.FulfillmentOrderLine{SKU: "A", Quantity: 3},
		shopifysim.FulfillmentOrderLine{SKU: "B", Quantity: 1})
	fo := o.FulfillmentOrders[0]
	_, err := e.client.CreateFulfillment(context.Background(), order.FulfillmentRequest{
		Orders: []order.FulfillmentOrderLines{{FulfillmentOrderID: fo.ID,
			Lines: []order.FulfillmentLineQuantity{{ID: fo.Lines[0].ID, Quantity: 2}}}},
		TrackingNumber: "T-1",
	})
	if err != nil {
		t.Fatal(err)
	}
	after, _ := e.sim.Order(o.ID)
	got := after.FulfillmentOrders[0]
	if got.Status != "IN_PROGRESS" || *got.Lines[0].Remaining != 1 || *got.Lines[1].Remaining != 1 {
		t.Errorf("after partial fulfillment: %+v", got)
	}
	fs := e.sim.Fulfillments(o.ID)
	if len(fs) != 1 || len(fs[0].Lines) != 1 || fs[0].Lines[0].Quantity != 2 || fs[0].TrackingNumber != "T-1" || fs[0].NotifyCustomer {
		t.Errorf("fulfillments = %+v", fs)
	}
}

func TestCreateFulfillmentUserErrorsArePermanent(t *testing.T) {
	tests := []struct {
		name    string
		prepare func(e *env, o shopifysim.Order) order.FulfillmentRequest
		message string
	}{
		{"on hold", func(e *env, o shopifysim.Order) order.FulfillmentRequest {
			if err := e.sim.HoldFulfillmentOrder(o.FulfillmentOrders[0].ID); err != nil {
				panic(err)
			}
			return order.FulfillmentRequest{Orders: []order.FulfillmentOrderLines{{FulfillmentOrderID: o.FulfillmentOrders[0].ID}}}
		}, "has an unfulfillable status= on_hold."},
		{"cancelled order", func(e *env, o shopifysim.Order) order.FulfillmentRequest {
			if err := e.sim.CancelOrder(o.ID); err != nil {
				panic(err)
			}
			return order.FulfillmentRequest{Orders: []order.FulfillmentOrderLines{{FulfillmentOrderID: o.FulfillmentOrders[0].ID}}}
		}, "has an unfulfillable status= closed."},
		{"too many", func(e *env, o shopifysim.Order) order.FulfillmentRequest {
			fo := o.FulfillmentOrders[0]
			return order.FulfillmentRequest{Orders: []order.FulfillmentOrderLines{{FulfillmentOrderID: fo.ID,
				Lines: []order.FulfillmentLineQuantity{{ID: fo.Lines[0].ID, Quantity: 5}}}}}
		}, "Invalid fulfillment order line item quantity requested."},
		{"zero", func(e *env, o shopifysim.Order) order.FulfillmentRequest {
			fo := o.FulfillmentOrders[0]
			return order.FulfillmentRequest{Orders: []order.FulfillmentOrderLines{{FulfillmentOrderID: fo.ID,
				Lines: []order.FulfillmentLineQuantity{{ID: fo.Lines[0].ID, Quantity: 0}}}}}
		}, "Quantity must be greater than 0"},
		{"unknown", func(e *env, o shopifysim.Order) order.FulfillmentRequest {
			return order.FulfillmentRequest{Orders: []order.FulfillmentOrderLines{{FulfillmentOrderID: "999999999"}}}
		}, "Fulfillment order does not exist."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, shopifysim.Options{}, nil)
			o := e.seedOrder(t, "777", "1", shopifysim.FulfillmentOrderLine{SKU: "A", Quantity: 2})
			_, err := e.client.CreateFulfillment(context.Background(), tt.prepare(e, o))
			var ue *UserErrors
			if !errors.As(err, &ue) || !order.IsPermanent(err) {
				t.Fatalf("err = %v, want permanent *UserErrors", err)
			}
			if !strings.Contains(err.Error(), tt.message) {
				t.Errorf("err = %v, want %q", err, tt.message)
			}
			if len(e.sim.Fulfillments("")) != 0 {
				t.Error("a fulfillment was created")
			}
		})
	}
}

func TestCreateFulfillmentAfterHoldRelease(t *testing.T) {
	e := newEnv(t, shopifysim.Options{}, nil)
	o := e.seedOrder(t, "778", "1", shopifysim.FulfillmentOrderLine{SKU: "A", Quantity: 1})
	foID := o.FulfillmentOrders[0].ID
	if err := e.sim.HoldFulfillmentOrder(foID); err != nil {
		t.Fatal(err)
	}
	req := order.FulfillmentRequest{Orders: []order.FulfillmentOrderLines{{FulfillmentOrderID: foID}}}
	if _, err := e.client.CreateFulfillment(context.Background(), req); err == nil {
		t.Fatal("fulfilled an order on hold")
	}
	if err := e.sim.ReleaseHold(foID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.client.CreateFulfillment(context.Background(), req); err != nil {
		t.Fatalf("after release: %v", err)
	}
}

// fulfillmentCreate is not idempotent: an answer that may hide a success is not retried
// blindly (the caller re-reads the state), while THROTTLED (nothing ran) is.
func TestCreateFulfillmentRetryPolicy(t *testing.T) {
	tests := []struct {
		name         string
		fault        shopifysim.Fault
		wantErr      bool
		fulfillments int
		requests     int
	}{
		{"503 not retried", shopifysim.Fault{Kind: shopifysim.FaultHTTP, Status: 503, Body: "{}"}, true, 0, 1},
		{"dropped connection not retried", shopifysim.Fault{Kind: shopifysim.FaultDrop}, true, 0, 1},
		{"THROTTLED retried", shopifysim.Fault{Kind: shopifysim.FaultThrottled}, false, 1, 2},
		{"429 retried", shopifysim.Fault{Kind: shopifysim.FaultHTTP, Status: 429, RetryAfter: "1"}, false, 1, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, shopifysim.Options{}, nil)
			o := e.seedOrder(t, "779", "1", shopifysim.FulfillmentOrderLine{SKU: "A", Quantity: 1})
			tt.fault.Operation = "FulfillmentCreate"
			e.sim.InjectFaults(tt.fault)
			_, err := e.client.CreateFulfillment(context.Background(), order.FulfillmentRequest{
				Orders: []order.FulfillmentOrderLines{{FulfillmentOrderID: o.FulfillmentOrders[0].ID}}})
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v", err)
			}
			if err != nil && order.IsPermanent(err) {
				t.Errorf("an unknown outcome must not be permanent: %v", err)
			}
			if n := len(e.sim.Fulfillments("")); n != tt.fulfillments {
				t.Errorf("%d fulfillments, want %d", n, tt.fulfillments)
			}
			if n := e.sim.Requests(); n != tt.requests {
				t.Errorf("%d requests, want %d", n, tt.requests)
			}
		})
	}
}

func TestCreateFulfillmentBadInput(t *testing.T) {
	e := newEnv(t, shopifysim.Options{}, nil)
	for _, r := range []order.FulfillmentRequest{
		{},
		{Orders: []order.FulfillmentOrderLines{{FulfillmentOrderID: "gid://shopify/Order/1"}}},
		{Orders: []order.FulfillmentOrderLines{{FulfillmentOrderID: "1", Lines: []order.FulfillmentLineQuantity{}}}},
	} {
		if _, err := e.client.CreateFulfillment(context.Background(), r); err == nil || !order.IsPermanent(err) {
			t.Errorf("%+v: err = %v, want permanent", r, err)
		}
	}
	if e.sim.Requests() != 0 {
		t.Error("bad input reached Shopify")
	}
}
