package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/shipwell/orderflow/internal/webhook"
)

const (
	benchSecret = "bench-webhook-secret"
	benchShop   = "bench-shop.myshopify.com"
	// sampleOrderID is the order id of the official sample; the small payload uses it too.
	sampleOrderID = "820982911946154508"
)

// template is a webhook body whose order id (every occurrence of it: "id" and
// "admin_graphql_api_id") is replaced per request by another id of the same length, so that
// every request is a new order of exactly the template's size.
type template struct {
	name string
	body []byte
	pos  []int // offsets of the id
	idn  int   // length of the id
}

func newTemplate(name string, body []byte, id string) (*template, error) {
	t := &template{name: name, body: body, idn: len(id)}
	for off := 0; ; {
		i := bytes.Index(body[off:], []byte(id))
		if i < 0 {
			break
		}
		t.pos = append(t.pos, off+i)
		off += i + len(id)
	}
	if len(t.pos) == 0 {
		return nil, fmt.Errorf("payload %s: order id %s not found", name, id)
	}
	return t, nil
}

// render returns a copy of the body with the order id replaced by id (same length).
func (t *template) render(id string) []byte {
	b := make([]byte, len(t.body))
	copy(b, t.body)
	for _, p := range t.pos {
		copy(b[p:p+t.idn], id)
	}
	return b
}

// source hands out unique deliveries: a new order id and a new webhook id for every request,
// cycling through its templates.
type source struct {
	tpls   []*template
	prefix string // webhook id prefix, unique per run
	base   int64  // first order id (18 digits, like the sample's)
	n      atomic.Int64
}

func newSource(run string, base int64, tpls ...*template) *source {
	return &source{tpls: tpls, prefix: "bench-" + run + "-", base: base}
}

// next returns a signed request for a new order.
func (s *source) next(url string) (*http.Request, error) {
	i := s.n.Add(1) - 1
	t := s.tpls[int(i)%len(s.tpls)]
	id := strconv.FormatInt(s.base+i, 10)
	if len(id) != t.idn {
		return nil, fmt.Errorf("order id %s does not have %d digits", id, t.idn)
	}
	body := t.render(id)
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	h := req.Header
	h.Set("Content-Type", "application/json")
	h.Set("X-Shopify-Topic", "orders/create")
	h.Set("X-Shopify-Hmac-Sha256", webhook.Sign(benchSecret, body))
	h.Set("X-Shopify-Shop-Domain", benchShop)
	h.Set("X-Shopify-Webhook-Id", s.prefix+strconv.FormatInt(i, 10))
	h.Set("X-Shopify-Api-Version", "2026-10")
	h.Set("X-Shopify-Triggered-At", time.Now().UTC().Format("2006-01-02T15:04:05.000000Z"))
	return req, nil
}

// payloads are the bodies the benchmark sends.
type payloads struct {
	large *template   // the official orders_create sample (15 KB)
	small *template   // a minimal paid orders/create with one line (New York)
	mixed []*template // the small one shipped to New York, California and Germany (one per warehouse)
}

func loadPayloads(root string) (*payloads, error) {
	large, err := os.ReadFile(filepath.Join(root, "testdata", "shopify", "webhooks", "orders_create.json"))
	if err != nil {
		return nil, err
	}
	small, err := os.ReadFile(filepath.Join(root, "bench", "testdata", "orders_create_min.json"))
	if err != nil {
		return nil, err
	}
	return buildPayloads(large, small)
}

func buildPayloads(large, small []byte) (*payloads, error) {
	p := &payloads{}
	var err error
	if p.large, err = newTemplate("15 KB official sample", large, sampleOrderID); err != nil {
		return nil, err
	}
	if p.small, err = newTemplate(fmt.Sprintf("%.1f KB minimal order", float64(len(small))/1024), small, sampleOrderID); err != nil {
		return nil, err
	}
	for _, a := range []map[string]any{
		{"city": "New York", "province": "New York", "province_code": "NY", "zip": "10001", "country": "United States", "country_code": "US"},
		{"city": "Los Angeles", "province": "California", "province_code": "CA", "zip": "90001", "country": "United States", "country_code": "US"},
		{"city": "Berlin", "province": nil, "province_code": nil, "zip": "10115", "country": "Germany", "country_code": "DE"},
	} {
		b, err := withAddress(small, a)
		if err != nil {
			return nil, err
		}
		t, err := newTemplate("minimal order to "+a["city"].(string), b, sampleOrderID)
		if err != nil {
			return nil, err
		}
		p.mixed = append(p.mixed, t)
	}
	return p, nil
}

// withAddress returns body with the shipping address fields in a replaced (numbers kept exact).
func withAddress(body []byte, a map[string]any) ([]byte, error) {
	d := json.NewDecoder(bytes.NewReader(body))
	d.UseNumber()
	var m map[string]any
	if err := d.Decode(&m); err != nil {
		return nil, fmt.Errorf("small payload: %w", err)
	}
	addr, ok := m["shipping_address"].(map[string]any)
	if !ok {
		return nil, errors.New("small payload: no shipping_address")
	}
	for k, v := range a {
		addr[k] = v
	}
	return json.Marshal(m)
}
