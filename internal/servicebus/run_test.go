package servicebus

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"

	"github.com/shipwell/orderflow/internal/order"
)

// received builds a received message carrying j, as Enqueue would have sent it.
func received(t *testing.T, j order.Job, deliveryCount uint32) *azservicebus.ReceivedMessage {
	t.Helper()
	m, err := NewMessage(j)
	if err != nil {
		t.Fatal(err)
	}
	enq := testNow.Add(-time.Minute)
	return &azservicebus.ReceivedMessage{
		Body:                  m.Body,
		MessageID:             *m.MessageID,
		ContentType:           m.ContentType,
		Subject:               m.Subject,
		ApplicationProperties: m.ApplicationProperties,
		DeliveryCount:         deliveryCount,
		EnqueuedTime:          &enq,
	}
}

func rawMessage(id, body string) *azservicebus.ReceivedMessage {
	return &azservicebus.ReceivedMessage{MessageID: id, Body: []byte(body), DeliveryCount: 1}
}

// runUntilSettled runs q until n messages are settled, then cancels and waits for Run.
func runUntilSettled(t *testing.T, q *Queue, r *fakeReceiver, n int, h Handler) error {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- q.Run(ctx, h) }()
	r.waitSettled(t, n)
	cancel()
	select {
	case err := <-done:
		return err
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after cancel")
		return nil
	}
}

func TestRunSettlement(t *testing.T) {
	j := dispatchJob()
	retryAt := testNow.Add(90 * time.Second)
	tests := []struct {
		name        string
		msg         *azservicebus.ReceivedMessage
		outcome     order.Outcome
		panics      bool
		scheduleErr error
		completed   []string
		abandoned   []string
		deadLetter  string // reason; "" for none
		scheduledID string
	}{
		{name: "done completes", msg: received(t, j, 1), outcome: order.Outcome{Kind: order.OutcomeDone},
			completed: []string{j.ID}},
		{name: "dead letter (recorded by the handler) completes", msg: received(t, j, 1),
			outcome: order.Outcome{Kind: order.OutcomeDeadLetter, Reason: "warehouse said 422"}, completed: []string{j.ID}},
		{name: "retry schedules attempt+1 then completes", msg: received(t, j, 1),
			outcome:   order.Outcome{Kind: order.OutcomeRetry, After: 90 * time.Second, Reason: "warehouse 503"},
			completed: []string{j.ID}, scheduledID: j.ID + ":retry1"},
		{name: "retry whose scheduling fails abandons", msg: received(t, j, 1),
			outcome:     order.Outcome{Kind: order.OutcomeRetry, After: time.Minute},
			scheduleErr: &azservicebus.Error{Code: azservicebus.CodeConnectionLost}, abandoned: []string{j.ID}},
		{name: "panic abandons", msg: received(t, j, 1), panics: true, abandoned: []string{j.ID}},
		{name: "unknown outcome abandons", msg: received(t, j, 1), outcome: order.Outcome{Kind: 42}, abandoned: []string{j.ID}},
		{name: "body not JSON is dead-lettered", msg: rawMessage("m-bad", "<order/>"), deadLetter: DeadLetterReasonInvalidJob},
		{name: "unknown kind is dead-lettered", msg: rawMessage("m-kind", `{"id":"x","kind":"ship","order":"o","warehouse":"w"}`),
			deadLetter: DeadLetterReasonInvalidJob},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &fakeSender{scheduleErr: tt.scheduleErr}
			r := newFakeReceiver(0, tt.msg)
			q := testQueue(t, Config{}, s, r)
			var calls atomic.Int32
			h := func(ctx context.Context, got order.Job, d Delivery) order.Outcome {
				calls.Add(1)
				if got.ID != j.ID || got.OrderID != "820982911946154508" {
					t.Errorf("handler got job %+v", got)
				}
				if d.MessageID != j.ID || d.DeliveryCount != 1 || !d.EnqueuedTime.Equal(testNow.Add(-time.Minute)) {
					t.Errorf("handler got delivery %+v", d)
				}
				if tt.panics {
					panic("handler bug")
				}
				return tt.outcome
			}
			if err := runUntilSettled(t, q, r, 1, h); err != nil {
				t.Fatalf("Run: %v", err)
			}
			if strings.Join(r.completed, ",") != strings.Join(tt.completed, ",") {
				t.Errorf("completed %v, want %v", r.completed, tt.completed)
			}
			if strings.Join(r.abandoned, ",") != strings.Join(tt.abandoned, ",") {
				t.Errorf("abandoned %v, want %v", r.abandoned, tt.abandoned)
			}
			if tt.deadLetter != "" {
				if len(r.deadLetters) != 1 || r.deadLetters[0].reason != tt.deadLetter || !strings.Contains(r.deadLetters[0].desc, "invalid job") {
					t.Errorf("dead letters %+v, want one with reason %q", r.deadLetters, tt.deadLetter)
				}
				if calls.Load() != 0 {
					t.Error("handler called for an invalid body")
				}
			} else if len(r.deadLetters) != 0 {
				t.Errorf("dead-lettered %+v", r.deadLetters)
			}
			sch := s.scheduledCopy()
			if tt.scheduledID == "" {
				if len(sch) != 0 {
					t.Errorf("scheduled %d messages", len(sch))
				}
			} else {
				if len(sch) != 1 {
					t.Fatalf("scheduled %d messages, want 1", len(sch))
				}
				m := sch[0].msgs[0]
				next, err := DecodeJob(m.Body)
				if err != nil {
					t.Fatal(err)
				}
				if *m.MessageID != tt.scheduledID || next.ID != tt.scheduledID || next.Attempt != 1 ||
					m.ApplicationProperties["attempt"] != int64(1) || !sch[0].at.Equal(retryAt) {
					t.Errorf("scheduled %q attempt %d at %v; want %q attempt 1 at %v", *m.MessageID, next.Attempt, sch[0].at, tt.scheduledID, retryAt)
				}
			}
			if !r.closed {
				t.Error("receiver not closed")
			}
		})
	}
}

