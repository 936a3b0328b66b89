package functions

import (
	"encoding/json"
	"testing"
	"time"
)

func TestMetadataString(t *testing.T) {
	tests := []struct {
		raw     string
		want    string
		wantErr bool
	}{
		{`"\"abc\""`, "abc", false}, // double-encoded, the host's usual shape
		{`"abc"`, "abc", false},     // plain
		{`42`, "42", false},         // number
		{`820982911946154508123`, "820982911946154508123", false}, // big number keeps its digits
		{`true`, "true", false},
		{`null`, "", false},
		{``, "", false},
		{`"\"\""`, "", false},                        // double-encoded empty string
		{`"\"a\\\"b\""`, `a"b`, false},               // escaped quote inside
		{`"\"unterminated"`, `"unterminated`, false}, // starts with a quote but is no literal: kept
		{`{"a":1}`, "", true},
		{`[1]`, "", true},
		{`nope`, "", true},
	}
	for _, tc := range tests {
		got, err := MetadataString(json.RawMessage(tc.raw))
		if (err != nil) != tc.wantErr {
			t.Errorf("MetadataString(%s) err = %v, wantErr %v", tc.raw, err, tc.wantErr)
			continue
		}
		if got != tc.want {
			t.Errorf("MetadataString(%s) = %q, want %q", tc.raw, got, tc.want)
		}
	}
}

func TestMetadataInt(t *testing.T) {
	tests := []struct {
		raw     string
		want    int64
		wantErr bool
	}{
		{`"1"`, 1, false},
		{`"\"7\""`, 7, false},
		{`3`, 3, false},
		{`" 12 "`, 12, false},
		{`"9223372036854775807"`, 9223372036854775807, false},
		{`null`, 0, false},
		{`"x"`, 0, true},
		{`1.5`, 0, true},
		{`"9223372036854775808"`, 0, true},
	}
	for _, tc := range tests {
		got, err := MetadataInt(json.RawMessage(tc.raw))
		if (err != nil) != tc.wantErr || got != tc.want {
			t.Errorf("MetadataInt(%s) = %d, %v; want %d, wantErr %v", tc.raw, got, err, tc.want, tc.wantErr)
		}
	}
}

func TestParseTime(t *testing.T) {
	utc := func(s string) time.Time {
		tt, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatal(err)
		}
		return tt.UTC()
	}
	tests := []struct {
		in      string
		want    time.Time
		wantErr bool
	}{
		{"2025-11-20T10:15:30", utc("2025-11-20T10:15:30Z"), false},                  // EnqueuedTimeUtc
		{"2025-11-20T10:15:30+00:00", utc("2025-11-20T10:15:30Z"), false},            // EnqueuedTime
		{"2025-11-20T10:15:30.4412031Z", utc("2025-11-20T10:15:30.4412031Z"), false}, // sys.UtcNow
		{"2025-11-19T02:30:00.0046512+00:00", utc("2025-11-19T02:30:00.0046512Z"), false},
		{"2025-11-20T11:15:30+01:00", utc("2025-11-20T10:15:30Z"), false}, // converted to UTC
		{"2025-11-20T10:15:30.123", utc("2025-11-20T10:15:30.123Z"), false},
		{"2025-11-20T10:15:30+0000", utc("2025-11-20T10:15:30Z"), false},
		{"2025-11-20 10:15:30", utc("2025-11-20T10:15:30Z"), false},
		{"11/20/2025 10:15:30", utc("2025-11-20T10:15:30Z"), false},
		{`"2025-11-20T10:15:30"`, utc("2025-11-20T10:15:30Z"), false}, // double-encoded
		{"0001-01-01T00:00:00+00:00", time.Time{}, false},             // DateTime.MinValue
		{"0001-01-01T00:00:00", time.Time{}, false},
		{"0001-01-01T00:00:00+05:00", time.Time{}, false}, // MinValue on a host east of UTC
		{"", time.Time{}, true},
		{"yesterday", time.Time{}, true},
		{"2025-13-40T99:00:00Z", time.Time{}, true},
	}
	for _, tc := range tests {
		got, err := ParseTime(tc.in)
		if (err != nil) != tc.wantErr {
			t.Errorf("ParseTime(%q) err = %v, wantErr %v", tc.in, err, tc.wantErr)
			continue
		}
		if !got.Equal(tc.want) || (!got.IsZero() && got.Location() != time.UTC) {
			t.Errorf("ParseTime(%q) = %v, want %v (UTC)", tc.in, got, tc.want)
		}
		if tc.want.IsZero() && !got.IsZero() {
			t.Errorf("ParseTime(%q) = %v, want the zero time", tc.in, got)
		}
	}
}
