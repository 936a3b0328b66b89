package cosmostest_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/data/azcosmos"

	"github.com/shipwell/orderflow/internal/cosmos/cosmostest"
)

// doc is the item shape used by these tests.
type doc struct {
	ID     string `json:"id"`
	PK     string `json:"pk,omitempty"`
	Status string `json:"status,omitempty"`
	N      int    `json:"n"`
	Tags   []int  `json:"tags,omitzero"`
	TTL    *int   `json:"ttl,omitempty"`
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

// statusOf returns the HTTP status of an SDK error, or 0 when it is not a response error.
func statusOf(err error) int {
	var re *azcore.ResponseError
	if errors.As(err, &re) {
		return re.StatusCode
	}
	return 0
}

func pk(v string) azcosmos.PartitionKey { return azcosmos.NewPartitionKeyString(v) }

func create(t *testing.T, c *cosmostest.Container, d doc) azcore.ETag {
	t.Helper()
	key := d.PK
	if key == "" {
		key = d.ID
	}
	resp, err := c.CreateItem(ctx(t), pk(key), mustJSON(t, d), nil)
	if err != nil {
		t.Fatalf("create %s: %v", d.ID, err)
	}
	return resp.ETag
}

// read returns the item, or ok=false on 404.
func read(t *testing.T, c *cosmostest.Container, key, id string) (d doc, etag azcore.ETag, ok bool) {
	t.Helper()
	resp, err := c.ReadItem(ctx(t), pk(key), id, nil)
	if statusOf(err) == http.StatusNotFound {
		return doc{}, "", false
	}
	if err != nil {
		t.Fatalf("read %s/%s: %v", key, id, err)
	}
	if err := json.Unmarshal(resp.Value, &d); err != nil {
		t.Fatalf("decode %s: %v", resp.Value, err)
	}
	return d, resp.ETag, true
}

func queryIDs(t *testing.T, c *cosmostest.Container, q string, key azcosmos.PartitionKey, o *azcosmos.QueryOptions) ([]string, error) {
	t.Helper()
	var ids []string
	pager := c.NewQueryItemsPager(q, key, o)
	for pager.More() {
		page, err := pager.NextPage(ctx(t))
		if err != nil {
			return ids, err
		}
		for _, raw := range page.Items {
			var v struct {
				ID string `json:"id"`
			}
			if err := json.Unmarshal(raw, &v); err != nil {
				return ids, fmt.Errorf("decode %s: %w", raw, err)
			}
			ids = append(ids, v.ID)
		}
	}
	return ids, nil
}

// FIX 1: a point read of a missing item is a 404 (the package answered 500).
func TestReadMissingIs404(t *testing.T) {
	t.Parallel()
	srv := cosmostest.Start(t)
	c := srv.NewContainer(t, cosmostest.WithPartitionKeyPath("/pk"))
	create(t, c, doc{ID: "exists", PK: "p1"})

	tests := []struct {
		name string
		key  string
		id   string
	}{
		{"missing id", "p1", "nope"},
		{"existing id in another partition", "p2", "exists"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := c.ReadItem(ctx(t), pk(tt.key), tt.id, nil)
			var re *azcore.ResponseError
			if !errors.As(err, &re) {
				t.Fatalf("ReadItem error = %v, want *azcore.ResponseError", err)
			}
			if re.StatusCode != http.StatusNotFound {
				t.Fatalf("StatusCode = %d, want 404 (%v)", re.StatusCode, err)
			}
		})
	}
	if _, _, ok := read(t, c, "p1", "exists"); !ok {
		t.Fatal("existing item not readable")
	}

	// A missing container is a 404 too (start-up checks rely on it), for reads and writes.
	missing, err := c.Client.NewContainer(c.DatabaseID, "no-such-container")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := missing.Read(ctx(t), nil); statusOf(err) != http.StatusNotFound {
		t.Fatalf("Read missing container: %v, want 404", err)
	}
	if _, err := missing.ReadItem(ctx(t), pk("x"), "x", nil); statusOf(err) != http.StatusNotFound {
		t.Fatalf("ReadItem in missing container: %v, want 404", err)
	}
	if _, err := missing.CreateItem(ctx(t), pk("x"), mustJSON(t, doc{ID: "x", PK: "x"}), nil); statusOf(err) != http.StatusNotFound {
		t.Fatalf("CreateItem in missing container: %v, want 404", err)
	}
}

