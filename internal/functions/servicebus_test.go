package functions

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"testing"
	"time"
)

// hostDoubleEncode encodes body the way the host does in string mode (§4): the UTF-8 text is
// JSON-serialised, and the envelope serialises that string again.
func hostDoubleEncode(t testing.TB, body []byte) json.RawMessage {
	t.Helper()
	once, err := json.Marshal(string(body))
	if err != nil {
		t.Fatal(err)
	}
	twice, err := json.Marshal(string(once))
	if err != nil {
		t.Fatal(err)
	}
	return twice
}

func hostBase64(t testing.TB, body []byte) json.RawMessage {
	t.Helper()
	b, err := json.Marshal(base64.StdEncoding.EncodeToString(body))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func jsonString(t testing.TB, s string) json.RawMessage {
	t.Helper()
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestDecodeServiceBusBodyFixtures(t *testing.T) {
	want := []byte(`{"orderId":"ORD-1001","customerId":"C-42","total":129.95,"currency":"EUR","items":[{"sku":"SKU-1","qty":2}],"shipping":{"country":"DE","express":false}}`)
	tests := []struct {
		file     string
		mode     BodyMode
		wantForm BodyForm
	}{
		{"servicebus.request.json", ModeString, FormDoubleEncoded},
		{"servicebus.request.json", ModeAuto, FormDoubleEncoded},
		{"servicebus.request.json", ModeBinary, FormDoubleEncoded}, // reconfigured function: falls back
		{"servicebus-binary.request.json", ModeBinary, FormBase64},
		{"servicebus-binary.request.json", ModeAuto, FormBase64},
	}
	for _, tc := range tests {
		inv, err := ParseInvocation(readFixture(t, tc.file))
		if err != nil {
			t.Fatal(err)
		}
		msg, err := inv.ServiceBusMessage("orderMsg", tc.mode)
		if err != nil {
			t.Fatalf("%s mode %d: %v", tc.file, tc.mode, err)
		}
		if !bytes.Equal(msg.Body, want) || msg.Form != tc.wantForm {
			t.Errorf("%s mode %d: body %s form %v, want form %v", tc.file, tc.mode, msg.Body, msg.Form, tc.wantForm)
		}
		md := msg.Metadata
		if md.DeliveryCount != 1 || md.MessageID != "b7e1c2d3f4a54b6c8d9e0f1a2b3c4d5e" || md.SequenceNumber != 42 ||
			md.LockToken != "8a3d6f0e-2b4c-4e9a-b1d7-0c5e9f4a7b21" || md.ContentType != "application/json" ||
			md.Subject != "order.created" || md.CorrelationID != "checkout-7781" || md.MethodName != "ProcessOrder" {
			t.Errorf("%s metadata = %+v", tc.file, md)
		}
		if !md.EnqueuedTimeUTC.Equal(time.Date(2025, 11, 20, 10, 15, 30, 0, time.UTC)) ||
			!md.ExpiresAtUTC.Equal(time.Date(2025, 12, 4, 10, 15, 30, 0, time.UTC)) {
			t.Errorf("times = %v / %v", md.EnqueuedTimeUTC, md.ExpiresAtUTC)
		}
		if v, ok := md.ApplicationProperty("tenant"); !ok || v != "acme" {
			t.Errorf("tenant = %q, %v", v, ok)
		}
		if v, ok := md.ApplicationProperty("SCHEMAVERSION"); !ok || v != "2" {
			t.Errorf("schemaVersion = %q, %v", v, ok)
		}
		if md.RetryContext != nil {
			t.Errorf("RetryContext = %+v", md.RetryContext)
		}
	}
}

func TestDecodeServiceBusBodyForms(t *testing.T) {
	jsonBody := []byte(`{"orderId":"820982911946154508123","id":820982911946154508123}`)
	textBody := []byte("hello")
	b64LookAlike := []byte("abcd") // valid strict base64 of 3 bytes that are not JSON
	tests := []struct {
		name     string
		value    json.RawMessage
		mode     BodyMode
		want     []byte
		wantForm BodyForm
	}{
		{"double-encoded JSON (string)", hostDoubleEncode(t, jsonBody), ModeString, jsonBody, FormDoubleEncoded},
		{"double-encoded JSON (auto)", hostDoubleEncode(t, jsonBody), ModeAuto, jsonBody, FormDoubleEncoded},
		{"single-encoded JSON (string)", jsonString(t, string(jsonBody)), ModeString, jsonBody, FormSingleEncoded},
		{"single-encoded JSON (auto)", jsonString(t, string(jsonBody)), ModeAuto, jsonBody, FormSingleEncoded},
		{"single-encoded JSON (binary falls back)", jsonString(t, string(jsonBody)), ModeBinary, jsonBody, FormSingleEncoded},
		{"base64 JSON (binary)", hostBase64(t, jsonBody), ModeBinary, jsonBody, FormBase64},
		{"base64 JSON (auto)", hostBase64(t, jsonBody), ModeAuto, jsonBody, FormBase64},
		{"base64 JSON (string mode keeps the text)", hostBase64(t, jsonBody), ModeString, []byte(base64.StdEncoding.EncodeToString(jsonBody)), FormSingleEncoded},
		{"raw JSON object", json.RawMessage(jsonBody), ModeAuto, jsonBody, FormJSONValue},
		{"raw JSON object (binary mode)", json.RawMessage(jsonBody), ModeBinary, jsonBody, FormJSONValue},
		{"raw number keeps digits", json.RawMessage(`820982911946154508123`), ModeAuto, []byte(`820982911946154508123`), FormJSONValue},
		{"double-encoded JSON string literal body", hostDoubleEncode(t, []byte(`"quoted"`)), ModeString, []byte(`"quoted"`), FormDoubleEncoded},
		{"double-encoded plain text", hostDoubleEncode(t, textBody), ModeAuto, textBody, FormDoubleEncoded},
		{"double-encoded base64 look-alike stays text", hostDoubleEncode(t, b64LookAlike), ModeAuto, b64LookAlike, FormDoubleEncoded},
		{"double-encoded base64 look-alike in binary mode is ... text", hostDoubleEncode(t, b64LookAlike), ModeBinary, b64LookAlike, FormDoubleEncoded},
		// Documented ambiguities:
		{"auto: single-encoded base64 look-alike that is not JSON stays text", jsonString(t, "abcd"), ModeAuto, []byte("abcd"), FormSingleEncoded},
		{"binary: single-encoded base64 look-alike is decoded", jsonString(t, "abcd"), ModeBinary, []byte{0x69, 0xb7, 0x1d}, FormBase64},
		{"auto: base64 of non-JSON bytes stays base64 text", hostBase64(t, []byte{1, 2, 3}), ModeAuto, []byte("AQID"), FormSingleEncoded},
		{"binary: base64 of non-JSON bytes is exact", hostBase64(t, []byte{1, 2, 3}), ModeBinary, []byte{1, 2, 3}, FormBase64},
		{"string: single-encoded JSON string literal loses its quotes", jsonString(t, `"quoted"`), ModeString, []byte("quoted"), FormDoubleEncoded},
		{"empty body double-encoded", hostDoubleEncode(t, nil), ModeString, []byte{}, FormDoubleEncoded},
		{"empty body base64", hostBase64(t, nil), ModeBinary, []byte{}, FormBase64},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, form, err := DecodeServiceBusBody(tc.value, tc.mode)
			if err != nil {
				t.Fatalf("DecodeServiceBusBody: %v", err)
			}
			if !bytes.Equal(got, tc.want) || form != tc.wantForm {
				t.Errorf("got %q (%v), want %q (%v)", got, form, tc.want, tc.wantForm)
			}
		})
	}
}