// TestRunSurvivesPanics: a panicking handler does not stop the loop.
func TestRunSurvivesPanics(t *testing.T) {
	js := jobs(3)
	r := newFakeReceiver(0, received(t, js[0], 1), received(t, js[1], 1), received(t, js[2], 1))
	q := testQueue(t, Config{MaxConcurrent: 1}, &fakeSender{}, r)
	h := func(_ context.Context, j order.Job, _ Delivery) order.Outcome {
		if j.ID == js[1].ID {
			var m map[string]int
			m["nil map write"]++ // a real runtime panic
		}
		return order.Outcome{Kind: order.OutcomeDone}
	}
	if err := runUntilSettled(t, q, r, 3, h); err != nil {
		t.Fatal(err)
	}
	if strings.Join(r.completed, ",") != js[0].ID+","+js[2].ID || strings.Join(r.abandoned, ",") != js[1].ID {
		t.Errorf("completed %v abandoned %v", r.completed, r.abandoned)
	}
}

// TestRunConcurrencyBound: never more than MaxConcurrent messages locked at once, and the bound
// is reached.
func TestRunConcurrencyBound(t *testing.T) {
	const limit, total = 3, 10
	var msgs []*azservicebus.ReceivedMessage
	for _, j := range jobs(total) {
		msgs = append(msgs, received(t, j, 1))
	}
	r := newFakeReceiver(limit, msgs...)
	q := testQueue(t, Config{MaxConcurrent: limit}, &fakeSender{}, r)

	var mu sync.Mutex
	inFlight, maxInFlight := 0, 0
	started := make(chan struct{}, total)
	release := make(chan struct{})
	h := func(context.Context, order.Job, Delivery) order.Outcome {
		mu.Lock()
		inFlight++
		maxInFlight = max(maxInFlight, inFlight)
		mu.Unlock()
		started <- struct{}{}
		<-release
		mu.Lock()
		inFlight--
		mu.Unlock()
		return order.Outcome{Kind: order.OutcomeDone}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- q.Run(ctx, h) }()
	for range limit { // the bound is reached…
		select {
		case <-started:
		case <-time.After(10 * time.Second):
			t.Fatal("handlers did not start")
		}
	}
	close(release) // …then everything drains
	r.waitSettled(t, total)
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if maxInFlight != limit {
		t.Errorf("max in flight %d, want %d", maxInFlight, limit)
	}
	if r.overAsked || r.maxUnsettled > limit {
		t.Errorf("receiver asked for more than free slots (requests %v, max unsettled %d)", r.requested, r.maxUnsettled)
	}
	if len(r.completed) != total {
		t.Errorf("completed %d of %d", len(r.completed), total)
	}
}

// TestRunShutdownFinishesInFlight: cancelling Run lets the running handler finish with a live
// context, settles its message and closes the receiver.
func TestRunShutdownFinishesInFlight(t *testing.T) {
	j := dispatchJob()
	r := newFakeReceiver(0, received(t, j, 1))
	q := testQueue(t, Config{}, &fakeSender{}, r)
	started, release := make(chan struct{}), make(chan struct{})
	var ctxErr error
	h := func(ctx context.Context, _ order.Job, _ Delivery) order.Outcome {
		close(started)
		<-release
		ctxErr = ctx.Err()
		return order.Outcome{Kind: order.OutcomeDone}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- q.Run(ctx, h) }()
	<-started
	cancel()
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if ctxErr != nil {
		t.Errorf("handler context ended at shutdown: %v", ctxErr)
	}
	if len(r.completed) != 1 || !r.closed {
		t.Errorf("completed %v closed %v", r.completed, r.closed)
	}
}

