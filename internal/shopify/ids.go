package shopify

import (
	"fmt"
	"strconv"
	"strings"
)

const gidPrefix = "gid://shopify/"

// GID builds the global id of a Shopify object of the given type ("Order", "Location",
// "InventoryItem", ...) from a numeric id given as a decimal string, or checks and returns id
// unchanged when it already is a gid of that type. The number is kept as text, so ids above
// 2^53 stay exact.
func GID(typ, id string) (string, error) {
	id = strings.TrimSpace(id)
	num := id
	if strings.HasPrefix(id, gidPrefix) {
		rest := strings.TrimPrefix(id, gidPrefix)
		t, n, ok := strings.Cut(rest, "/")
		if !ok || t != typ {
			return "", fmt.Errorf("shopify: %q is not a %s id", id, typ)
		}
		num = n
	}
	if num == "" || len(num) > 20 {
		return "", fmt.Errorf("shopify: invalid %s id %q", typ, id)
	}
	if _, err := strconv.ParseUint(num, 10, 64); err != nil {
		return "", fmt.Errorf("shopify: invalid %s id %q: want a number or %s%s/<number>", typ, id, gidPrefix, typ)
	}
	return gidPrefix + typ + "/" + num, nil
}

// OrderGID returns gid://shopify/Order/<id> for a numeric order id or an order gid.
func OrderGID(id string) (string, error) { return GID("Order", id) }

// LocationGID returns gid://shopify/Location/<id> for a numeric location id (as in
// SHOPIFY_LOCATION_ID or a routing entry) or a location gid.
func LocationGID(id string) (string, error) { return GID("Location", id) }

// InventoryItemGID returns gid://shopify/InventoryItem/<id> for a numeric id or a gid.
func InventoryItemGID(id string) (string, error) { return GID("InventoryItem", id) }

// NumericID returns the number at the end of a gid ("gid://shopify/Order/123" → "123"), or id
// itself when it is not a gid.
func NumericID(id string) string {
	if !strings.HasPrefix(id, gidPrefix) {
		return id
	}
	n := id[strings.LastIndexByte(id, '/')+1:]
	if i := strings.IndexByte(n, '?'); i >= 0 {
		n = n[:i]
	}
	return n
}
