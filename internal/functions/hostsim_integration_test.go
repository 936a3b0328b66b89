package functions_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shipwell/orderflow/internal/functions"
	"github.com/shipwell/orderflow/internal/functions/hostsim"
)

// The library's handlers behind the host SIMULATOR, with forwarding switched off so every
// trigger goes through the invocation envelope.

const secret = "shpss_test_secret"

func sign(body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

func writeApp(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	files := map[string]string{
		"host.json": `{"version":"2.0","customHandler":{"description":{"defaultExecutablePath":"handler"},"enableForwardingHttpRequest":false}}`,
		"order-created/function.json": `{"bindings":[{"type":"httpTrigger","direction":"in","name":"req","authLevel":"anonymous","methods":["post"],"route":"order-created"},` +
			`{"type":"http","direction":"out","name":"res"}]}`,
		"router/function.json":     `{"bindings":[{"type":"serviceBusTrigger","direction":"in","name":"message","queueName":"q","connection":"SB","dataType":"binary"}]}`,
		"router-str/function.json": `{"bindings":[{"type":"serviceBusTrigger","direction":"in","name":"message","queueName":"q","connection":"SB"}]}`,
		"sync/function.json":       `{"bindings":[{"type":"timerTrigger","direction":"in","name":"timer","schedule":"0 0 * * * *","useMonitor":true}]}`,
	}
	for name, content := range files {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// quiet discards the adapters' failure logs (the tests provoke failures on purpose).
var quiet = slog.New(slog.NewJSONHandler(io.Discard, nil))

// app is a miniature handler built only from the protocol library.
func app(t *testing.T) http.Handler {
	api := http.NewServeMux()
	api.HandleFunc("POST /api/order-created", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		info, _ := functions.EnvelopeFromContext(r.Context())
		w.Header().Set("X-Body-Exact", fmt.Sprint(info.BodyExact))
		if !hmac.Equal([]byte(sign(body)), []byte(r.Header.Get("X-Shopify-Hmac-Sha256"))) {
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		w.WriteHeader(http.StatusOK)
	})
	mux := http.NewServeMux()
	mux.Handle("POST /order-created", functions.HTTPEnvelopeHandler(functions.StripFunctionKey(api), functions.EnvelopeOptions{}))
	sb := func(mode functions.BodyMode) http.Handler {
		return functions.ServiceBusHandler("message", mode, func(ctx context.Context, msg functions.ServiceBusMessage) (functions.Response, error) {
			if strings.Contains(string(msg.Body), "transient") && msg.Metadata.DeliveryCount < 3 {
				return functions.Response{Logs: []string{"warehouse down"}}, errors.New("warehouse down")
			}
			return functions.Response{Logs: []string{
				string(msg.Body), fmt.Sprint(msg.Metadata.DeliveryCount), msg.Metadata.MessageID, msg.Form.String(),
			}}, nil
		}, quiet)
	}
	mux.Handle("POST /router", sb(functions.ModeBinary))
	mux.Handle("POST /router-str", sb(functions.ModeString))
	mux.Handle("POST /sync", functions.TimerHandler("timer", func(ctx context.Context, ti functions.TimerInfo, inv *functions.Invocation) (functions.Response, error) {
		return functions.Response{Logs: []string{fmt.Sprintf("pastDue=%v firstRun=%v", ti.IsPastDue, ti.ScheduleStatus.FirstRun())}}, nil
	}, quiet))
	return mux
}

func TestLibraryBehindHostSimHTTPEnvelope(t *testing.T) {
	sim := hostsim.Start(t, hostsim.Options{AppRoot: writeApp(t), Handler: app(t)})
	tests := []struct {
		name        string
		contentType string
		body        []byte
		wantStatus  int
		wantExact   string
	}{
		{"UTF-8 JSON: signature verifies over rebuilt text", "application/json", []byte(`{"id":820982911946154508,"name":"Crème"}`), 200, "false"},
		{"octet-stream: exact bytes even with BOM and invalid UTF-8", "application/octet-stream", []byte("\xef\xbb\xbf{\"n\":\"\xff\"}"), 200, "true"},
		// The documented limit of the non-forwarded mode: the host strips the BOM, so the HMAC fails.
		{"JSON with BOM: signature cannot verify", "application/json", []byte("\xef\xbb\xbf{\"id\":1}"), 401, "false"},
		{"JSON with invalid UTF-8: signature cannot verify", "application/json", []byte("{\"n\":\"\xff\"}"), 401, "false"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{"Content-Type": {tc.contentType}, "X-Shopify-Hmac-Sha256": {sign(tc.body)}}
			res := sim.HTTP(http.MethodPost, "order-created", nil, h, tc.body)
			if res.StatusCode != tc.wantStatus || res.Header.Get("X-Body-Exact") != tc.wantExact {
				t.Errorf("status %d exact %q, want %d %q (invocation err %v)", res.StatusCode, res.Header.Get("X-Body-Exact"), tc.wantStatus, tc.wantExact, res.Invocation.Err)
			}
			if res.Forwarded || !res.Invocation.Succeeded() {
				t.Errorf("want a successful envelope invocation, got %+v", res.Invocation)
			}
		})
	}
}

func TestLibraryBehindHostSimServiceBus(t *testing.T) {
	sim := hostsim.Start(t, hostsim.Options{AppRoot: writeApp(t), Handler: app(t)})
	body := `{"orderId":"820982911946154508","lineItemId":820982911946154508123,"note":"<&>"}`
	for _, fn := range []string{"router", "router-str"} {
		res := sim.ServiceBus(fn, []byte(body), hostsim.Message{MessageID: "msg-1"})
		if res.Outcome != hostsim.Completed {
			t.Fatalf("%s: %s (%v)", fn, res.Outcome, res.Last().Invocation.Err)
		}
		logs := res.Last().Invocation.Reply.Logs
		wantForm := map[string]string{"router": "base64", "router-str": "double-encoded"}[fn]
		if len(logs) != 4 || logs[0] != body || logs[1] != "1" || logs[2] != "msg-1" || logs[3] != wantForm {
			t.Errorf("%s: handler saw %q", fn, logs)
		}
	}
	res := sim.ServiceBus("router", []byte(`{"kind":"transient"}`), hostsim.Message{})
	if res.Outcome != hostsim.Completed || len(res.Deliveries) != 3 || res.Last().Invocation.Reply.Logs[1] != "3" {
		t.Errorf("redelivery: %s after %d deliveries", res.Outcome, len(res.Deliveries))
	}
}

func TestLibraryBehindHostSimTimer(t *testing.T) {
	sim := hostsim.Start(t, hostsim.Options{AppRoot: writeApp(t), Handler: app(t)})
	tests := []struct {
		opts hostsim.TimerOptions
		want string
	}{
		{hostsim.TimerOptions{}, "pastDue=false firstRun=false"},
		{hostsim.TimerOptions{FirstRun: true, PastDue: true}, "pastDue=true firstRun=true"},
		{hostsim.TimerOptions{NoScheduleStatus: true}, "pastDue=false firstRun=true"},
	}
	for _, tc := range tests {
		res := sim.Timer("sync", tc.opts)
		if !res.Succeeded || res.Last().Reply.Logs[0] != tc.want {
			t.Errorf("%+v: %+v", tc.opts, res.Last())
		}
	}
}
