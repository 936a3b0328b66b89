package servicebus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"

	"github.com/shipwell/orderflow/internal/order"
)

// Delivery describes one delivery of a job message.
type Delivery struct {
	// MessageID is the Service Bus MessageId (see MessageID).
	MessageID string
	// DeliveryCount is 1 on the first delivery and grows each time the message is abandoned or
	// its lock expires. Backoff retries are new messages, so it does not count them: use
	// order.Job.Attempt for that.
	DeliveryCount int
	// EnqueuedTime is when Service Bus accepted the message; zero when unknown.
	EnqueuedTime time.Time
}

// Handler runs one job and says what became of it. It must be safe for concurrent use. A
// handler that returns OutcomeDeadLetter has already recorded the dead letter in the store.
type Handler func(ctx context.Context, j order.Job, d Delivery) order.Outcome

// DeadLetterReasonInvalidJob is the dead-letter reason Run gives a message whose body is not a
// job; Service Bus keeps such messages in the queue's dead-letter sub-queue.
const DeadLetterReasonInvalidJob = "InvalidJob"

// settleTimeout bounds one settlement or retry scheduling call.
const settleTimeout = 30 * time.Second

// Run receives job messages (PeekLock) and hands them to handle, at most Config.MaxConcurrent
// at a time, until ctx is cancelled; it is the consumer for the standalone binary (under the
// Functions host the fulfillment-router function consumes instead). Settlement:
//   - OutcomeDone, OutcomeDeadLetter: complete the message.
//   - OutcomeRetry: schedule RetryJob(job) at now+Outcome.After, then complete, so a warehouse
//     outage never uses up the delivery count; if scheduling fails, abandon (Service Bus
//     redelivers it at once and dead-letters it after the queue's max delivery count).
//   - a body that is not a valid job: dead-letter with reason DeadLetterReasonInvalidJob.
//   - a handler panic: recovered, logged, and the message abandoned; the loop goes on.
//
// Locks are renewed while a handler runs (up to Config.MaxLockRenewal). When ctx is cancelled,
// Run stops receiving, lets in-flight handlers finish (their context stays live for
// Config.ShutdownGrace), settles their messages, closes the receiver and returns nil. It returns
// an error when the receiver cannot be opened or fails permanently (missing queue, refused
// credential); transient receive errors are retried with backoff.
func (q *Queue) Run(ctx context.Context, handle Handler) error {
	if handle == nil {
		return errors.New("servicebus: Run needs a handler")
	}
	r, err := q.newReceiver()
	if err != nil {
		return fmt.Errorf("%s: open receiver on service bus queue %s: %w", q.cfg.setting(), q.cfg.QueueName, err)
	}

	// In-flight handlers outlive ctx by ShutdownGrace.
	hctx, hcancel := context.WithCancel(context.WithoutCancel(ctx))
	defer hcancel()
	go func() {
		select {
		case <-ctx.Done():
			t := time.NewTimer(q.cfg.ShutdownGrace)
			defer t.Stop()
			select {
			case <-t.C:
				hcancel()
			case <-hctx.Done():
			}
		case <-hctx.Done():
		}
	}()

	limit := q.cfg.MaxConcurrent
	slots := make(chan struct{}, limit)
	var wg sync.WaitGroup
	var runErr error
	failures := 0
	q.log.InfoContext(ctx, "service bus consumer started", "maxConcurrent", limit)
receive:
	for {
		// Wait for one free slot, then take every other free one: ask for no more messages
		// than can be handled at once, so none waits locked in memory.
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			break receive
		}
		n := 1
	take:
		for n < limit {
			select {
			case slots <- struct{}{}:
				n++
			default:
				break take
			}
		}
		msgs, err := r.ReceiveMessages(ctx, n, nil)
		if len(msgs) > n {
			// Never expected from the SDK; hand the extras back rather than exceed the bound.
			q.abandonAll(r, msgs[n:])
			msgs = msgs[:n]
		}
		for range n - len(msgs) {
			<-slots
		}
		for _, m := range msgs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() { <-slots }()
				q.process(hctx, r, handle, m)
			}()
		}
		if err == nil {
			failures = 0
			continue
		}
		if ctx.Err() != nil {
			break receive
		}
		if !IsTransient(err) {
			runErr = fmt.Errorf("%s: receive from service bus queue %s: %w", q.cfg.setting(), q.cfg.QueueName, err)
			break receive
		}
		failures++
		wait := q.receiveBackoff(failures)
		q.log.WarnContext(ctx, "service bus receive failed; retrying", "error", err, "failures", failures, "wait", wait)
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			break receive
		}
	}
	wg.Wait()
	closeCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := r.Close(closeCtx); err != nil {
		q.log.Warn("close service bus receiver", "error", err)
	}
	if runErr != nil {
		q.log.Error("service bus consumer stopped", "error", runErr)
		return runErr
	}
	q.log.Info("service bus consumer stopped")
	return nil
}

