package cosmos

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/data/azcosmos"

	"github.com/shipwell/orderflow/internal/order"
)

// receiptDoc is a recorded delivery that is not part of an order record.
type receiptDoc struct {
	ID   string `json:"id"`
	Type string `json:"type"`
	order.Receipt
	Modified int64 `json:"modified"`      // ReceivedAt in Unix milliseconds, for "newest first"
	TTL      int64 `json:"ttl,omitempty"` // seconds, with Config.ReceiptTTL
}

// RecordReceipt creates the receipt document of (r.Shop, r.WebhookID) with CreateItem: one round
// trip. 409 means it is already recorded: it reports false. A delivery without a webhook id is
// keyed by the hash of its body (as in SQLite). With Config.ReceiptTTL the document expires.
func (s *Store) RecordReceipt(ctx context.Context, r order.Receipt) (bool, error) {
	if r.WebhookID == "" {
		sum := sha256.Sum256(r.Body)
		r.WebhookID = "sha256:" + hex.EncodeToString(sum[:])
	}
	if r.ReceivedAt.IsZero() {
		r.ReceivedAt = s.cfg.Now().UTC()
	}
	d := receiptDoc{ID: receiptID(r.Shop, r.WebhookID), Type: typeReceipt, Receipt: r, Modified: r.ReceivedAt.UnixMilli()}
	if s.cfg.ReceiptTTL > 0 {
		d.TTL = int64(math.Ceil(s.cfg.ReceiptTTL.Seconds()))
	}
	body, err := json.Marshal(d)
	if err != nil {
		return false, fmt.Errorf("record receipt %s/%s: encode: %w", r.Shop, r.WebhookID, err)
	}
	resp, err := s.c.CreateItem(ctx, partitionKey(d.ID), body, nil)
	if statusOf(err) == http.StatusConflict {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("record receipt %s/%s: %w", r.Shop, r.WebhookID, classify(err))
	}
	s.sessions.put(d.ID, resp.SessionToken)
	return true, nil
}

// ListReceipts returns receipts of one kind, newest first (a query for ids, then ReadManyItems).
func (s *Store) ListReceipts(ctx context.Context, kind string, limit int) ([]order.Receipt, error) {
	if limit <= 0 {
		limit = defaultLimit
	}
	raws, err := s.newest(ctx, "c.type = @type AND c.kind = @kind",
		[]azcosmos.QueryParameter{{Name: "@type", Value: typeReceipt}, {Name: "@kind", Value: kind}}, limit)
	if err != nil {
		return nil, fmt.Errorf("list receipts: %w", err)
	}
	out := make([]order.Receipt, 0, len(raws))
	for _, raw := range raws {
		var d receiptDoc
		if err := json.Unmarshal(raw, &d); err != nil {
			return nil, fmt.Errorf("list receipts: decode: %w", err)
		}
		out = append(out, d.Receipt)
	}
	return out, nil
}

// leaseDoc is a named lease: who holds it and until when (the holder's clock).
type leaseDoc struct {
	ID      string    `json:"id"`
	Type    string    `json:"type"`
	Name    string    `json:"name"`
	Holder  string    `json:"holder"`
	UntilMs int64     `json:"untilMs"`
	Until   time.Time `json:"until"` // the same instant, readable
}

func (s *Store) readLease(ctx context.Context, id string) (*leaseDoc, azcore.ETag, error) {
	raw, etag, err := s.read(ctx, id)
	if err != nil {
		return nil, "", err
	}
	var d leaseDoc
	if err := json.Unmarshal(raw, &d); err != nil {
		return nil, "", fmt.Errorf("decode lease: %w", err)
	}
	return &d, etag, nil
}

