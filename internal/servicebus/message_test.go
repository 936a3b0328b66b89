package servicebus

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/shipwell/orderflow/internal/order"
)

// dispatchJob is a dispatch job as order.NewDispatchJob makes it, with a Shopify order id
// above 2^53.
func dispatchJob() order.Job {
	o := &order.Order{
		ID:         order.RecordID("acme.myshopify.com", "820982911946154508"),
		Shop:       "acme.myshopify.com",
		OrderID:    "820982911946154508",
		Route:      "warehouse-east",
		Generation: 1,
		Priority:   order.PriorityHigh,
	}
	return order.NewDispatchJob(o, time.Date(2026, 3, 1, 11, 59, 0, 123456789, time.UTC))
}

func TestNewMessageFields(t *testing.T) {
	j := dispatchJob()
	m, err := NewMessage(j)
	if err != nil {
		t.Fatal(err)
	}
	wantID := "dispatch:acme.myshopify.com-820982911946154508:warehouse-east:1"
	if j.ID != wantID {
		t.Fatalf("fixture id %q, want %q", j.ID, wantID)
	}
	if m.MessageID == nil || *m.MessageID != wantID {
		t.Errorf("MessageID = %v, want %q", m.MessageID, wantID)
	}
	if m.ContentType == nil || *m.ContentType != "application/json" {
		t.Errorf("ContentType = %v", m.ContentType)
	}
	if m.Subject == nil || *m.Subject != "dispatch" {
		t.Errorf("Subject = %v", m.Subject)
	}
	wantProps := map[string]any{
		"route":    "warehouse-east",
		"priority": "high",
		"kind":     "dispatch",
		"order":    "acme.myshopify.com-820982911946154508",
		"attempt":  int64(0),
		"jobId":    wantID,
	}
	if !reflect.DeepEqual(m.ApplicationProperties, wantProps) {
		t.Errorf("ApplicationProperties = %#v, want %#v", m.ApplicationProperties, wantProps)
	}
	// Nothing else is set: the queue's defaults apply (TTL), duplicate detection partitions
	// by MessageId, and the queue has no sessions.
	if m.TimeToLive != nil || m.PartitionKey != nil || m.SessionID != nil || m.ScheduledEnqueueTime != nil ||
		m.CorrelationID != nil || m.To != nil || m.ReplyTo != nil || m.ReplyToSessionID != nil {
		t.Errorf("unexpected optional field set: %+v", m)
	}

	// The body is the job as JSON, ids as strings, exact.
	wantBody := `{"id":"dispatch:acme.myshopify.com-820982911946154508:warehouse-east:1","kind":"dispatch",` +
		`"order":"acme.myshopify.com-820982911946154508","orderId":"820982911946154508","shop":"acme.myshopify.com",` +
		`"warehouse":"warehouse-east","generation":1,"priority":"high","attempt":0,"createdAt":"2026-03-01T11:59:00.123456789Z"}`
	if string(m.Body) != wantBody {
		t.Errorf("body\n got %s\nwant %s", m.Body, wantBody)
	}
	back, err := DecodeJob(m.Body)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, j) {
		t.Errorf("round trip: got %+v, want %+v", back, j)
	}
}

func TestNewMessagePriorityDefaultsToNormal(t *testing.T) {
	j := dispatchJob()
	j.Priority = ""
	m, err := NewMessage(j)
	if err != nil {
		t.Fatal(err)
	}
	if got := m.ApplicationProperties["priority"]; got != "normal" {
		t.Errorf("priority = %v, want normal", got)
	}
	var body map[string]any
	if err := json.Unmarshal(m.Body, &body); err != nil {
		t.Fatal(err)
	}
	if body["priority"] != "normal" {
		t.Errorf("body priority = %v, want normal", body["priority"])
	}
}

