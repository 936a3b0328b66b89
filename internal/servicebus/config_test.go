package servicebus

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
)

// secretKey is a made-up SharedAccessKey; no error message may contain it.
const secretKey = "c2VjcmV0LWtleS1kby1ub3QtbG9nLXRoaXM9PT0="

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func TestMalformedConnectionStrings(t *testing.T) {
	tests := []struct {
		name, conn, want string
	}{
		{"garbage", "this is not a connection string", "not Key=Value"},
		{"garbage with key", "oops;" + secretKey, "not Key=Value"},
		{"pasted key only", secretKey, "no Endpoint"}, // a base64 key ends in '=', so it parses as a pair
		{"missing endpoint", "SharedAccessKeyName=send;SharedAccessKey=" + secretKey, "no Endpoint"},
		{"empty endpoint", "Endpoint=;SharedAccessKeyName=send;SharedAccessKey=" + secretKey, "no Endpoint"},
		{"endpoint without scheme", "Endpoint=acme.servicebus.windows.net;SharedAccessKeyName=send;SharedAccessKey=" + secretKey, "Endpoint must look like sb://"},
		{"https endpoint", "Endpoint=https://acme.servicebus.windows.net/;SharedAccessKeyName=send;SharedAccessKey=" + secretKey, "Endpoint must look like sb://"},
		{"bad host", "Endpoint=sb://acme_bus!/;SharedAccessKeyName=send;SharedAccessKey=" + secretKey, "not a valid host"},
		{"missing key", "Endpoint=sb://acme.servicebus.windows.net/;SharedAccessKeyName=send", "SharedAccessKey is missing"},
		{"empty key", "Endpoint=sb://acme.servicebus.windows.net/;SharedAccessKeyName=send;SharedAccessKey=", "SharedAccessKey is missing"},
		{"missing key name", "Endpoint=sb://acme.servicebus.windows.net/;SharedAccessKey=" + secretKey, "SharedAccessKeyName is missing"},
		{"no credentials", "Endpoint=sb://acme.servicebus.windows.net/", "neither SharedAccessKeyName/SharedAccessKey nor SharedAccessSignature"},
		{"entity mismatch", "Endpoint=sb://acme.servicebus.windows.net/;SharedAccessKeyName=send;SharedAccessKey=" + secretKey + ";EntityPath=other-queue", `entity "other-queue"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q, err := New(context.Background(), Config{ConnectionString: tt.conn, QueueName: "fulfillment-queue", Logger: quietLogger()})
			if err == nil {
				_ = q.Close()
				t.Fatal("New accepted a malformed connection string")
			}
			msg := err.Error()
			if !strings.Contains(msg, "SERVICE_BUS_CONNECTION") {
				t.Errorf("error %q does not name the setting", msg)
			}
			if !strings.Contains(msg, tt.want) {
				t.Errorf("error %q, want it to say %q", msg, tt.want)
			}
			if strings.Contains(msg, secretKey) || strings.Contains(msg, secretKey[:12]) {
				t.Errorf("error leaks the key: %q", msg)
			}
		})
	}
}

func TestResolve(t *testing.T) {
	const conn = "Endpoint=sb://acme-bus.servicebus.windows.net/;SharedAccessKeyName=send;SharedAccessKey=" + secretKey
	tests := []struct {
		name      string
		cfg       Config
		namespace string
		queue     string
		wantErr   string
	}{
		{"connection string", Config{ConnectionString: conn}, "acme-bus.servicebus.windows.net", "fulfillment-queue", ""},
		{"connection string with SAS", Config{ConnectionString: "Endpoint=sb://acme-bus.servicebus.windows.net;SharedAccessSignature=SharedAccessSignature sr=x&sig=y&se=1&skn=send"}, "acme-bus.servicebus.windows.net", "fulfillment-queue", ""},
		{"entity path sets the queue", Config{ConnectionString: conn + ";EntityPath=orders"}, "acme-bus.servicebus.windows.net", "orders", ""},
		{"entity path equal to queue", Config{ConnectionString: conn + ";EntityPath=orders", QueueName: "orders"}, "acme-bus.servicebus.windows.net", "orders", ""},
		{"trailing semicolon and spaces", Config{ConnectionString: " Endpoint=sb://acme-bus.servicebus.windows.net/ ; SharedAccessKeyName=send; SharedAccessKey=" + secretKey + ";"}, "acme-bus.servicebus.windows.net", "fulfillment-queue", ""},
		{"bare namespace", Config{Namespace: "acme-bus"}, "acme-bus.servicebus.windows.net", "fulfillment-queue", ""},
		{"qualified namespace", Config{Namespace: "Acme-Bus.servicebus.windows.net", QueueName: "q1"}, "acme-bus.servicebus.windows.net", "q1", ""},
		{"sovereign cloud", Config{Namespace: "acme-bus.servicebus.chinacloudapi.cn"}, "acme-bus.servicebus.chinacloudapi.cn", "fulfillment-queue", ""},
		{"namespace as URL", Config{Namespace: "sb://acme-bus.servicebus.windows.net/"}, "acme-bus.servicebus.windows.net", "fulfillment-queue", ""},
		{"nothing", Config{}, "", "", "set SERVICE_BUS_CONNECTION or SERVICE_BUS_NAMESPACE"},
		{"both", Config{ConnectionString: conn, Namespace: "acme-bus"}, "", "", "both SERVICE_BUS_CONNECTION and SERVICE_BUS_NAMESPACE"},
		{"short name", Config{Namespace: "ab"}, "", "", "SERVICE_BUS_NAMESPACE"},
		{"name starting with digit", Config{Namespace: "1acme-bus"}, "", "", "not a valid namespace name"},
		{"bad host", Config{Namespace: "acme bus.servicebus.windows.net"}, "", "", "not a valid host"},
		{"connection string in namespace", Config{Namespace: conn}, "", "", "not a connection string"},
		{"bad queue", Config{Namespace: "acme-bus", QueueName: "a queue"}, "", "", "SERVICE_BUS_QUEUE"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := tt.cfg.resolve()
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), secretKey) {
					t.Errorf("error leaks the key: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if r.namespace != tt.namespace || r.QueueName != tt.queue {
				t.Errorf("namespace %q queue %q, want %q %q", r.namespace, r.QueueName, tt.namespace, tt.queue)
			}
			if r.Logger == nil || r.MaxConcurrent != 8 || r.CheckTimeout != 15*time.Second || r.MaxLockRenewal != 5*time.Minute || r.ShutdownGrace != 30*time.Second {
				t.Errorf("defaults not applied: %+v", r)
			}
		})
	}
}

func TestConfigFromEnv(t *testing.T) {
	env := map[string]string{
		"SERVICE_BUS_CONNECTION__fullyQualifiedNamespace": "acme-bus.servicebus.windows.net",
		"SERVICE_BUS_QUEUE": " orders ",
	}
	c := ConfigFromEnv(func(k string) string { return env[k] })
	if c.Namespace != "acme-bus.servicebus.windows.net" || c.QueueName != "orders" || c.ConnectionString != "" || !c.Enabled() {
		t.Errorf("ConfigFromEnv = %+v", c)
	}
	env["SERVICE_BUS_NAMESPACE"] = "other-bus"
	if c := ConfigFromEnv(func(k string) string { return env[k] }); c.Namespace != "other-bus" {
		t.Errorf("SERVICE_BUS_NAMESPACE should win over the Functions identity setting, got %q", c.Namespace)
	}
	if (Config{}).Enabled() {
		t.Error("empty config reports enabled")
	}
}

// TestNewIsLazy: New builds the real SDK client and sender without touching the network.
func TestNewIsLazy(t *testing.T) {
	for _, cfg := range []Config{
		{ConnectionString: "Endpoint=sb://acme-bus.servicebus.windows.net/;SharedAccessKeyName=send;SharedAccessKey=" + secretKey},
		{Namespace: "acme-bus", Credential: staticCredential{}},
	} {
		cfg.Logger = quietLogger()
		q, err := New(context.Background(), cfg)
		if err != nil {
			t.Fatalf("New: %v", err)
		}
		if q.Name() != "fulfillment-queue" || q.Namespace() != "acme-bus.servicebus.windows.net" {
			t.Errorf("queue %q namespace %q", q.Name(), q.Namespace())
		}
		if err := q.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		if err := q.Close(); err != nil {
			t.Errorf("second Close: %v", err)
		}
	}
}

// TestCheckWithRealSDKNeverHangs points the real SDK at loopback, where nothing listens on the
// AMQP port: Check must come back within its timeout with an error naming the setting.
func TestCheckWithRealSDKNeverHangs(t *testing.T) {
	q, err := New(context.Background(), Config{
		ConnectionString: "Endpoint=sb://localhost/;SharedAccessKeyName=send;SharedAccessKey=" + secretKey,
		CheckTimeout:     300 * time.Millisecond,
		Logger:           quietLogger(),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	done := make(chan error, 1)
	go func() { done <- q.Check(context.Background()) }()
	select {
	case err = <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("Check hung")
	}
	if err == nil {
		t.Fatal("Check succeeded against a namespace that does not exist")
	}
	msg := err.Error()
	if !strings.Contains(msg, "SERVICE_BUS_CONNECTION") || !strings.Contains(msg, "localhost") {
		t.Errorf("error %q should name the setting and the namespace", msg)
	}
	if strings.Contains(msg, secretKey) {
		t.Errorf("error leaks the key: %q", msg)
	}
}

func TestRedact(t *testing.T) {
	conn := "Endpoint=sb://x/;SharedAccessKeyName=send;SharedAccessKey=" + secretKey + ";SharedAccessSignature=sig-value-123"
	got := redact("bad key "+secretKey+" and sig-value-123 in Endpoint=sb://x/", conn)
	if strings.Contains(got, secretKey) || strings.Contains(got, "sig-value-123") {
		t.Errorf("redact left a secret: %q", got)
	}
	if !strings.Contains(got, "Endpoint=sb://x/") {
		t.Errorf("redact removed a non-secret: %q", got)
	}
}

// staticCredential is a token credential that is never called (New does not connect).
type staticCredential struct{}

func (staticCredential) GetToken(context.Context, policy.TokenRequestOptions) (azcore.AccessToken, error) {
	return azcore.AccessToken{}, errors.New("staticCredential: not for use")
}
