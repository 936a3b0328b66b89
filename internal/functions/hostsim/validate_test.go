package hostsim

import (
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"testing"
)

func TestValidateReply(t *testing.T) {
	jsonCT := http.Header{"Content-Type": {"application/json"}}
	tests := []struct {
		name   string
		status int
		header http.Header
		body   string
		ok     bool
		logs   []string
	}{
		{"minimal", 200, jsonCT, `{"Outputs":{},"Logs":[],"ReturnValue":null}`, true, nil},
		{"logs", 200, jsonCT, `{"Logs":["a","b"]}`, true, []string{"a", "b"}},
		{"empty object", 200, jsonCT, `{}`, true, nil},
		{"text/json with charset", 202, http.Header{"Content-Type": {"text/json; charset=utf-8"}}, `{}`, true, nil},
		{"lowercase keys", 200, jsonCT, `{"outputs":{"res":{}},"logs":["x"]}`, true, []string{"x"}},
		{"500", 500, jsonCT, `{}`, false, nil},
		{"404", 404, jsonCT, `{}`, false, nil},
		{"text/plain", 200, http.Header{"Content-Type": {"text/plain; charset=utf-8"}}, `{}`, false, nil},
		{"no content type", 200, http.Header{}, `{}`, false, nil},
		{"empty body", 200, jsonCT, ``, false, nil},
		{"whitespace body", 200, jsonCT, " \n", false, nil},
		{"null body", 200, jsonCT, `null`, false, nil},
		{"array body", 200, jsonCT, `[]`, false, nil},
		{"string body", 200, jsonCT, `"ok"`, false, nil},
		{"invalid JSON", 200, jsonCT, `{"Logs":`, false, nil},
		{"Logs null", 200, jsonCT, `{"Logs":null}`, false, nil},
		{"Logs not array", 200, jsonCT, `{"Logs":"x"}`, false, nil},
		{"Logs numbers", 200, jsonCT, `{"Logs":[1,2]}`, false, nil},
		{"Logs objects", 200, jsonCT, `{"Logs":[{"m":"x"}]}`, false, nil},
		{"Logs null entry", 200, jsonCT, `{"Logs":[null]}`, false, nil},
		{"Outputs array", 200, jsonCT, `{"Outputs":[]}`, false, nil},
		{"Outputs null", 200, jsonCT, `{"Outputs":null}`, false, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			reply, err := ValidateReply(tc.status, tc.header, []byte(tc.body))
			if tc.ok != (err == nil) {
				t.Fatalf("err = %v, want ok=%v", err, tc.ok)
			}
			if err != nil {
				var re *ReplyError
				if !errors.As(err, &re) || re.Status != tc.status || re.Reason == "" {
					t.Errorf("error %v is not a *ReplyError with status and reason", err)
				}
				return
			}
			if len(reply.Logs) != len(tc.logs) {
				t.Fatalf("Logs = %v, want %v", reply.Logs, tc.logs)
			}
			for i := range tc.logs {
				if reply.Logs[i] != tc.logs[i] {
					t.Errorf("Logs = %v, want %v", reply.Logs, tc.logs)
				}
			}
		})
	}
}

func TestValidateReplySharedFixtures(t *testing.T) {
	for _, name := range []string{"http-no-forwarding.response.json", "servicebus.response.json", "servicebus-with-output.response.json", "timer.response.json"} {
		body, err := os.ReadFile("../testdata/" + name)
		if err != nil {
			t.Fatal(err)
		}
		reply, err := ValidateReply(200, http.Header{"Content-Type": {"application/json"}}, body)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if len(reply.Logs) == 0 {
			t.Errorf("%s: no Logs", name)
		}
	}
}

func TestHostOutputValueBase64Trap(t *testing.T) {
	tests := []struct {
		raw     string
		want    string
		trapped bool
	}{
		{`"{\"orderId\":\"ORD-1001\"}"`, `{"orderId":"ORD-1001"}`, false}, // JSON text is safe
		{`"test"`, "\xb5\xeb\x2d", true},                                  // valid base64: decoded!
		{`"abcd1234"`, "i\xb7\x1d\xd7m\xf8", true},
		{`"hello world"`, "hello world", false},
		{`{"a":1}`, `{"a":1}`, false},
	}
	for _, tc := range tests {
		got, trapped := HostOutputValue(json.RawMessage(tc.raw))
		if string(got) != tc.want || trapped != tc.trapped {
			t.Errorf("HostOutputValue(%s) = %q, %v; want %q, %v", tc.raw, got, trapped, tc.want, tc.trapped)
		}
	}
}
