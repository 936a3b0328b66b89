// Package cosmos keeps the order log in Azure Cosmos DB (SQL API): it implements order.Store
// with the azcosmos SDK, for deployments that outgrow one machine (DESIGN.md §2).
//
// One container holds every document, partitioned by /id, so each document is its own logical
// partition and every read is a point read. Documents carry a "type" field: "order" (one per
// order record, id = order.RecordID), "receipt" (one per shop and webhook id, id = a hash),
// "lease" and "state". Writes use optimistic concurrency on the document's _etag (If-Match);
// 409/412 become order.ErrConflict and 404 order.ErrNotFound; 429 is retried after the
// x-ms-retry-after-ms Cosmos asks for, within limits, then reported as ErrThrottled. See
// README.md for container setup, roles and the number of round trips per operation.
//
// The store does not own a queue: Save keeps o.Outbox in the record and List with
// Filter.PendingOutbox finds records whose outbox still has to be handed to the queue.
package cosmos

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/data/azcosmos"

	"github.com/shipwell/orderflow/internal/order"
)

var _ order.Store = (*Store)(nil)

// Store is the Cosmos DB order log. It holds one SDK client for the process; it is safe for
// concurrent use. Create it with Open and release it with Close.
type Store struct {
	cfg      Config
	acct     account
	client   *azcosmos.Client
	c        *azcosmos.ContainerClient
	counts   *counters
	sessions *sessionTokens
	log      *slog.Logger
	close    sync.Once
}

// Open connects to the account in cfg and checks, within cfg.StartupTimeout, that the database
// and container exist and that the container is partitioned by /id. Every failure is an error
// naming the setting to fix (COSMOS_CONNECTION, COSMOS_ENDPOINT, COSMOS_DATABASE,
// COSMOS_CONTAINER); none contains the account key. Open does not create anything: a missing
// container is reported with the definition it needs (see EnsureContainer for first setup).
func Open(ctx context.Context, cfg Config) (*Store, error) {
	cfg.setDefaults()
	acct, err := resolveAccount(&cfg)
	if err != nil {
		return nil, err
	}
	if err := checkResourceName(cfg.Database); err != nil {
		return nil, fmt.Errorf("%s=%q: %w", SettingDatabase, cfg.Database, err)
	}
	if err := checkResourceName(cfg.Container); err != nil {
		return nil, fmt.Errorf("%s=%q: %w", SettingContainer, cfg.Container, err)
	}
	counts := &counters{}
	client, err := newClient(&cfg, acct, counts)
	if err != nil {
		return nil, err
	}
	c, err := client.NewContainer(cfg.Database, cfg.Container)
	if err != nil {
		client.Close()
		return nil, fmt.Errorf("%s=%q: %w", SettingContainer, cfg.Container, err)
	}
	s := &Store{cfg: cfg, acct: acct, client: client, c: c, counts: counts, sessions: newSessionTokens(4096), log: cfg.Logger}
	props, err := s.bounded(ctx, func(ctx context.Context) (*azcosmos.ContainerProperties, error) {
		return s.checkContainer(ctx)
	})
	if err != nil {
		client.Close()
		return nil, err
	}
	if cfg.ReceiptTTL > 0 && props.DefaultTimeToLive == nil {
		s.log.Warn("cosmos db: receipts will not expire: the container has TTL off (set defaultTtl -1)",
			"setting", SettingReceiptTTL, "container", cfg.Container)
	}
	auth := "account key"
	if acct.key == "" {
		auth = "token credential (managed identity)"
	}
	s.log.Info("cosmos db order log ready", "endpoint", acct.endpoint, "database", cfg.Database,
		"container", cfg.Container, "auth", auth, "partition_key", PartitionKeyPath,
		"receipt_ttl", cfg.ReceiptTTL.String())
	return s, nil
}

