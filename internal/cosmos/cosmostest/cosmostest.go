// Package cosmostest gives tests a real Cosmos DB SQL-API endpoint.
//
// By default it runs the local Cosmos DB SIMULATOR in tools/cosmos-server
// (@vercel/cosmosdb-server 1.0.1 plus our fixes; this is a SIMULATOR, not
// Azure Cosmos DB) on 127.0.0.1 with a free port. It needs Node.js >= 20 and
// npm on PATH; `npm ci` runs automatically when tools/cosmos-server/node_modules
// is missing. Without Node.js the tests fail, unless COSMOS_TEST_OPTIONAL=1, in
// which case they skip with a message.
//
// To run the same tests against a real account or the official emulator set
// COSMOS_TEST_ENDPOINT and COSMOS_TEST_KEY (and COSMOS_TEST_INSECURE_TLS=1 for
// the emulator's self-signed certificate). Tests that need simulator-only
// features (fault injection, counters) call RequireSimulator and skip there.
//
// Every test gets its own database and container (NewContainer), deleted when
// the test ends, so tests can run in parallel against one server.
package cosmostest

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/data/azcosmos"
)

// EmulatorKey is the well-known account key of the Cosmos DB emulator. The
// simulator accepts any key; this one keeps connection strings realistic.
const EmulatorKey = "C2y6yDjf5/R+ob0N8A7Cgv30VRDJIWEHLM+4QDU5DE2nQ9nDuVTqobD4b8mGGyPMbIZnqyMsEcaGQy67XIw/Jw=="

// Environment variables understood by Start.
const (
	EnvEndpoint    = "COSMOS_TEST_ENDPOINT"     // use this account instead of the simulator
	EnvKey         = "COSMOS_TEST_KEY"          // its account key
	EnvInsecureTLS = "COSMOS_TEST_INSECURE_TLS" // "1": skip certificate checks (emulator)
	EnvOptional    = "COSMOS_TEST_OPTIONAL"     // "1": skip instead of fail when Node.js is missing
)

// Server is a Cosmos DB endpoint for tests.
type Server struct {
	// Endpoint is the account endpoint, e.g. http://127.0.0.1:41273/.
	Endpoint string
	// Key is the account key (EmulatorKey for the simulator).
	Key string
	// Simulated is true for the local simulator, false for an account from the environment.
	Simulated bool

	httpClient *http.Client // nil: the SDK's default transport
	proc       *process
}

// Options configure a dedicated simulator (StartDedicated).
type Options struct {
	// TLS serves HTTPS with a certificate generated for the test; clients made
	// by the Server trust it.
	TLS bool
	// LenientQueries lets cross-partition queries use TOP/ORDER BY/aggregates,
	// which the real gateway refuses.
	LenientQueries bool
	// Verbose logs every request to the test's stdout.
	Verbose bool
}

var shared struct {
	once sync.Once
	srv  *Server
	err  error
}

// Start returns the Cosmos endpoint for this test binary: the account named by
// COSMOS_TEST_ENDPOINT/COSMOS_TEST_KEY when set, otherwise one simulator
// process shared by all tests of the package. The shared process lives until
// the test binary exits (it watches its stdin pipe), so no TestMain is needed.
func Start(tb testing.TB) *Server {
	tb.Helper()
	if s, ok := fromEnv(tb); ok {
		return s
	}
	shared.once.Do(func() {
		var p *process
		p, shared.err = startProcess()
		if shared.err == nil {
			shared.srv = &Server{Endpoint: p.endpoint, Key: EmulatorKey, Simulated: true, proc: p}
		}
	})
	if shared.err != nil {
		failStart(tb, shared.err)
	}
	return shared.srv
}

// StartDedicated starts a simulator process for this test alone (e.g. to count
// its connections or to serve HTTPS) and stops it when the test ends. It
// ignores COSMOS_TEST_ENDPOINT.
func StartDedicated(tb testing.TB, o Options) *Server {
	tb.Helper()
	var args []string
	var pool *x509.CertPool
	if o.TLS {
		certFile, keyFile, p, err := writeTestCert(tb.TempDir())
		if err != nil {
			tb.Fatalf("cosmostest: %v", err)
		}
		args = append(args, "--tls", "--tls-cert", certFile, "--tls-key", keyFile)
		pool = p
	}
	if o.LenientQueries {
		args = append(args, "--lenient-queries")
	}
	if o.Verbose {
		args = append(args, "--verbose")
	}
	p, err := startProcess(args...)
	if err != nil {
		failStart(tb, err)
	}
	tb.Cleanup(p.stop)
	s := &Server{Endpoint: p.endpoint, Key: EmulatorKey, Simulated: true, proc: p}
	if pool != nil {
		s.httpClient = newHTTPClient(&tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12})
	}
	return s
}

