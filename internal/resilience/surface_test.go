package resilience_test

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestStandaloneServesNoInvocationRoutes: the Functions invocation routes have no
// authentication of their own (only the host on 127.0.0.1 may call them), so standalone
// `handler serve`, which listens on every interface, must not serve them.
func TestStandaloneServesNoInvocationRoutes(t *testing.T) {
	ws := startWarehouses(t)
	p := newProduct(t, ws, nil)
	p.start()
	defer p.terminate(10 * time.Second)
	for _, path := range []string{"/fulfillment-router", "/inventory-sync", "/order-created", "/fulfillment-callback"} {
		res, err := http.Post(p.url()+path, "application/json", strings.NewReader(`{"Data":{"message":"{}","timer":{}},"Metadata":{}}`))
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusNotFound {
			t.Errorf("POST %s: %d, want 404", path, res.StatusCode)
		}
	}
}
