package servicebus

import (
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
)

// The settings this package reads (DESIGN.md §4). They appear in error messages so an operator
// knows which one to fix; their values never do.
const (
	// SettingConnection holds a Service Bus connection string (local use).
	SettingConnection = "SERVICE_BUS_CONNECTION"
	// SettingNamespace holds the namespace for managed identity: a bare name or a fully
	// qualified host such as acme.servicebus.windows.net.
	SettingNamespace = "SERVICE_BUS_NAMESPACE"
	// SettingIdentityNamespace is the name the Azure Functions Service Bus trigger reads for an
	// identity-based connection whose connection setting is SERVICE_BUS_CONNECTION. It is
	// accepted as a fallback for SettingNamespace so one app setting serves both.
	SettingIdentityNamespace = "SERVICE_BUS_CONNECTION__fullyQualifiedNamespace"
	// SettingQueue names the queue; default DefaultQueueName.
	SettingQueue = "SERVICE_BUS_QUEUE"
)

// DefaultQueueName is the queue used when none is configured (the seed's name).
const DefaultQueueName = "fulfillment-queue"

// namespaceSuffix completes a bare namespace name (public Azure cloud).
const namespaceSuffix = ".servicebus.windows.net"

// Config configures a Queue. Exactly one of ConnectionString and Namespace must be set.
type Config struct {
	// ConnectionString is a Service Bus connection string (SERVICE_BUS_CONNECTION):
	// Endpoint=sb://<ns>.servicebus.windows.net/;SharedAccessKeyName=...;SharedAccessKey=...
	// (or SharedAccessSignature=...). An EntityPath in it must match QueueName.
	ConnectionString string
	// Namespace (SERVICE_BUS_NAMESPACE) selects managed identity (azidentity
	// DefaultAzureCredential): a fully qualified host, or a bare name to which
	// ".servicebus.windows.net" is appended.
	Namespace string
	// Credential overrides DefaultAzureCredential when Namespace is used. Optional.
	Credential azcore.TokenCredential
	// QueueName is the queue (SERVICE_BUS_QUEUE); default DefaultQueueName.
	QueueName string
	// Logger receives the adapter's logs; default slog.Default().
	Logger *slog.Logger

	// CheckTimeout bounds Check when its context has no earlier deadline; default 15s.
	CheckTimeout time.Duration
	// MaxConcurrent bounds the messages Run handles at once; default 8.
	MaxConcurrent int
	// MaxLockRenewal bounds how long Run keeps renewing a message's lock while its handler
	// runs; default 5m (like the Functions host's maxAutoLockRenewalDuration).
	MaxLockRenewal time.Duration
	// ShutdownGrace is how long in-flight handlers keep their context after Run's context is
	// cancelled; default 30s.
	ShutdownGrace time.Duration
}

// ConfigFromEnv reads the settings with getenv (os.Getenv, or a lookup that also consults
// local.settings.json). SERVICE_BUS_CONNECTION__fullyQualifiedNamespace is used for Namespace
// when SERVICE_BUS_NAMESPACE is empty.
func ConfigFromEnv(getenv func(string) string) Config {
	c := Config{
		ConnectionString: strings.TrimSpace(getenv(SettingConnection)),
		Namespace:        strings.TrimSpace(getenv(SettingNamespace)),
		QueueName:        strings.TrimSpace(getenv(SettingQueue)),
	}
	if c.Namespace == "" {
		c.Namespace = strings.TrimSpace(getenv(SettingIdentityNamespace))
	}
	return c
}

// Enabled reports whether Service Bus is configured at all, i.e. whether the product should use
// it instead of the embedded SQLite queue.
func (c Config) Enabled() bool { return c.ConnectionString != "" || c.Namespace != "" }

// setting names the setting that selected Service Bus, for error messages.
func (c Config) setting() string {
	if c.ConnectionString != "" {
		return SettingConnection
	}
	return SettingNamespace
}

// connProps is what the product needs from a connection string. The key itself is never kept
// outside the string handed to the SDK.
type connProps struct {
	namespace  string // fully qualified host
	entityPath string
}