// FIX 2a: every batch operation type works and the batch commits.
func TestBatchAllOperations(t *testing.T) {
	t.Parallel()
	srv := cosmostest.Start(t)
	c := srv.NewContainer(t, cosmostest.WithPartitionKeyPath("/pk"))
	const p = "order-1"
	etagA := create(t, c, doc{ID: "a", PK: p, Status: "new"})
	create(t, c, doc{ID: "b", PK: p})
	create(t, c, doc{ID: "c", PK: p, N: 7})
	create(t, c, doc{ID: "d", PK: p, N: 1})

	b := c.NewTransactionalBatch(pk(p))
	b.CreateItem(mustJSON(t, doc{ID: "e", PK: p, Status: "created"}), nil)
	b.ReplaceItem("a", mustJSON(t, doc{ID: "a", PK: p, Status: "replaced"}), &azcosmos.TransactionalBatchItemOptions{IfMatchETag: &etagA})
	b.UpsertItem(mustJSON(t, doc{ID: "f", PK: p, Status: "upserted"}), nil)
	b.DeleteItem("b", nil)
	b.ReadItem("c", nil)
	var ops azcosmos.PatchOperations
	ops.AppendSet("/status", "patched")
	ops.AppendIncrement("/n", 41)
	b.PatchItem("d", ops, nil)

	resp, err := c.ExecuteTransactionalBatch(ctx(t), b, nil)
	if err != nil {
		t.Fatalf("ExecuteTransactionalBatch: %v", err)
	}
	if !resp.Success {
		t.Fatalf("batch failed: %+v", resp.OperationResults)
	}
	var got []int32
	for _, r := range resp.OperationResults {
		got = append(got, r.StatusCode)
	}
	want := []int32{201, 200, 201, 204, 200, 200}
	if !slices.Equal(got, want) {
		t.Fatalf("statuses = %v, want %v", got, want)
	}
	var readBack doc
	if err := json.Unmarshal(resp.OperationResults[4].ResourceBody, &readBack); err != nil || readBack.N != 7 {
		t.Fatalf("batch read body = %s (%v), want item c with n=7", resp.OperationResults[4].ResourceBody, err)
	}

	checks := []struct {
		id         string
		wantExists bool
		wantStatus string
		wantN      int
	}{
		{"a", true, "replaced", 0},
		{"b", false, "", 0},
		{"d", true, "patched", 42},
		{"e", true, "created", 0},
		{"f", true, "upserted", 0},
	}
	for _, ch := range checks {
		d, _, ok := read(t, c, p, ch.id)
		if ok != ch.wantExists {
			t.Fatalf("%s exists = %v, want %v", ch.id, ok, ch.wantExists)
		}
		if ok && (d.Status != ch.wantStatus || d.N != ch.wantN) {
			t.Fatalf("%s = %+v, want status %q n %d", ch.id, d, ch.wantStatus, ch.wantN)
		}
	}
}

