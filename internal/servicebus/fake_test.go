package servicebus

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"
)

// The fakes below stand in for the SDK types through the same interfaces; no Service Bus
// emulator runs here.
var (
	_ sender       = (*fakeSender)(nil)
	_ batcher      = (*fakeSender)(nil)
	_ messageBatch = (*fakeBatch)(nil)
	_ receiver     = (*fakeReceiver)(nil)
)

// fakeBatch mirrors *azservicebus.MessageBatch's size rule: a message that would take the
// batch over maxBytes is refused with ErrMessageTooLarge.
type fakeBatch struct {
	maxBytes int
	size     int
	msgs     []*azservicebus.Message
}

func (b *fakeBatch) AddMessage(m *azservicebus.Message, _ *azservicebus.AddMessageOptions) error {
	if b.size+len(m.Body) > b.maxBytes {
		return azservicebus.ErrMessageTooLarge
	}
	b.size += len(m.Body)
	b.msgs = append(b.msgs, m)
	return nil
}

func (b *fakeBatch) NumMessages() int32 { return int32(len(b.msgs)) }

type scheduled struct {
	msgs []*azservicebus.Message
	at   time.Time
}

// fakeSender records what the Queue sends.
type fakeSender struct {
	mu           sync.Mutex
	batchBytes   int // batch size limit; 0: 1 MiB
	sent         []*azservicebus.Message
	batches      [][]*azservicebus.Message
	scheduled    []scheduled
	sendErr      error
	batchErr     error // returned by sendBatch
	newBatchErr  error
	newBatchWait bool // newBatch blocks forever, ignoring ctx
	scheduleErr  error
	closed       int
}

func (f *fakeSender) SendMessage(_ context.Context, m *azservicebus.Message, _ *azservicebus.SendMessageOptions) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.sendErr != nil {
		return f.sendErr
	}
	f.sent = append(f.sent, m)
	return nil
}

func (f *fakeSender) ScheduleMessages(_ context.Context, ms []*azservicebus.Message, at time.Time, _ *azservicebus.ScheduleMessagesOptions) ([]int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.scheduleErr != nil {
		return nil, f.scheduleErr
	}
	f.scheduled = append(f.scheduled, scheduled{ms, at})
	seq := make([]int64, len(ms))
	for i := range seq {
		seq[i] = int64(100 + len(f.scheduled) + i)
	}
	return seq, nil
}

func (f *fakeSender) Close(context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closed++
	return nil
}

func (f *fakeSender) newBatch(context.Context) (messageBatch, error) {
	if f.newBatchWait {
		select {} // a hung SDK call that ignores its context
	}
	if f.newBatchErr != nil {
		return nil, f.newBatchErr
	}
	limit := f.batchBytes
	if limit == 0 {
		limit = 1 << 20
	}
	return &fakeBatch{maxBytes: limit}, nil
}

func (f *fakeSender) sendBatch(_ context.Context, b messageBatch) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.batchErr != nil {
		return f.batchErr
	}
	f.batches = append(f.batches, b.(*fakeBatch).msgs)
	return nil
}

func (f *fakeSender) scheduledCopy() []scheduled {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]scheduled(nil), f.scheduled...)
}

type deadLettered struct {
	id, reason, desc string
}

// fakeReceiver hands out its messages like a PeekLock receiver and records settlements. Once
// it has nothing left it blocks until the context ends, as the SDK does.
type fakeReceiver struct {
	mu           sync.Mutex
	limit        int // the concurrency bound Run promised; 0: unchecked
	queue        []*azservicebus.ReceivedMessage
	receiveErrs  []error // returned, in order, before any message
	requested    []int
	unsettled    int
	maxUnsettled int
	overAsked    bool // unsettled+requested ever exceeded limit
	completed    []string
	abandoned    []string
	deadLetters  []deadLettered
	renewals     int
	completeErr  error
	closed       bool

	settled chan string // every settlement, by message id
	renewed chan struct{}
}