func TestNewMessageKinds(t *testing.T) {
	o := &order.Order{ID: "shop-1", OrderID: "1", Shop: "shop", Route: "international", Generation: 3}
	now := time.Unix(0, 0).UTC()
	for _, j := range []order.Job{
		order.NewCancelJob(o, now),
		order.NewFulfillJob(o, order.ShipmentKey("international", "S-1", "", ""), now),
	} {
		m, err := NewMessage(j)
		if err != nil {
			t.Fatalf("%s: %v", j.Kind, err)
		}
		if *m.Subject != string(j.Kind) || m.ApplicationProperties["kind"] != string(j.Kind) {
			t.Errorf("%s: subject %q kind %v", j.Kind, *m.Subject, m.ApplicationProperties["kind"])
		}
		if m.ApplicationProperties["priority"] != "high" || m.ApplicationProperties["route"] != "international" {
			t.Errorf("%s: props %v", j.Kind, m.ApplicationProperties)
		}
	}
}

func TestNewMessageAttemptIsInt64(t *testing.T) {
	j := dispatchJob()
	j.Attempt = 7
	m, err := NewMessage(j)
	if err != nil {
		t.Fatal(err)
	}
	if v, ok := m.ApplicationProperties["attempt"].(int64); !ok || v != 7 {
		t.Errorf("attempt = %#v, want int64(7)", m.ApplicationProperties["attempt"])
	}
}

func TestNewMessageRejectsInvalidJobs(t *testing.T) {
	j := dispatchJob()
	j.Warehouse = ""
	if _, err := NewMessage(j); !errors.Is(err, ErrInvalidJob) || !strings.Contains(err.Error(), "warehouse") {
		t.Errorf("err = %v, want ErrInvalidJob about warehouse", err)
	}
}

func TestMessageID(t *testing.T) {
	long := "fulfill:acme.myshopify.com-820982911946154508:warehouse-east/t/WH-E-1/" + strings.Repeat("1Z999AA10123456784", 5)
	longOther := long[:len(long)-1] + "5" // same prefix, different id
	accents := strings.Repeat("€", 50)    // 150 bytes of three-byte runes; byte 56 is mid-rune
	tests := []struct {
		name   string
		id     string
		hashed bool
	}{
		{"short", "dispatch:x:warehouse-east:1", false},
		{"exactly 128", strings.Repeat("a", 128), false},
		{"129", strings.Repeat("a", 129), true},
		{"long fulfill", long, true},
		{"multi-byte", accents, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := MessageID(tt.id)
			if !tt.hashed {
				if got != tt.id {
					t.Errorf("MessageID = %q, want the id unchanged", got)
				}
				return
			}
			if len(got) > MaxMessageIDLength {
				t.Errorf("len = %d > %d", len(got), MaxMessageIDLength)
			}
			if !utf8.ValidString(got) {
				t.Errorf("not valid UTF-8: %q", got)
			}
			if got != MessageID(tt.id) {
				t.Error("not deterministic")
			}
			prefix, _, ok := strings.Cut(got, "#")
			if !ok || !strings.HasPrefix(tt.id, prefix) || len(prefix) < 50 {
				t.Errorf("MessageID %q should start with a readable prefix of the id", got)
			}
		})
	}
	if MessageID(long) == MessageID(longOther) {
		t.Error("two long ids sharing a prefix got the same MessageID")
	}

	j := dispatchJob()
	j.ID = long
	m, err := NewMessage(j)
	if err != nil {
		t.Fatal(err)
	}
	if *m.MessageID != MessageID(long) || m.ApplicationProperties["jobId"] != long {
		t.Errorf("MessageID %q jobId %v", *m.MessageID, m.ApplicationProperties["jobId"])
	}
	var body order.Job
	if err := json.Unmarshal(m.Body, &body); err != nil || body.ID != long {
		t.Errorf("body id = %q (%v), want the full id", body.ID, err)
	}
}

