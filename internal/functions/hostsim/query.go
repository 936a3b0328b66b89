package hostsim

import (
	"encoding/json"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// queryPair is one parsed query parameter with all its values, in first-appearance order.
type queryPair struct {
	Key    string
	Values []string
}

// parseQuery parses a raw query string the way ASP.NET Core's QueryHelpers does: split on '&',
// skip empty segments, split each on the first '=', '+' means space, percent-decoding is lenient
// (an invalid escape stays literal). Keys are case-insensitive: repeated keys, in any case,
// collect their values under the first spelling.
func parseQuery(raw string) []queryPair {
	raw = strings.TrimPrefix(raw, "?")
	var pairs []queryPair
	index := map[string]int{}
	for _, seg := range strings.Split(raw, "&") {
		if seg == "" {
			continue
		}
		k, v, _ := strings.Cut(seg, "=")
		k, v = lenientUnescape(k), lenientUnescape(v)
		lk := strings.ToLower(k)
		if i, ok := index[lk]; ok {
			pairs[i].Values = append(pairs[i].Values, v)
			continue
		}
		index[lk] = len(pairs)
		pairs = append(pairs, queryPair{Key: k, Values: []string{v}})
	}
	return pairs
}

// lenientUnescape decodes '+' and %XX escapes, keeping invalid escapes as they are.
func lenientUnescape(s string) string {
	if !strings.ContainsAny(s, "+%") {
		return s
	}
	var b []byte
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '+':
			b = append(b, ' ')
		case c == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]):
			b = append(b, unhex(s[i+1])<<4|unhex(s[i+2]))
			i += 2
		default:
			b = append(b, c)
		}
	}
	if !utf8.Valid(b) {
		return strings.ToValidUTF8(string(b), "\uFFFD")
	}
	return string(b)
}

func isHex(c byte) bool {
	return ('0' <= c && c <= '9') || ('a' <= c && c <= 'f') || ('A' <= c && c <= 'F')
}

func unhex(c byte) byte {
	switch {
	case '0' <= c && c <= '9':
		return c - '0'
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10
	default:
		return c - 'A' + 10
	}
}

// joined returns the value the host sees for a key: StringValues.ToString() joins with ",".
func (p queryPair) joined() string { return strings.Join(p.Values, ",") }

// rebuildQuery rebuilds a query string from parsed pairs the way the host does when forwarding
// (§3): QueryHelpers.AddQueryString over {key: values joined with ","}, each key and value
// encoded with UrlEncoder.Default. Returns "" for no pairs (no '?').
func rebuildQuery(pairs []queryPair) string {
	var b strings.Builder
	for i, p := range pairs {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(dotnetURLEncode(p.Key))
		b.WriteByte('=')
		b.WriteString(dotnetURLEncode(p.joined()))
	}
	return b.String()
}

// dotnetURLEncode mirrors System.Text.Encodings.Web.UrlEncoder.Default: ASCII letters, digits
// and !$()*,-.;@_~ pass through; everything else (space, + & = / ? # % " ' < > etc. and all
// non-ASCII) becomes %XX of its UTF-8 bytes, upper-case hex.
func dotnetURLEncode(s string) string {
	const hexdigits = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') || ('0' <= c && c <= '9') || strings.IndexByte("!$()*,-.;@_~", c) >= 0 {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hexdigits[c>>4])
		b.WriteByte(hexdigits[c&15])
	}
	return b.String()
}

// readBodyAsText mirrors the host reading a request body with a StreamReader (UTF-8, BOM
// detection): a UTF-8 BOM is stripped, a UTF-16 BOM switches to UTF-16, invalid UTF-8 bytes
// become U+FFFD (one per invalid byte; .NET replaces per maximal invalid subsequence, so runs of
// broken multi-byte sequences can differ in the count of U+FFFD).
func readBodyAsText(body []byte) string {
	switch {
	case len(body) >= 3 && body[0] == 0xEF && body[1] == 0xBB && body[2] == 0xBF:
		body = body[3:]
	case len(body) >= 2 && body[0] == 0xFF && body[1] == 0xFE:
		return decodeUTF16(body[2:], false)
	case len(body) >= 2 && body[0] == 0xFE && body[1] == 0xFF:
		return decodeUTF16(body[2:], true)
	}
	if utf8.Valid(body) {
		return string(body)
	}
	var b strings.Builder
	for len(body) > 0 {
		r, size := utf8.DecodeRune(body)
		b.WriteRune(r) // RuneError for an invalid byte
		body = body[size:]
	}
	return b.String()
}

func decodeUTF16(b []byte, bigEndian bool) string {
	u := make([]uint16, 0, len(b)/2)
	for i := 0; i+1 < len(b); i += 2 {
		if bigEndian {
			u = append(u, uint16(b[i])<<8|uint16(b[i+1]))
		} else {
			u = append(u, uint16(b[i+1])<<8|uint16(b[i]))
		}
	}
	s := string(utf16.Decode(u))
	if len(b)%2 == 1 {
		s += "\uFFFD"
	}
	return s
}

// jsonString encodes s as a JSON string literal without HTML escaping (Newtonsoft does not
// escape < > &).
func jsonString(s string) string {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s) // encoding a string cannot fail
	return strings.TrimSuffix(b.String(), "\n")
}

// doubleEncode is what the host does to every string in Data and Metadata (§2, §4): the string
// is JSON-serialised and the result is a string again, so "abc" travels as "\"abc\"".
func doubleEncode(s string) json.RawMessage {
	return json.RawMessage(jsonString(jsonString(s)))
}
