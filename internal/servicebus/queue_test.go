package servicebus

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"
	"github.com/Azure/go-amqp"

	"github.com/shipwell/orderflow/internal/order"
)

// jobs returns n dispatch jobs for different orders.
func jobs(n int) []order.Job {
	out := make([]order.Job, n)
	for i := range out {
		j := dispatchJob()
		j.Order = fmt.Sprintf("acme.myshopify.com-%d", 820982911946154500+i)
		j.OrderID = fmt.Sprintf("%d", 820982911946154500+i)
		j.ID = fmt.Sprintf("dispatch:%s:warehouse-east:1", j.Order)
		out[i] = j
	}
	return out
}

func ids(msgs []*azservicebus.Message) []string {
	var out []string
	for _, m := range msgs {
		out = append(out, *m.MessageID)
	}
	return out
}

func TestEnqueueOneJobSendsOneMessage(t *testing.T) {
	s := &fakeSender{}
	q := testQueue(t, Config{}, s, nil)
	j := dispatchJob()
	if err := q.Enqueue(context.Background(), j); err != nil {
		t.Fatal(err)
	}
	if len(s.sent) != 1 || len(s.batches) != 0 || len(s.scheduled) != 0 {
		t.Fatalf("sent %d, batches %d, scheduled %d; want exactly one message", len(s.sent), len(s.batches), len(s.scheduled))
	}
	want, _ := NewMessage(j)
	got := s.sent[0]
	if *got.MessageID != *want.MessageID || string(got.Body) != string(want.Body) || *got.Subject != "dispatch" ||
		*got.ContentType != "application/json" || got.ApplicationProperties["route"] != "warehouse-east" ||
		got.ApplicationProperties["priority"] != "high" {
		t.Errorf("sent %+v, want %+v", got, want)
	}
}

func TestEnqueueNothing(t *testing.T) {
	s := &fakeSender{newBatchErr: errors.New("must not be called")}
	q := testQueue(t, Config{}, s, nil)
	if err := q.Enqueue(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(s.sent)+len(s.batches) != 0 {
		t.Error("something was sent")
	}
}

func TestEnqueueBatches(t *testing.T) {
	m, _ := NewMessage(jobs(1)[0])
	size := len(m.Body) // every job below encodes to the same length
	tests := []struct {
		name       string
		n          int
		batchBytes int
		want       []int // messages per batch, in order
	}{
		{"all in one batch", 3, 0, []int{3}},
		{"split at the size limit", 5, 2*size + size/2, []int{2, 2, 1}},
		{"one per batch", 3, size, []int{1, 1, 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &fakeSender{batchBytes: tt.batchBytes}
			q := testQueue(t, Config{}, s, nil)
			js := jobs(tt.n)
			if err := q.Enqueue(context.Background(), js...); err != nil {
				t.Fatal(err)
			}
			if len(s.sent) != 0 {
				t.Errorf("%d single sends; want batches only", len(s.sent))
			}
			var got []int
			var all []string
			for _, b := range s.batches {
				got = append(got, len(b))
				all = append(all, ids(b)...)
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("batch sizes %v, want %v", got, tt.want)
			}
			for i, j := range js {
				if i >= len(all) || all[i] != j.ID {
					t.Fatalf("message order %v, want the jobs' order", all)
				}
			}
		})
	}
}

func TestEnqueueErrors(t *testing.T) {
	connLost := &azservicebus.Error{Code: azservicebus.CodeConnectionLost}
	m, _ := NewMessage(jobs(1)[0])
	size := len(m.Body)
	tests := []struct {
		name      string
		sender    *fakeSender
		jobs      []order.Job
		is        error
		transient bool
		want      string
	}{
		{"single send fails", &fakeSender{sendErr: connLost}, jobs(1), connLost, true, "enqueue job dispatch:acme.myshopify.com-820982911946154500"},
		{"single too large", &fakeSender{sendErr: azservicebus.ErrMessageTooLarge}, jobs(1), azservicebus.ErrMessageTooLarge, false, "fulfillment-queue"},
		{"batch send fails", &fakeSender{batchErr: connLost}, jobs(3), connLost, true, "(0 sent)"},
		{"new batch fails", &fakeSender{newBatchErr: &azservicebus.Error{Code: azservicebus.CodeUnauthorizedAccess}}, jobs(2), nil, false, "new batch"},
		{"a job larger than a batch", &fakeSender{batchBytes: size - 1}, jobs(2), azservicebus.ErrMessageTooLarge, false, "exceeds the broker's limit"},
		{"invalid job", &fakeSender{}, append(jobs(1), order.Job{ID: "x", Kind: "dispatch"}), ErrInvalidJob, false, "missing order, warehouse"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := testQueue(t, Config{}, tt.sender, nil)
			err := q.Enqueue(context.Background(), tt.jobs...)
			if err == nil {
				t.Fatal("Enqueue succeeded")
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("err %v does not wrap %v", err, tt.is)
			}
			if IsTransient(err) != tt.transient {
				t.Errorf("IsTransient(%v) = %v, want %v", err, !tt.transient, tt.transient)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err %q, want it to mention %q", err, tt.want)
			}
		})
	}

	// A failure after a first batch went out says so; resending everything is safe.
	s := &fakeSender{batchBytes: 2*size + 1}
	q := testQueue(t, Config{}, s, nil)
	calls := 0
	q.bat = failingAfter{s, &calls, 1}
	err := q.Enqueue(context.Background(), jobs(4)...)
	if err == nil || !strings.Contains(err.Error(), "(2 sent)") {
		t.Errorf("err = %v, want it to report 2 sent", err)
	}
}

// failingAfter lets n batch sends through, then fails.
type failingAfter struct {
	*fakeSender
	calls *int
	n     int
}

