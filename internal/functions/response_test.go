package functions

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestWriteResponse(t *testing.T) {
	tests := []struct {
		name string
		resp Response
		want string
	}{
		{"zero value", Response{}, `{"Outputs":{},"Logs":[],"ReturnValue":null}`},
		{"logs", Response{Logs: []string{"a", "b"}}, `{"Outputs":{},"Logs":["a","b"],"ReturnValue":null}`},
		{"http output", Response{Outputs: map[string]any{"res": HTTPResponse{StatusCode: 202, Headers: map[string]string{"Content-Type": "application/json"}, Body: `{"ok":true}`}}},
			`{"Outputs":{"res":{"statusCode":202,"headers":{"Content-Type":"application/json"},"body":"{\"ok\":true}"}},"Logs":[],"ReturnValue":null}`},
		{"return value object", Response{ReturnValue: map[string]int{"a": 1}}, `{"Outputs":{},"Logs":[],"ReturnValue":{"a":1}}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			if err := WriteResponse(w, tc.resp); err != nil {
				t.Fatalf("WriteResponse: %v", err)
			}
			if w.Code != http.StatusOK {
				t.Errorf("status = %d, want 200", w.Code)
			}
			if ct := w.Header().Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type = %q", ct)
			}
			if got := w.Body.String(); got != tc.want {
				t.Errorf("body = %s\nwant   %s", got, tc.want)
			}
		})
	}
}

func TestWriteResponseUnencodable(t *testing.T) {
	w := httptest.NewRecorder()
	err := WriteResponse(w, Response{Outputs: map[string]any{"bad": make(chan int)}})
	if err == nil {
		t.Fatal("want error for an unencodable output")
	}
	if w.Code != http.StatusInternalServerError {
		t.Errorf("status = %d, want 500", w.Code)
	}
	if ct := w.Header().Get("Content-Type"); ct != "application/json" || w.Body.Len() == 0 {
		t.Errorf("failure reply must still be non-empty JSON, got %q %q", ct, w.Body.String())
	}
}

func TestResponseMarshalNeverNull(t *testing.T) {
	b, err := json.Marshal(Response{Outputs: nil, Logs: nil})
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	if string(m["Outputs"]) != "{}" || string(m["Logs"]) != "[]" {
		t.Errorf("Outputs=%s Logs=%s, want {} and []", m["Outputs"], m["Logs"])
	}
}

func TestNewHTTPResponse(t *testing.T) {
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	h.Add("X-Multi", "a")
	h.Add("X-Multi", "b")
	h.Set("Content-Length", "99")
	h.Set("Connection", "close")
	got := NewHTTPResponse(201, h, []byte("hi"))
	want := map[string]string{"Content-Type": "application/json", "X-Multi": "a, b"}
	if got.StatusCode != 201 || got.Body != "hi" || len(got.Headers) != len(want) {
		t.Fatalf("got %+v", got)
	}
	for k, v := range want {
		if got.Headers[k] != v {
			t.Errorf("header %s = %q, want %q", k, got.Headers[k], v)
		}
	}
}

func TestWriteFailure(t *testing.T) {
	tests := []struct {
		name       string
		status     int
		wantStatus int
	}{
		{"abandon", http.StatusServiceUnavailable, 503},
		{"zero becomes 500", 0, 500},
		{"2xx becomes 500", 200, 500},
		{"4xx kept", 400, 400},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var logs bytes.Buffer
			logger := slog.New(slog.NewJSONHandler(&logs, nil))
			r := httptest.NewRequest(http.MethodPost, "/fulfillment-router", nil)
			r.Header.Set(InvocationIDHeader, "inv-123")
			w := httptest.NewRecorder()
			WriteFailure(w, r, logger, tc.status, errors.New("warehouse said no: secret-detail"), []string{"tried warehouse-east"})
			if w.Code != tc.wantStatus {
				t.Errorf("status = %d, want %d", w.Code, tc.wantStatus)
			}
			if ct := w.Header().Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type = %q", ct)
			}
			if !json.Valid(w.Body.Bytes()) || w.Body.Len() == 0 {
				t.Errorf("body must be non-empty JSON: %q", w.Body.String())
			}
			if strings.Contains(w.Body.String(), "secret-detail") {
				t.Error("error details must not be written to the reply body")
			}
			var entry map[string]any
			if err := json.Unmarshal(logs.Bytes(), &entry); err != nil {
				t.Fatalf("log line is not JSON: %q", logs.String())
			}
			if entry["level"] != "ERROR" || entry["invocation_id"] != "inv-123" || entry["function"] != "fulfillment-router" ||
				entry["error"] != "warehouse said no: secret-detail" || int(entry["status"].(float64)) != tc.wantStatus {
				t.Errorf("log entry = %v", entry)
			}
			if l, _ := entry["logs"].([]any); len(l) != 1 || l[0] != "tried warehouse-east" {
				t.Errorf("lost Logs not logged: %v", entry["logs"])
			}
		})
	}
}
