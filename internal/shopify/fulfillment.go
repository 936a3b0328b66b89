package shopify

import (
	"context"
	"errors"
	"fmt"
	"regexp"

	"github.com/shipwell/orderflow/internal/order"
	"github.com/shipwell/orderflow/internal/shopify/gql"
)

// maxPages bounds every pagination loop (a defence against a server that never says
// hasNextPage false).
const maxPages = 200

var _ order.Shopify = (*Client)(nil)

// FulfillmentState reads an order's fulfillment orders (with their line items and assigned
// locations) and its existing fulfillments (with tracking numbers). orderID is a numeric id
// (decimal string) or an order gid. An order Shopify does not know is a permanent error
// wrapping order.ErrNotFound. Runs at PriorityHigh unless ctx says otherwise.
func (c *Client) FulfillmentState(ctx context.Context, orderID string) (*order.FulfillmentState, error) {
	gid, err := OrderGID(orderID)
	if err != nil {
		return nil, order.Permanent(err)
	}
	ctx = withDefaultPriority(ctx, PriorityHigh)
	st := &order.FulfillmentState{OrderGID: gid}
	after := ""
	for page := 0; ; page++ {
		if page == maxPages {
			return nil, fmt.Errorf("shopify: order %s: more than %d pages of fulfillment orders", gid, maxPages)
		}
		resp, err := gql.OrderFulfillmentState(ctx, c.gql, gid, after)
		if err != nil {
			return nil, fmt.Errorf("read fulfillment orders of %s: %w", gid, err)
		}
		o := resp.Order
		if o.Id == "" {
			return nil, order.Permanent(fmt.Errorf("shopify: order %s: %w (deleted, or in another shop?)", gid, order.ErrNotFound))
		}
		if page == 0 {
			for _, f := range o.Fulfillments {
				ff := order.Fulfillment{ID: f.Id, Status: string(f.Status)}
				for _, t := range f.TrackingInfo {
					if t.Number != "" {
						ff.TrackingNumbers = append(ff.TrackingNumbers, t.Number)
					}
				}
				st.Fulfillments = append(st.Fulfillments, ff)
			}
		}
		for _, n := range o.FulfillmentOrders.Nodes {
			fo := order.FulfillmentOrder{
				ID:         n.Id,
				Status:     string(n.Status),
				LocationID: n.AssignedLocation.Location.Id,
			}
			for _, l := range n.LineItems.Nodes {
				fo.Lines = append(fo.Lines, foLine(l.FulfillmentOrderLineFields))
			}
			if n.LineItems.PageInfo.HasNextPage {
				more, err := c.moreFulfillmentOrderLines(ctx, n.Id, n.LineItems.PageInfo.EndCursor)
				if err != nil {
					return nil, err
				}
				fo.Lines = append(fo.Lines, more...)
			}
			st.FulfillmentOrders = append(st.FulfillmentOrders, fo)
		}
		if !o.FulfillmentOrders.PageInfo.HasNextPage {
			return st, nil
		}
		after = o.FulfillmentOrders.PageInfo.EndCursor
	}
}

// moreFulfillmentOrderLines reads the line items of a fulfillment order after cursor.
func (c *Client) moreFulfillmentOrderLines(ctx context.Context, foID, after string) ([]order.FulfillmentOrderLine, error) {
	var lines []order.FulfillmentOrderLine
	for page := 0; page < maxPages; page++ {
		resp, err := gql.FulfillmentOrderLines(ctx, c.gql, foID, after)
		if err != nil {
			return nil, fmt.Errorf("read line items of %s: %w", foID, err)
		}
		li := resp.FulfillmentOrder.LineItems
		for _, l := range li.Nodes {
			lines = append(lines, foLine(l.FulfillmentOrderLineFields))
		}
		if !li.PageInfo.HasNextPage {
			return lines, nil
		}
		after = li.PageInfo.EndCursor
	}
	return nil, fmt.Errorf("shopify: fulfillment order %s: more than %d pages of line items", foID, maxPages)
}

