package functions

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// errNotScalar is returned when a Metadata value that should be a scalar is an object or array.
var errNotScalar = errors.New("not a scalar JSON value")

// MetadataString decodes a scalar Metadata value leniently. The host JSON-encodes every string a
// second time (§2, §4), so `"\"abc\""` is the usual shape; `"abc"`, a bare number (42) or a bool
// are accepted too and returned as their text. JSON null or an empty value gives "".
//
// Ambiguity: a value whose real content starts and ends with a double quote (a string that is
// itself a JSON string literal) is indistinguishable from a double-encoded one and is unquoted.
func MetadataString(raw json.RawMessage) (string, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return "", nil
	}
	switch raw[0] {
	case '"':
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return "", fmt.Errorf("decode metadata string: %w", err)
		}
		return unquoteJSONString(s), nil
	case '{', '[':
		return "", errNotScalar
	default:
		if !json.Valid(raw) {
			return "", fmt.Errorf("decode metadata scalar %.40q: invalid JSON", raw)
		}
		return string(raw), nil
	}
}

// unquoteJSONString removes one level of JSON string encoding when s is a JSON string literal
// ("\"abc\"" → "abc"), and returns s unchanged otherwise.
func unquoteJSONString(s string) string {
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		var inner string
		if err := json.Unmarshal([]byte(s), &inner); err == nil {
			return inner
		}
	}
	return s
}

// MetadataInt decodes an integer Metadata value leniently: "1", "\"1\"", 1 and " 1 " all give 1.
// An absent or null value gives 0 and no error. Integers are parsed as int64, never via float64.
func MetadataInt(raw json.RawMessage) (int64, error) {
	s, err := MetadataString(raw)
	if err != nil {
		return 0, err
	}
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("decode metadata integer %.40q: %w", s, err)
	}
	return n, nil
}

// MetadataBool decodes a boolean leniently: true, "true", "True", "\"true\"". Absent or null is false.
func MetadataBool(raw json.RawMessage) (bool, error) {
	s, err := MetadataString(raw)
	if err != nil {
		return false, err
	}
	s = strings.TrimSpace(s)
	if s == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(s)
	if err != nil {
		return false, fmt.Errorf("decode metadata bool %.40q: %w", s, err)
	}
	return b, nil
}

// MetadataTime decodes a time Metadata value with ParseTime. Absent, null or "" give the zero time.
func MetadataTime(raw json.RawMessage) (time.Time, error) {
	s, err := MetadataString(raw)
	if err != nil {
		return time.Time{}, err
	}
	if strings.TrimSpace(s) == "" {
		return time.Time{}, nil
	}
	return ParseTime(s)
}

// timeLayouts are tried in order by ParseTime. Go accepts any number of fractional-second digits
// after the seconds field when parsing, even if the layout has none.
var timeLayouts = []string{
	time.RFC3339Nano,                      // 2025-11-20T10:15:30.4412031Z, ...+00:00
	"2006-01-02T15:04:05.999999999",       // EnqueuedTimeUtc: no offset (taken as UTC)
	"2006-01-02T15:04:05.999999999Z0700",  // +0000 without a colon
	"2006-01-02 15:04:05.999999999Z07:00", // space instead of T
	"2006-01-02 15:04:05.999999999",
	"01/02/2006 15:04:05", // .NET DateTime.ToString() with the invariant/en-US culture
	"1/2/2006 3:04:05 PM", // en-US with AM/PM
	"01/02/2006 15:04:05 -07:00",
}

// ParseTime parses the timestamps the host sends, leniently: RFC 3339 with Z or an offset
// (+00:00), with or without fractional seconds (up to 9 digits; .NET sends 7), without any
// offset (taken as UTC, like EnqueuedTimeUtc), and a double-encoded string ("\"...\"").
// The result is always in UTC. .NET's DateTime.MinValue ("0001-01-01T00:00:00+00:00", used for
// a timer's first run) and anything else in year 1 or earlier is returned as the zero time.Time,
// so IsZero reports it.
func ParseTime(s string) (time.Time, error) {
	s = strings.TrimSpace(unquoteJSONString(strings.TrimSpace(s)))
	if s == "" {
		return time.Time{}, errors.New("parse time: empty string")
	}
	for _, layout := range timeLayouts {
		t, err := time.Parse(layout, s)
		if err != nil {
			continue
		}
		t = t.UTC()
		if t.Year() <= 1 {
			return time.Time{}, nil
		}
		return t, nil
	}
	return time.Time{}, fmt.Errorf("parse time %.60q: unrecognised format", s)
}