func newFakeReceiver(limit int, msgs ...*azservicebus.ReceivedMessage) *fakeReceiver {
	return &fakeReceiver{
		limit:   limit,
		queue:   msgs,
		settled: make(chan string, 1000),
		renewed: make(chan struct{}, 1000),
	}
}

func (f *fakeReceiver) ReceiveMessages(ctx context.Context, maxMessages int, _ *azservicebus.ReceiveMessagesOptions) ([]*azservicebus.ReceivedMessage, error) {
	f.mu.Lock()
	f.requested = append(f.requested, maxMessages)
	if f.limit > 0 && f.unsettled+maxMessages > f.limit {
		f.overAsked = true
	}
	if len(f.receiveErrs) > 0 {
		err := f.receiveErrs[0]
		f.receiveErrs = f.receiveErrs[1:]
		f.mu.Unlock()
		return nil, err
	}
	if len(f.queue) == 0 {
		f.mu.Unlock()
		<-ctx.Done()
		return nil, ctx.Err()
	}
	n := min(maxMessages, len(f.queue))
	out := f.queue[:n]
	f.queue = f.queue[n:]
	f.unsettled += n
	f.maxUnsettled = max(f.maxUnsettled, f.unsettled)
	f.mu.Unlock()
	return out, nil
}

func (f *fakeReceiver) settle(m *azservicebus.ReceivedMessage, list *[]string) {
	f.mu.Lock()
	f.unsettled--
	if list != nil {
		*list = append(*list, m.MessageID)
	}
	f.mu.Unlock()
	f.settled <- m.MessageID
}

func (f *fakeReceiver) CompleteMessage(_ context.Context, m *azservicebus.ReceivedMessage, _ *azservicebus.CompleteMessageOptions) error {
	if f.completeErr != nil {
		f.settle(m, nil)
		return f.completeErr
	}
	f.settle(m, &f.completed)
	return nil
}

func (f *fakeReceiver) AbandonMessage(_ context.Context, m *azservicebus.ReceivedMessage, _ *azservicebus.AbandonMessageOptions) error {
	f.settle(m, &f.abandoned)
	return nil
}

func (f *fakeReceiver) DeadLetterMessage(_ context.Context, m *azservicebus.ReceivedMessage, o *azservicebus.DeadLetterOptions) error {
	f.mu.Lock()
	dl := deadLettered{id: m.MessageID}
	if o != nil && o.Reason != nil {
		dl.reason = *o.Reason
	}
	if o != nil && o.ErrorDescription != nil {
		dl.desc = *o.ErrorDescription
	}
	f.deadLetters = append(f.deadLetters, dl)
	f.mu.Unlock()
	f.settle(m, nil)
	return nil
}

func (f *fakeReceiver) RenewMessageLock(_ context.Context, m *azservicebus.ReceivedMessage, _ *azservicebus.RenewMessageLockOptions) error {
	f.mu.Lock()
	f.renewals++
	f.mu.Unlock()
	t := time.Now().Add(20 * time.Millisecond)
	m.LockedUntil = &t // as the SDK does
	f.renewed <- struct{}{}
	return nil
}

func (f *fakeReceiver) Close(context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closed = true
	return nil
}

// waitSettled waits for n settlements (a hang guard, not a timing assertion).
func (f *fakeReceiver) waitSettled(t *testing.T, n int) {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for i := 0; i < n; i++ {
		select {
		case <-f.settled:
		case <-timeout:
			t.Fatalf("only %d of %d messages settled", i, n)
		}
	}
}

// testQueue builds a Queue on fakes, with a fixed clock.
func testQueue(t *testing.T, cfg Config, s *fakeSender, r *fakeReceiver) *Queue {
	t.Helper()
	if cfg.ConnectionString == "" && cfg.Namespace == "" {
		cfg.Namespace = "contoso-bus"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	res, err := cfg.resolve()
	if err != nil {
		t.Fatal(err)
	}
	q := newQueue(res, s, s, func() (receiver, error) { return r, nil })
	q.now = func() time.Time { return testNow }
	q.receiveBackoff = func(int) time.Duration { return 0 }
	q.renewFloor = time.Millisecond
	return q
}

var testNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
