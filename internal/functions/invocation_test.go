package functions

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// readFixture returns a file from testdata (copies of /work/shared/fixtures/functions).
func readFixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatalf("read fixture: %v", err)
	}
	return b
}

func TestParseInvocationFixtures(t *testing.T) {
	tests := []struct {
		file         string
		dataKeys     []string
		methodName   string
		metadataKeys []string
	}{
		{"http-no-forwarding.request.json", []string{"req"}, "OrderWebhook", []string{"Query", "Headers", "orderId", "source"}},
		{"servicebus.request.json", []string{"orderMsg"}, "ProcessOrder", []string{"DeliveryCount", "MessageId", "ApplicationProperties", "orderId"}},
		{"servicebus-binary.request.json", []string{"orderMsg"}, "ProcessOrder", []string{"DeliveryCount", "LockToken"}},
		{"timer.request.json", []string{"myTimer"}, "NightlyCleanup", nil},
		{"timer-first-run.request.json", []string{"myTimer"}, "NightlyCleanup", nil},
		{"timer-with-retry.request.json", []string{"myTimer"}, "NightlyCleanup", []string{"RetryContext"}},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			inv, err := ParseInvocation(readFixture(t, tc.file))
			if err != nil {
				t.Fatalf("ParseInvocation: %v", err)
			}
			if got := sortedKeys(inv.Data); strings.Join(got, ",") != strings.Join(tc.dataKeys, ",") {
				t.Errorf("Data keys = %v, want %v", got, tc.dataKeys)
			}
			for _, k := range tc.metadataKeys {
				if _, ok := inv.MetadataValue(k); !ok {
					t.Errorf("Metadata key %q missing", k)
				}
			}
			sys := inv.Sys()
			if sys.MethodName != tc.methodName {
				t.Errorf("sys.MethodName = %q, want %q", sys.MethodName, tc.methodName)
			}
			if sys.UtcNow.IsZero() || sys.UtcNow.Location() != time.UTC {
				t.Errorf("sys.UtcNow = %v, want a UTC time", sys.UtcNow)
			}
			if sys.RandGUID == "" {
				t.Error("sys.RandGuid empty")
			}
			if _, err := inv.Binding(""); err != nil {
				t.Errorf("Binding(\"\") with one Data entry: %v", err)
			}
		})
	}
}

func TestParseInvocationShapes(t *testing.T) {
	tests := []struct {
		name    string
		body    string
		wantErr bool
		data    int
		meta    int
	}{
		{"minimal", `{"Data":{},"Metadata":{}}`, false, 0, 0},
		{"lowercase keys", `{"data":{"a":1},"metadata":{"b":2}}`, false, 1, 1},
		{"null parts", `{"Data":null,"Metadata":null}`, false, 0, 0},
		{"absent parts", `{}`, false, 0, 0},
		{"extra top-level keys ignored", `{"Data":{"a":1},"Other":[1]}`, false, 1, 0},
		{"leading whitespace", " \n\t{\"Data\":{\"a\":\"x\"}}", false, 1, 0},
		{"empty", ``, true, 0, 0},
		{"json null", `null`, true, 0, 0},
		{"array", `[{"Data":{}}]`, true, 0, 0},
		{"string", `"{}"`, true, 0, 0},
		{"data not object", `{"Data":[1,2]}`, true, 0, 0},
		{"metadata string", `{"Metadata":"x"}`, true, 0, 0},
		{"truncated", `{"Data":{"a":`, true, 0, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			inv, err := ParseInvocation([]byte(tc.body))
			if tc.wantErr {
				if err == nil {
					t.Fatalf("want error, got %+v", inv)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseInvocation: %v", err)
			}
			if inv.Data == nil || inv.Metadata == nil {
				t.Fatal("maps must never be nil")
			}
			if len(inv.Data) != tc.data || len(inv.Metadata) != tc.meta {
				t.Errorf("got %d data / %d metadata entries, want %d / %d", len(inv.Data), len(inv.Metadata), tc.data, tc.meta)
			}
		})
	}
}

func TestReadInvocationLimitAndChunked(t *testing.T) {
	body := `{"Data":{"req":{"Method":"POST"}},"Metadata":{}}`
	// A chunked request has ContentLength -1; ReadInvocation must not care.
	r := httptest.NewRequest(http.MethodPost, "/order-created", strings.NewReader(body))
	r.ContentLength = -1
	if _, err := ReadInvocation(r, 0); err != nil {
		t.Fatalf("ReadInvocation chunked: %v", err)
	}
	r = httptest.NewRequest(http.MethodPost, "/order-created", strings.NewReader(body))
	_, err := ReadInvocation(r, int64(len(body)-1))
	if !errors.Is(err, ErrInvocationTooLarge) {
		t.Fatalf("err = %v, want ErrInvocationTooLarge", err)
	}
	r = httptest.NewRequest(http.MethodPost, "/order-created", strings.NewReader(body))
	if _, err := ReadInvocation(r, int64(len(body))); err != nil {
		t.Fatalf("ReadInvocation at exactly the limit: %v", err)
	}
}

func TestBindingLookup(t *testing.T) {
	inv := &Invocation{Data: map[string]json.RawMessage{"Req": json.RawMessage(`1`), "other": json.RawMessage(`2`)}}
	tests := []struct {
		name    string
		want    string
		wantErr bool
	}{
		{"Req", "1", false},
		{"req", "1", false},
		{"OTHER", "2", false},
		{"missing", "", true},
		{"", "", true}, // two entries: ambiguous
	}
	for _, tc := range tests {
		got, err := inv.Binding(tc.name)
		if tc.wantErr {
			if !errors.Is(err, ErrBindingNotFound) {
				t.Errorf("Binding(%q) err = %v, want ErrBindingNotFound", tc.name, err)
			}
			continue
		}
		if err != nil || string(got) != tc.want {
			t.Errorf("Binding(%q) = %s, %v; want %s", tc.name, got, err, tc.want)
		}
	}
}
