package functions

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// The seed corpora live in testdata/fuzz/<FuzzName>/ (they include the shared fixtures); plain
// `go test` runs them, `go test -fuzz=FuzzName` explores further.

func FuzzParseInvocation(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		inv, err := ParseInvocation(data)
		if err != nil {
			return
		}
		if inv.Data == nil || inv.Metadata == nil {
			t.Fatal("nil maps")
		}
		_ = inv.Sys()
		_, _ = inv.RetryContext()
	})
}

func FuzzDecodeHTTPRequest(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		req, err := DecodeHTTPRequest(data)
		if err != nil {
			return
		}
		if req.BodyExact != (req.BodyEncoding == BodyBase64) {
			t.Fatalf("BodyExact=%v with encoding %v", req.BodyExact, req.BodyEncoding)
		}
		if req.Header == nil || req.Query == nil || req.Params == nil {
			t.Fatal("nil maps")
		}
		if r, err := req.NewRequest(context.Background()); err == nil && r.ContentLength != int64(len(req.Body)) {
			t.Fatalf("ContentLength %d for %d body bytes", r.ContentLength, len(req.Body))
		}
	})
}

// hostHTTPEnvelope builds Data.req the way the host does (§2): base64 for octet-stream and
// multipart, otherwise UTF-8 text with a BOM stripped and invalid bytes replaced.
func hostHTTPEnvelope(t *testing.T, body []byte, contentType string) []byte {
	req := map[string]any{
		"Url": "http://localhost:7071/api/x", "Method": "POST", "Query": map[string]string{},
		"Headers": map[string][]string{"Content-Type": {contentType}},
	}
	if len(body) > 0 {
		if isBase64MediaType(contentType) {
			req["Body"] = base64.StdEncoding.EncodeToString(body)
		} else {
			text := strings.TrimPrefix(string(body), "\uFEFF")
			req["Body"] = strings.ToValidUTF8(text, "\uFFFD")
		}
	}
	b, err := json.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func FuzzHTTPBodyRoundTrip(f *testing.F) {
	f.Fuzz(func(t *testing.T, body []byte, contentType string) {
		if !utf8.ValidString(contentType) {
			return
		}
		req, err := DecodeHTTPRequest(hostHTTPEnvelope(t, body, contentType))
		if err != nil {
			t.Fatalf("decode host envelope: %v", err)
		}
		switch {
		case len(body) == 0:
			if req.BodyEncoding != BodyNone || len(req.Body) != 0 {
				t.Fatalf("empty body decoded as %v %q", req.BodyEncoding, req.Body)
			}
		case isBase64MediaType(contentType):
			if !req.BodyExact || !bytes.Equal(req.Body, body) {
				t.Fatalf("base64 body not exact: %q vs %q", req.Body, body)
			}
		default:
			if req.BodyExact || !utf8.Valid(req.Body) {
				t.Fatalf("text body marked exact or not UTF-8")
			}
			if utf8.Valid(body) && !bytes.HasPrefix(body, []byte("\uFEFF")) && !bytes.Equal(req.Body, body) {
				t.Fatalf("valid UTF-8 body changed: %q vs %q", req.Body, body)
			}
		}
	})
}

func FuzzDecodeServiceBusBody(f *testing.F) {
	f.Fuzz(func(t *testing.T, value []byte, mode uint8) {
		m := BodyMode(mode % 3)
		b1, form1, err1 := DecodeServiceBusBody(value, m)
		b2, form2, err2 := DecodeServiceBusBody(value, m)
		if (err1 == nil) != (err2 == nil) || form1 != form2 || !bytes.Equal(b1, b2) {
			t.Fatal("not deterministic")
		}
		if err1 == nil && form1 == 0 {
			t.Fatal("success without a form")
		}
	})
}

func FuzzServiceBusRoundTrip(f *testing.F) {
	f.Fuzz(func(t *testing.T, body []byte) {
		b64, _ := json.Marshal(base64.StdEncoding.EncodeToString(body))
		got, _, err := DecodeServiceBusBody(b64, ModeBinary)
		if err != nil || !bytes.Equal(got, body) {
			t.Fatalf("binary mode: %q, %v; want %q", got, err, body)
		}
		if json.Valid(body) {
			if got, _, err := DecodeServiceBusBody(b64, ModeAuto); err != nil || !bytes.Equal(got, body) {
				t.Fatalf("auto mode, base64 JSON: %q, %v", got, err)
			}
		}
		if !utf8.Valid(body) {
			return // string mode carries only UTF-8 (the host replaces invalid bytes)
		}
		once, _ := json.Marshal(string(body))
		twice, _ := json.Marshal(string(once))
		for _, m := range []BodyMode{ModeString, ModeAuto, ModeBinary} {
			if got, form, err := DecodeServiceBusBody(twice, m); err != nil || !bytes.Equal(got, body) || form != FormDoubleEncoded {
				t.Fatalf("mode %d, double-encoded: %q (%v), %v; want %q", m, got, form, err, body)
			}
		}
	})
}

func FuzzDecodeTimerInfo(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		ti, err := DecodeTimerInfo(data)
		if err != nil || ti.ScheduleStatus == nil {
			return
		}
		for _, tm := range []time.Time{ti.ScheduleStatus.Last, ti.ScheduleStatus.Next, ti.ScheduleStatus.LastUpdated} {
			if !tm.IsZero() && tm.Location() != time.UTC {
				t.Fatalf("time %v not UTC", tm)
			}
		}
	})
}

func FuzzParseTime(f *testing.F) {
	f.Fuzz(func(t *testing.T, s string) {
		tm, err := ParseTime(s)
		if err != nil {
			return
		}
		if !tm.IsZero() && (tm.Location() != time.UTC || tm.Year() <= 1) {
			t.Fatalf("ParseTime(%q) = %v", s, tm)
		}
	})
}