// bounded runs a start-up step with StartupTimeout. The SDK's first request (the account read)
// ignores cancellation, so the step runs in a goroutine and an unreachable endpoint is reported
// when the time is up, whatever the SDK is still doing.
func (s *Store) bounded(ctx context.Context, fn func(context.Context) (*azcosmos.ContainerProperties, error)) (*azcosmos.ContainerProperties, error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.StartupTimeout)
	defer cancel()
	type result struct {
		p   *azcosmos.ContainerProperties
		err error
	}
	done := make(chan result, 1)
	go func() {
		p, err := fn(ctx)
		done <- result{p, err}
	}()
	select {
	case r := <-done:
		return r.p, r.err
	case <-ctx.Done():
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return nil, fmt.Errorf("%s: Cosmos DB at %s did not answer within %s (unreachable endpoint?)",
				s.acct.setting, s.acct.endpoint, s.cfg.StartupTimeout)
		}
		return nil, fmt.Errorf("open cosmos db: %w", ctx.Err())
	}
}

// checkContainer reads the database and the container and checks the partition key path.
func (s *Store) checkContainer(ctx context.Context) (*azcosmos.ContainerProperties, error) {
	db, err := s.client.NewDatabase(s.cfg.Database)
	if err != nil {
		return nil, fmt.Errorf("%s=%q: %w", SettingDatabase, s.cfg.Database, err)
	}
	if _, err := db.Read(ctx, nil); err != nil {
		return nil, s.startupError(SettingDatabase, err)
	}
	resp, err := s.c.Read(ctx, nil)
	if err != nil {
		return nil, s.startupError(SettingContainer, err)
	}
	p := resp.ContainerProperties
	if p == nil {
		return nil, fmt.Errorf("%s=%q: Cosmos DB returned no container properties", SettingContainer, s.cfg.Container)
	}
	if paths := p.PartitionKeyDefinition.Paths; !slices.Equal(paths, []string{PartitionKeyPath}) {
		return nil, fmt.Errorf("%s=%q: the container's partition key path is %s, want %s (create a new container, see internal/cosmos/README.md)",
			SettingContainer, s.cfg.Container, strings.Join(paths, ","), PartitionKeyPath)
	}
	return p, nil
}

// startupError explains a failed start-up read in terms of the settings.
func (s *Store) startupError(setting string, err error) error {
	var ce *credentialError
	if errors.As(err, &ce) {
		return fmt.Errorf("%s: cannot get a token for Cosmos DB (DefaultAzureCredential, i.e. managed identity on Azure): %v",
			s.acct.setting, ce.err)
	}
	switch statusOf(err) {
	case 0:
		return fmt.Errorf("%s: cannot reach Cosmos DB at %s: %v", s.acct.setting, s.acct.endpoint, compactError(err))
	case http.StatusNotFound:
		if setting == SettingDatabase {
			return fmt.Errorf("%s=%q: no such database in the Cosmos DB account %s (create it; see internal/cosmos/README.md)",
				SettingDatabase, s.cfg.Database, s.acct.endpoint)
		}
		return fmt.Errorf("%s=%q: no such container in database %q (create it with partition key path %s; see internal/cosmos/README.md)",
			SettingContainer, s.cfg.Container, s.cfg.Database, PartitionKeyPath)
	case http.StatusUnauthorized:
		return fmt.Errorf("%s: Cosmos DB refused the credentials for %s (401 Unauthorized): check the account key", s.acct.setting, s.acct.endpoint)
	case http.StatusForbidden:
		if s.acct.key == "" {
			return fmt.Errorf("%s: the identity may not use %s (403 Forbidden): assign it the Cosmos DB Built-in Data Contributor role (see internal/cosmos/README.md)",
				SettingEndpoint, s.acct.endpoint)
		}
		return fmt.Errorf("%s: Cosmos DB at %s answered 403 Forbidden (firewall, or key authentication disabled on the account?)", s.acct.setting, s.acct.endpoint)
	default:
		return fmt.Errorf("%s=%q: %w", setting, settingValue(s.cfg, setting), classify(err))
	}
}

func settingValue(c Config, setting string) string {
	if setting == SettingDatabase {
		return c.Database
	}
	return c.Container
}

// compactError shortens an SDK transport error to its first line.
func compactError(err error) string {
	msg := err.Error()
	if i := strings.IndexByte(msg, '\n'); i >= 0 {
		msg = msg[:i]
	}
	return msg
}

// checkResourceName applies Cosmos DB's rules for database and container ids.
func checkResourceName(s string) error {
	if s == "" || len(s) > maxIDLength || strings.TrimSpace(s) != s || strings.ContainsAny(s, `/\?#`) {
		return errors.New(`want 1-255 characters without / \ ? # or surrounding spaces`)
	}
	return nil
}