func fromEnv(tb testing.TB) (*Server, bool) {
	ep, key := os.Getenv(EnvEndpoint), os.Getenv(EnvKey)
	if ep == "" && key == "" {
		return nil, false
	}
	if ep == "" || key == "" {
		tb.Fatalf("cosmostest: set both %s and %s (or neither, to use the local simulator)", EnvEndpoint, EnvKey)
	}
	s := &Server{Endpoint: ep, Key: key}
	if os.Getenv(EnvInsecureTLS) == "1" {
		s.httpClient = newHTTPClient(&tls.Config{InsecureSkipVerify: true}) //nolint:gosec // opt-in, emulator only
	}
	return s, true
}

func failStart(tb testing.TB, err error) {
	tb.Helper()
	if errors.Is(err, errNodeMissing) && os.Getenv(EnvOptional) == "1" {
		tb.Skipf("cosmostest: SKIPPING Cosmos tests: %v (%s=1)", err, EnvOptional)
	}
	tb.Fatalf("cosmostest: %v (install Node.js >= 20 and npm, or set %s/%s)", err, EnvEndpoint, EnvKey)
}

func newHTTPClient(cfg *tls.Config) *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.TLSClientConfig = cfg
	t.MaxIdleConnsPerHost = 100
	return &http.Client{Transport: t, Timeout: 65 * time.Second}
}

// ConnectionString returns "AccountEndpoint=...;AccountKey=...;" for the server.
func (s *Server) ConnectionString() string {
	return fmt.Sprintf("AccountEndpoint=%s;AccountKey=%s;", s.Endpoint, s.Key)
}

// HTTPClient returns the HTTP client to reach the server, or nil when the SDK
// default is right (plain HTTP simulator, real accounts).
func (s *Server) HTTPClient() *http.Client { return s.httpClient }

// ClientOptions returns SDK options that reach this server (a transport that
// trusts the test certificate, if any). Callers may adjust them, e.g. Retry.
func (s *Server) ClientOptions() *azcosmos.ClientOptions {
	o := &azcosmos.ClientOptions{}
	if s.httpClient != nil {
		o.Transport = s.httpClient
	}
	return o
}

// NewClient returns an SDK client for the server, closed when the test ends.
func (s *Server) NewClient(tb testing.TB) *azcosmos.Client {
	tb.Helper()
	return s.NewClientWithOptions(tb, s.ClientOptions())
}

// NewClientWithOptions is NewClient with explicit options (start from ClientOptions).
func (s *Server) NewClientWithOptions(tb testing.TB, o *azcosmos.ClientOptions) *azcosmos.Client {
	tb.Helper()
	cred, err := azcosmos.NewKeyCredential(s.Key)
	if err != nil {
		tb.Fatalf("cosmostest: key credential: %v", err)
	}
	c, err := azcosmos.NewClientWithKey(s.Endpoint, cred, o)
	if err != nil {
		tb.Fatalf("cosmostest: new client for %s: %v", s.Endpoint, err)
	}
	tb.Cleanup(c.Close)
	return c
}

// Container is a database and container created for one test.
type Container struct {
	*azcosmos.ContainerClient
	// Client is the SDK client the container was made with.
	Client *azcosmos.Client
	// DatabaseID and ContainerID name the database and container.
	DatabaseID, ContainerID string
}

// PathPrefix is the REST path prefix of the container's database, for
// scoping injected faults to this test ("/dbs/<id>/").
func (c *Container) PathPrefix() string { return "/dbs/" + c.DatabaseID + "/" }

// ContainerOption changes the container NewContainer creates.
type ContainerOption func(*azcosmos.ContainerProperties)

// WithPartitionKeyPath sets the partition key path (default "/id").
func WithPartitionKeyPath(path string) ContainerOption {
	return func(p *azcosmos.ContainerProperties) {
		p.PartitionKeyDefinition = azcosmos.PartitionKeyDefinition{Paths: []string{path}}
	}
}

