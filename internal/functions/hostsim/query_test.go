package hostsim

import (
	"encoding/json"
	"reflect"
	"testing"
)

func TestParseQuery(t *testing.T) {
	tests := []struct {
		raw  string
		want []queryPair
	}{
		{"", nil},
		{"?a=1", []queryPair{{"a", []string{"1"}}}},
		{"a=1&b=x+y&a=2", []queryPair{{"a", []string{"1", "2"}}, {"b", []string{"x y"}}}},
		{"A=1&a=2", []queryPair{{"A", []string{"1", "2"}}}}, // case-insensitive keys, first spelling
		{"flag&&x=", []queryPair{{"flag", []string{""}}, {"x", []string{""}}}},
		{"p=%2B1%20%zz&q=%E2%82%AC", []queryPair{{"p", []string{"+1 %zz"}}, {"q", []string{"€"}}}},
		{"code=abc%3D%3D", []queryPair{{"code", []string{"abc=="}}}},
		{"k=a=b", []queryPair{{"k", []string{"a=b"}}}},
	}
	for _, tc := range tests {
		if got := parseQuery(tc.raw); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("parseQuery(%q) = %v, want %v", tc.raw, got, tc.want)
		}
	}
}

func TestRebuildQuery(t *testing.T) {
	tests := []struct{ raw, want string }{
		{"", ""},
		{"code=abc%3D%3D&name=Atlas", "code=abc%3D%3D&name=Atlas"},
		{"q=a+b", "q=a%20b"},                       // '+' (space) re-encoded as %20
		{"a=1&a=2&b=3", "a=1,2&b=3"},               // repeated keys joined with ","
		{"s=x%2By&t=%7E*!", "s=x%2By&t=~*!"},       // allowed characters are not escaped
		{"u=%C3%A9%2F%3F%26", "u=%C3%A9%2F%3F%26"}, // non-ASCII and reserved characters escaped
		{"k", "k="},
	}
	for _, tc := range tests {
		if got := rebuildQuery(parseQuery(tc.raw)); got != tc.want {
			t.Errorf("rebuildQuery(%q) = %q, want %q", tc.raw, got, tc.want)
		}
	}
	if got := dotnetURLEncode(` "#$%&'()*+,-./:;<=>?@[\]^_` + "`{|}~"); got != "%20%22%23$%25%26%27()*%2B,-.%2F%3A;%3C%3D%3E%3F@%5B%5C%5D%5E_%60%7B%7C%7D~" {
		t.Errorf("dotnetURLEncode punctuation = %q", got)
	}
}

func TestReadBodyAsText(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
		want string
	}{
		{"utf8", []byte("héllo"), "héllo"},
		{"bom stripped", []byte("\xef\xbb\xbf{}"), "{}"},
		{"invalid bytes replaced", []byte("a\xffb\xfe"), "a\uFFFDb\uFFFD"},
		{"utf16le bom", []byte{0xff, 0xfe, 'h', 0, 'i', 0}, "hi"},
		{"utf16be bom", []byte{0xfe, 0xff, 0, 'h', 0, 'i'}, "hi"},
	}
	for _, tc := range tests {
		if got := readBodyAsText(tc.in); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestDoubleEncode(t *testing.T) {
	got := doubleEncode(`a"b<c>`)
	if string(got) != `"\"a\\\"b<c>\""` {
		t.Errorf("doubleEncode = %s", got)
	}
	var once, twice string
	if err := json.Unmarshal(got, &once); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(once), &twice); err != nil || twice != `a"b<c>` {
		t.Errorf("decoding twice gives %q, %v", twice, err)
	}
}
