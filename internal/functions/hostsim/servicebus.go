package hostsim

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Message is a Service Bus message to deliver. Zero fields get defaults.
type Message struct {
	// MessageID defaults to a random 32-hex-digit id.
	MessageID string
	// ContentType, Subject, CorrelationID, SessionID, ReplyTo, To and PartitionKey are system
	// properties; empty ones are left out of Metadata, as the host leaves out nulls.
	ContentType   string
	Subject       string
	CorrelationID string
	SessionID     string
	ReplyTo       string
	To            string
	PartitionKey  string
	// ApplicationProperties are sent natively (use json.Number or int64 for exact integers).
	ApplicationProperties map[string]any
	// DeliveryCount is the count of the first delivery here (default 1): set it higher to
	// simulate a message that was already delivered before.
	DeliveryCount int
	// SequenceNumber defaults to an increasing number per simulator.
	SequenceNumber int64
	// EnqueuedTime defaults to now; TimeToLive defaults to 14 days.
	EnqueuedTime time.Time
	TimeToLive   time.Duration
	// MaxDeliveryCount overrides the simulator's MaxDeliveryCount for this message.
	MaxDeliveryCount int
}

// Outcome is how a message left the simulated queue.
type Outcome string

// Outcomes.
const (
	Completed    Outcome = "completed"     // a delivery succeeded (autoCompleteMessages)
	Abandoned    Outcome = "abandoned"     // a delivery failed; the message is redelivered
	DeadLettered Outcome = "dead-lettered" // MaxDeliveryCountExceeded
)

// Delivery is one delivery attempt.
type Delivery struct {
	// DeliveryCount is the count the handler saw.
	DeliveryCount int
	// LockToken is this delivery's lock token.
	LockToken string
	// Outcome is Completed, Abandoned or DeadLettered (the last failed delivery).
	Outcome Outcome
	// Invocation is the request and reply.
	Invocation *Invocation
}

// ServiceBusResult is what happened to one message.
type ServiceBusResult struct {
	// Function is the function name; Queue the resolved entity (queueName after %expr%).
	Function string
	Queue    string
	// MessageID is the message id used.
	MessageID string
	// Outcome is Completed or DeadLettered.
	Outcome Outcome
	// DeadLetterReason is "MaxDeliveryCountExceeded" when dead-lettered.
	DeadLetterReason      string
	DeadLetterDescription string
	// Deliveries lists every delivery in order.
	Deliveries []Delivery
	// Err is set when the message could not be delivered at all (unknown function, ...).
	Err error
}

// Last returns the last delivery (nil if none).
func (r *ServiceBusResult) Last() *Delivery {
	if len(r.Deliveries) == 0 {
		return nil
	}
	return &r.Deliveries[len(r.Deliveries)-1]
}

// ServiceBus delivers body to a Service Bus-triggered function like the host with peek-lock and
// autoCompleteMessages (§4): the invocation carries the body double-encoded (or base64 when the
// trigger has "dataType": "binary") and the host's Metadata; a 2xx with a valid reply completes
// the message; a failure (non-2xx, rejected reply, transport error or timeout) abandons it and
// it is redelivered at once with DeliveryCount+1, until the delivery that reaches
// MaxDeliveryCount fails and it is dead-lettered with reason MaxDeliveryCountExceeded.
// Deliveries are sequential; call ServiceBus from several goroutines for concurrency.
func (s *Sim) ServiceBus(function string, body []byte, msg Message) *ServiceBusResult {
	res := &ServiceBusResult{Function: function, Queue: s.resolved[function]}
	fn, err := s.function(function, "serviceBusTrigger")
	if err != nil {
		res.Err = err
		return res
	}
	if msg.MessageID == "" {
		msg.MessageID = strings.ReplaceAll(newGUID(), "-", "")
	}
	res.MessageID = msg.MessageID
	if msg.DeliveryCount <= 0 {
		msg.DeliveryCount = 1
	}
	if msg.SequenceNumber == 0 {
		msg.SequenceNumber = s.nextSequence()
	}
	if msg.EnqueuedTime.IsZero() {
		msg.EnqueuedTime = time.Now()
	}
	if msg.TimeToLive <= 0 {
		msg.TimeToLive = 14 * 24 * time.Hour
	}
	maxDeliveries := s.opts.MaxDeliveryCount
	if msg.MaxDeliveryCount > 0 {
		maxDeliveries = msg.MaxDeliveryCount
	}
	for count := msg.DeliveryCount; ; count++ {
		lock := newGUID()
		envelope, err := s.serviceBusEnvelope(fn, body, msg, count, lock)
		if err != nil {
			res.Err = err
			return res
		}
		inv := s.invoke(KindServiceBus, fn.Name, envelope)
		d := Delivery{DeliveryCount: count, LockToken: lock, Invocation: inv}
		if inv.Err == nil {
			d.Outcome = Completed
			res.Deliveries = append(res.Deliveries, d)
			res.Outcome = Completed
			return res
		}
		if count >= maxDeliveries {
			d.Outcome = DeadLettered
			res.Deliveries = append(res.Deliveries, d)
			res.Outcome = DeadLettered
			res.DeadLetterReason = "MaxDeliveryCountExceeded"
			res.DeadLetterDescription = fmt.Sprintf("Message could not be consumed after %d delivery attempts.", maxDeliveries)
			return res
		}
		d.Outcome = Abandoned
		res.Deliveries = append(res.Deliveries, d)
	}
}

