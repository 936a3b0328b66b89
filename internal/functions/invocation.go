package functions

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"time"
)

// DefaultMaxInvocationBytes bounds the invocation body ReadInvocation accepts when no other
// limit is given. It leaves room for a several-MB webhook body sent as base64 (4/3 larger) plus
// its headers, and for Service Bus premium messages.
const DefaultMaxInvocationBytes int64 = 64 << 20

// ErrInvocationTooLarge is returned by ReadInvocation when the body exceeds the limit.
var ErrInvocationTooLarge = errors.New("invocation body too large")

// ErrBindingNotFound is returned when the invocation has no Data entry for a binding name.
var ErrBindingNotFound = errors.New("binding not found in invocation Data")

// Invocation is the JSON body the host POSTs to /<FunctionName> for every non-forwarded
// invocation (§2): {"Data":{...},"Metadata":{...}}. Data is keyed by binding name (the trigger's
// "name" in function.json, plus input bindings); Metadata holds the trigger's binding data.
// Values are kept raw so each trigger decoder can be lenient about their shape.
type Invocation struct {
	// Data maps binding name → value, exactly as sent.
	Data map[string]json.RawMessage
	// Metadata maps metadata key → value, exactly as sent (scalars are usually double-encoded).
	Metadata map[string]json.RawMessage
}

// ReadInvocation reads and parses the invocation body of r, refusing more than limit bytes
// (limit <= 0 means DefaultMaxInvocationBytes). It does not require Content-Length: the host
// probably sends the body chunked (§2).
func ReadInvocation(r *http.Request, limit int64) (*Invocation, error) {
	if limit <= 0 {
		limit = DefaultMaxInvocationBytes
	}
	if r.Body == nil {
		return nil, errors.New("read invocation: no body")
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	if err != nil {
		return nil, fmt.Errorf("read invocation: %w", err)
	}
	if int64(len(body)) > limit {
		return nil, fmt.Errorf("read invocation: more than %d bytes: %w", limit, ErrInvocationTooLarge)
	}
	return ParseInvocation(body)
}

// ParseInvocation parses an invocation body. The top level must be a JSON object; "Data" and
// "Metadata" are matched case-insensitively (the host uses Newtonsoft, which does the same) and
// may be absent or null, in which case the maps are empty (never nil).
func ParseInvocation(body []byte) (*Invocation, error) {
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return nil, errors.New("parse invocation: empty body")
	}
	if body[0] != '{' {
		return nil, errors.New("parse invocation: body is not a JSON object")
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(body, &top); err != nil {
		return nil, fmt.Errorf("parse invocation: %w", err)
	}
	inv := &Invocation{Data: map[string]json.RawMessage{}, Metadata: map[string]json.RawMessage{}}
	for key, value := range top {
		var dst *map[string]json.RawMessage
		switch strings.ToLower(key) {
		case "data":
			dst = &inv.Data
		case "metadata":
			dst = &inv.Metadata
		default:
			continue
		}
		value = bytes.TrimSpace(value)
		if string(value) == "null" {
			continue
		}
		if len(value) == 0 || value[0] != '{' {
			return nil, fmt.Errorf("parse invocation: %s is not a JSON object", key)
		}
		m := map[string]json.RawMessage{}
		if err := json.Unmarshal(value, &m); err != nil {
			return nil, fmt.Errorf("parse invocation %s: %w", key, err)
		}
		*dst = m
	}
	return inv, nil
}

// Binding returns the Data value of the named binding. The name is matched exactly first, then
// case-insensitively. An empty name selects the only Data entry when there is exactly one.
func (inv *Invocation) Binding(name string) (json.RawMessage, error) {
	if name == "" {
		if len(inv.Data) == 1 {
			for _, v := range inv.Data {
				return v, nil
			}
		}
		return nil, fmt.Errorf("binding name required, Data has %v: %w", sortedKeys(inv.Data), ErrBindingNotFound)
	}
	if v, ok := lookupFold(inv.Data, name); ok {
		return v, nil
	}
	return nil, fmt.Errorf("binding %q (Data has %v): %w", name, sortedKeys(inv.Data), ErrBindingNotFound)
}

// MetadataValue returns the raw Metadata value for key, matched exactly first and then
// case-insensitively (the host's binding-data dictionaries are case-insensitive).
func (inv *Invocation) MetadataValue(key string) (json.RawMessage, bool) {
	return lookupFold(inv.Metadata, key)
}

// Sys is Metadata.sys, present in every invocation.
type Sys struct {
	// MethodName is the function name.
	MethodName string
	// UtcNow is the host's clock when it built the invocation (zero if absent or unparsable).
	UtcNow time.Time
	// RandGUID is a random GUID the host generates per invocation.
	RandGUID string
}

// Sys decodes Metadata.sys leniently; fields that are absent or malformed stay zero.
func (inv *Invocation) Sys() Sys {
	var out Sys
	raw, ok := inv.MetadataValue("sys")
	if !ok {
		return out
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(raw, &m) != nil {
		return out
	}
	if v, ok := lookupFold(m, "MethodName"); ok {
		out.MethodName, _ = MetadataString(v)
	}
	if v, ok := lookupFold(m, "UtcNow"); ok {
		out.UtcNow, _ = MetadataTime(v)
	}
	if v, ok := lookupFold(m, "RandGuid"); ok {
		out.RandGUID, _ = MetadataString(v)
	}
	return out
}

// lookupFold finds key in m exactly, then case-insensitively (lowest key wins on ties, so the
// result is deterministic).
func lookupFold(m map[string]json.RawMessage, key string) (json.RawMessage, bool) {
	if v, ok := m[key]; ok {
		return v, true
	}
	found := ""
	for k := range m {
		if strings.EqualFold(k, key) && (found == "" || k < found) {
			found = k
		}
	}
	if found == "" {
		return nil, false
	}
	return m[found], true
}

func sortedKeys(m map[string]json.RawMessage) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
