package servicebus

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"

	"github.com/shipwell/orderflow/internal/order"
)

// ContentType is the content type of every job message.
const ContentType = "application/json"

// Application property names set on every job message. Values are AMQP primitives that every
// Service Bus client reads natively: strings, and attempt as a 64-bit integer (AMQP long).
const (
	PropRoute    = "route"    // job.Warehouse
	PropPriority = "priority" // "high" or "normal"
	PropKind     = "kind"     // job.Kind
	PropOrder    = "order"    // order record id
	PropAttempt  = "attempt"  // attempts already made, int64
	PropJobID    = "jobId"    // the full job id (MessageID may be a hash of it)
)

// MaxMessageIDLength is Service Bus' limit on MessageId.
const MaxMessageIDLength = 128

// ErrInvalidJob marks a message body or job that can never be processed. Test with errors.Is.
var ErrInvalidJob = errors.New("invalid job")

// MessageID returns the Service Bus MessageId for a job id: the id itself when it fits in
// MaxMessageIDLength, otherwise a stable, readable stand-in (the id's first 56 bytes, "#", and
// the hex SHA-256 of the whole id). Equal job ids always give equal message ids, so duplicate
// detection keeps working for long ids too.
func MessageID(jobID string) string {
	if len(jobID) <= MaxMessageIDLength {
		return jobID
	}
	prefix := jobID[:56]
	for !utf8.ValidString(prefix) {
		prefix = prefix[:len(prefix)-1]
	}
	sum := sha256.Sum256([]byte(jobID))
	return prefix + "#" + hex.EncodeToString(sum[:])
}

// NewMessage builds the Service Bus message for j: the body is j as JSON (every id a string),
// MessageID is MessageID(j.ID) so Service Bus duplicate detection drops copies, Subject is the
// job kind, and the application properties carry route, priority, kind, order, attempt and
// jobId so operators and subscriptions can filter without reading the body.
func NewMessage(j order.Job) (*azservicebus.Message, error) {
	if err := validateJob(j); err != nil {
		return nil, err
	}
	if j.Priority == "" {
		j.Priority = order.PriorityNormal
	}
	body, err := json.Marshal(j)
	if err != nil {
		return nil, fmt.Errorf("encode job %s: %w", j.ID, err)
	}
	id := MessageID(j.ID)
	contentType := ContentType
	subject := string(j.Kind)
	return &azservicebus.Message{
		Body:        body,
		MessageID:   &id,
		ContentType: &contentType,
		Subject:     &subject,
		ApplicationProperties: map[string]any{
			PropRoute:    j.Warehouse,
			PropPriority: j.Priority,
			PropKind:     string(j.Kind),
			PropOrder:    j.Order,
			PropAttempt:  int64(j.Attempt),
			PropJobID:    j.ID,
		},
	}, nil
}

// DecodeJob decodes a job message body and checks it can be processed: a JSON object with a
// known kind and the ids that kind needs, and nothing after it. Ids must be JSON strings (a
// number is refused rather than rounded). A body that is itself a JSON string holding the job
// (the Functions host's string mode) is unwrapped once. Unknown fields are ignored so that a
// newer producer does not break an older consumer. Errors wrap ErrInvalidJob.
func DecodeJob(body []byte) (order.Job, error) {
	body = bytes.TrimSpace(body)
	if len(body) > 0 && body[0] == '"' {
		var inner string
		if err := json.Unmarshal(body, &inner); err != nil {
			return order.Job{}, fmt.Errorf("%w: body is not valid JSON: %v", ErrInvalidJob, err)
		}
		body = bytes.TrimSpace([]byte(inner))
	}
	if len(body) == 0 || body[0] != '{' {
		return order.Job{}, fmt.Errorf("%w: body is not a JSON object", ErrInvalidJob)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	var j order.Job
	if err := dec.Decode(&j); err != nil {
		return order.Job{}, fmt.Errorf("%w: %v", ErrInvalidJob, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return order.Job{}, fmt.Errorf("%w: data after the JSON object", ErrInvalidJob)
	}
	if err := validateJob(j); err != nil {
		return order.Job{}, err
	}
	return j, nil
}

// validateJob checks the fields a job of its kind needs.
func validateJob(j order.Job) error {
	var missing []string
	if j.ID == "" {
		missing = append(missing, "id")
	}
	if j.Order == "" {
		missing = append(missing, "order")
	}
	switch j.Kind {
	case order.JobDispatch, order.JobCancel:
		if j.Warehouse == "" {
			missing = append(missing, "warehouse")
		}
	case order.JobFulfill:
		if j.Shipment == "" {
			missing = append(missing, "shipment")
		}
	case "":
		missing = append(missing, "kind")
	default:
		return invalid(j, fmt.Sprintf("unknown kind %q", j.Kind))
	}
	if len(missing) > 0 {
		return invalid(j, "missing "+strings.Join(missing, ", "))
	}
	if j.Attempt < 0 {
		return invalid(j, fmt.Sprintf("negative attempt %d", j.Attempt))
	}
	return nil
}

// invalid is an ErrInvalidJob naming j.
func invalid(j order.Job, why string) error {
	if j.ID == "" {
		return fmt.Errorf("%w: %s", ErrInvalidJob, why)
	}
	return fmt.Errorf("%w %s: %s", ErrInvalidJob, j.ID, why)
}

// retrySuffix separates a job's base id from its retry number.
const retrySuffix = ":retry"

// RetryJob returns the job to schedule after a transient failure of j: Attempt is bumped and the
// id becomes j's base id (j.ID without an earlier ":retry<N>" suffix) plus ":retry<Attempt>".
// The id is new for every attempt, so Schedule's message is never dropped as a duplicate of the
// failed one, yet deterministic, so a redelivered copy of the same failed message schedules the
// same retry id and duplicate detection drops the second one. Both the standalone Run loop and
// the fulfillment-router function use it.
func RetryJob(j order.Job) order.Job {
	j.Attempt++
	j.ID = BaseJobID(j.ID) + retrySuffix + strconv.Itoa(j.Attempt)
	return j
}

// BaseJobID strips a ":retry<N>" suffix added by RetryJob.
func BaseJobID(id string) string {
	i := strings.LastIndex(id, retrySuffix)
	if i < 0 {
		return id
	}
	n := id[i+len(retrySuffix):]
	if n == "" {
		return id
	}
	for _, r := range n {
		if r < '0' || r > '9' {
			return id
		}
	}
	return id[:i]
}