func TestDecodeJob(t *testing.T) {
	valid := `{"id":"dispatch:s-820982911946154508:warehouse-east:1","kind":"dispatch","order":"s-820982911946154508",` +
		`"orderId":"820982911946154508","shop":"s","warehouse":"warehouse-east","generation":1,"attempt":2,"createdAt":"2026-03-01T12:00:00Z"}`
	quoted, _ := json.Marshal(valid)
	tests := []struct {
		name    string
		body    string
		wantErr string // substring; "" means success
	}{
		{"valid", valid, ""},
		{"surrounding whitespace", "\n " + valid + " \n", ""},
		{"double-encoded string mode", string(quoted), ""},
		{"unknown field ignored", strings.Replace(valid, `"attempt":2`, `"attempt":2,"future":{"x":1}`, 1), ""},
		{"fulfill", `{"id":"f1","kind":"fulfill","order":"o","shipment":"warehouse-east/s/S-1"}`, ""},
		{"cancel", `{"id":"c1","kind":"cancel","order":"o","warehouse":"warehouse-east"}`, ""},
		{"empty", ``, "not a JSON object"},
		{"null", `null`, "not a JSON object"},
		{"array", `[` + valid + `]`, "not a JSON object"},
		{"garbage", `{"id":`, "invalid job"},
		{"trailing data", valid + `{}`, "data after"},
		{"number id", `{"id":"x","kind":"dispatch","order":820982911946154508,"warehouse":"w"}`, "invalid job"},
		{"unknown kind", `{"id":"x","kind":"ship","order":"o","warehouse":"w"}`, `unknown kind "ship"`},
		{"missing kind", `{"id":"x","order":"o"}`, "missing kind"},
		{"missing id and order", `{"kind":"dispatch","warehouse":"w"}`, "missing id, order"},
		{"dispatch without warehouse", `{"id":"x","kind":"dispatch","order":"o"}`, "missing warehouse"},
		{"fulfill without shipment", `{"id":"x","kind":"fulfill","order":"o","warehouse":"w"}`, "missing shipment"},
		{"negative attempt", `{"id":"x","kind":"cancel","order":"o","warehouse":"w","attempt":-1}`, "negative attempt"},
		{"quoted garbage", `"not json"`, "not a JSON object"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			j, err := DecodeJob([]byte(tt.body))
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("DecodeJob: %v", err)
				}
				if j.ID == "" || j.Order == "" {
					t.Errorf("decoded %+v", j)
				}
				return
			}
			if err == nil {
				t.Fatalf("DecodeJob accepted %s as %+v", tt.body, j)
			}
			if !errors.Is(err, ErrInvalidJob) {
				t.Errorf("err %v does not wrap ErrInvalidJob", err)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("err %q, want it to mention %q", err, tt.wantErr)
			}
		})
	}

	j, err := DecodeJob([]byte(valid))
	if err != nil {
		t.Fatal(err)
	}
	if j.OrderID != "820982911946154508" || j.Order != "s-820982911946154508" || j.Attempt != 2 || j.Generation != 1 {
		t.Errorf("decoded %+v", j)
	}
}

func TestRetryJob(t *testing.T) {
	j := dispatchJob()
	base := j.ID

	r1 := RetryJob(j)
	if r1.ID != base+":retry1" || r1.Attempt != 1 {
		t.Errorf("first retry: id %q attempt %d", r1.ID, r1.Attempt)
	}
	if j.ID != base || j.Attempt != 0 {
		t.Error("RetryJob changed its argument")
	}
	r2 := RetryJob(r1)
	if r2.ID != base+":retry2" || r2.Attempt != 2 {
		t.Errorf("second retry: id %q attempt %d, want no nested suffixes", r2.ID, r2.Attempt)
	}
	if again := RetryJob(r1); again.ID != r2.ID {
		t.Errorf("RetryJob not deterministic: %q vs %q", again.ID, r2.ID)
	}
	r2.CreatedAt, r2.ID, r2.Attempt = j.CreatedAt, j.ID, j.Attempt
	if !reflect.DeepEqual(r2, j) {
		t.Error("RetryJob changed fields other than id and attempt")
	}

	replayed := j.Replayed(5, testNow)
	if got := RetryJob(replayed).ID; got != base+":replay5:retry1" {
		t.Errorf("retry of a replay = %q", got)
	}
	for id, want := range map[string]string{
		"a:retry12":  "a",
		"a:retry":    "a:retry",
		"a:retryx":   "a:retryx",
		"a:retry1:b": "a:retry1:b",
		"plain":      "plain",
	} {
		if got := BaseJobID(id); got != want {
			t.Errorf("BaseJobID(%q) = %q, want %q", id, got, want)
		}
	}
}
