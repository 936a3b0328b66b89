package functions

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func serve(h http.Handler, body []byte) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodPost, "/fulfillment-router", bytes.NewReader(body))
	r.Header.Set(InvocationIDHeader, "inv-7")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func TestServiceBusHandler(t *testing.T) {
	var logs bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&logs, nil))
	var got ServiceBusMessage
	fail := false
	h := ServiceBusHandler("orderMsg", ModeBinary, func(ctx context.Context, msg ServiceBusMessage) (Response, error) {
		got = msg
		if fail {
			return Response{Logs: []string{"dispatch attempt 1"}}, errors.New("warehouse timeout")
		}
		return Response{Logs: []string{"dispatched"}}, nil
	}, logger)

	w := serve(h, readFixture(t, "servicebus-binary.request.json"))
	if w.Code != 200 || w.Body.String() != `{"Outputs":{},"Logs":["dispatched"],"ReturnValue":null}` {
		t.Errorf("success reply %d %s", w.Code, w.Body.String())
	}
	if !strings.HasPrefix(string(got.Body), `{"orderId":"ORD-1001"`) || got.Form != FormBase64 || got.Metadata.DeliveryCount != 1 {
		t.Errorf("fn got %q %v %+v", got.Body, got.Form, got.Metadata)
	}

	fail = true
	w = serve(h, readFixture(t, "servicebus.request.json")) // string mode arriving at a binary function
	if w.Code != http.StatusServiceUnavailable || !strings.Contains(logs.String(), "warehouse timeout") || !strings.Contains(logs.String(), "dispatch attempt 1") {
		t.Errorf("failure: %d, log %s", w.Code, logs.String())
	}
	if got.Form != FormDoubleEncoded {
		t.Errorf("fallback form %v", got.Form)
	}

	fail = false
	logs.Reset()
	w = serve(h, []byte(`{"Data":{"orderMsg":"e30="},"Metadata":{"DeliveryCount":"lots"}}`))
	if w.Code != 200 || !strings.Contains(logs.String(), "metadata partly undecodable") || string(got.Body) != "{}" {
		t.Errorf("bad metadata must not block the body: %d %s", w.Code, logs.String())
	}
	for _, bad := range []string{`nope`, `{"Data":{}}`, `{"Data":{"orderMsg":null}}`} {
		if w := serve(h, []byte(bad)); w.Code != http.StatusBadRequest {
			t.Errorf("%s: status %d", bad, w.Code)
		}
	}
}

func TestTimerHandler(t *testing.T) {
	logger := slog.New(slog.NewJSONHandler(&bytes.Buffer{}, nil))
	var rc *RetryContext
	h := TimerHandler("myTimer", func(ctx context.Context, info TimerInfo, inv *Invocation) (Response, error) {
		rc, _ = inv.RetryContext()
		if info.ScheduleStatus == nil {
			return Response{}, errors.New("no status")
		}
		return Response{Logs: []string{"synced"}}, nil
	}, logger)
	if w := serve(h, readFixture(t, "timer.request.json")); w.Code != 200 || !strings.Contains(w.Body.String(), "synced") {
		t.Errorf("timer: %d %s", w.Code, w.Body.String())
	}
	if w := serve(h, readFixture(t, "timer-with-retry.request.json")); w.Code != 500 || rc == nil || rc.RetryCount != 1 {
		t.Errorf("fn error must fail the execution: %d rc=%+v", w.Code, rc)
	}
	if w := serve(h, []byte(`{"Data":{"other":{}}}`)); w.Code != 400 {
		t.Errorf("missing binding: %d", w.Code)
	}
}