// FIX 2b: a batch whose second operation fails applies nothing and reports
// the failing operation's status (others 424), as the real gateway does.
func TestBatchFailureIsAtomic(t *testing.T) {
	t.Parallel()
	srv := cosmostest.Start(t)
	c := srv.NewContainer(t, cosmostest.WithPartitionKeyPath("/pk"))
	const p = "order-2"
	create(t, c, doc{ID: "existing", PK: p, Status: "v1"})
	_, etagV1, _ := read(t, c, p, "existing")
	// Make etagV1 stale.
	if _, err := c.ReplaceItem(ctx(t), pk(p), "existing", mustJSON(t, doc{ID: "existing", PK: p, Status: "v2"}), nil); err != nil {
		t.Fatal(err)
	}
	_, etagV2, _ := read(t, c, p, "existing")

	tests := []struct {
		name       string
		second     func(b *azcosmos.TransactionalBatch)
		wantStatus int32
	}{
		{"replace with stale etag", func(b *azcosmos.TransactionalBatch) {
			b.ReplaceItem("existing", mustJSON(t, doc{ID: "existing", PK: p, Status: "v3"}), &azcosmos.TransactionalBatchItemOptions{IfMatchETag: &etagV1})
		}, http.StatusPreconditionFailed},
		{"create existing id", func(b *azcosmos.TransactionalBatch) {
			b.CreateItem(mustJSON(t, doc{ID: "existing", PK: p}), nil)
		}, http.StatusConflict},
		{"delete missing id", func(b *azcosmos.TransactionalBatch) { b.DeleteItem("ghost", nil) }, http.StatusNotFound},
		{"patch with stale etag", func(b *azcosmos.TransactionalBatch) {
			var ops azcosmos.PatchOperations
			ops.AppendSet("/status", "v3")
			b.PatchItem("existing", ops, &azcosmos.TransactionalBatchItemOptions{IfMatchETag: &etagV1})
		}, http.StatusPreconditionFailed},
		{"create in another partition", func(b *azcosmos.TransactionalBatch) {
			b.CreateItem(mustJSON(t, doc{ID: "elsewhere", PK: "other"}), nil)
		}, http.StatusBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := c.NewTransactionalBatch(pk(p))
			b.CreateItem(mustJSON(t, doc{ID: "new-1", PK: p}), nil)
			tt.second(&b)
			b.UpsertItem(mustJSON(t, doc{ID: "existing", PK: p, Status: "upserted"}), nil)
			resp, err := c.ExecuteTransactionalBatch(ctx(t), b, nil)
			if err != nil {
				t.Fatalf("ExecuteTransactionalBatch: %v", err)
			}
			if resp.Success {
				t.Fatal("Success = true, want false")
			}
			if resp.RawResponse.StatusCode != http.StatusMultiStatus {
				t.Fatalf("HTTP status = %d, want 207", resp.RawResponse.StatusCode)
			}
			var got []int32
			for _, r := range resp.OperationResults {
				got = append(got, r.StatusCode)
			}
			if want := []int32{424, tt.wantStatus, 424}; !slices.Equal(got, want) {
				t.Fatalf("statuses = %v, want %v", got, want)
			}
			if _, _, ok := read(t, c, p, "new-1"); ok {
				t.Fatal("new-1 was created by a failed batch")
			}
			d, etag, _ := read(t, c, p, "existing")
			if d.Status != "v2" || etag != etagV2 {
				t.Fatalf("existing = %+v etag %s, want untouched v2 etag %s", d, etag, etagV2)
			}
		})
	}
}