// credentialError marks a failure to get a token (so start-up can say so). The credential
// retries on its own (azidentity does), so the SDK's retry policy must not add more.
type credentialError struct{ err error }

func (e *credentialError) Error() string { return "get token: " + e.err.Error() }
func (e *credentialError) Unwrap() error { return e.err }

// NonRetriable tells the SDK's retry policy not to retry (azcore's errorinfo.NonRetriable).
func (e *credentialError) NonRetriable() {}

type markedCredential struct{ azcore.TokenCredential }

func (m markedCredential) GetToken(ctx context.Context, o policy.TokenRequestOptions) (azcore.AccessToken, error) {
	tk, err := m.TokenCredential.GetToken(ctx, o)
	if err != nil {
		return tk, &credentialError{err}
	}
	return tk, nil
}

// newClient makes the one SDK client of the process.
func newClient(cfg *Config, acct account, counts *counters) (*azcosmos.Client, error) {
	opts := &azcosmos.ClientOptions{ClientOptions: azcore.ClientOptions{
		// The SDK's own retries handle transport errors and 5xx (it refuses to replay ambiguous
		// writes); 429 is left to throttlePolicy, which honours x-ms-retry-after-ms with limits.
		Retry: policy.RetryOptions{MaxRetries: 3, RetryDelay: 200 * time.Millisecond, MaxRetryDelay: 2 * time.Second,
			StatusCodes: []int{http.StatusRequestTimeout, http.StatusInternalServerError, http.StatusBadGateway,
				http.StatusServiceUnavailable, http.StatusGatewayTimeout}},
		PerCallPolicies: []policy.Policy{&throttlePolicy{maxRetries: cfg.MaxThrottleRetries,
			maxWait: cfg.MaxThrottleWait, c: counts, log: cfg.Logger}},
		PerRetryPolicies: []policy.Policy{countPolicy{counts}},
		Telemetry:        policy.TelemetryOptions{ApplicationID: "orderflow"},
	}}
	switch {
	case cfg.HTTPClient != nil:
		opts.Transport = cfg.HTTPClient
	case acct.insecure:
		cfg.Logger.Warn("cosmos db: certificate checks are OFF (DisableServerCertificateValidation=True); use only with the emulator")
		opts.Transport = insecureHTTPClient()
	}
	if acct.key != "" {
		cred, err := azcosmos.NewKeyCredential(acct.key)
		if err != nil {
			return nil, fmt.Errorf("%s: malformed connection string: AccountKey is not base64", SettingConnection)
		}
		client, err := azcosmos.NewClientWithKey(acct.endpoint, cred, opts)
		if err != nil {
			return nil, fmt.Errorf("%s: %v", SettingConnection, err)
		}
		return client, nil
	}
	cred := cfg.Credential
	if cred == nil {
		dac, err := azidentity.NewDefaultAzureCredential(nil)
		if err != nil {
			return nil, fmt.Errorf("%s: managed identity (DefaultAzureCredential): %w", SettingEndpoint, err)
		}
		cred = dac
	}
	client, err := azcosmos.NewClient(acct.endpoint, markedCredential{cred}, opts)
	if err != nil {
		return nil, fmt.Errorf("%s=%q: %w", SettingEndpoint, acct.endpoint, err)
	}
	return client, nil
}

// ContainerProperties is the container definition the store expects: partition key path /id,
// TTL on without a default (only documents with a "ttl" expire), and an index on just the
// fields the store queries (order documents are large; indexing everything costs RUs on every
// write).
func ContainerProperties(id string) azcosmos.ContainerProperties {
	ttl := int32(-1)
	var included []azcosmos.IncludedPath
	for _, f := range []string{"type", "status", "orderId", "hasOutbox", "hasDeadLetters", "needsAttention", "kind", "modified"} {
		included = append(included, azcosmos.IncludedPath{Path: "/" + f + "/?"})
	}
	return azcosmos.ContainerProperties{
		ID:                     id,
		PartitionKeyDefinition: azcosmos.PartitionKeyDefinition{Paths: []string{PartitionKeyPath}},
		DefaultTimeToLive:      &ttl,
		IndexingPolicy: &azcosmos.IndexingPolicy{
			Automatic: true, IndexingMode: azcosmos.IndexingModeConsistent,
			IncludedPaths: included, ExcludedPaths: []azcosmos.ExcludedPath{{Path: "/*"}},
		},
	}
}

