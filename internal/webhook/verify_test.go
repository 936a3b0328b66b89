package webhook

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

const secret = "test_shared_secret_123"

// body has what a re-encode would change: escaped slashes, non-ASCII, U+2028, &, key order.
var body = []byte("{\"z\":1,\"id\":820982911946154508,\"note\":\"Stra\u00dfe \u0218tef\u0103n\u2028\",\"url\":\"https:\\/\\/x.test\\/a&b\",\"a\":\"\\u0026\"}")

func TestVerify(t *testing.T) {
	good := Sign(secret, body)
	old := Sign("old_secret", body)
	tests := []struct {
		name     string
		previous string
		sig      string
		body     []byte
		want     bool
	}{
		{"valid", "", good, body, true},
		{"valid with surrounding space", "", " " + good + " ", body, true},
		{"previous secret during rotation", "old_secret", old, body, true},
		{"previous secret not configured", "", old, body, false},
		{"missing header", "", "", body, false},
		{"short", "", "abc", body, false},
		{"padding removed", "", strings.TrimRight(good, "="), body, false},
		{"not base64", "", "%%%not-base64%%%", body, false},
		{"hex digest instead of base64", "", "9f2c6b0e5a1d4c3b2a19f8e7d6c5b4a39281706f5e4d3c2b1a09f8e7d6c5b4a3", body, false},
		{"tampered body", "", good, append([]byte(nil), append(body[:len(body)-1], ' ', '}')...), false},
		{"re-encoded body", "", good, []byte(strings.ReplaceAll(string(body), `\/`, `/`)), false},
		{"empty body, signature of empty", "", Sign(secret, nil), nil, true},
		{"long garbage", "", strings.Repeat("A", 10000), body, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v, err := NewVerifier(secret, tc.previous)
			if err != nil {
				t.Fatal(err)
			}
			if got := v.Verify(tc.body, tc.sig); got != tc.want {
				t.Fatalf("Verify = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestNewVerifierRefusesEmptySecret(t *testing.T) {
	for _, s := range []string{"", "   "} {
		if _, err := NewVerifier(s, "x"); err != ErrNoSecret {
			t.Fatalf("NewVerifier(%q) err = %v, want ErrNoSecret", s, err)
		}
	}
}

func TestParseHeaders(t *testing.T) {
	tests := []struct {
		name string
		h    map[string]string
		want Headers
	}{
		{"legacy family, canonical case", map[string]string{
			"X-Shopify-Topic": "orders/create", "X-Shopify-Hmac-Sha256": "sig", "X-Shopify-Shop-Domain": "Acme.myshopify.com",
			"X-Shopify-Webhook-Id": "w1", "X-Shopify-Event-Id": "e1", "X-Shopify-API-Version": "2026-10",
			"X-Shopify-Triggered-At": "2025-07-10T16:15:47.000000Z"},
			Headers{Topic: "orders/create", HMAC: "sig", ShopDomain: "acme.myshopify.com", WebhookID: "w1", EventID: "e1",
				APIVersion: "2026-10", TriggeredAtRaw: "2025-07-10T16:15:47.000000Z",
				TriggeredAt: time.Date(2025, 7, 10, 16, 15, 47, 0, time.UTC)}},
		{"lower case (HTTP/2)", map[string]string{"x-shopify-topic": "orders/paid", "x-shopify-hmac-sha256": "sig"},
			Headers{Topic: "orders/paid", HMAC: "sig"}},
		{"new family only", map[string]string{"shopify-topic": "orders/create", "shopify-hmac-sha256": "sig2",
			"shopify-shop-domain": "acme.myshopify.com", "shopify-event-id": "e2"},
			Headers{Topic: "orders/create", HMAC: "sig2", ShopDomain: "acme.myshopify.com", EventID: "e2"}},
		{"both families: new wins, conflict reported", map[string]string{"X-Shopify-Hmac-Sha256": "wrong", "shopify-hmac-sha256": "right",
			"X-Shopify-Topic": "orders/create", "shopify-topic": "orders/create"},
			Headers{Topic: "orders/create", HMAC: "right", Conflicts: []string{"Hmac-Sha256"}}},
		{"unparseable triggered-at kept raw", map[string]string{"X-Shopify-Triggered-At": "yesterday"},
			Headers{TriggeredAtRaw: "yesterday"}},
		{"nothing", map[string]string{}, Headers{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{}
			for k, v := range tc.h {
				h[k] = []string{v} // raw, non-canonical keys as an envelope would give them
				h.Set(k, v)
			}
			got := ParseHeaders(h)
			if got.Topic != tc.want.Topic || got.HMAC != tc.want.HMAC || got.ShopDomain != tc.want.ShopDomain ||
				got.WebhookID != tc.want.WebhookID || got.EventID != tc.want.EventID || got.APIVersion != tc.want.APIVersion ||
				got.TriggeredAtRaw != tc.want.TriggeredAtRaw || !got.TriggeredAt.Equal(tc.want.TriggeredAt) ||
				strings.Join(got.Conflicts, ",") != strings.Join(tc.want.Conflicts, ",") {
				t.Fatalf("ParseHeaders = %+v\nwant %+v", got, tc.want)
			}
		})
	}
}