// FIX 2c: batches stay atomic and isolated under concurrent writers to the
// same partition: every committed batch both bumps the counter (with If-Match)
// and records one event, so the counter must equal the number of events.
func TestBatchAtomicUnderConcurrency(t *testing.T) {
	t.Parallel()
	srv := cosmostest.Start(t)
	c := srv.NewContainer(t, cosmostest.WithPartitionKeyPath("/pk"))
	const p = "hot"
	create(t, c, doc{ID: "counter", PK: p})

	const workers, perWorker = 8, 10
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Go(func() {
			for i := 0; i < perWorker; {
				cur, etag, ok := read(t, c, p, "counter")
				if !ok {
					errs <- errors.New("counter vanished")
					return
				}
				// The event is created first, so a batch whose counter update
				// loses the race must roll the event back (a retry reuses its id).
				b := c.NewTransactionalBatch(pk(p))
				b.CreateItem(mustJSON(t, doc{ID: fmt.Sprintf("event-%d-%d", w, i), PK: p}), nil)
				b.ReplaceItem("counter", mustJSON(t, doc{ID: "counter", PK: p, N: cur.N + 1}), &azcosmos.TransactionalBatchItemOptions{IfMatchETag: &etag})
				resp, err := c.ExecuteTransactionalBatch(context.Background(), b, nil)
				if err != nil {
					errs <- err
					return
				}
				if resp.Success {
					i++
					continue
				}
				if resp.OperationResults[1].StatusCode != http.StatusPreconditionFailed {
					errs <- fmt.Errorf("unexpected batch failure %+v", resp.OperationResults)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	cur, _, _ := read(t, c, p, "counter")
	events, err := queryIDs(t, c, "SELECT c.id FROM c WHERE STARTSWITH(c.id, 'event-')", pk(p), nil)
	if err != nil {
		t.Fatal(err)
	}
	if cur.N != workers*perWorker || len(events) != workers*perWorker {
		t.Fatalf("counter = %d, events = %d, want both %d", cur.N, len(events), workers*perWorker)
	}
}

// FIX 3: a query with a partition key only sees that partition.
func TestQueryHonoursPartitionKey(t *testing.T) {
	t.Parallel()
	srv := cosmostest.Start(t)
	c := srv.NewContainer(t, cosmostest.WithPartitionKeyPath("/pk"))
	for _, d := range []doc{
		{ID: "a1", PK: "A", Status: "open"}, {ID: "a2", PK: "A", Status: "done"}, {ID: "a3", PK: "A", Status: "open"},
		{ID: "b1", PK: "B", Status: "open"}, {ID: "b2", PK: "B", Status: "done"},
	} {
		create(t, c, d)
	}
	tests := []struct {
		name  string
		query string
		key   azcosmos.PartitionKey
		page  int32
		want  []string
	}{
		{"partition A", "SELECT * FROM c", pk("A"), 0, []string{"a1", "a2", "a3"}},
		{"partition B", "SELECT * FROM c", pk("B"), 0, []string{"b1", "b2"}},
		{"filter inside partition", "SELECT * FROM c WHERE c.status = 'open'", pk("B"), 0, []string{"b1"}},
		{"paged inside partition", "SELECT * FROM c", pk("A"), 2, []string{"a1", "a2", "a3"}},
		{"unknown partition", "SELECT * FROM c", pk("Z"), 0, nil},
		{"cross-partition", "SELECT * FROM c WHERE c.status = 'open'", azcosmos.NewPartitionKey(), 0, []string{"a1", "a3", "b1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := queryIDs(t, c, tt.query, tt.key, &azcosmos.QueryOptions{PageSizeHint: tt.page})
			if err != nil {
				t.Fatal(err)
			}
			sort.Strings(got)
			if !slices.Equal(got, tt.want) {
				t.Fatalf("ids = %v, want %v", got, tt.want)
			}
		})
	}
}

// FIX 4: sequential requests reuse connections, over HTTP and HTTPS (the
// package closed every connection). The dedicated server counts accepted
// connections; the client has its own transport so nothing else shares it.
func TestConnectionsAreReused(t *testing.T) {
	t.Parallel()
	for _, useTLS := range []bool{false, true} {
		t.Run(fmt.Sprintf("tls=%v", useTLS), func(t *testing.T) {
			t.Parallel()
			srv := cosmostest.StartDedicated(t, cosmostest.Options{TLS: useTLS})
			o := srv.ClientOptions()
			if o.Transport == nil { // plain HTTP: a private transport, not the SDK's shared one
				o.Transport = &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
			}
			client := srv.NewClientWithOptions(t, o)
			c := srv.NewContainerWithClient(t, client)
			before := srv.Stats(t)

			const n = 50
			for i := range n {
				id := fmt.Sprintf("item-%d", i%10)
				if i < 10 {
					create(t, c, doc{ID: id})
				} else if _, _, ok := read(t, c, id, id); !ok {
					t.Fatalf("%s missing", id)
				}
			}
			after := srv.Stats(t)
			// Each Stats call opens one connection of its own.
			conns := after.Connections - before.Connections - 1
			reqs := after.Requests - before.Requests - 1
			if reqs < n {
				t.Fatalf("server saw %d requests, want >= %d", reqs, n)
			}
			if conns > 2 {
				t.Fatalf("%d requests used %d connections, want <= 2", reqs, conns)
			}
			if useTLS && srv.Endpoint[:8] != "https://" {
				t.Fatalf("endpoint %s is not https", srv.Endpoint)
			}
		})
	}
}

// Optimistic concurrency: stale If-Match is 412 for replace, patch and delete.
func TestStaleIfMatchIs412(t *testing.T) {
	t.Parallel()
	srv := cosmostest.Start(t)
	c := srv.NewContainer(t)
	stale := create(t, c, doc{ID: "o1", Status: "new"})
	resp, err := c.ReplaceItem(ctx(t), pk("o1"), "o1", mustJSON(t, doc{ID: "o1", Status: "paid"}), &azcosmos.ItemOptions{IfMatchEtag: &stale})
	if err != nil {
		t.Fatalf("replace with current etag: %v", err)
	}
	if resp.ETag == stale || resp.ETag == "" {
		t.Fatalf("etag after replace = %q, want a new one (old %q)", resp.ETag, stale)
	}
	var ops azcosmos.PatchOperations
	ops.AppendSet("/status", "x")
	tests := []struct {
		name string
		call func() error
	}{
		{"replace", func() error {
			_, err := c.ReplaceItem(ctx(t), pk("o1"), "o1", mustJSON(t, doc{ID: "o1", Status: "shipped"}), &azcosmos.ItemOptions{IfMatchEtag: &stale})
			return err
		}},
		{"patch", func() error {
			_, err := c.PatchItem(ctx(t), pk("o1"), "o1", ops, &azcosmos.ItemOptions{IfMatchEtag: &stale})
			return err
		}},
		{"upsert", func() error {
			_, err := c.UpsertItem(ctx(t), pk("o1"), mustJSON(t, doc{ID: "o1", Status: "shipped"}), &azcosmos.ItemOptions{IfMatchEtag: &stale})
			return err
		}},
		{"delete", func() error {
			_, err := c.DeleteItem(ctx(t), pk("o1"), "o1", &azcosmos.ItemOptions{IfMatchEtag: &stale})
			return err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.call(); statusOf(err) != http.StatusPreconditionFailed {
				t.Fatalf("error = %v, want 412", err)
			}
		})
	}
	if d, _, _ := read(t, c, "o1", "o1"); d.Status != "paid" {
		t.Fatalf("status = %q, want paid (stale writes must not apply)", d.Status)
	}
}

// Create of an existing id is 409; a document whose partition key differs
// from the request's is 400 (Cosmos checks both).
func TestCreateConflictsAndPartitionMismatch(t *testing.T) {
	t.Parallel()
	srv := cosmostest.Start(t)
	c := srv.NewContainer(t, cosmostest.WithPartitionKeyPath("/pk"))
	create(t, c, doc{ID: "dup", PK: "p"})
	tests := []struct {
		name string
		key  string
		d    doc
		want int
	}{
		{"duplicate id", "p", doc{ID: "dup", PK: "p"}, http.StatusConflict},
		{"same id other partition", "q", doc{ID: "dup", PK: "q"}, http.StatusCreated},
		{"partition key mismatch", "p", doc{ID: "m", PK: "other"}, http.StatusBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := c.CreateItem(ctx(t), pk(tt.key), mustJSON(t, tt.d), nil)
			got := statusOf(err)
			if err == nil {
				got = resp.RawResponse.StatusCode
			}
			if got != tt.want {
				t.Fatalf("status = %d (%v), want %d", got, err, tt.want)
			}
		})
	}
}

// Writes without EnableContentResponseOnWrite have no body, as on Cosmos.
func TestWritesHonourMinimalResponse(t *testing.T) {
	t.Parallel()
	srv := cosmostest.Start(t)
	c := srv.NewContainer(t)
	resp, err := c.CreateItem(ctx(t), pk("m1"), mustJSON(t, doc{ID: "m1"}), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Value) != 0 || resp.ETag == "" {
		t.Fatalf("default create: body %q etag %q, want no body and an etag", resp.Value, resp.ETag)
	}
	resp, err = c.UpsertItem(ctx(t), pk("m1"), mustJSON(t, doc{ID: "m1", N: 2}), &azcosmos.ItemOptions{EnableContentResponseOnWrite: true})
	if err != nil {
		t.Fatal(err)
	}
	var d doc
	if err := json.Unmarshal(resp.Value, &d); err != nil || d.N != 2 {
		t.Fatalf("upsert with content: body %q (%v), want the item", resp.Value, err)
	}
}

// 429s can be injected; they carry x-ms-retry-after-ms and the SDK retries them.
func TestInjected429(t *testing.T) {
	t.Parallel()
	srv := cosmostest.Start(t)
	srv.RequireSimulator(t)
	c := srv.NewContainer(t)
	create(t, c, doc{ID: "x"})

	t.Run("surfaced without retries", func(t *testing.T) {
		o := srv.ClientOptions()
		o.Retry = policy.RetryOptions{MaxRetries: -1}
		noRetry, err := srv.NewClientWithOptions(t, o).NewContainer(c.DatabaseID, c.ContainerID)
		if err != nil {
			t.Fatal(err)
		}
		srv.InjectFault(t, cosmostest.Fault{Status: http.StatusTooManyRequests, Count: 1, RetryAfter: 250 * time.Millisecond, PathPrefix: c.PathPrefix()})
		_, err = noRetry.ReadItem(ctx(t), pk("x"), "x", nil)
		var re *azcore.ResponseError
		if !errors.As(err, &re) || re.StatusCode != http.StatusTooManyRequests {
			t.Fatalf("error = %v, want 429", err)
		}
		if got := re.RawResponse.Header.Get("x-ms-retry-after-ms"); got != "250" {
			t.Fatalf("x-ms-retry-after-ms = %q, want 250", got)
		}
		if _, err := noRetry.ReadItem(ctx(t), pk("x"), "x", nil); err != nil {
			t.Fatalf("read after the fault: %v", err)
		}
	})

	t.Run("retried by the SDK", func(t *testing.T) {
		srv.InjectFault(t, cosmostest.Fault{Count: 2, RetryAfter: 10 * time.Millisecond, PathPrefix: c.PathPrefix(), Method: http.MethodPost})
		if _, err := c.CreateItem(ctx(t), pk("y"), mustJSON(t, doc{ID: "y"}), nil); err != nil {
			t.Fatalf("create through two 429s: %v", err)
		}
		if _, _, ok := read(t, c, "y", "y"); !ok {
			t.Fatal("y not created")
		}
	})
}

// TTL: with container TTL on, an item with "ttl" expires; others stay.
func TestTTL(t *testing.T) {
	t.Parallel()
	srv := cosmostest.Start(t)
	c := srv.NewContainer(t, cosmostest.WithDefaultTTL(-1))
	one := 1
	create(t, c, doc{ID: "short", TTL: &one})
	create(t, c, doc{ID: "forever"})
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, _, ok := read(t, c, "short", "short"); !ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("item with ttl 1 still there after 10s")
		}
		time.Sleep(200 * time.Millisecond)
	}
	if _, _, ok := read(t, c, "forever", "forever"); !ok {
		t.Fatal("item without ttl expired")
	}
}

// queryRaw runs a query to the end and returns each result as compact JSON.
func queryRaw(t *testing.T, c *cosmostest.Container, q string, key azcosmos.PartitionKey, o *azcosmos.QueryOptions) ([]string, error) {
	t.Helper()
	var out []string
	pager := c.NewQueryItemsPager(q, key, o)
	for pager.More() {
		page, err := pager.NextPage(ctx(t))
		if err != nil {
			return out, err
		}
		for _, raw := range page.Items {
			out = append(out, string(raw))
		}
	}
	return out, nil
}

// TestQueryFeatures documents which query features the simulator serves, for
// the authors of Cosmos-backed stores. Rows marked simulatorOnly differ from
// real Cosmos and are skipped when COSMOS_TEST_ENDPOINT is set.
func TestQueryFeatures(t *testing.T) {
	t.Parallel()
	srv := cosmostest.Start(t)
	c := srv.NewContainer(t, cosmostest.WithPartitionKeyPath("/pk"))
	for _, d := range []doc{
		{ID: "a1", PK: "A", Status: "open", N: 3, Tags: []int{1}},
		{ID: "a2", PK: "A", Status: "done", N: 1},
		{ID: "a3", PK: "A", Status: "open", N: 2, Tags: []int{}},
		{ID: "b1", PK: "B", Status: "open", N: 5},
	} {
		create(t, c, d)
	}
	all := azcosmos.NewPartitionKey() // cross-partition
	tests := []struct {
		name          string
		query         string
		params        []azcosmos.QueryParameter
		key           azcosmos.PartitionKey
		cross         bool // key is the cross-partition marker: result order unspecified
		page          int32
		want          []string
		wantStatus    int // expected error status instead of results
		simulatorOnly bool
	}{
		{name: "ORDER BY", query: "SELECT VALUE c.id FROM c ORDER BY c.n DESC", key: pk("A"), want: []string{`"a1"`, `"a3"`, `"a2"`}},
		{name: "ORDER BY paged with continuation", query: "SELECT VALUE c.id FROM c ORDER BY c.n", key: pk("A"), page: 1, want: []string{`"a2"`, `"a3"`, `"a1"`}},
		{name: "TOP", query: "SELECT TOP 1 VALUE c.id FROM c ORDER BY c.n", key: pk("A"), want: []string{`"a2"`}},
		{name: "parameters", query: "SELECT VALUE c.id FROM c WHERE c.status = @s ORDER BY c.id", params: []azcosmos.QueryParameter{{Name: "@s", Value: "done"}}, key: pk("A"), want: []string{`"a2"`}},
		{name: "IS_DEFINED and ARRAY_LENGTH", query: "SELECT VALUE c.id FROM c WHERE IS_DEFINED(c.tags) AND ARRAY_LENGTH(c.tags) > 0", key: pk("A"), want: []string{`"a1"`}},
		{name: "NOT IS_DEFINED", query: "SELECT VALUE c.id FROM c WHERE NOT IS_DEFINED(c.tags)", key: pk("A"), want: []string{`"a2"`}},
		{name: "COUNT in a partition", query: "SELECT VALUE COUNT(1) FROM c WHERE c.status = 'open'", key: pk("A"), want: []string{`2`}},
		{name: "cross-partition filter", query: "SELECT VALUE c.id FROM c WHERE c.status = 'open' AND c.n > 2", key: all, cross: true, want: []string{`"a1"`, `"b1"`}},
		{name: "cross-partition ORDER BY refused like the gateway", query: "SELECT * FROM c ORDER BY c.n", key: all, wantStatus: 400},
		{name: "cross-partition TOP refused like the gateway", query: "SELECT TOP 1 * FROM c", key: all, wantStatus: 400},
		{name: "cross-partition COUNT refused like the gateway", query: "SELECT VALUE COUNT(1) FROM c", key: all, wantStatus: 400},
		{name: "OFFSET LIMIT unsupported", query: "SELECT * FROM c OFFSET 0 LIMIT 1", key: pk("A"), wantStatus: 400, simulatorOnly: true},
		{name: "DISTINCT unsupported", query: "SELECT DISTINCT VALUE c.status FROM c", key: pk("A"), wantStatus: 400, simulatorOnly: true},
		{name: "GROUP BY unsupported", query: "SELECT c.status, COUNT(1) AS n FROM c GROUP BY c.status", key: pk("A"), wantStatus: 400, simulatorOnly: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.simulatorOnly {
				srv.RequireSimulator(t)
			}
			got, err := queryRaw(t, c, tt.query, tt.key, &azcosmos.QueryOptions{QueryParameters: tt.params, PageSizeHint: tt.page})
			if tt.wantStatus != 0 {
				if statusOf(err) != tt.wantStatus {
					t.Fatalf("error = %v (results %v), want status %d", err, got, tt.wantStatus)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tt.cross {
				sort.Strings(got)
			}
			if !slices.Equal(got, tt.want) {
				t.Fatalf("results = %v, want %v", got, tt.want)
			}
		})
	}
}

// --lenient-queries serves cross-partition ORDER BY (real gateway: 400).
func TestLenientQueries(t *testing.T) {
	t.Parallel()
	srv := cosmostest.StartDedicated(t, cosmostest.Options{LenientQueries: true})
	c := srv.NewContainer(t, cosmostest.WithPartitionKeyPath("/pk"))
	create(t, c, doc{ID: "x", PK: "X", N: 2})
	create(t, c, doc{ID: "y", PK: "Y", N: 1})
	got, err := queryRaw(t, c, "SELECT VALUE c.id FROM c ORDER BY c.n", azcosmos.NewPartitionKey(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{`"y"`, `"x"`}; !slices.Equal(got, want) {
		t.Fatalf("results = %v, want %v", got, want)
	}
}

// ReadManyItems works (the package's partition key range ids were numbers,
// which the SDK cannot decode).
func TestReadManyItems(t *testing.T) {
	t.Parallel()
	srv := cosmostest.Start(t)
	c := srv.NewContainer(t, cosmostest.WithPartitionKeyPath("/pk"))
	create(t, c, doc{ID: "a", PK: "A"})
	create(t, c, doc{ID: "b", PK: "B"})
	create(t, c, doc{ID: "c", PK: "A"})
	resp, err := c.ReadManyItems(ctx(t), []azcosmos.ItemIdentity{
		{ID: "a", PartitionKey: pk("A")},
		{ID: "b", PartitionKey: pk("B")},
		{ID: "b", PartitionKey: pk("A")}, // wrong partition: not found
		{ID: "zz", PartitionKey: pk("A")},
	}, nil)
	if err != nil {
		t.Fatalf("ReadManyItems: %v", err)
	}
	var got []string
	for _, raw := range resp.Items {
		var d doc
		if err := json.Unmarshal(raw, &d); err != nil {
			t.Fatal(err)
		}
		got = append(got, d.ID)
	}
	sort.Strings(got)
	if want := []string{"a", "b"}; !slices.Equal(got, want) {
		t.Fatalf("items = %v, want %v", got, want)
	}
}

// The simulator refuses ids Cosmos cannot address later (/ \ ? #); real
// Cosmos accepts the create and fails on later reads, so this is simulator-only.
func TestForbiddenIDCharacters(t *testing.T) {
	t.Parallel()
	srv := cosmostest.Start(t)
	srv.RequireSimulator(t)
	c := srv.NewContainer(t)
	for _, id := range []string{"a/b", `a\b`, "a?b", "#1001"} {
		t.Run(id, func(t *testing.T) {
			_, err := c.CreateItem(ctx(t), pk(id), mustJSON(t, doc{ID: id}), nil)
			if statusOf(err) != http.StatusBadRequest {
				t.Fatalf("create %q: %v, want 400", id, err)
			}
		})
	}
	create(t, c, doc{ID: "order-5123456789013"})
}

// The connection string the store reads from COSMOS_CONNECTION reaches the server.
func TestConnectionString(t *testing.T) {
	t.Parallel()
	srv := cosmostest.Start(t)
	c := srv.NewContainer(t)
	create(t, c, doc{ID: "cs", N: 3})
	client, err := azcosmos.NewClientFromConnectionString(srv.ConnectionString(), srv.ClientOptions())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(client.Close)
	cc, err := client.NewContainer(c.DatabaseID, c.ContainerID)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := cc.ReadItem(ctx(t), pk("cs"), "cs", nil)
	if err != nil {
		t.Fatalf("read through connection string client: %v", err)
	}
	var d doc
	if err := json.Unmarshal(resp.Value, &d); err != nil || d.N != 3 {
		t.Fatalf("item = %s (%v), want n=3", resp.Value, err)
	}
}