func TestDecodeServiceBusBodyErrors(t *testing.T) {
	for _, v := range []string{``, `null`, ` null `} {
		if _, _, err := DecodeServiceBusBody(json.RawMessage(v), ModeAuto); !errors.Is(err, ErrNoMessageBody) {
			t.Errorf("%q: err = %v, want ErrNoMessageBody", v, err)
		}
	}
	for _, v := range []string{`"unterminated`, `{"a":`, `nope`} {
		if _, _, err := DecodeServiceBusBody(json.RawMessage(v), ModeAuto); err == nil {
			t.Errorf("%q: want error", v)
		}
	}
}

func TestDecodeServiceBusMetadataVariants(t *testing.T) {
	tests := []struct {
		name    string
		md      string
		check   func(t *testing.T, md ServiceBusMetadata)
		wantErr bool
	}{
		{"plain strings and numbers", `{"DeliveryCount":3,"MessageId":"abc","SequenceNumber":7,"EnqueuedTimeUtc":"2025-11-20T10:15:30Z"}`,
			func(t *testing.T, md ServiceBusMetadata) {
				if md.DeliveryCount != 3 || md.MessageID != "abc" || md.SequenceNumber != 7 || md.EnqueuedTimeUTC.Hour() != 10 {
					t.Errorf("%+v", md)
				}
			}, false},
		{"double-encoded counters", `{"DeliveryCount":"\"2\"","SequenceNumber":"\"9223372036854775807\""}`,
			func(t *testing.T, md ServiceBusMetadata) {
				if md.DeliveryCount != 2 || md.SequenceNumber != 9223372036854775807 {
					t.Errorf("%+v", md)
				}
			}, false},
		{"lowercase keys, Label only, UserProperties only", `{"deliverycount":"4","label":"\"x\"","UserProperties":{"big":820982911946154508123}}`,
			func(t *testing.T, md ServiceBusMetadata) {
				v, _ := md.ApplicationProperty("big")
				if md.DeliveryCount != 4 || md.Subject != "x" || v != "820982911946154508123" {
					t.Errorf("%+v big=%s", md, v)
				}
			}, false},
		{"EnqueuedTime with offset when Utc missing", `{"EnqueuedTime":"2025-11-20T11:15:30+01:00"}`,
			func(t *testing.T, md ServiceBusMetadata) {
				if !md.EnqueuedTimeUTC.Equal(time.Date(2025, 11, 20, 10, 15, 30, 0, time.UTC)) {
					t.Errorf("%v", md.EnqueuedTimeUTC)
				}
			}, false},
		{"retry context", `{"RetryContext":{"RetryCount":"1","MaxRetryCount":3,"Exception":{"Message":"boom"}}}`,
			func(t *testing.T, md ServiceBusMetadata) {
				if md.RetryContext == nil || md.RetryContext.RetryCount != 1 || md.RetryContext.ExceptionMessage() != "boom" {
					t.Errorf("%+v", md.RetryContext)
				}
			}, false},
		{"bad delivery count is reported, the rest decoded", `{"DeliveryCount":"many","MessageId":"\"m\""}`,
			func(t *testing.T, md ServiceBusMetadata) {
				if md.MessageID != "m" || md.DeliveryCount != 0 {
					t.Errorf("%+v", md)
				}
			}, true},
		{"empty", `{}`, func(t *testing.T, md ServiceBusMetadata) {
			if md.DeliveryCount != 0 || md.ApplicationProperties != nil {
				t.Errorf("%+v", md)
			}
		}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var m map[string]json.RawMessage
			if err := json.Unmarshal([]byte(tc.md), &m); err != nil {
				t.Fatal(err)
			}
			md, err := DecodeServiceBusMetadata(m)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tc.wantErr)
			}
			tc.check(t, md)
		})
	}
}