// process runs one message through the handler and settles it.
func (q *Queue) process(ctx context.Context, r receiver, handle Handler, m *azservicebus.ReceivedMessage) {
	d := Delivery{MessageID: m.MessageID, DeliveryCount: int(m.DeliveryCount)}
	if m.EnqueuedTime != nil {
		d.EnqueuedTime = *m.EnqueuedTime
	}
	log := q.log.With("message", m.MessageID, "deliveryCount", d.DeliveryCount)

	j, err := DecodeJob(m.Body)
	if err != nil {
		log.Error("dead-lettering a message that is not a valid job", "error", err)
		settleCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), settleTimeout)
		defer cancel()
		reason := DeadLetterReasonInvalidJob
		desc := err.Error()
		if len(desc) > 1000 {
			desc = desc[:1000]
		}
		if err := r.DeadLetterMessage(settleCtx, m, &azservicebus.DeadLetterOptions{Reason: &reason, ErrorDescription: &desc}); err != nil {
			log.Error("dead-letter failed; the message will be redelivered", "error", err)
		}
		return
	}
	log = log.With("job", j.ID, "kind", j.Kind, "order", j.Order, "orderId", j.OrderID, "attempt", j.Attempt)

	stopRenewing := q.renewLock(ctx, r, m, log)
	out, ok := call(ctx, handle, j, d, log)
	stopRenewing()
	// Settle with a fresh context: the handler's may have been cancelled at shutdown.
	settleCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), settleTimeout)
	defer cancel()
	if !ok {
		q.abandon(settleCtx, r, m, log)
		return
	}
	switch out.Kind {
	case order.OutcomeDone, order.OutcomeDeadLetter:
		if out.Kind == order.OutcomeDeadLetter {
			log.Info("job dead-lettered by its handler", "reason", out.Reason)
		}
		q.complete(settleCtx, r, m, log)
	case order.OutcomeRetry:
		next := RetryJob(j)
		at := q.now().Add(max(out.After, 0))
		if err := q.Schedule(settleCtx, next, at); err != nil {
			log.Warn("could not schedule the retry; abandoning so Service Bus redelivers", "error", err)
			q.abandon(settleCtx, r, m, log)
			return
		}
		log.Info("job retry scheduled", "next", next.ID, "at", at.UTC(), "reason", out.Reason)
		q.complete(settleCtx, r, m, log)
	default:
		log.Error("handler returned an unknown outcome; abandoning", "outcome", out.Kind.String())
		q.abandon(settleCtx, r, m, log)
	}
}

// call runs the handler, turning a panic into ok == false.
func call(ctx context.Context, handle Handler, j order.Job, d Delivery, log *slog.Logger) (out order.Outcome, ok bool) {
	defer func() {
		if p := recover(); p != nil {
			log.Error("job handler panicked; abandoning the message", "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			ok = false
		}
	}()
	return handle(ctx, j, d), true
}

func (q *Queue) complete(ctx context.Context, r receiver, m *azservicebus.ReceivedMessage, log *slog.Logger) {
	if err := r.CompleteMessage(ctx, m, nil); err != nil {
		// The lock was lost or the link dropped: the message comes back and the handler,
		// which is idempotent, sees the work already done.
		log.Warn("complete failed; the message will be redelivered", "error", err)
	}
}

func (q *Queue) abandon(ctx context.Context, r receiver, m *azservicebus.ReceivedMessage, log *slog.Logger) {
	if err := r.AbandonMessage(ctx, m, nil); err != nil {
		log.Warn("abandon failed; the message returns when its lock expires", "error", err)
	}
}

func (q *Queue) abandonAll(r receiver, msgs []*azservicebus.ReceivedMessage) {
	ctx, cancel := context.WithTimeout(context.Background(), settleTimeout)
	defer cancel()
	for _, m := range msgs {
		q.abandon(ctx, r, m, q.log.With("message", m.MessageID))
	}
}

// renewLock renews m's lock at half its remaining time until stop is called or
// Config.MaxLockRenewal has passed. stop waits for the renewer to finish, so m is not touched
// after it returns.
func (q *Queue) renewLock(ctx context.Context, r receiver, m *azservicebus.ReceivedMessage, log *slog.Logger) (stop func()) {
	if m.LockedUntil == nil {
		return func() {}
	}
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		deadline := time.Now().Add(q.cfg.MaxLockRenewal)
		for {
			wait := max(time.Until(*m.LockedUntil)/2, q.renewFloor)
			if time.Now().Add(wait).After(deadline) {
				return
			}
			t := time.NewTimer(wait)
			select {
			case <-rctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
			if err := r.RenewMessageLock(rctx, m, nil); err != nil {
				if rctx.Err() == nil {
					log.Warn("message lock renewal failed", "error", err)
				}
				return
			}
		}
	}()
	return func() {
		cancel()
		<-done
	}
}