// WithDefaultTTL enables TTL on the container (-1: on, items expire only with their own "ttl").
func WithDefaultTTL(seconds int32) ContainerOption {
	return func(p *azcosmos.ContainerProperties) { p.DefaultTimeToLive = &seconds }
}

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9_-]+`)

// uniqueName makes a database id from the test name plus a random suffix.
func uniqueName(tb testing.TB) string {
	var b [5]byte
	if _, err := rand.Read(b[:]); err != nil {
		tb.Fatalf("cosmostest: random: %v", err)
	}
	name := strings.Trim(unsafeName.ReplaceAllString(tb.Name(), "-"), "-")
	if len(name) > 40 {
		name = name[:40]
	}
	return "t-" + name + "-" + hex.EncodeToString(b[:])
}

// NewContainer creates a uniquely named database and container for this test
// (partition key path "/id" unless changed) with a new client, and deletes the
// database when the test ends.
func (s *Server) NewContainer(tb testing.TB, opts ...ContainerOption) *Container {
	tb.Helper()
	return s.NewContainerWithClient(tb, s.NewClient(tb), opts...)
}

// NewContainerWithClient is NewContainer using the given client.
func (s *Server) NewContainerWithClient(tb testing.TB, client *azcosmos.Client, opts ...ContainerOption) *Container {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dbID := uniqueName(tb)
	props := azcosmos.ContainerProperties{
		ID:                     "c",
		PartitionKeyDefinition: azcosmos.PartitionKeyDefinition{Paths: []string{"/id"}},
	}
	for _, o := range opts {
		o(&props)
	}
	if _, err := client.CreateDatabase(ctx, azcosmos.DatabaseProperties{ID: dbID}, nil); err != nil {
		tb.Fatalf("cosmostest: create database %s: %v", dbID, err)
	}
	db, err := client.NewDatabase(dbID)
	if err != nil {
		tb.Fatalf("cosmostest: database client %s: %v", dbID, err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if _, err := db.Delete(ctx, nil); err != nil {
			tb.Logf("cosmostest: delete database %s: %v", dbID, err)
		}
	})
	if _, err := db.CreateContainer(ctx, props, nil); err != nil {
		tb.Fatalf("cosmostest: create container %s/%s: %v", dbID, props.ID, err)
	}
	cc, err := db.NewContainer(props.ID)
	if err != nil {
		tb.Fatalf("cosmostest: container client %s/%s: %v", dbID, props.ID, err)
	}
	return &Container{ContainerClient: cc, Client: client, DatabaseID: dbID, ContainerID: props.ID}
}

// RequireSimulator skips the test when the server is a real account or the
// emulator (set by COSMOS_TEST_ENDPOINT): the test needs simulator-only
// features such as fault injection or connection counters.
func (s *Server) RequireSimulator(tb testing.TB) {
	tb.Helper()
	if !s.Simulated {
		tb.Skipf("cosmostest: needs the local simulator, not %s", EnvEndpoint)
	}
}

// Fault describes responses the simulator injects instead of serving requests.
type Fault struct {
	// Status is the HTTP status to answer (default 429).
	Status int `json:"status,omitempty"`
	// Count is how many matching requests get the fault (default 1).
	Count int `json:"count,omitempty"`
	// RetryAfter is sent as x-ms-retry-after-ms (default 100ms).
	RetryAfter time.Duration `json:"-"`
	// PathPrefix limits the fault to request paths with this prefix (see
	// Container.PathPrefix); empty matches every request.
	PathPrefix string `json:"pathPrefix,omitempty"`
	// Method limits the fault to one HTTP method (GET, POST, PUT, DELETE, PATCH).
	Method string `json:"method,omitempty"`
}

// InjectFault makes the simulator answer the next matching requests with f.
func (s *Server) InjectFault(tb testing.TB, f Fault) {
	tb.Helper()
	s.RequireSimulator(tb)
	body := struct {
		Fault
		RetryAfterMs *int64 `json:"retryAfterMs,omitempty"`
	}{Fault: f}
	if f.RetryAfter > 0 {
		ms := f.RetryAfter.Milliseconds()
		body.RetryAfterMs = &ms
	}
	b, err := json.Marshal(body)
	if err != nil {
		tb.Fatalf("cosmostest: encode fault: %v", err)
	}
	s.admin(tb, http.MethodPost, "_sim/faults", b, nil)
}

// ClearFaults removes all pending injected faults.
func (s *Server) ClearFaults(tb testing.TB) {
	tb.Helper()
	s.RequireSimulator(tb)
	s.admin(tb, http.MethodDelete, "_sim/faults", nil, nil)
}

// Stats are the simulator's counters since it started.
type Stats struct {
	// Connections is the number of TCP connections accepted.
	Connections int `json:"connections"`
	// Requests is the number of HTTP requests received (admin requests included).
	Requests int `json:"requests"`
	// FaultsPending is the number of injected faults not yet served.
	FaultsPending int `json:"faultsPending"`
}

// Stats reads the simulator's counters.
func (s *Server) Stats(tb testing.TB) Stats {
	tb.Helper()
	s.RequireSimulator(tb)
	var st Stats
	s.admin(tb, http.MethodGet, "_sim/stats", nil, &st)
	return st
}

// admin calls a /_sim/ endpoint on a fresh connection (so it does not disturb
// the client under test's connection pool or counters more than by one).
func (s *Server) admin(tb testing.TB, method, path string, body []byte, out any) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, s.Endpoint+path, bytes.NewReader(body))
	if err != nil {
		tb.Fatalf("cosmostest: %s %s: %v", method, path, err)
	}
	req.Close = true
	hc := s.httpClient
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		tb.Fatalf("cosmostest: %s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 300 {
		tb.Fatalf("cosmostest: %s %s: %s %s", method, path, resp.Status, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			tb.Fatalf("cosmostest: %s %s: decode %q: %v", method, path, b, err)
		}
	}
}
