// Package servicebus implements order.Queue on Azure Service Bus: one client and one sender per
// process, job messages with a deterministic MessageId (duplicate detection drops copies),
// scheduled messages for backoff retries, and a PeekLock receive loop (Run) for running the
// queue's consumer in the standalone binary. Under the Azure Functions host the
// fulfillment-router function receives the messages instead, and shares DecodeJob and RetryJob
// with Run.
//
// The SDK connects lazily: New only validates the configuration; Check opens the sender link
// with a bounded timeout and reports an unreachable namespace, a missing queue or missing rights
// naming the setting to fix.
package servicebus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"
	"github.com/Azure/go-amqp"

	"github.com/shipwell/orderflow/internal/order"
)

// sender is the part of *azservicebus.Sender the Queue uses.
type sender interface {
	SendMessage(ctx context.Context, m *azservicebus.Message, o *azservicebus.SendMessageOptions) error
	ScheduleMessages(ctx context.Context, ms []*azservicebus.Message, at time.Time, o *azservicebus.ScheduleMessagesOptions) ([]int64, error)
	Close(ctx context.Context) error
}

// messageBatch is the part of *azservicebus.MessageBatch the Queue uses.
type messageBatch interface {
	AddMessage(m *azservicebus.Message, o *azservicebus.AddMessageOptions) error
	NumMessages() int32
}

// batcher makes and sends batches. *azservicebus.MessageBatch has no public constructor, so
// the SDK's Sender is adapted (sdkBatcher) rather than matched directly.
type batcher interface {
	newBatch(ctx context.Context) (messageBatch, error)
	sendBatch(ctx context.Context, b messageBatch) error
}

// receiver is the part of *azservicebus.Receiver that Run uses.
type receiver interface {
	ReceiveMessages(ctx context.Context, maxMessages int, o *azservicebus.ReceiveMessagesOptions) ([]*azservicebus.ReceivedMessage, error)
	CompleteMessage(ctx context.Context, m *azservicebus.ReceivedMessage, o *azservicebus.CompleteMessageOptions) error
	AbandonMessage(ctx context.Context, m *azservicebus.ReceivedMessage, o *azservicebus.AbandonMessageOptions) error
	DeadLetterMessage(ctx context.Context, m *azservicebus.ReceivedMessage, o *azservicebus.DeadLetterOptions) error
	RenewMessageLock(ctx context.Context, m *azservicebus.ReceivedMessage, o *azservicebus.RenewMessageLockOptions) error
	Close(ctx context.Context) error
}

// closer is the part of *azservicebus.Client that Close uses.
type closer interface {
	Close(ctx context.Context) error
}

// The SDK types satisfy the interfaces the tests fake.
var (
	_ sender       = (*azservicebus.Sender)(nil)
	_ messageBatch = (*azservicebus.MessageBatch)(nil)
	_ receiver     = (*azservicebus.Receiver)(nil)
	_ closer       = (*azservicebus.Client)(nil)
	_ batcher      = sdkBatcher{}
	_ order.Queue  = (*Queue)(nil)
)

// sdkBatcher adapts *azservicebus.Sender to batcher.
type sdkBatcher struct{ s *azservicebus.Sender }

func (b sdkBatcher) newBatch(ctx context.Context) (messageBatch, error) {
	mb, err := b.s.NewMessageBatch(ctx, nil)
	if err != nil {
		return nil, err
	}
	return mb, nil
}

func (b sdkBatcher) sendBatch(ctx context.Context, mb messageBatch) error {
	sb, ok := mb.(*azservicebus.MessageBatch)
	if !ok {
		return fmt.Errorf("send batch: unexpected batch type %T", mb)
	}
	return b.s.SendMessageBatch(ctx, sb, nil)
}

// Queue is order.Queue on a Service Bus queue. It is safe for concurrent use; create one per
// process with New and Close it on shutdown.
type Queue struct {
	cfg         resolved
	log         *slog.Logger
	client      closer // nil in tests
	snd         sender
	bat         batcher
	newReceiver func() (receiver, error)
	now         func() time.Time

	// Run's tuning, replaced by tests.
	renewFloor     time.Duration // shortest wait between lock renewals
	receiveBackoff func(failures int) time.Duration

	closeOnce sync.Once
	closeErr  error
}

