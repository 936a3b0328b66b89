package cosmos

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/data/azcosmos"

	"github.com/shipwell/orderflow/internal/order"
)

// defaultLimit is List's and ListReceipts' limit when the caller gives none (as in SQLite).
const defaultLimit = 100

// orderDoc is an order record as stored: the order's own fields at the top level, plus the
// store's fields. The flat fields exist for queries (status, orderId, shop come from the order
// itself).
type orderDoc struct {
	*order.Order
	Type string `json:"type"`
	// Version mirrors order.Order.Version (a counter); concurrency uses the _etag.
	Version int64 `json:"version"`
	// Modified is when the store last wrote the record (Unix milliseconds), for "newest first".
	Modified       int64 `json:"modified"`
	HasOutbox      bool  `json:"hasOutbox"`
	HasDeadLetters bool  `json:"hasDeadLetters"`
	NeedsAttention bool  `json:"needsAttention"`
	// ETag is the system _etag, read back from queries.
	ETag string `json:"_etag,omitempty"`
}

// partitionKey returns the partition key of the document with this id. The container is
// partitioned by /id, so the value is the document's own id field: one source, no mismatch.
func partitionKey(id string) azcosmos.PartitionKey { return azcosmos.NewPartitionKeyString(id) }

func decodeOrder(raw []byte, etag azcore.ETag) (*order.Order, error) {
	d := orderDoc{Order: new(order.Order)}
	if err := json.Unmarshal(raw, &d); err != nil {
		return nil, fmt.Errorf("decode order document: %w", err)
	}
	if d.Type != typeOrder {
		return nil, fmt.Errorf("document %q is a %q, not an order: %w", d.ID, d.Type, order.ErrNotFound)
	}
	o := d.Order
	o.Version = max(d.Version, 1) // a document written without a version is still not new
	o.ETag = string(etag)
	if o.ETag == "" {
		o.ETag = d.ETag
	}
	return o, nil
}

// read is a point read with this process's session token for the document.
func (s *Store) read(ctx context.Context, id string) ([]byte, azcore.ETag, error) {
	resp, err := s.c.ReadItem(ctx, partitionKey(id), id, &azcosmos.ItemOptions{SessionToken: s.sessions.get(id)})
	if err != nil {
		return nil, "", classify(err)
	}
	s.sessions.put(id, resp.SessionToken)
	return resp.Value, resp.ETag, nil
}

// Get reads one order record (one point read).
func (s *Store) Get(ctx context.Context, id string) (*order.Order, error) {
	if err := CheckID(id); err != nil {
		return nil, fmt.Errorf("order %q: %w: %w", id, order.ErrNotFound, err)
	}
	raw, etag, err := s.read(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("read order %s: %w", id, err)
	}
	o, err := decodeOrder(raw, etag)
	if err != nil {
		return nil, fmt.Errorf("read order %s: %w", id, err)
	}
	return o, nil
}

// Save creates the record (o.Version 0: CreateItem, 409 → order.ErrConflict) or replaces it
// only if unchanged since it was read (ReplaceItem with If-Match o.ETag, 412 →
// order.ErrConflict). One round trip; two when a caller set Version but not ETag (the current
// ETag is read first and the stored version compared). On success o.Version is incremented and
// o.ETag is the new ETag. o.Outbox is stored as it is.
func (s *Store) Save(ctx context.Context, o *order.Order) error {
	if o == nil {
		return errors.New("save order: nil record")
	}
	if err := CheckID(o.ID); err != nil {
		return order.Permanent(fmt.Errorf("save order %q: %w", o.ID, err))
	}
	next := o.Version + 1
	d := orderDoc{Order: o, Type: typeOrder, Version: next, Modified: s.cfg.Now().UnixMilli(),
		HasOutbox: len(o.Outbox) > 0, HasDeadLetters: len(o.DeadLetters) > 0, NeedsAttention: o.Attention != ""}
	body, err := json.Marshal(d)
	if err != nil {
		return fmt.Errorf("save order %s: encode: %w", o.ID, err)
	}
	var resp azcosmos.ItemResponse
	if o.Version == 0 {
		resp, err = s.c.CreateItem(ctx, partitionKey(o.ID), body, nil)
	} else {
		etag := azcore.ETag(o.ETag)
		if etag == "" {
			cur, err := s.Get(ctx, o.ID)
			if errors.Is(err, order.ErrNotFound) {
				return fmt.Errorf("save order %s: the record no longer exists: %w", o.ID, order.ErrConflict)
			}
			if err != nil {
				return fmt.Errorf("save order %s: %w", o.ID, err)
			}
			if cur.Version != o.Version {
				return fmt.Errorf("save order %s: stored version %d, not %d: %w", o.ID, cur.Version, o.Version, order.ErrConflict)
			}
			etag = azcore.ETag(cur.ETag)
		}
		resp, err = s.c.ReplaceItem(ctx, partitionKey(o.ID), o.ID, body, &azcosmos.ItemOptions{IfMatchEtag: &etag})
		if statusOf(err) == http.StatusNotFound {
			return fmt.Errorf("save order %s: the record no longer exists: %w", o.ID, order.ErrConflict)
		}
	}
	if err != nil {
		return fmt.Errorf("save order %s: %w", o.ID, classify(err))
	}
	s.sessions.put(o.ID, resp.SessionToken)
	o.Version, o.ETag = next, string(resp.ETag)
	return nil
}