// serviceBusEnvelope builds the invocation for one delivery, shaped like
// fixtures/functions/servicebus*.request.json.
func (s *Sim) serviceBusEnvelope(fn *Function, body []byte, msg Message, deliveryCount int, lockToken string) ([]byte, error) {
	binary := strings.EqualFold(fn.Trigger.DataType, "binary")
	var data json.RawMessage
	if binary {
		data = json.RawMessage(jsonString(base64.StdEncoding.EncodeToString(body)))
	} else {
		// MessageToStringConverter: Encoding.UTF8.GetString (invalid bytes → U+FFFD, BOM kept),
		// then the envelope's second JSON encoding.
		data = doubleEncode(toUTF8String(body))
	}
	enq := msg.EnqueuedTime.UTC().Truncate(time.Second)
	exp := enq.Add(msg.TimeToLive)
	ns := s.namespace(fn.Trigger.Connection)
	system := map[string]any{
		"MessageReceiver": map[string]any{}, "MessageSession": map[string]any{}, "MessageActions": map[string]any{},
		"SessionActions": map[string]any{}, "ReceiveActions": map[string]any{},
		"Client": map[string]any{
			"FullyQualifiedNamespace": ns, "IsClosed": false, "TransportType": 0,
			"Identifier": ns + "-" + newGUID(),
		},
		"DeliveryCount":   strconv.Itoa(deliveryCount),
		"LockToken":       doubleEncode(lockToken),
		"ExpiresAtUtc":    exp.Format("2006-01-02T15:04:05"),
		"ExpiresAt":       exp.Format("2006-01-02T15:04:05") + "+00:00",
		"EnqueuedTimeUtc": enq.Format("2006-01-02T15:04:05"),
		"EnqueuedTime":    enq.Format("2006-01-02T15:04:05") + "+00:00",
		"MessageId":       doubleEncode(msg.MessageID),
		"SequenceNumber":  strconv.FormatInt(msg.SequenceNumber, 10),
		"sys":             sysMetadata(fn.Name, time.Now().UTC().Format("2006-01-02T15:04:05.0000000Z")),
	}
	for key, v := range map[string]string{
		"ContentType": msg.ContentType, "Subject": msg.Subject, "Label": msg.Subject, "CorrelationId": msg.CorrelationID,
		"SessionId": msg.SessionID, "ReplyTo": msg.ReplyTo, "To": msg.To, "PartitionKey": msg.PartitionKey,
	} {
		if v != "" {
			system[key] = doubleEncode(v)
		}
	}
	props := msg.ApplicationProperties
	if props == nil {
		props = map[string]any{}
	}
	system["ApplicationProperties"] = props
	system["UserProperties"] = props
	md := map[string]any{}
	for k, v := range system {
		md[k] = v
	}
	if !binary {
		// String mode: every top-level non-array property of a JSON body becomes a Metadata key
		// too; [infer] it replaces a system key of the same name (keys compare case-insensitively).
		for k, v := range bodyProperties(body) {
			for existing := range md {
				if strings.EqualFold(existing, k) {
					delete(md, existing)
				}
			}
			md[k] = v
		}
	}
	return marshalNoHTMLEscape(map[string]any{"Data": map[string]any{fn.Trigger.Name: data}, "Metadata": md})
}

// namespace returns the fully qualified namespace behind a connection setting.
func (s *Sim) namespace(connection string) string {
	if ns := s.env[connection+"__fullyQualifiedNamespace"]; ns != "" {
		return ns
	}
	for _, part := range strings.Split(s.env[connection], ";") {
		if k, v, ok := strings.Cut(part, "="); ok && strings.EqualFold(strings.TrimSpace(k), "Endpoint") {
			v = strings.TrimPrefix(strings.TrimSpace(v), "sb://")
			return strings.TrimSuffix(v, "/")
		}
	}
	return "hostsim.servicebus.windows.net"
}

// toUTF8String decodes bytes as .NET's Encoding.UTF8.GetString does (invalid → U+FFFD).
func toUTF8String(b []byte) string {
	if utf8.Valid(b) {
		return string(b)
	}
	var sb strings.Builder
	for len(b) > 0 {
		r, size := utf8.DecodeRune(b)
		sb.WriteRune(r)
		b = b[size:]
	}
	return sb.String()
}

// marshalNoHTMLEscape encodes v as JSON without escaping < > & (Newtonsoft does not).
func marshalNoHTMLEscape(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("encode envelope: %w", err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}
