package functions

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// BodyMode tells DecodeServiceBusBody how the trigger is configured in function.json.
type BodyMode int

const (
	// ModeAuto: configuration unknown; detect (see DecodeServiceBusBody for the ambiguities).
	ModeAuto BodyMode = iota
	// ModeString: no dataType; the host sends the UTF-8 body as a double-encoded JSON string.
	ModeString
	// ModeBinary: "dataType": "binary"; the host sends base64 of the raw bytes. Byte-exact.
	ModeBinary
)

// BodyForm says which representation DecodeServiceBusBody found.
type BodyForm int

const (
	// FormDoubleEncoded: a JSON string whose content is a JSON string literal (string mode, §4).
	FormDoubleEncoded BodyForm = iota + 1
	// FormSingleEncoded: a JSON string whose content is the body text.
	FormSingleEncoded
	// FormBase64: a JSON string holding base64 of the body (dataType binary).
	FormBase64
	// FormJSONValue: a raw JSON object, array, number or bool; the body is that JSON text.
	FormJSONValue
)

// String returns the form's name.
func (f BodyForm) String() string {
	switch f {
	case FormDoubleEncoded:
		return "double-encoded"
	case FormSingleEncoded:
		return "single-encoded"
	case FormBase64:
		return "base64"
	case FormJSONValue:
		return "json-value"
	default:
		return "BodyForm(" + strconv.Itoa(int(f)) + ")"
	}
}

// ErrNoMessageBody is returned when the trigger value is absent or JSON null.
var ErrNoMessageBody = errors.New("service bus trigger value is empty or null")

// DecodeServiceBusBody returns the raw message body from the trigger's Data value (§4).
//
// The value may be (a) a JSON string holding a JSON string literal (string mode: the host
// JSON-encodes the UTF-8 body, then the envelope encodes that string again), (b) a JSON string
// holding the body text (single-encoded, seen in a third-party capture), (c) a JSON string
// holding base64 of the raw bytes (dataType binary), or (d) a raw JSON object/array/scalar.
//
// ModeBinary tries base64 first and is byte-exact; if the value is not base64 (the function was
// reconfigured to string mode) it falls back to the string rules. ModeString and ModeAuto unquote
// a JSON string literal first: base64 text never starts with a quote, so a double-encoded value
// is never mistaken for base64. After that:
//   - ModeString takes the text as the body (single-encoded);
//   - ModeAuto takes text that is a JSON object or array as the body (base64 never starts with
//     '{' or '['), then tries strict base64 and accepts it only when the decoded bytes are valid
//     JSON, and otherwise takes the text as the body.
//
// Ambiguities that remain, by design: in string/auto mode a single-encoded body whose text is
// itself a JSON string literal is read as double-encoded (one unquote too many); in auto mode a
// single-encoded text body that is valid base64 of JSON is decoded, and a base64 body whose bytes
// are not JSON is returned as its base64 text. Pass ModeBinary (and use "dataType": "binary")
// for exact bytes. In string mode the host has already replaced invalid UTF-8 with U+FFFD, so
// only UTF-8 bodies survive; numbers are never parsed here, so IDs above 2^53 are safe.
func DecodeServiceBusBody(value json.RawMessage, mode BodyMode) ([]byte, BodyForm, error) {
	value = bytes.TrimSpace(value)
	if len(value) == 0 || string(value) == "null" {
		return nil, 0, ErrNoMessageBody
	}
	if value[0] != '"' {
		if !json.Valid(value) {
			return nil, 0, errors.New("decode service bus body: invalid JSON value")
		}
		return append([]byte(nil), value...), FormJSONValue, nil
	}
	var s string
	if err := json.Unmarshal(value, &s); err != nil {
		return nil, 0, fmt.Errorf("decode service bus body: %w", err)
	}
	if mode == ModeBinary {
		if b, ok := decodeBase64Strict(s); ok {
			return b, FormBase64, nil
		}
	}
	if inner, ok := unquoteLiteral(s); ok {
		return []byte(inner), FormDoubleEncoded, nil
	}
	if mode == ModeAuto {
		if t := strings.TrimSpace(s); t != "" && (t[0] == '{' || t[0] == '[') {
			return []byte(s), FormSingleEncoded, nil
		}
		if b, ok := decodeBase64Strict(s); ok && json.Valid(b) {
			return b, FormBase64, nil
		}
	}
	return []byte(s), FormSingleEncoded, nil
}

