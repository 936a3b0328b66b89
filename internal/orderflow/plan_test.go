package orderflow

import (
	"fmt"
	"strings"
	"testing"

	"github.com/shipwell/orderflow/internal/order"
)

const ourLoc = "gid://shopify/Location/1"

func fo(id, status, loc string, lines ...order.FulfillmentOrderLine) order.FulfillmentOrder {
	return order.FulfillmentOrder{ID: "gid://shopify/FulfillmentOrder/" + id, Status: status, LocationID: loc, Lines: lines}
}

func line(id, sku string, remaining int) order.FulfillmentOrderLine {
	return order.FulfillmentOrderLine{ID: "gid://shopify/FulfillmentOrderLineItem/" + id, LineItemID: "gid://shopify/LineItem/L" + id,
		SKU: sku, TotalQuantity: remaining, RemainingQuantity: remaining}
}

func describe(p plan) string {
	var parts []string
	for _, o := range p.req.Orders {
		s := numericID(o.FulfillmentOrderID)
		if o.Lines == nil {
			s += ":all"
		}
		for _, l := range o.Lines {
			s += fmt.Sprintf(":%s=%d", numericID(l.ID), l.Quantity)
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, " ")
}

func TestPlanFulfillment(t *testing.T) {
	items := func(kv ...any) []order.ShipmentItem {
		out := []order.ShipmentItem{}
		for i := 0; i < len(kv); i += 2 {
			out = append(out, order.ShipmentItem{SKU: kv[i].(string), Quantity: kv[i+1].(int)})
		}
		return out
	}
	tests := []struct {
		name      string
		fos       []order.FulfillmentOrder
		items     []order.ShipmentItem
		want      string
		onHold    bool
		completes bool
		note      string
	}{
		{"everything open at our location", []order.FulfillmentOrder{fo("10", "OPEN", ourLoc, line("1", "A", 2))}, nil, "10:all", false, true, ""},
		{"other location left alone and reported", []order.FulfillmentOrder{
			fo("10", "OPEN", ourLoc, line("1", "A", 1)), fo("11", "OPEN", "gid://shopify/Location/2", line("2", "B", 1))},
			nil, "10:all", false, true, "not warehouse-east's"},
		{"in progress can be fulfilled, closed is skipped", []order.FulfillmentOrder{
			fo("10", "IN_PROGRESS", ourLoc, line("1", "A", 1)), fo("12", "CLOSED", ourLoc, line("3", "C", 1))},
			nil, "10:all", false, true, "CLOSED: skipped"},
		{"on hold waits", []order.FulfillmentOrder{fo("10", "ON_HOLD", ourLoc, line("1", "A", 1))}, nil, "", true, false, "on hold"},
		{"partial shipment by SKU", []order.FulfillmentOrder{fo("10", "OPEN", ourLoc, line("1", "A", 3), line("2", "B", 1))},
			items("A", 2), "10:1=2", false, false, ""},
		{"quantities capped at remaining, excess reported", []order.FulfillmentOrder{fo("10", "OPEN", ourLoc, line("1", "A", 1))},
			items("A", 3), "10:1=1", false, true, "over-shipment: 2 × A"},
		{"unknown SKU is reported", []order.FulfillmentOrder{fo("10", "OPEN", ourLoc, line("1", "A", 1))},
			items("A", 1, "Z", 1), "10:1=1", false, true, "1 × Z"},
		{"items spread over two fulfillment orders at our location", []order.FulfillmentOrder{
			fo("10", "OPEN", ourLoc, line("1", "A", 1)), fo("11", "OPEN", ourLoc, line("2", "A", 1), line("3", "B", 1))},
			items("A", 2, "B", 1), "10:1=1 11:2=1:3=1", false, true, ""},
		{"needed SKU on hold waits whole", []order.FulfillmentOrder{
			fo("10", "OPEN", ourLoc, line("1", "A", 1)), fo("11", "ON_HOLD", ourLoc, line("2", "B", 1))},
			items("A", 1, "B", 1), "", true, false, "on hold"},
		{"SKU found through the order line when the FO line has none", []order.FulfillmentOrder{
			fo("10", "OPEN", ourLoc, order.FulfillmentOrderLine{ID: "gid://shopify/FulfillmentOrderLineItem/5", LineItemID: "gid://shopify/LineItem/466157049", RemainingQuantity: 1})},
			items("IPOD2008PINK", 1), "10:5=1", false, true, ""},
		{"numeric location id matches the gid", []order.FulfillmentOrder{fo("10", "OPEN", "1", line("1", "A", 1))}, nil, "10:all", false, true, ""},
		{"nothing open", []order.FulfillmentOrder{fo("10", "OPEN", ourLoc, line("1", "A", 0))}, nil, "", false, true, ""},
	}
	o := &order.Order{Lines: []order.Line{{LineItemID: "466157049", SKU: "IPOD2008PINK"}}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := planFulfillment(&order.FulfillmentState{FulfillmentOrders: tc.fos}, ourLoc, o,
				&order.Shipment{Warehouse: "warehouse-east", Items: tc.items})
			notes := strings.Join(p.notes, "; ")
			if got := describe(p); got != tc.want || p.onHold != tc.onHold || p.completes != tc.completes || !strings.Contains(notes, tc.note) {
				t.Fatalf("plan %q onHold %v completes %v notes %q; want %q %v %v %q", got, p.onHold, p.completes, notes, tc.want, tc.onHold, tc.completes, tc.note)
			}
		})
	}
}
