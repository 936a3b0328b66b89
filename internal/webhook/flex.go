package webhook

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// flexString accepts a JSON string, a number (kept as its exact literal text), a boolean or
// null (empty). Shopify ids arrive as numbers above 2^53 in webhooks and as strings elsewhere.
type flexString string

func (f *flexString) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case bytes.Equal(b, []byte("null")):
		*f = ""
	case len(b) > 1 && b[0] == '"' && bytes.IndexByte(b, '\\') < 0 && utf8.Valid(b[1:len(b)-1]):
		*f = flexString(b[1 : len(b)-1]) // no escapes: the text is the value (the common case)
	case len(b) > 0 && b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*f = flexString(s)
	case len(b) > 0 && (b[0] == '{' || b[0] == '['):
		return fmt.Errorf("expected a scalar, got %.20s", b)
	default:
		*f = flexString(b) // number or boolean literal, exact
	}
	return nil
}

// flexInt accepts an integer as a number or a string; null and "" are 0.
type flexInt int64

func (f *flexInt) UnmarshalJSON(b []byte) error {
	var s flexString
	if err := s.UnmarshalJSON(b); err != nil {
		return err
	}
	t := strings.TrimSpace(string(s))
	if t == "" {
		*f = 0
		return nil
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil {
		// "2.0" from a sloppy producer: accept an integral decimal.
		if i, ok := strings.CutSuffix(t, ".0"); ok {
			if n, err = strconv.ParseInt(i, 10, 64); err == nil {
				*f = flexInt(n)
				return nil
			}
		}
		return fmt.Errorf("not an integer: %q", t)
	}
	*f = flexInt(n)
	return nil
}

// flexBool accepts true/false, "true"/"false", 1/0 and null (false).
type flexBool bool

func (f *flexBool) UnmarshalJSON(b []byte) error {
	var s flexString
	if err := s.UnmarshalJSON(b); err != nil {
		return err
	}
	switch strings.ToLower(strings.TrimSpace(string(s))) {
	case "true", "1":
		*f = true
	case "false", "0", "":
		*f = false
	default:
		return fmt.Errorf("not a boolean: %q", string(s))
	}
	return nil
}

// flexDecimal accepts money as a decimal string, a JSON number (exact literal) or ""/null, and
// keeps it as a decimal string ("" when absent or unreadable: a malformed price must not fail the
// whole order). It never goes through float64.
type flexDecimal string

func (f *flexDecimal) UnmarshalJSON(b []byte) error {
	var s flexString
	if err := s.UnmarshalJSON(b); err != nil {
		return err
	}
	t := strings.TrimSpace(string(s))
	if t == "" {
		*f = ""
		return nil
	}
	if !isDecimal(t) {
		*f = ""
		return nil
	}
	*f = flexDecimal(t)
	return nil
}

// isDecimal reports whether s is [-]digits[.digits] (no exponent, which Shopify never sends
// for money).
func isDecimal(s string) bool {
	s = strings.TrimPrefix(s, "-")
	intPart, frac, hasDot := strings.Cut(s, ".")
	if intPart == "" || !allDigits(intPart) {
		return false
	}
	return !hasDot || (frac != "" && allDigits(frac))
}

func allDigits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}