// unquoteLiteral decodes s when it is exactly one JSON string literal.
func unquoteLiteral(s string) (string, bool) {
	if len(s) < 2 || s[0] != '"' || s[len(s)-1] != '"' {
		return "", false
	}
	var inner string
	if err := json.Unmarshal([]byte(s), &inner); err != nil {
		return "", false
	}
	return inner, true
}

// decodeBase64Strict decodes standard padded base64 only (what .NET writes for byte[]).
func decodeBase64Strict(s string) ([]byte, bool) {
	b, err := base64.StdEncoding.Strict().DecodeString(s)
	if err != nil {
		return nil, false
	}
	return b, true
}

// ServiceBusMetadata is the typed view of a Service Bus invocation's Metadata (§4). Decoding is
// lenient: strings may be double-encoded or plain, counters strings or numbers, times with or
// without an offset. Absent keys (the host omits null ones) stay zero.
type ServiceBusMetadata struct {
	// DeliveryCount is 1 on the first delivery.
	DeliveryCount int64
	// MessageID is the message id (not unquoted further than the double encoding).
	MessageID string
	// SequenceNumber is the broker's sequence number.
	SequenceNumber int64
	// EnqueuedTimeUTC is when the broker accepted the message (whole seconds, UTC).
	EnqueuedTimeUTC time.Time
	// ExpiresAtUTC is when the message expires (whole seconds, UTC).
	ExpiresAtUTC time.Time
	// LockToken identifies this delivery's lock.
	LockToken string
	// ContentType, Subject, CorrelationID, SessionID, ReplyTo, To and PartitionKey are the
	// message's system properties.
	ContentType   string
	Subject       string
	CorrelationID string
	SessionID     string
	ReplyTo       string
	To            string
	PartitionKey  string
	// ApplicationProperties holds the user properties with JSON types; numbers are json.Number
	// so large integers stay exact. Falls back to UserProperties.
	ApplicationProperties map[string]any
	// MethodName is Metadata.sys.MethodName, the function name.
	MethodName string
	// RetryContext is set only when a host retry policy applies.
	RetryContext *RetryContext
}

// ApplicationProperty returns an application property as text (numbers keep their digits).
func (m ServiceBusMetadata) ApplicationProperty(name string) (string, bool) {
	v, ok := m.ApplicationProperties[name]
	if !ok {
		for k, val := range m.ApplicationProperties {
			if strings.EqualFold(k, name) {
				v, ok = val, true
				break
			}
		}
	}
	if !ok || v == nil {
		return "", false
	}
	switch t := v.(type) {
	case string:
		return t, true
	case json.Number:
		return t.String(), true
	case bool:
		return strconv.FormatBool(t), true
	default:
		b, err := json.Marshal(t)
		if err != nil {
			return "", false
		}
		return string(b), true
	}
}

