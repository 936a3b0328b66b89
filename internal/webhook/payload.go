package webhook

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/shopspring/decimal"

	"github.com/shipwell/orderflow/internal/order"
)

// ErrNotJSON and ErrNoOrderID describe payloads that can never succeed: the caller quarantines
// them (and answers 200, because a retry would only fail again).
var (
	ErrNotJSON   = errors.New("payload is not a JSON object")
	ErrNoOrderID = errors.New("payload has no usable order id")
)

// DecodeOrder decodes an orders/* webhook payload into a Snapshot. It tolerates what real
// payloads contain: ids as numbers above 2^53 or as strings, money as strings, numbers or "",
// null customer, variant, SKU and shipping address.
func DecodeOrder(body []byte) (*order.Snapshot, error) {
	var p orderPayload
	if err := decode(body, &p); err != nil {
		return nil, err
	}
	if !isDigits(string(p.ID)) || strings.HasPrefix(string(p.ID), "0") {
		return nil, ErrNoOrderID
	}
	s := &order.Snapshot{
		OrderID:           string(p.ID),
		Name:              string(p.Name),
		OrderNumber:       int64(p.OrderNumber),
		FinancialStatus:   strings.ToLower(string(p.FinancialStatus)),
		FulfillmentStatus: strings.ToLower(string(p.FulfillmentStatus)),
		Currency:          string(p.Currency),
		TotalPrice:        string(p.TotalPrice),
	}
	if p.TotalPrice == "" {
		s.Warnings = append(s.Warnings, "total_price missing or not a decimal")
	}
	if t, err := ParseTime(string(p.UpdatedAt)); err == nil {
		s.UpdatedAt = t
	}
	if p.CancelledAt != "" {
		if t, err := ParseTime(string(p.CancelledAt)); err == nil {
			s.CancelledAt = &t
		} else {
			return nil, fmt.Errorf("cancelled_at %q: %w", p.CancelledAt, err)
		}
	}
	for _, li := range p.LineItems {
		q := int(li.Quantity)
		if q < 0 {
			s.Warnings = append(s.Warnings, fmt.Sprintf("line %s: negative quantity %d ignored", li.ID, q))
			q = 0
		}
		fq := q
		if li.FulfillableQuantity != nil {
			fq = max(int(*li.FulfillableQuantity), 0)
		}
		name := string(li.Name)
		if name == "" {
			name = string(li.Title)
		}
		rs := true // Shopify omits nothing here, but a missing flag must not drop a parcel
		if li.RequiresShipping != nil {
			rs = bool(*li.RequiresShipping)
		}
		net, warn := netAmount(li)
		if warn != "" {
			s.Warnings = append(s.Warnings, fmt.Sprintf("line %s: %s", li.ID, warn))
		}
		s.Lines = append(s.Lines, order.Line{
			LineItemID:          string(li.ID),
			VariantID:           string(li.VariantID),
			SKU:                 strings.TrimSpace(string(li.SKU)),
			Name:                name,
			Quantity:            q,
			FulfillableQuantity: fq,
			RequiresShipping:    rs,
			GiftCard:            bool(li.GiftCard),
			Price:               string(li.Price),
			NetAmount:           net,
		})
	}
	if a := p.ShippingAddress; a != nil {
		name := string(a.Name)
		if name == "" {
			name = strings.TrimSpace(string(a.FirstName) + " " + string(a.LastName))
		}
		s.ShippingAddress = &order.Address{
			Name: name, Company: string(a.Company), Address1: string(a.Address1), Address2: string(a.Address2),
			City: string(a.City), Province: string(a.Province), ProvinceCode: strings.ToUpper(string(a.ProvinceCode)),
			Zip: string(a.Zip), Country: string(a.Country), CountryCode: strings.ToUpper(string(a.CountryCode)),
			Phone: string(a.Phone),
		}
	}
	return s, nil
}

// Inventory is an inventory_levels/update payload.
type Inventory struct {
	InventoryItemID string
	LocationID      string
	Available       *int64 // nil for untracked items
	UpdatedAt       string
}