// TestRunShutdownGraceEnds: a handler still running after ShutdownGrace sees its context
// cancelled; its retry is still scheduled and the message settled.
func TestRunShutdownGraceEnds(t *testing.T) {
	j := dispatchJob()
	r := newFakeReceiver(0, received(t, j, 1))
	s := &fakeSender{}
	q := testQueue(t, Config{ShutdownGrace: time.Millisecond}, s, r)
	started := make(chan struct{})
	h := func(ctx context.Context, _ order.Job, _ Delivery) order.Outcome {
		close(started)
		<-ctx.Done()
		return order.Outcome{Kind: order.OutcomeRetry, After: time.Second, Reason: ctx.Err().Error()}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- q.Run(ctx, h) }()
	<-started
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run waited past the grace period")
	}
	if len(s.scheduledCopy()) != 1 || len(r.completed) != 1 {
		t.Errorf("scheduled %d completed %v", len(s.scheduledCopy()), r.completed)
	}
}

func TestRunReceiveErrors(t *testing.T) {
	j := dispatchJob()
	done := func(context.Context, order.Job, Delivery) order.Outcome {
		return order.Outcome{Kind: order.OutcomeDone}
	}

	t.Run("transient errors are retried", func(t *testing.T) {
		r := newFakeReceiver(0, received(t, j, 1))
		r.receiveErrs = []error{&azservicebus.Error{Code: azservicebus.CodeConnectionLost}, errors.New("EOF")}
		q := testQueue(t, Config{}, &fakeSender{}, r)
		var backoffs []int
		q.receiveBackoff = func(n int) time.Duration { backoffs = append(backoffs, n); return 0 }
		if err := runUntilSettled(t, q, r, 1, done); err != nil {
			t.Fatal(err)
		}
		if len(r.completed) != 1 || len(backoffs) != 2 || backoffs[1] != 2 {
			t.Errorf("completed %v, backoffs %v", r.completed, backoffs)
		}
	})

	t.Run("permanent error stops Run", func(t *testing.T) {
		r := newFakeReceiver(0)
		r.receiveErrs = []error{&azservicebus.Error{Code: azservicebus.CodeNotFound}}
		q := testQueue(t, Config{Namespace: "acme-bus"}, &fakeSender{}, r)
		err := q.Run(context.Background(), done)
		var sbErr *azservicebus.Error
		if err == nil || !errors.As(err, &sbErr) || !strings.Contains(err.Error(), "SERVICE_BUS_NAMESPACE") {
			t.Errorf("Run = %v, want the not-found error naming the setting", err)
		}
		if !r.closed {
			t.Error("receiver not closed")
		}
	})

	t.Run("receiver cannot be opened", func(t *testing.T) {
		q := testQueue(t, Config{}, &fakeSender{}, nil)
		q.newReceiver = func() (receiver, error) { return nil, errors.New("closed client") }
		if err := q.Run(context.Background(), done); err == nil || !strings.Contains(err.Error(), "open receiver") {
			t.Errorf("Run = %v", err)
		}
	})

	t.Run("nil handler", func(t *testing.T) {
		q := testQueue(t, Config{}, &fakeSender{}, newFakeReceiver(0))
		if err := q.Run(context.Background(), nil); err == nil {
			t.Error("Run accepted a nil handler")
		}
	})
}

// TestRunRenewsLocks: the lock of a message whose handler is still running is renewed, and
// renewal stops once the handler returns.
func TestRunRenewsLocks(t *testing.T) {
	j := dispatchJob()
	m := received(t, j, 1)
	until := time.Now().Add(20 * time.Millisecond)
	m.LockedUntil = &until
	r := newFakeReceiver(0, m)
	q := testQueue(t, Config{}, &fakeSender{}, r)
	h := func(context.Context, order.Job, Delivery) order.Outcome {
		for range 2 {
			select {
			case <-r.renewed:
			case <-time.After(10 * time.Second):
				t.Error("lock not renewed")
				return order.Outcome{Kind: order.OutcomeDone}
			}
		}
		return order.Outcome{Kind: order.OutcomeDone}
	}
	if err := runUntilSettled(t, q, r, 1, h); err != nil {
		t.Fatal(err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.renewals < 2 || len(r.completed) != 1 {
		t.Errorf("renewals %d completed %v", r.renewals, r.completed)
	}
}

// TestRunCompleteFailureIsLogged: a failed completion (lock lost) neither crashes nor blocks
// the loop.
func TestRunCompleteFailureIsLogged(t *testing.T) {
	js := jobs(2)
	r := newFakeReceiver(0, received(t, js[0], 1), received(t, js[1], 1))
	r.completeErr = &azservicebus.Error{Code: azservicebus.CodeLockLost}
	q := testQueue(t, Config{}, &fakeSender{}, r)
	var calls atomic.Int32
	h := func(context.Context, order.Job, Delivery) order.Outcome {
		calls.Add(1)
		return order.Outcome{Kind: order.OutcomeDone}
	}
	if err := runUntilSettled(t, q, r, 2, h); err != nil {
		t.Fatal(err)
	}
	if calls.Load() != 2 {
		t.Errorf("handler ran %d times, want 2", calls.Load())
	}
}