// EnsureContainer creates the database and container named in cfg when they are missing (first
// setup, tests), with ContainerProperties. It fails when an existing container has another
// partition key path. Creating needs the account key (or a control-plane role): the data-plane
// role a managed identity gets cannot create containers, so on Azure create them with the az
// CLI or infrastructure code instead (README.md).
func EnsureContainer(ctx context.Context, cfg Config) error {
	cfg.setDefaults()
	acct, err := resolveAccount(&cfg)
	if err != nil {
		return err
	}
	client, err := newClient(&cfg, acct, &counters{})
	if err != nil {
		return err
	}
	defer client.Close()
	ctx, cancel := context.WithTimeout(ctx, max(cfg.StartupTimeout, time.Minute))
	defer cancel()
	if _, err := client.CreateDatabase(ctx, azcosmos.DatabaseProperties{ID: cfg.Database}, nil); err != nil && statusOf(err) != http.StatusConflict {
		return fmt.Errorf("%s=%q: create database: %w", SettingDatabase, cfg.Database, classify(err))
	}
	db, err := client.NewDatabase(cfg.Database)
	if err != nil {
		return fmt.Errorf("%s=%q: %w", SettingDatabase, cfg.Database, err)
	}
	if _, err := db.CreateContainer(ctx, ContainerProperties(cfg.Container), nil); err != nil {
		if statusOf(err) != http.StatusConflict {
			return fmt.Errorf("%s=%q: create container: %w", SettingContainer, cfg.Container, classify(err))
		}
		c, err := db.NewContainer(cfg.Container)
		if err != nil {
			return fmt.Errorf("%s=%q: %w", SettingContainer, cfg.Container, err)
		}
		resp, err := c.Read(ctx, nil)
		if err != nil {
			return fmt.Errorf("%s=%q: read container: %w", SettingContainer, cfg.Container, classify(err))
		}
		if paths := resp.ContainerProperties.PartitionKeyDefinition.Paths; !slices.Equal(paths, []string{PartitionKeyPath}) {
			return fmt.Errorf("%s=%q: exists with partition key path %s, want %s", SettingContainer, cfg.Container,
				strings.Join(paths, ","), PartitionKeyPath)
		}
	}
	return nil
}

// Ping reads the container's properties: one round trip.
func (s *Store) Ping(ctx context.Context) error {
	if _, err := s.c.Read(ctx, nil); err != nil {
		return fmt.Errorf("ping cosmos db container %s: %w", s.cfg.Container, classify(err))
	}
	return nil
}

// Close releases the SDK client. It is safe to call more than once.
func (s *Store) Close() error {
	s.close.Do(s.client.Close)
	return nil
}

// Stats returns the number of HTTP requests sent to Cosmos DB so far (round trips).
func (s *Store) Stats() Stats { return s.counts.stats() }

// sessionTokens remembers the latest session token per document written or read by this
// process, so a read after a write sees that write (read-your-writes under the account's
// default Session consistency; the Go SDK does not track session tokens itself). Bounded: the
// oldest entries are forgotten. Correctness never depends on it: every write is checked with
// If-Match, a stale read only costs a conflict and a retry.
type sessionTokens struct {
	mu   sync.Mutex
	m    map[string]string
	ring []string
	next int
}

func newSessionTokens(n int) *sessionTokens {
	return &sessionTokens{m: make(map[string]string, n), ring: make([]string, n)}
}

func (t *sessionTokens) put(id string, token *string) {
	if token == nil || *token == "" {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, ok := t.m[id]; !ok {
		if old := t.ring[t.next]; old != "" {
			delete(t.m, old)
		}
		t.ring[t.next] = id
		t.next = (t.next + 1) % len(t.ring)
	}
	t.m[id] = *token
}

func (t *sessionTokens) get(id string) *string {
	t.mu.Lock()
	defer t.mu.Unlock()
	if v, ok := t.m[id]; ok {
		return &v
	}
	return nil
}
