package orderflow

import (
	"fmt"
	"slices"
	"strings"

	"github.com/shipwell/orderflow/internal/order"
)

// plan is what one shipment fulfils in Shopify.
type plan struct {
	req       order.FulfillmentRequest
	notes     []string // what was left alone or could not be matched, for the operator
	onHold    bool     // the shipment needs a fulfillment order that is on hold: wait for release
	completes bool     // nothing stays open at the warehouse's location afterwards
}

// openStatus reports whether a fulfillment order in this status can be fulfilled now.
func openStatus(s string) bool { return s == "OPEN" || s == "IN_PROGRESS" }

// numericID returns the last path element of a gid (or the id itself).
func numericID(gid string) string {
	if i := strings.LastIndexByte(gid, '/'); i >= 0 {
		return gid[i+1:]
	}
	return gid
}

func sameLocation(a, b string) bool { return a != "" && numericID(a) == numericID(b) }

func remaining(fo order.FulfillmentOrder) int {
	n := 0
	for _, l := range fo.Lines {
		n += l.RemainingQuantity
	}
	return n
}

// openAt counts the quantity still to fulfil at a location (on hold included).
func openAt(st *order.FulfillmentState, loc string) int {
	n := 0
	for _, fo := range st.FulfillmentOrders {
		if sameLocation(fo.LocationID, loc) && (openStatus(fo.Status) || fo.Status == "ON_HOLD") {
			n += remaining(fo)
		}
	}
	return n
}

// planFulfillment decides which fulfillment order lines a shipment fulfils: only fulfillment
// orders assigned to the warehouse's location, only what remains open on them, the shipment's
// items when it lists them (capped at the remaining quantity; the excess is reported), all that
// is open when it does not. A shipment that needs a fulfillment order on hold waits whole, so
// that one shipment stays one Shopify fulfillment.
func planFulfillment(st *order.FulfillmentState, loc string, o *order.Order, sh *order.Shipment) plan {
	var p plan
	var ours, held []order.FulfillmentOrder
	for _, fo := range st.FulfillmentOrders {
		open := remaining(fo)
		if !sameLocation(fo.LocationID, loc) {
			if open > 0 && (openStatus(fo.Status) || fo.Status == "ON_HOLD") {
				p.notes = append(p.notes, fmt.Sprintf("fulfillment order %s (%d open) is at location %s, not %s's: left alone",
					numericID(fo.ID), open, numericID(fo.LocationID), sh.Warehouse))
			}
			continue
		}
		switch {
		case openStatus(fo.Status):
			ours = append(ours, fo)
		case fo.Status == "ON_HOLD" && open > 0:
			held = append(held, fo)
		case open > 0:
			p.notes = append(p.notes, fmt.Sprintf("fulfillment order %s is %s: skipped", numericID(fo.ID), fo.Status))
		}
	}
	skuByLine := map[string]string{}
	for _, l := range o.Lines {
		skuByLine[l.LineItemID] = l.SKU
	}
	sku := func(l order.FulfillmentOrderLine) string {
		if l.SKU != "" {
			return l.SKU
		}
		return skuByLine[numericID(l.LineItemID)]
	}
	heldNote := func() {
		for _, fo := range held {
			p.notes = append(p.notes, fmt.Sprintf("fulfillment order %s is on hold: waiting for its release", numericID(fo.ID)))
		}
	}

	if sh.Items == nil {
		if len(held) > 0 {
			p.onHold = true
			heldNote()
			return p
		}
		for _, fo := range ours {
			if remaining(fo) > 0 {
				p.req.Orders = append(p.req.Orders, order.FulfillmentOrderLines{FulfillmentOrderID: fo.ID})
			}
		}
		p.completes = true
		return p
	}

	need := map[string]int{}
	var skus []string
	for _, it := range sh.Items {
		if it.Quantity <= 0 {
			continue
		}
		if _, ok := need[it.SKU]; !ok {
			skus = append(skus, it.SKU)
		}
		need[it.SKU] += it.Quantity
	}
	left := 0
	for _, fo := range ours {
		var lines []order.FulfillmentLineQuantity
		for _, l := range fo.Lines {
			k := sku(l)
			q := min(need[k], l.RemainingQuantity)
			if q > 0 {
				lines = append(lines, order.FulfillmentLineQuantity{ID: l.ID, Quantity: q})
				need[k] -= q
			}
			left += l.RemainingQuantity - max(q, 0)
		}
		if len(lines) > 0 {
			p.req.Orders = append(p.req.Orders, order.FulfillmentOrderLines{FulfillmentOrderID: fo.ID, Lines: lines})
		}
	}
	heldSKUs := map[string]bool{}
	for _, fo := range held {
		for _, l := range fo.Lines {
			if l.RemainingQuantity > 0 {
				heldSKUs[sku(l)] = true
			}
			left += l.RemainingQuantity
		}
	}
	for _, k := range skus {
		if need[k] <= 0 {
			continue
		}
		if heldSKUs[k] {
			p.onHold = true
			continue
		}
		if len(ours) > 0 {
			p.notes = append(p.notes, fmt.Sprintf("over-shipment: %d × %s reported but not open at %s's location", need[k], k, sh.Warehouse))
		}
	}
	if p.onHold {
		heldNote()
		p.req.Orders = nil
		return p
	}
	slices.SortStableFunc(p.req.Orders, func(a, b order.FulfillmentOrderLines) int {
		return strings.Compare(a.FulfillmentOrderID, b.FulfillmentOrderID)
	})
	p.completes = left == 0
	return p
}
