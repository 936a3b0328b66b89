// Package webhook verifies and decodes Shopify webhook deliveries: the HMAC over the raw body,
// the delivery headers in both the X-Shopify-* and the newer shopify-* families, and the order
// payload (ids kept as exact decimal strings, money as decimal strings).
package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"strings"
	"time"
)

// Verifier checks webhook signatures with the app's client secret and, during a rotation, the
// previous one. The zero value is unusable; use NewVerifier.
type Verifier struct {
	secrets [][]byte
}

// ErrNoSecret is returned by NewVerifier for an empty secret: verification is never switched off.
var ErrNoSecret = errors.New("SHOPIFY_WEBHOOK_SECRET is empty: webhook verification cannot be switched off")

// NewVerifier returns a Verifier for secret and, if non-empty, the previous secret.
func NewVerifier(secret, previous string) (*Verifier, error) {
	if strings.TrimSpace(secret) == "" {
		return nil, ErrNoSecret
	}
	v := &Verifier{secrets: [][]byte{[]byte(secret)}}
	if previous != "" {
		v.secrets = append(v.secrets, []byte(previous))
	}
	return v, nil
}

// Sign returns the base64 HMAC-SHA256 of body under secret, as Shopify computes it.
func Sign(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// Verify reports whether signature (the header value) is a valid signature of body under one of
// the secrets. It decodes the header and compares digests in constant time; a missing, short,
// unpadded or non-base64 signature is simply invalid.
func (v *Verifier) Verify(body []byte, signature string) bool {
	want, err := base64.StdEncoding.Strict().DecodeString(strings.TrimSpace(signature))
	if err != nil || len(want) != sha256.Size {
		return false
	}
	ok := false
	for _, s := range v.secrets {
		m := hmac.New(sha256.New, s)
		m.Write(body)
		// Check every secret so the time taken does not tell which one matched.
		if hmac.Equal(m.Sum(nil), want) {
			ok = true
		}
	}
	return ok
}

// Headers is the delivery metadata Shopify sends with a webhook.
type Headers struct {
	Topic       string
	HMAC        string
	ShopDomain  string
	APIVersion  string
	WebhookID   string
	EventID     string
	TriggeredAt time.Time
	// TriggeredAtRaw is the header as sent (kept when it does not parse).
	TriggeredAtRaw string
	Name           string
	// Conflicts names the fields sent in both header families with different values (the
	// shopify-* value was used); worth a log line, never a silent choice.
	Conflicts []string
}

// ParseHeaders reads the delivery headers. Names match case-insensitively; for each field the
// newer un-prefixed shopify-* header wins over X-Shopify-* when both are present (the order
// Shopify's own libraries use). Missing non-security headers are not an error.
func ParseHeaders(h http.Header) Headers {
	var conflicts []string
	get := func(name string) string {
		v := strings.TrimSpace(h.Get("Shopify-" + name))
		x := strings.TrimSpace(h.Get("X-Shopify-" + name))
		if v != "" && x != "" && v != x {
			conflicts = append(conflicts, name)
		}
		if v != "" {
			return v
		}
		return x
	}
	out := Headers{
		Topic:          strings.ToLower(get("Topic")),
		HMAC:           get("Hmac-Sha256"),
		ShopDomain:     strings.ToLower(get("Shop-Domain")),
		APIVersion:     get("Api-Version"),
		WebhookID:      get("Webhook-Id"),
		EventID:        get("Event-Id"),
		TriggeredAtRaw: get("Triggered-At"),
		Name:           get("Name"),
	}
	out.Conflicts = conflicts
	if out.TriggeredAtRaw != "" {
		out.TriggeredAt, _ = ParseTime(out.TriggeredAtRaw)
	}
	return out
}

// ParseTime parses the timestamps Shopify uses (RFC 3339 with any fraction and offset).
func ParseTime(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, err
	}
	return t, nil
}