// DecodeInventory decodes an inventory_levels/update payload.
func DecodeInventory(body []byte) (*Inventory, error) {
	var p struct {
		InventoryItemID flexString `json:"inventory_item_id"`
		LocationID      flexString `json:"location_id"`
		Available       *flexInt   `json:"available"`
		UpdatedAt       flexString `json:"updated_at"`
	}
	if err := decode(body, &p); err != nil {
		return nil, err
	}
	if !isDigits(string(p.InventoryItemID)) {
		return nil, errors.New("payload has no usable inventory_item_id")
	}
	inv := &Inventory{InventoryItemID: string(p.InventoryItemID), LocationID: string(p.LocationID), UpdatedAt: string(p.UpdatedAt)}
	if p.Available != nil {
		v := int64(*p.Available)
		inv.Available = &v
	}
	return inv, nil
}

func decode(body []byte, v any) error {
	b := bytes.TrimSpace(bytes.TrimPrefix(body, []byte("\xef\xbb\xbf"))) // a UTF-8 BOM is not JSON, but harmless
	if len(b) == 0 || b[0] != '{' {
		return ErrNotJSON
	}
	// json.Unmarshal rejects trailing data itself; no field decodes into an interface, so
	// numbers never pass through float64.
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%w: %v", ErrNotJSON, err)
	}
	return nil
}

type orderPayload struct {
	ID                flexString     `json:"id"`
	Name              flexString     `json:"name"`
	OrderNumber       flexInt        `json:"order_number"`
	FinancialStatus   flexString     `json:"financial_status"`
	FulfillmentStatus flexString     `json:"fulfillment_status"`
	CancelledAt       flexString     `json:"cancelled_at"`
	UpdatedAt         flexString     `json:"updated_at"`
	Currency          flexString     `json:"currency"`
	TotalPrice        flexDecimal    `json:"total_price"`
	LineItems         []lineItem     `json:"line_items"`
	ShippingAddress   *addressFields `json:"shipping_address"`
}

// netAmount is price × quantity minus the line's discount allocations, exactly.
func netAmount(li lineItem) (string, string) {
	if li.Price == "" {
		return "", "no usable price"
	}
	price, err := decimal.NewFromString(string(li.Price))
	if err != nil {
		return "", "no usable price"
	}
	net := price.Mul(decimal.NewFromInt(int64(li.Quantity)))
	for _, d := range li.DiscountAllocations {
		if d.Amount == "" {
			return "", "discount allocation without a usable amount"
		}
		a, err := decimal.NewFromString(string(d.Amount))
		if err != nil {
			return "", "discount allocation without a usable amount"
		}
		net = net.Sub(a)
	}
	return net.StringFixed(max(2, -price.Exponent())), ""
}

type lineItem struct {
	ID                  flexString  `json:"id"`
	VariantID           flexString  `json:"variant_id"`
	SKU                 flexString  `json:"sku"`
	Name                flexString  `json:"name"`
	Title               flexString  `json:"title"`
	Quantity            flexInt     `json:"quantity"`
	FulfillableQuantity *flexInt    `json:"fulfillable_quantity"`
	RequiresShipping    *flexBool   `json:"requires_shipping"`
	GiftCard            flexBool    `json:"gift_card"`
	Price               flexDecimal `json:"price"`
	DiscountAllocations []struct {
		Amount flexDecimal `json:"amount"`
	} `json:"discount_allocations"`
}

type addressFields struct {
	Name         flexString `json:"name"`
	FirstName    flexString `json:"first_name"`
	LastName     flexString `json:"last_name"`
	Company      flexString `json:"company"`
	Address1     flexString `json:"address1"`
	Address2     flexString `json:"address2"`
	City         flexString `json:"city"`
	Province     flexString `json:"province"`
	ProvinceCode flexString `json:"province_code"`
	Zip          flexString `json:"zip"`
	Country      flexString `json:"country"`
	CountryCode  flexString `json:"country_code"`
	Phone        flexString `json:"phone"`
}

func isDigits(s string) bool {
	if s == "" || len(s) > 20 {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}