// New validates cfg and creates the process's Service Bus client and sender. It does not
// connect (the SDK connects on first use): call Check at start-up to find a wrong namespace,
// queue or credential before the first webhook does. Errors name the setting to fix and never
// contain the connection string's key.
func New(ctx context.Context, cfg Config) (*Queue, error) {
	r, err := cfg.resolve()
	if err != nil {
		return nil, err
	}
	opts := &azservicebus.ClientOptions{ApplicationID: "orderflow"}
	var client *azservicebus.Client
	mode := "connection string"
	if r.ConnectionString != "" {
		client, err = azservicebus.NewClientFromConnectionString(r.ConnectionString, opts)
		if err != nil {
			// The SDK's messages do not echo values today; redact anyway, and do not wrap so
			// no caller can print the original.
			return nil, fmt.Errorf("%s is malformed: %s", SettingConnection, redact(err.Error(), r.ConnectionString))
		}
	} else {
		mode = "managed identity"
		cred := r.Credential
		if cred == nil {
			cred, err = azidentity.NewDefaultAzureCredential(nil)
			if err != nil {
				return nil, fmt.Errorf("%s is set but no Azure credential is available (managed identity, workload identity, environment or Azure CLI): %w", SettingNamespace, err)
			}
		}
		client, err = azservicebus.NewClient(r.namespace, cred, opts)
		if err != nil {
			return nil, fmt.Errorf("%s: create Service Bus client for %s: %w", SettingNamespace, r.namespace, err)
		}
	}
	snd, err := client.NewSender(r.QueueName, nil)
	if err != nil {
		_ = client.Close(ctx)
		return nil, fmt.Errorf("%s: create sender for queue %s: %w", r.setting(), r.QueueName, err)
	}
	q := newQueue(r, snd, sdkBatcher{snd}, func() (receiver, error) {
		return client.NewReceiverForQueue(r.QueueName, &azservicebus.ReceiverOptions{ReceiveMode: azservicebus.ReceiveModePeekLock})
	})
	q.client = client
	q.log.Info("service bus queue configured (connects on first use)",
		"namespace", r.namespace, "auth", mode, "setting", r.setting())
	return q, nil
}

// newQueue assembles a Queue around the given SDK parts (or fakes).
func newQueue(r resolved, s sender, b batcher, newReceiver func() (receiver, error)) *Queue {
	return &Queue{
		cfg:         r,
		log:         r.Logger.With("component", "servicebus", "queue", r.QueueName),
		snd:         s,
		bat:         b,
		newReceiver: newReceiver,
		now:         time.Now,
		renewFloor:  time.Second,
		receiveBackoff: func(n int) time.Duration {
			d := time.Second << min(n, 5) // 2s, 4s … 32s
			return min(d, 30*time.Second)
		},
	}
}

// Name returns the queue's name.
func (q *Queue) Name() string { return q.cfg.QueueName }

// Namespace returns the fully qualified namespace host.
func (q *Queue) Namespace() string { return q.cfg.namespace }

// Enqueue sends jobs to run now: one message for one job, batches (split at the broker's batch
// size limit) for several. It is idempotent per job id through duplicate detection, so a caller
// that gets an error may send the same jobs again. An error may follow a partial send (the
// message says how many were sent); resending all is safe.
func (q *Queue) Enqueue(ctx context.Context, jobs ...order.Job) error {
	if len(jobs) == 0 {
		return nil
	}
	msgs := make([]*azservicebus.Message, len(jobs))
	for i, j := range jobs {
		m, err := NewMessage(j)
		if err != nil {
			return fmt.Errorf("enqueue on service bus queue %s: %w", q.cfg.QueueName, err)
		}
		msgs[i] = m
	}
	if len(msgs) == 1 {
		if err := q.snd.SendMessage(ctx, msgs[0], nil); err != nil {
			return fmt.Errorf("enqueue job %s on service bus queue %s: %w", jobs[0].ID, q.cfg.QueueName, err)
		}
		q.log.DebugContext(ctx, "job enqueued", "job", jobs[0].ID, "kind", jobs[0].Kind, "order", jobs[0].Order)
		return nil
	}
	return q.sendBatches(ctx, jobs, msgs)
}

// sendBatches sends msgs in as few batches as the broker's size limit allows.
func (q *Queue) sendBatches(ctx context.Context, jobs []order.Job, msgs []*azservicebus.Message) error {
	sent := 0
	var batch messageBatch
	fail := func(i int, what string, err error) error {
		return fmt.Errorf("enqueue %d jobs on service bus queue %s (%d sent): %s job %s: %w",
			len(jobs), q.cfg.QueueName, sent, what, jobs[i].ID, err)
	}
	send := func(i int) error {
		n := int(batch.NumMessages())
		if err := q.bat.sendBatch(ctx, batch); err != nil {
			return fail(i-1, "send batch ending with", err)
		}
		sent += n
		batch = nil
		return nil
	}
	for i := 0; i < len(msgs); {
		if batch == nil {
			b, err := q.bat.newBatch(ctx)
			if err != nil {
				return fail(i, "new batch for", err)
			}
			batch = b
		}
		err := batch.AddMessage(msgs[i], nil)
		switch {
		case err == nil:
			i++
		case errors.Is(err, azservicebus.ErrMessageTooLarge) && batch.NumMessages() > 0:
			if err := send(i); err != nil {
				return err
			}
		case errors.Is(err, azservicebus.ErrMessageTooLarge):
			return fail(i, fmt.Sprintf("message of %d bytes exceeds the broker's limit;", len(msgs[i].Body)), err)
		default:
			return fail(i, "add to batch", err)
		}
	}
	if batch != nil && batch.NumMessages() > 0 {
		if err := send(len(msgs)); err != nil {
			return err
		}
	}
	q.log.DebugContext(ctx, "jobs enqueued", "count", sent)
	return nil
}