func (f failingAfter) sendBatch(ctx context.Context, b messageBatch) error {
	*f.calls++
	if *f.calls > f.n {
		return &azservicebus.Error{Code: azservicebus.CodeConnectionLost}
	}
	return f.fakeSender.sendBatch(ctx, b)
}

func TestSchedule(t *testing.T) {
	s := &fakeSender{}
	q := testQueue(t, Config{}, s, nil)
	j := RetryJob(dispatchJob())
	at := time.Date(2026, 3, 1, 13, 0, 30, 0, time.FixedZone("CET", 3600))
	if err := q.Schedule(context.Background(), j, at); err != nil {
		t.Fatal(err)
	}
	if len(s.scheduled) != 1 || len(s.scheduled[0].msgs) != 1 {
		t.Fatalf("scheduled %+v", s.scheduled)
	}
	got := s.scheduled[0]
	if !got.at.Equal(at) || got.at.Location() != time.UTC {
		t.Errorf("scheduled at %v, want %v in UTC", got.at, at)
	}
	m := got.msgs[0]
	if *m.MessageID != "dispatch:acme.myshopify.com-820982911946154508:warehouse-east:1:retry1" {
		t.Errorf("MessageID %q", *m.MessageID)
	}
	if m.ApplicationProperties["attempt"] != int64(1) {
		t.Errorf("attempt %v", m.ApplicationProperties["attempt"])
	}
	if len(s.sent)+len(s.batches) != 0 {
		t.Error("Schedule sent a message for now")
	}

	s.scheduleErr = &azservicebus.Error{Code: azservicebus.CodeTimeout}
	err := q.Schedule(context.Background(), j, at)
	if err == nil || !IsTransient(err) || !strings.Contains(err.Error(), j.ID) || !strings.Contains(err.Error(), "2026-03-01T12:00:30Z") {
		t.Errorf("err = %v", err)
	}
	if err := q.Schedule(context.Background(), order.Job{}, at); !errors.Is(err, ErrInvalidJob) {
		t.Errorf("invalid job: err = %v", err)
	}
}

func TestCheck(t *testing.T) {
	tests := []struct {
		name   string
		sender *fakeSender
		want   string // "" means success
	}{
		{"reachable", &fakeSender{}, ""},
		{"unauthorized", &fakeSender{newBatchErr: &azservicebus.Error{Code: azservicebus.CodeUnauthorizedAccess}}, "Azure Service Bus Data Sender"},
		{"amqp unauthorized", &fakeSender{newBatchErr: &amqp.Error{Condition: amqp.ErrCondUnauthorizedAccess}}, "refused the credential"},
		{"queue missing", &fakeSender{newBatchErr: &amqp.Error{Condition: amqp.ErrCondNotFound}}, "queue does not exist"},
		{"other", &fakeSender{newBatchErr: errors.New("tls: handshake failure")}, "is not usable: tls: handshake failure"},
		{"hangs ignoring its context", &fakeSender{newBatchWait: true}, "did not answer within 50ms"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := testQueue(t, Config{Namespace: "acme-bus", CheckTimeout: 50 * time.Millisecond}, tt.sender, nil)
			err := q.Check(context.Background())
			if tt.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil {
				t.Fatal("Check succeeded")
			}
			for _, s := range []string{tt.want, "SERVICE_BUS_NAMESPACE", "acme-bus.servicebus.windows.net", "fulfillment-queue"} {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("err %q, want it to mention %q", err, s)
				}
			}
		})
	}
}

func TestClose(t *testing.T) {
	s := &fakeSender{}
	q := testQueue(t, Config{}, s, nil)
	c := &fakeCloser{err: errors.New("boom")}
	q.client = c
	err1, err2 := q.Close(), q.Close()
	if err1 == nil || err1 != err2 || !strings.Contains(err1.Error(), "boom") {
		t.Errorf("Close = %v then %v", err1, err2)
	}
	if s.closed != 1 || c.closed != 1 {
		t.Errorf("sender closed %d times, client %d; want once each", s.closed, c.closed)
	}
}

type fakeCloser struct {
	err    error
	closed int
}

func (f *fakeCloser) Close(context.Context) error { f.closed++; return f.err }

type nonRetriableErr struct{}

func (nonRetriableErr) Error() string { return "authentication failed" }
func (nonRetriableErr) NonRetriable() {}

func TestIsTransient(t *testing.T) {
	tests := []struct {
		err  error
		want bool
	}{
		{nil, false},
		{fmt.Errorf("x: %w", ErrInvalidJob), false},
		{azservicebus.ErrMessageTooLarge, false},
		{&azservicebus.Error{Code: azservicebus.CodeUnauthorizedAccess}, false},
		{&azservicebus.Error{Code: azservicebus.CodeNotFound}, false},
		{&azservicebus.Error{Code: azservicebus.CodeClosed}, false},
		{&azservicebus.Error{Code: azservicebus.CodeConnectionLost}, true},
		{&azservicebus.Error{Code: azservicebus.CodeTimeout}, true},
		{&azservicebus.Error{Code: azservicebus.CodeLockLost}, true},
		{&amqp.Error{Condition: amqp.ErrCondNotFound}, false},
		{&amqp.Error{Condition: "com.microsoft:entity-disabled"}, false},
		{&amqp.Error{Condition: "com.microsoft:server-busy"}, true},
		{fmt.Errorf("wrapped: %w", nonRetriableErr{}), false},
		{context.DeadlineExceeded, true},
		{errors.New("connection reset"), true},
	}
	for _, tt := range tests {
		if got := IsTransient(tt.err); got != tt.want {
			t.Errorf("IsTransient(%v) = %v, want %v", tt.err, got, tt.want)
		}
	}
}
