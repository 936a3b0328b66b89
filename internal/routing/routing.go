// Package routing decides which warehouse ships an order, from its shipping address, by ordered
// rules on country and province. The built-in default is the seed's table (US east states →
// warehouse-east, other US → warehouse-west, everything else → international); a ROUTING_CONFIG
// file replaces it.
package routing

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/shipwell/orderflow/internal/order"
)

// Config is the routing file: the warehouses and the ordered rules. The file is JSON:
//
//	{
//	  "warehouses": [
//	    {"name": "warehouse-east", "urlSetting": "WAREHOUSE_EAST_API", "keySetting": "WAREHOUSE_EAST_KEY",
//	     "locationId": "gid://shopify/Location/1"}
//	  ],
//	  "rules": [{"countries": ["US"], "provinces": ["NY", "NJ"], "warehouse": "warehouse-east"}],
//	  "default": "international"
//	}
type Config struct {
	Warehouses []Warehouse `json:"warehouses"`
	Rules      []Rule      `json:"rules"`
	// Default is the warehouse for addresses no rule matches; empty means such orders are held.
	Default string `json:"default,omitempty"`
}

// Warehouse names a warehouse and where its settings come from.
type Warehouse struct {
	Name string `json:"name"`
	// URL is the API base URL; URLSetting names the setting that holds it instead.
	URL        string `json:"url,omitempty"`
	URLSetting string `json:"urlSetting,omitempty"`
	// KeySetting names the setting holding the warehouse's bearer key (keys never go in the file).
	KeySetting string `json:"keySetting,omitempty"`
	// LocationID is the Shopify location the warehouse ships from (numeric or gid); empty means
	// SHOPIFY_LOCATION_ID.
	LocationID string `json:"locationId,omitempty"`
}

// Rule sends addresses in the given countries (ISO codes) and, if listed, provinces (codes) to
// a warehouse. An empty country list matches every country.
type Rule struct {
	Countries []string `json:"countries,omitempty"`
	Provinces []string `json:"provinces,omitempty"`
	Warehouse string   `json:"warehouse"`
}

// EastStates are the US states (and DC) the seed routed to warehouse-east: the states east of
// the Mississippi.
var EastStates = []string{
	"AL", "CT", "DC", "DE", "FL", "GA", "IL", "IN", "KY", "MA", "MD", "ME", "MI", "MS", "NC",
	"NH", "NJ", "NY", "OH", "PA", "RI", "SC", "TN", "VA", "VT", "WI", "WV",
}

// Default returns the built-in table with the seed's settings names.
func Default() Config {
	return Config{
		Warehouses: []Warehouse{
			{Name: "warehouse-east", URLSetting: "WAREHOUSE_EAST_API", KeySetting: "WAREHOUSE_EAST_KEY"},
			{Name: "warehouse-west", URLSetting: "WAREHOUSE_WEST_API", KeySetting: "WAREHOUSE_WEST_KEY"},
			{Name: "international", URLSetting: "INTERNATIONAL_3PL_API", KeySetting: "INTERNATIONAL_3PL_KEY"},
		},
		Rules: []Rule{
			{Countries: []string{"US"}, Provinces: EastStates, Warehouse: "warehouse-east"},
			{Countries: []string{"US"}, Warehouse: "warehouse-west"},
		},
		Default: "international",
	}
}

// Load reads a routing file.
func Load(path string) (Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("ROUTING_CONFIG: %w", err)
	}
	var c Config
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	if err := d.Decode(&c); err != nil {
		return Config{}, fmt.Errorf("ROUTING_CONFIG %s: %w", path, err)
	}
	if err := c.Validate(); err != nil {
		return Config{}, fmt.Errorf("ROUTING_CONFIG %s: %w", path, err)
	}
	return c, nil
}

// Validate checks that names are unique and every rule names a known warehouse.
func (c Config) Validate() error {
	if len(c.Warehouses) == 0 {
		return errors.New("no warehouses")
	}
	known := map[string]bool{}
	for i, w := range c.Warehouses {
		if strings.TrimSpace(w.Name) == "" {
			return fmt.Errorf("warehouse %d has no name", i)
		}
		if known[w.Name] {
			return fmt.Errorf("warehouse %q listed twice", w.Name)
		}
		if strings.ContainsAny(w.Name, "/\\?#: ") {
			return fmt.Errorf("warehouse name %q: use letters, digits, - and _", w.Name)
		}
		known[w.Name] = true
	}
	for i, r := range c.Rules {
		if !known[r.Warehouse] {
			return fmt.Errorf("rule %d names unknown warehouse %q", i, r.Warehouse)
		}
		if len(r.Countries) == 0 && len(r.Provinces) > 0 {
			return fmt.Errorf("rule %d lists provinces without a country", i)
		}
	}
	if c.Default != "" && !known[c.Default] {
		return fmt.Errorf("default names unknown warehouse %q", c.Default)
	}
	return nil
}

// ErrNoRoute is returned when no rule matches and there is no default.
var ErrNoRoute = errors.New("no routing rule matches")

// Route returns the warehouse for an address: the first rule that matches, else the default.
func (c Config) Route(a *order.Address) (string, error) {
	if a == nil {
		return "", errors.New("no shipping address")
	}
	country := strings.ToUpper(strings.TrimSpace(a.CountryCode))
	province := strings.ToUpper(strings.TrimSpace(a.ProvinceCode))
	if country == "" {
		return "", fmt.Errorf("shipping address has no country code")
	}
	for _, r := range c.Rules {
		if len(r.Countries) > 0 && !contains(r.Countries, country) {
			continue
		}
		if len(r.Provinces) > 0 && !contains(r.Provinces, province) {
			continue
		}
		return r.Warehouse, nil
	}
	if c.Default != "" {
		return c.Default, nil
	}
	return "", fmt.Errorf("%w for %s", ErrNoRoute, a.Summary())
}

// Warehouse returns the named warehouse's entry.
func (c Config) Warehouse(name string) (Warehouse, bool) {
	for _, w := range c.Warehouses {
		if w.Name == name {
			return w, true
		}
	}
	return Warehouse{}, false
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if strings.EqualFold(strings.TrimSpace(x), v) {
			return true
		}
	}
	return false
}