func foLine(l gql.FulfillmentOrderLineFields) order.FulfillmentOrderLine {
	sku := l.Sku
	if sku == "" {
		sku = l.LineItem.Sku
	}
	return order.FulfillmentOrderLine{
		ID:                l.Id,
		LineItemID:        l.LineItem.Id,
		SKU:               sku,
		TotalQuantity:     l.TotalQuantity,
		RemainingQuantity: l.RemainingQuantity,
	}
}

// CreateFulfillment creates one fulfillment (fulfillmentCreate) for fulfillment orders of one
// order at one location and returns its gid. A nil Lines fulfils everything remaining on that
// fulfillment order. Shopify's userErrors (closed or on-hold fulfillment order, quantity too
// high, unknown id) come back as a permanent *UserErrors; the caller dead-letters them.
// A network error or 5xx is not retried here (a second fulfillmentCreate could fulfil twice):
// it is returned as a transient error so the caller can re-read FulfillmentState first.
// Runs at PriorityHigh unless ctx says otherwise.
func (c *Client) CreateFulfillment(ctx context.Context, r order.FulfillmentRequest) (string, error) {
	if len(r.Orders) == 0 {
		return "", order.Permanent(errors.New("shopify: fulfillmentCreate: no fulfillment orders given"))
	}
	in := gql.FulfillmentInput{NotifyCustomer: r.NotifyCustomer}
	for _, fo := range r.Orders {
		id, err := GID("FulfillmentOrder", fo.FulfillmentOrderID)
		if err != nil {
			return "", order.Permanent(fmt.Errorf("fulfillmentCreate: %w", err))
		}
		if fo.Lines != nil && len(fo.Lines) == 0 {
			return "", order.Permanent(fmt.Errorf("shopify: fulfillmentCreate: fulfillment order %s: an empty (non-nil) line list fulfils nothing; pass nil to fulfil everything remaining", id))
		}
		item := gql.FulfillmentOrderLineItemsInput{FulfillmentOrderId: id}
		for _, l := range fo.Lines {
			lid, err := GID("FulfillmentOrderLineItem", l.ID)
			if err != nil {
				return "", order.Permanent(fmt.Errorf("fulfillmentCreate: %w", err))
			}
			item.FulfillmentOrderLineItems = append(item.FulfillmentOrderLineItems,
				gql.FulfillmentOrderLineItemInput{Id: lid, Quantity: l.Quantity})
		}
		in.LineItemsByFulfillmentOrder = append(in.LineItemsByFulfillmentOrder, item)
	}
	if r.TrackingNumber != "" || r.Company != "" || r.URL != "" {
		in.TrackingInfo = &gql.FulfillmentTrackingInput{Number: r.TrackingNumber, Company: r.Company, Url: r.URL}
	}
	ctx = withDefaultPriority(ctx, PriorityHigh)
	resp, err := gql.FulfillmentCreate(ctx, c.gql, in)
	if err != nil {
		return "", fmt.Errorf("create fulfillment: %w", err)
	}
	p := resp.FulfillmentCreate
	if len(p.UserErrors) > 0 {
		ue := &UserErrors{Operation: "FulfillmentCreate"}
		for _, u := range p.UserErrors {
			ue.Errors = append(ue.Errors, UserError{Field: u.Field, Message: u.Message})
		}
		if transientUserErrors(ue) {
			return "", ue
		}
		return "", order.Permanent(ue)
	}
	if p.Fulfillment.Id == "" {
		return "", errors.New("shopify: fulfillmentCreate returned neither a fulfillment nor userErrors")
	}
	return p.Fulfillment.Id, nil
}

// transientMessage matches userError messages that describe a passing condition.
var transientMessage = regexp.MustCompile(`(?i)try again|temporarily|currently being processed|is locked|concurrent`)

// transientUserErrors reports whether every user error is one that may go away by itself.
func transientUserErrors(ue *UserErrors) bool {
	for _, u := range ue.Errors {
		if u.Code != CodeIdempotencyConcurrentRequest && !transientMessage.MatchString(u.Message) {
			return false
		}
	}
	return len(ue.Errors) > 0
}