// Schedule queues j to become visible at the given time (a retry with backoff). j.ID must be
// new for every retry (see RetryJob), or duplicate detection drops the message.
func (q *Queue) Schedule(ctx context.Context, j order.Job, at time.Time) error {
	m, err := NewMessage(j)
	if err != nil {
		return fmt.Errorf("schedule on service bus queue %s: %w", q.cfg.QueueName, err)
	}
	seq, err := q.snd.ScheduleMessages(ctx, []*azservicebus.Message{m}, at.UTC(), nil)
	if err != nil {
		return fmt.Errorf("schedule job %s at %s on service bus queue %s: %w", j.ID, at.UTC().Format(time.RFC3339), q.cfg.QueueName, err)
	}
	q.log.DebugContext(ctx, "job scheduled", "job", j.ID, "kind", j.Kind, "order", j.Order,
		"at", at.UTC(), "attempt", j.Attempt, "sequence", seq)
	return nil
}

// Check verifies, within Config.CheckTimeout, that the namespace answers, the credential is
// accepted and the queue exists, by opening the sender link (no message is sent). It needs only
// the Send right. Its error names the setting to fix. It never hangs past the timeout, even if
// the SDK ignored the context.
func (q *Queue) Check(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, q.cfg.CheckTimeout)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := q.bat.newBatch(ctx)
		done <- err
	}()
	var err error
	select {
	case err = <-done:
	case <-ctx.Done():
		err = ctx.Err()
	}
	if err == nil {
		q.log.InfoContext(ctx, "service bus reachable", "namespace", q.cfg.namespace)
		return nil
	}
	where := fmt.Sprintf("service bus (%s: namespace %s, %s %s)", q.cfg.setting(), q.cfg.namespace, SettingQueue, q.cfg.QueueName)
	var sbErr *azservicebus.Error
	var amqpErr *amqp.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("%s did not answer within %s: check the namespace name and that this network can reach it on port 5671: %w", where, q.cfg.CheckTimeout, err)
	case errors.As(err, &sbErr) && sbErr.Code == azservicebus.CodeUnauthorizedAccess,
		errors.As(err, &amqpErr) && amqpErr.Condition == amqp.ErrCondUnauthorizedAccess:
		return fmt.Errorf("%s refused the credential: give the app's identity the Azure Service Bus Data Sender role (and Data Receiver to consume), or use a SAS policy with Send and Listen: %w", where, err)
	case errors.As(err, &sbErr) && sbErr.Code == azservicebus.CodeNotFound,
		errors.As(err, &amqpErr) && amqpErr.Condition == amqp.ErrCondNotFound:
		return fmt.Errorf("%s: the queue does not exist: create it (see README) or fix %s: %w", where, SettingQueue, err)
	}
	return fmt.Errorf("%s is not usable: %w", where, err)
}

// Close closes the sender and the client, waiting at most 10 seconds. Further calls return the
// first call's result.
func (q *Queue) Close() error {
	q.closeOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		err := q.snd.Close(ctx)
		if q.client != nil {
			err = errors.Join(err, q.client.Close(ctx))
		}
		if err != nil {
			q.closeErr = fmt.Errorf("close service bus queue %s: %w", q.cfg.QueueName, err)
		}
	})
	return q.closeErr
}

// IsTransient reports whether retrying the operation that returned err may succeed. Invalid
// jobs, oversize messages, a missing queue, refused credentials, a disabled entity and a closed
// sender are permanent until someone changes something; connection losses, timeouts and
// everything unrecognised are transient.
func IsTransient(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, ErrInvalidJob) || errors.Is(err, azservicebus.ErrMessageTooLarge) {
		return false
	}
	var sbErr *azservicebus.Error
	if errors.As(err, &sbErr) {
		switch sbErr.Code {
		case azservicebus.CodeUnauthorizedAccess, azservicebus.CodeNotFound, azservicebus.CodeClosed:
			return false
		}
		return true
	}
	var amqpErr *amqp.Error
	if errors.As(err, &amqpErr) {
		switch amqpErr.Condition {
		case amqp.ErrCondNotFound, amqp.ErrCondUnauthorizedAccess, amqp.ErrCondNotAllowed,
			amqp.ErrCondMessageSizeExceeded, "com.microsoft:entity-disabled":
			return false
		}
	}
	// azidentity marks authentication failures that retrying cannot fix.
	var nonRetriable interface {
		error
		NonRetriable()
	}
	return !errors.As(err, &nonRetriable)
}

// redact removes the secret values of a connection string from msg.
func redact(msg, connStr string) string {
	for _, part := range strings.Split(connStr, ";") {
		k, v, ok := strings.Cut(part, "=")
		if !ok {
			if len(strings.TrimSpace(part)) >= 8 {
				msg = strings.ReplaceAll(msg, strings.TrimSpace(part), "[redacted]")
			}
			continue
		}
		k = strings.TrimSpace(k)
		v = strings.TrimSpace(v)
		if v != "" && (strings.EqualFold(k, "SharedAccessKey") || strings.EqualFold(k, "SharedAccessSignature")) {
			msg = strings.ReplaceAll(msg, v, "[redacted]")
		}
	}
	return msg
}