// FindByOrderID returns the records of a Shopify order id, newest first: one cross-partition
// query on the indexed orderId field.
func (s *Store) FindByOrderID(ctx context.Context, orderID string) ([]*order.Order, error) {
	q := "SELECT * FROM c WHERE c.type = @type AND c.orderId = @orderId"
	params := []azcosmos.QueryParameter{{Name: "@type", Value: typeOrder}, {Name: "@orderId", Value: orderID}}
	type found struct {
		o        *order.Order
		modified int64
	}
	var recs []found
	err := s.query(ctx, q, params, func(raw []byte) error {
		o, err := decodeOrder(raw, "")
		if err != nil {
			return err
		}
		var it idTime
		if err := json.Unmarshal(raw, &it); err != nil {
			return fmt.Errorf("decode document: %w", err)
		}
		recs = append(recs, found{o, it.Modified})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("find order %s: %w", orderID, err)
	}
	slices.SortFunc(recs, func(a, b found) int {
		return newestFirst(idTime{a.o.ID, a.modified}, idTime{b.o.ID, b.modified})
	})
	out := make([]*order.Order, len(recs))
	for i, r := range recs {
		out[i] = r.o
	}
	return out, nil
}

// List returns records matching f, most recently written first. The gateway cannot sort or
// limit cross-partition queries, so List queries only ids and write times (filtered by
// indexed fields), keeps the newest f.Limit in memory, and reads those documents with one
// ReadManyItems.
func (s *Store) List(ctx context.Context, f order.Filter) ([]*order.Order, error) {
	where := []string{"c.type = @type"}
	params := []azcosmos.QueryParameter{{Name: "@type", Value: typeOrder}}
	if f.Status != "" {
		where = append(where, "c.status = @status")
		params = append(params, azcosmos.QueryParameter{Name: "@status", Value: string(f.Status)})
	}
	if f.DeadLettered {
		where = append(where, "c.hasDeadLetters = true")
	}
	if f.PendingOutbox {
		where = append(where, "c.hasOutbox = true")
	}
	if f.Attention {
		where = append(where, "c.needsAttention = true")
	}
	limit := f.Limit
	if limit <= 0 {
		limit = defaultLimit
	}
	raws, err := s.newest(ctx, strings.Join(where, " AND "), params, limit)
	if err != nil {
		return nil, fmt.Errorf("list orders: %w", err)
	}
	out := make([]*order.Order, 0, len(raws))
	for _, raw := range raws {
		o, err := decodeOrder(raw, "")
		if err != nil {
			return nil, fmt.Errorf("list orders: %w", err)
		}
		out = append(out, o)
	}
	return out, nil
}

// query runs a cross-partition query to its last page.
func (s *Store) query(ctx context.Context, q string, params []azcosmos.QueryParameter, each func([]byte) error) error {
	pager := s.c.NewQueryItemsPager(q, azcosmos.NewPartitionKey(), &azcosmos.QueryOptions{QueryParameters: params})
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return classify(err)
		}
		for _, raw := range page.Items {
			if err := each(raw); err != nil {
				return err
			}
		}
	}
	return nil
}

type idTime struct {
	ID       string `json:"id"`
	Modified int64  `json:"modified"`
}

func newestFirst(a, b idTime) int {
	return cmp.Or(cmp.Compare(b.Modified, a.Modified), strings.Compare(a.ID, b.ID))
}

// newest returns the documents matching where, newest "modified" first, at most limit: a
// query for ids and times (memory bounded by 2×limit), then one ReadManyItems.
func (s *Store) newest(ctx context.Context, where string, params []azcosmos.QueryParameter, limit int) ([][]byte, error) {
	var top []idTime
	err := s.query(ctx, "SELECT c.id, c.modified FROM c WHERE "+where, params, func(raw []byte) error {
		var it idTime
		if err := json.Unmarshal(raw, &it); err != nil {
			return fmt.Errorf("decode query result: %w", err)
		}
		top = append(top, it)
		if len(top) >= 2*limit {
			slices.SortFunc(top, newestFirst)
			top = top[:limit]
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(top, newestFirst)
	if len(top) > limit {
		top = top[:limit]
	}
	if len(top) == 0 {
		return nil, nil
	}
	ids := make([]azcosmos.ItemIdentity, len(top))
	for i, it := range top {
		ids[i] = azcosmos.ItemIdentity{ID: it.ID, PartitionKey: partitionKey(it.ID)}
	}
	resp, err := s.c.ReadManyItems(ctx, ids, nil)
	if err != nil {
		return nil, classify(err)
	}
	byID := make(map[string][]byte, len(resp.Items))
	for _, raw := range resp.Items {
		var it idTime
		if err := json.Unmarshal(raw, &it); err != nil {
			return nil, fmt.Errorf("decode document: %w", err)
		}
		byID[it.ID] = raw
	}
	out := make([][]byte, 0, len(top))
	for _, it := range top {
		if raw, ok := byID[it.ID]; ok { // deleted in between: skip
			out = append(out, raw)
		}
	}
	return out, nil
}