// DecodeServiceBusMetadata decodes the Service Bus keys of an invocation's Metadata. It fills
// every field it can and returns an error naming each present key it could not decode.
func DecodeServiceBusMetadata(md map[string]json.RawMessage) (ServiceBusMetadata, error) {
	var out ServiceBusMetadata
	var errs []error
	str := func(key string, dst *string) {
		if v, ok := lookupFold(md, key); ok {
			s, err := MetadataString(v)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", key, err))
				return
			}
			*dst = s
		}
	}
	num := func(key string, dst *int64) {
		if v, ok := lookupFold(md, key); ok {
			n, err := MetadataInt(v)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", key, err))
				return
			}
			*dst = n
		}
	}
	tm := func(dst *time.Time, keys ...string) {
		for _, key := range keys {
			if v, ok := lookupFold(md, key); ok {
				t, err := MetadataTime(v)
				if err != nil {
					errs = append(errs, fmt.Errorf("%s: %w", key, err))
					continue
				}
				*dst = t
				return
			}
		}
	}
	num("DeliveryCount", &out.DeliveryCount)
	num("SequenceNumber", &out.SequenceNumber)
	str("MessageId", &out.MessageID)
	str("LockToken", &out.LockToken)
	str("ContentType", &out.ContentType)
	str("Subject", &out.Subject)
	if out.Subject == "" {
		str("Label", &out.Subject)
	}
	str("CorrelationId", &out.CorrelationID)
	str("SessionId", &out.SessionID)
	str("ReplyTo", &out.ReplyTo)
	str("To", &out.To)
	str("PartitionKey", &out.PartitionKey)
	tm(&out.EnqueuedTimeUTC, "EnqueuedTimeUtc", "EnqueuedTime")
	tm(&out.ExpiresAtUTC, "ExpiresAtUtc", "ExpiresAt")
	for _, key := range []string{"ApplicationProperties", "UserProperties"} {
		v, ok := lookupFold(md, key)
		if !ok {
			continue
		}
		props, err := decodeProperties(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", key, err))
			continue
		}
		out.ApplicationProperties = props
		break
	}
	if v, ok := lookupFold(md, "sys"); ok {
		var sys map[string]json.RawMessage
		if json.Unmarshal(v, &sys) == nil {
			if mn, ok := lookupFold(sys, "MethodName"); ok {
				out.MethodName, _ = MetadataString(mn)
			}
		}
	}
	rc, err := decodeRetryContextFrom(md)
	if err != nil {
		errs = append(errs, err)
	}
	out.RetryContext = rc
	if len(errs) > 0 {
		return out, fmt.Errorf("decode service bus metadata: %w", errors.Join(errs...))
	}
	return out, nil
}

// decodeProperties decodes an ApplicationProperties object (or a string holding one) with
// json.Number for numbers.
func decodeProperties(v json.RawMessage) (map[string]any, error) {
	v = bytes.TrimSpace(v)
	if len(v) == 0 || string(v) == "null" {
		return nil, nil
	}
	if v[0] == '"' {
		var s string
		if err := json.Unmarshal(v, &s); err != nil {
			return nil, err
		}
		v = json.RawMessage(strings.TrimSpace(unquoteJSONString(s)))
		if len(v) == 0 {
			return nil, nil
		}
	}
	dec := json.NewDecoder(bytes.NewReader(v))
	dec.UseNumber()
	var props map[string]any
	if err := dec.Decode(&props); err != nil {
		return nil, err
	}
	return props, nil
}

// ServiceBusMessage is a decoded Service Bus invocation.
type ServiceBusMessage struct {
	// Body is the raw message body.
	Body []byte
	// Form is the representation the body arrived in.
	Form BodyForm
	// Metadata is the decoded Metadata.
	Metadata ServiceBusMetadata
}

// ServiceBusMessage decodes the Service Bus trigger binding (name "" = the only Data entry) and
// the Metadata. A Metadata decoding error is returned together with the message (whose Body is
// valid), so the caller can decide; a body error returns a zero message.
func (inv *Invocation) ServiceBusMessage(binding string, mode BodyMode) (ServiceBusMessage, error) {
	raw, err := inv.Binding(binding)
	if err != nil {
		return ServiceBusMessage{}, err
	}
	body, form, err := DecodeServiceBusBody(raw, mode)
	if err != nil {
		return ServiceBusMessage{}, err
	}
	md, err := DecodeServiceBusMetadata(inv.Metadata)
	return ServiceBusMessage{Body: body, Form: form, Metadata: md}, err
}