// AcquireLease takes the named lease for holder until ttl passes, or renews it for the same
// holder: read it, then create it (absent) or replace it with If-Match (expired or ours). A lost
// race re-reads; another live holder is order.ErrLeaseHeld. Two round trips. Expiry compares
// against this process's clock, so clocks must roughly agree (leases are minutes long).
func (s *Store) AcquireLease(ctx context.Context, name, holder string, ttl time.Duration) error {
	if holder == "" {
		return fmt.Errorf("acquire lease %s: empty holder", name)
	}
	id := keyID(typeLease, name)
	for range 3 {
		cur, etag, err := s.readLease(ctx, id)
		if err != nil && !errors.Is(err, order.ErrNotFound) {
			return fmt.Errorf("acquire lease %s: %w", name, err)
		}
		now := s.cfg.Now()
		if cur != nil && cur.Holder != holder && cur.UntilMs > now.UnixMilli() {
			return fmt.Errorf("acquire lease %s (held by %s until %s): %w", name, cur.Holder,
				cur.Until.Format(time.RFC3339), order.ErrLeaseHeld)
		}
		until := now.Add(ttl)
		body, err := json.Marshal(leaseDoc{ID: id, Type: typeLease, Name: name, Holder: holder,
			UntilMs: until.UnixMilli(), Until: until.UTC()})
		if err != nil {
			return fmt.Errorf("acquire lease %s: encode: %w", name, err)
		}
		var resp azcosmos.ItemResponse
		if cur == nil {
			resp, err = s.c.CreateItem(ctx, partitionKey(id), body, nil)
		} else {
			resp, err = s.c.ReplaceItem(ctx, partitionKey(id), id, body, &azcosmos.ItemOptions{IfMatchEtag: &etag})
		}
		switch statusOf(err) {
		case http.StatusConflict, http.StatusPreconditionFailed, http.StatusNotFound:
			continue // someone else wrote (or released) it meanwhile: look again
		}
		if err != nil {
			return fmt.Errorf("acquire lease %s: %w", name, classify(err))
		}
		s.sessions.put(id, resp.SessionToken)
		return nil
	}
	return fmt.Errorf("acquire lease %s: lost the race to another holder: %w", name, order.ErrLeaseHeld)
}

// ReleaseLease deletes the lease if holder has it (read, then delete with If-Match). A lease
// held by someone else, already taken over or gone is left alone.
func (s *Store) ReleaseLease(ctx context.Context, name, holder string) error {
	id := keyID(typeLease, name)
	cur, etag, err := s.readLease(ctx, id)
	if errors.Is(err, order.ErrNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("release lease %s: %w", name, err)
	}
	if cur.Holder != holder {
		return nil
	}
	_, err = s.c.DeleteItem(ctx, partitionKey(id), id, &azcosmos.ItemOptions{IfMatchEtag: &etag})
	switch statusOf(err) {
	case http.StatusNotFound, http.StatusPreconditionFailed:
		return nil
	}
	if err != nil {
		return fmt.Errorf("release lease %s: %w", name, classify(err))
	}
	return nil
}

// stateDoc is a small named value.
type stateDoc struct {
	ID    string `json:"id"`
	Type  string `json:"type"`
	Key   string `json:"key"`
	Value []byte `json:"value"`
}

// PutState stores a named value (UpsertItem: one round trip).
func (s *Store) PutState(ctx context.Context, key string, value []byte) error {
	id := keyID(typeState, key)
	body, err := json.Marshal(stateDoc{ID: id, Type: typeState, Key: key, Value: value})
	if err != nil {
		return fmt.Errorf("put state %s: encode: %w", key, err)
	}
	resp, err := s.c.UpsertItem(ctx, partitionKey(id), body, nil)
	if err != nil {
		return fmt.Errorf("put state %s: %w", key, classify(err))
	}
	s.sessions.put(id, resp.SessionToken)
	return nil
}

// GetState reads a named value (one point read); order.ErrNotFound for an unknown key.
func (s *Store) GetState(ctx context.Context, key string) ([]byte, error) {
	raw, _, err := s.read(ctx, keyID(typeState, key))
	if err != nil {
		return nil, fmt.Errorf("get state %s: %w", key, err)
	}
	var d stateDoc
	if err := json.Unmarshal(raw, &d); err != nil {
		return nil, fmt.Errorf("get state %s: decode: %w", key, err)
	}
	return d.Value, nil
}