// parseConnectionString validates s the way the SDK will use it and explains what is wrong
// without ever repeating a value (a key may sit anywhere in a malformed string).
func parseConnectionString(s string) (connProps, error) {
	var (
		p                       connProps
		endpoint                string
		hasEndpoint, hasKeyName bool
		hasKey, hasSignature    bool
	)
	for i, part := range strings.Split(s, ";") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		k, v, ok := strings.Cut(part, "=")
		if !ok {
			return p, fmt.Errorf("%s is malformed: part %d is not Key=Value (expected Endpoint=sb://<namespace>.servicebus.windows.net/;SharedAccessKeyName=<name>;SharedAccessKey=<key>)", SettingConnection, i+1)
		}
		k = strings.TrimSpace(k)
		switch {
		case strings.EqualFold(k, "Endpoint"):
			hasEndpoint, endpoint = true, strings.TrimSpace(v)
		case strings.EqualFold(k, "SharedAccessKeyName"):
			hasKeyName = strings.TrimSpace(v) != ""
		case strings.EqualFold(k, "SharedAccessKey"):
			hasKey = strings.TrimSpace(v) != ""
		case strings.EqualFold(k, "SharedAccessSignature"):
			hasSignature = strings.TrimSpace(v) != ""
		case strings.EqualFold(k, "EntityPath"):
			p.entityPath = strings.TrimSpace(v)
		}
	}
	if !hasEndpoint || endpoint == "" {
		return p, fmt.Errorf("%s is malformed: it has no Endpoint=sb://<namespace>.servicebus.windows.net/", SettingConnection)
	}
	u, err := url.Parse(endpoint)
	if err != nil || u.Scheme != "sb" || u.Host == "" {
		return p, fmt.Errorf("%s is malformed: Endpoint must look like sb://<namespace>.servicebus.windows.net/", SettingConnection)
	}
	if !validHost(u.Hostname()) {
		return p, fmt.Errorf("%s is malformed: Endpoint host is not a valid host name", SettingConnection)
	}
	p.namespace = u.Host
	switch {
	case hasSignature:
	case !hasKeyName && !hasKey:
		return p, fmt.Errorf("%s is malformed: it has neither SharedAccessKeyName/SharedAccessKey nor SharedAccessSignature", SettingConnection)
	case !hasKeyName:
		return p, fmt.Errorf("%s is malformed: SharedAccessKeyName is missing or empty", SettingConnection)
	case !hasKey:
		return p, fmt.Errorf("%s is malformed: SharedAccessKey is missing or empty", SettingConnection)
	}
	return p, nil
}

// normalizeNamespace turns SERVICE_BUS_NAMESPACE into a fully qualified host.
func normalizeNamespace(ns string) (string, error) {
	ns = strings.TrimSpace(ns)
	if strings.Contains(ns, "=") || strings.Contains(ns, ";") {
		return "", fmt.Errorf("%s must be a namespace name or host (acme or acme.servicebus.windows.net), not a connection string; put connection strings in %s", SettingNamespace, SettingConnection)
	}
	if strings.Contains(ns, "://") {
		u, err := url.Parse(ns)
		if err != nil || u.Host == "" {
			return "", fmt.Errorf("%s is not a valid namespace host", SettingNamespace)
		}
		ns = u.Host
	}
	ns = strings.TrimSuffix(ns, "/")
	if !strings.Contains(ns, ".") {
		if !validNamespaceName(ns) {
			return "", fmt.Errorf("%s %q is not a valid namespace name (6-50 letters, digits and hyphens, starting with a letter)", SettingNamespace, ns)
		}
		ns += namespaceSuffix
	}
	if !validHost(ns) {
		return "", fmt.Errorf("%s %q is not a valid host name", SettingNamespace, ns)
	}
	return strings.ToLower(ns), nil
}

// validNamespaceName applies Azure's namespace naming rules.
func validNamespaceName(s string) bool {
	if len(s) < 6 || len(s) > 50 {
		return false
	}
	for i, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z':
		case r >= '0' && r <= '9', r == '-':
			if i == 0 {
				return false
			}
		default:
			return false
		}
	}
	return s[len(s)-1] != '-'
}

// validHost reports whether s is a plausible DNS host name.
func validHost(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	for _, label := range strings.Split(s, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-') {
				return false
			}
		}
	}
	return true
}

// resolved is a validated Config.
type resolved struct {
	Config
	namespace string // fully qualified host
}

// resolve validates c and fills in defaults.
func (c Config) resolve() (resolved, error) {
	r := resolved{Config: c}
	switch {
	case c.ConnectionString != "" && c.Namespace != "":
		return r, fmt.Errorf("both %s and %s are set: set only one (the connection string, or the namespace for managed identity)", SettingConnection, SettingNamespace)
	case c.ConnectionString != "":
		p, err := parseConnectionString(c.ConnectionString)
		if err != nil {
			return r, err
		}
		r.namespace = p.namespace
		if p.entityPath != "" {
			if r.QueueName == "" {
				r.QueueName = p.entityPath
			} else if p.entityPath != r.QueueName {
				return r, fmt.Errorf("%s is for entity %q but %s is %q", SettingConnection, p.entityPath, SettingQueue, r.QueueName)
			}
		}
	case c.Namespace != "":
		ns, err := normalizeNamespace(c.Namespace)
		if err != nil {
			return r, err
		}
		r.namespace = ns
	default:
		return r, errors.New("service bus is not configured: set " + SettingConnection + " or " + SettingNamespace)
	}
	if r.QueueName == "" {
		r.QueueName = DefaultQueueName
	}
	if strings.ContainsAny(r.QueueName, " ;?#\\") || len(r.QueueName) > 260 {
		return r, fmt.Errorf("%s %q is not a valid queue name", SettingQueue, r.QueueName)
	}
	if r.Logger == nil {
		r.Logger = slog.Default()
	}
	if r.CheckTimeout <= 0 {
		r.CheckTimeout = 15 * time.Second
	}
	if r.MaxConcurrent <= 0 {
		r.MaxConcurrent = 8
	}
	if r.MaxLockRenewal <= 0 {
		r.MaxLockRenewal = 5 * time.Minute
	}
	if r.ShutdownGrace <= 0 {
		r.ShutdownGrace = 30 * time.Second
	}
	return r, nil
}
