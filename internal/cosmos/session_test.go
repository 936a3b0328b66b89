package cosmos_test

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/shipwell/orderflow/internal/cosmos/cosmostest"
	"github.com/shipwell/orderflow/internal/order/ordertest"
)

// sessionTransport plays the part of real Cosmos DB's session tokens, which the simulator does
// not send: every document response gets a new x-ms-session-token, and the tokens sent with
// document reads are recorded.
type sessionTransport struct {
	next http.RoundTripper
	mu   sync.Mutex
	n    int
	sent map[string]string // read path → session token sent
}

func (s *sessionTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	isDoc := strings.Contains(r.URL.Path, "/docs")
	if isDoc && r.Method == http.MethodGet {
		s.mu.Lock()
		s.sent[r.URL.Path] = r.Header.Get("x-ms-session-token")
		s.mu.Unlock()
	}
	resp, err := s.next.RoundTrip(r)
	if err == nil && isDoc && resp.StatusCode < 300 {
		s.mu.Lock()
		s.n++
		resp.Header.Set("x-ms-session-token", fmt.Sprintf("0:-1#%d", s.n))
		s.mu.Unlock()
	}
	return resp, err
}

// A read after this process's write carries the write's session token (read-your-writes under
// Session consistency); a document this process never touched is read without one.
func TestSessionTokens(t *testing.T) {
	t.Parallel()
	srv := cosmostest.Start(t)
	srv.RequireSimulator(t)
	c := srv.NewContainer(t, recommended)
	tr := &sessionTransport{next: http.DefaultTransport, sent: map[string]string{}}
	cfg := config(t, srv, c)
	cfg.HTTPClient = &http.Client{Transport: tr}
	s := open(t, cfg)

	o := ordertest.NewOrder(shop, "1")
	if err := s.Save(ctx(t), o); err != nil { // token #1
		t.Fatal(err)
	}
	if _, err := s.Get(ctx(t), o.ID); err != nil { // sends #1, receives #2
		t.Fatal(err)
	}
	if _, err := s.Get(ctx(t), o.ID); err != nil { // sends #2
		t.Fatal(err)
	}
	path := "/dbs/" + c.DatabaseID + "/colls/" + c.ContainerID + "/docs/" + o.ID
	if got := tr.sent[path]; got != "0:-1#2" {
		t.Errorf("second read sent session token %q, want the first read's 0:-1#2", got)
	}
	if _, err := s.GetState(ctx(t), "never-written"); err == nil {
		t.Fatal("state found")
	}
	if got := tr.sent["/dbs/"+c.DatabaseID+"/colls/"+c.ContainerID+"/docs/state:never-written"]; got != "" {
		t.Errorf("read of an untouched document sent session token %q", got)
	}
}
