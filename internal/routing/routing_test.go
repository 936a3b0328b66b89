package routing

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shipwell/orderflow/internal/order"
)

func TestDefaultRoutes(t *testing.T) {
	tests := []struct {
		country, province, want string
	}{
		{"US", "KY", "warehouse-east"},
		{"US", "NY", "warehouse-east"},
		{"us", "fl", "warehouse-east"},
		{"US", "CA", "warehouse-west"},
		{"US", "TX", "warehouse-west"},
		{"US", "", "warehouse-west"},
		{"DE", "", "international"},
		{"CA", "ON", "international"},
		{"HK", "", "international"},
	}
	c := Default()
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, tc := range tests {
		got, err := c.Route(&order.Address{CountryCode: tc.country, ProvinceCode: tc.province})
		if err != nil || got != tc.want {
			t.Errorf("%s-%s: got %q, %v; want %q", tc.country, tc.province, got, err, tc.want)
		}
	}
	if _, err := c.Route(nil); err == nil {
		t.Error("nil address routed")
	}
	if _, err := c.Route(&order.Address{}); err == nil {
		t.Error("address without country routed")
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	write := func(s string) string {
		p := filepath.Join(dir, "r.json")
		if err := os.WriteFile(p, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	c, err := Load(write(`{"warehouses":[{"name":"eu","url":"http://eu.test","keySetting":"EU_KEY","locationId":"7"},{"name":"ca","urlSetting":"CA_API"}],
		"rules":[{"countries":["DE","FR"],"warehouse":"eu"},{"countries":["CA"],"provinces":["QC"],"warehouse":"ca"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ c, p, want, err string }{
		{"DE", "", "eu", ""}, {"CA", "QC", "ca", ""}, {"CA", "ON", "", "no routing rule"}, {"US", "NY", "", "no routing rule"},
	} {
		got, err := c.Route(&order.Address{CountryCode: tc.c, ProvinceCode: tc.p})
		if got != tc.want || (tc.err == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("%s-%s: %q %v", tc.c, tc.p, got, err)
		}
	}
	bad := []struct{ body, want string }{
		{`{"warehouses":[]}`, "no warehouses"},
		{`{"warehouses":[{"name":"a"},{"name":"a"}]}`, "twice"},
		{`{"warehouses":[{"name":"a"}],"rules":[{"warehouse":"b"}]}`, "unknown warehouse"},
		{`{"warehouses":[{"name":"a"}],"default":"zz"}`, "unknown warehouse"},
		{`{"warehouses":[{"name":"a/b"}]}`, "use letters"},
		{`{"warehouses":[{"name":"a"}],"rules":[{"provinces":["NY"],"warehouse":"a"}]}`, "without a country"},
		{`{"warehouses":[{"name":"a","key":"secret"}]}`, "unknown field"},
		{`not json`, "invalid character"},
	}
	for _, b := range bad {
		if _, err := Load(write(b.body)); err == nil || !strings.Contains(err.Error(), b.want) || !strings.Contains(err.Error(), "ROUTING_CONFIG") {
			t.Errorf("%s: err = %v, want %q", b.body, err, b.want)
		}
	}
	if _, err := Load(filepath.Join(dir, "missing.json")); err == nil {
		t.Error("missing file loaded")
	}
}
