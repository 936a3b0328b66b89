package cosmos

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// ErrInvalidID is returned for an order record id Cosmos DB cannot address, before any request
// is sent. Save marks it permanent (order.IsPermanent); Get also reports order.ErrNotFound.
var ErrInvalidID = errors.New("invalid Cosmos DB item id")

// maxIDLength is Cosmos DB's limit on an item id.
const maxIDLength = 255

// Document types, stored in the "type" field of every document.
const (
	typeOrder   = "order"
	typeReceipt = "receipt"
	typeLease   = "lease"
	typeState   = "state"
)

// CheckID reports whether id can be an order record id in Cosmos DB. Cosmos accepts an id with
// '/', '\', '?' or '#' on create but then cannot read, replace or delete it (the id is part of
// the request URL), so those are refused, as are control characters, ids longer than 255
// characters, and ':' (reserved for the store's own receipt, lease and state documents).
// order.RecordID never produces any of them.
func CheckID(id string) error {
	switch {
	case id == "":
		return fmt.Errorf("%w: empty", ErrInvalidID)
	case len(id) > maxIDLength:
		return fmt.Errorf("%w: %d bytes, the limit is %d", ErrInvalidID, len(id), maxIDLength)
	case !utf8.ValidString(id):
		return fmt.Errorf("%w: not UTF-8", ErrInvalidID)
	case strings.TrimSpace(id) != id:
		return fmt.Errorf("%w: leading or trailing space", ErrInvalidID)
	}
	for _, r := range id {
		switch {
		case r == '/' || r == '\\' || r == '?' || r == '#':
			return fmt.Errorf("%w: %q contains %q (Cosmos DB cannot address it)", ErrInvalidID, id, r)
		case r == ':':
			return fmt.Errorf("%w: %q contains ':' (reserved for the store's own documents)", ErrInvalidID, id)
		case r < 0x20 || r == 0x7f:
			return fmt.Errorf("%w: %q contains a control character", ErrInvalidID, id)
		}
	}
	return nil
}

// keyID makes the id of a store document (lease, state) from a name: readable when the name
// is plain ([A-Za-z0-9._-], at most 200 bytes), a hash otherwise (names like
// "inventory-sync/last-run" hold '/'). The two forms cannot collide: a hash id has a second ':'.
func keyID(kind, name string) string {
	if plainName(name) {
		return kind + ":" + name
	}
	sum := sha256.Sum256([]byte(name))
	return kind + ":sha256:" + hex.EncodeToString(sum[:])
}

func plainName(s string) bool {
	if s == "" || len(s) > 200 {
		return false
	}
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '_', r == '-':
		default:
			return false
		}
	}
	return true
}

// receiptID is the deterministic id of the receipt of (shop, webhook id): a hash, so any shop
// or webhook id makes a valid id, and a second delivery maps to the same document.
func receiptID(shop, webhookID string) string {
	h := sha256.New()
	h.Write([]byte(shop))
	h.Write([]byte{0})
	h.Write([]byte(webhookID))
	return typeReceipt + ":" + hex.EncodeToString(h.Sum(nil))
}
