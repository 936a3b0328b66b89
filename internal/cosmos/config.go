package cosmos

import (
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
)

// Setting names, used in start-up errors so the operator knows what to fix.
const (
	SettingConnection = "COSMOS_CONNECTION"
	SettingEndpoint   = "COSMOS_ENDPOINT"
	SettingDatabase   = "COSMOS_DATABASE"
	SettingContainer  = "COSMOS_CONTAINER"
	SettingReceiptTTL = "COSMOS_RECEIPT_TTL"
)

// Defaults for Config.
const (
	DefaultDatabase       = "shopify"
	DefaultContainer      = "orders"
	DefaultStartupTimeout = 15 * time.Second
	DefaultMaxThrottle    = 9                // retries of one request answered 429
	DefaultMaxThrottled   = 30 * time.Second // total wait for one request answered 429
	// PartitionKeyPath is the partition key path the container must have: every document is its
	// own logical partition (see README.md).
	PartitionKeyPath = "/id"
)

// Config says which Cosmos DB account, database and container hold the order log, and how to
// reach them. Exactly one of ConnectionString and Endpoint is needed (ConnectionString wins when
// both are set).
type Config struct {
	// ConnectionString is COSMOS_CONNECTION: "AccountEndpoint=https://…:443/;AccountKey=…;".
	// "DisableServerCertificateValidation=True" (the emulator's connection strings carry it)
	// turns certificate checks off.
	ConnectionString string
	// Endpoint is COSMOS_ENDPOINT, e.g. https://ACCOUNT.documents.azure.com:443/, used with
	// Credential (default: azidentity.DefaultAzureCredential, i.e. managed identity on Azure).
	Endpoint string
	// Credential authenticates with Endpoint; nil means DefaultAzureCredential.
	Credential azcore.TokenCredential
	// Database is COSMOS_DATABASE (default "shopify"); Container is COSMOS_CONTAINER (default
	// "orders").
	Database, Container string

	// ReceiptTTL, when positive, makes receipt documents (webhook dedupe records, quarantined
	// payloads) expire after that long. The container must have TTL on (defaultTtl -1, as
	// EnsureContainer creates it); otherwise Open logs a warning and they are kept.
	ReceiptTTL time.Duration

	// Logger receives start-up and throttling messages (default slog.Default()).
	Logger *slog.Logger
	// HTTPClient replaces the SDK's HTTP client (tests: a transport trusting a test certificate).
	HTTPClient *http.Client
	// StartupTimeout bounds Open's checks (default 15 s); an unreachable endpoint fails within it.
	StartupTimeout time.Duration
	// MaxThrottleRetries is how often one request answered 429 is retried (default 9; negative:
	// never), and MaxThrottleWait the total time it may wait for them (default 30 s). Each wait
	// is the x-ms-retry-after-ms the service asked for.
	MaxThrottleRetries int
	MaxThrottleWait    time.Duration
	// Now is the clock (tests); default time.Now.
	Now func() time.Time
}

func (c *Config) setDefaults() {
	if c.Database == "" {
		c.Database = DefaultDatabase
	}
	if c.Container == "" {
		c.Container = DefaultContainer
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.StartupTimeout <= 0 {
		c.StartupTimeout = DefaultStartupTimeout
	}
	if c.MaxThrottleRetries == 0 {
		c.MaxThrottleRetries = DefaultMaxThrottle
	} else if c.MaxThrottleRetries < 0 {
		c.MaxThrottleRetries = 0
	}
	if c.MaxThrottleWait <= 0 {
		c.MaxThrottleWait = DefaultMaxThrottled
	}
	if c.Now == nil {
		c.Now = time.Now
	}
}

// account is where to connect and how to authenticate, resolved from a Config.
type account struct {
	endpoint string // normalised, ends with "/"
	key      string // base64 account key; empty with a token credential
	setting  string // which setting supplied the endpoint (for error messages)
	insecure bool   // DisableServerCertificateValidation=True
}

// resolveAccount validates the connection settings. Errors name the setting and never contain
// the account key.
func resolveAccount(c *Config) (account, error) {
	if strings.TrimSpace(c.ConnectionString) != "" {
		return parseConnectionString(c.ConnectionString)
	}
	if strings.TrimSpace(c.Endpoint) == "" {
		return account{}, fmt.Errorf("%s or %s must be set to use Cosmos DB", SettingConnection, SettingEndpoint)
	}
	ep, err := normaliseEndpoint(c.Endpoint)
	if err != nil {
		return account{}, fmt.Errorf("%s=%q: %w", SettingEndpoint, c.Endpoint, err)
	}
	return account{endpoint: ep, setting: SettingEndpoint}, nil
}

const connectionFormat = "want AccountEndpoint=https://ACCOUNT.documents.azure.com:443/;AccountKey=KEY;"

// parseConnectionString reads "AccountEndpoint=…;AccountKey=…;". Its errors describe what is
// wrong without repeating the string (it holds the key).
func parseConnectionString(s string) (account, error) {
	fail := func(format string, args ...any) (account, error) {
		return account{}, fmt.Errorf("%s: malformed connection string: %s (%s)", SettingConnection, fmt.Sprintf(format, args...), connectionFormat)
	}
	a := account{setting: SettingConnection}
	var haveEndpoint, haveKey bool
	for i, part := range strings.Split(strings.TrimSpace(s), ";") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		name, value, ok := strings.Cut(part, "=")
		name = strings.TrimSpace(name)
		if !ok || name == "" {
			return fail("part %d is not name=value", i+1)
		}
		value = strings.TrimSpace(value)
		switch strings.ToLower(name) {
		case "accountendpoint":
			ep, err := normaliseEndpoint(value)
			if err != nil {
				return fail("AccountEndpoint %q: %v", value, err)
			}
			a.endpoint, haveEndpoint = ep, true
		case "accountkey":
			if value == "" {
				return fail("AccountKey is empty")
			}
			if _, err := base64.StdEncoding.DecodeString(value); err != nil {
				return fail("AccountKey is not base64") // never echo the key or where it broke
			}
			a.key, haveKey = value, true
		case "disableservercertificatevalidation":
			a.insecure = strings.EqualFold(value, "true")
		default:
			// Unknown parts (e.g. from other tools) are ignored; their values are not echoed.
		}
	}
	switch {
	case !haveEndpoint:
		return fail("AccountEndpoint is missing")
	case !haveKey:
		return fail("AccountKey is missing")
	}
	return a, nil
}

func normaliseEndpoint(s string) (string, error) {
	u, err := url.Parse(strings.TrimSpace(s))
	if err != nil {
		return "", errors.New("not a URL")
	}
	if u.Scheme != "https" && u.Scheme != "http" {
		return "", errors.New("want an https:// URL")
	}
	if u.Host == "" {
		return "", errors.New("no host")
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return "", errors.New("want scheme://host[:port]/ only")
	}
	if u.Path != "" && u.Path != "/" {
		return "", errors.New("want the account endpoint without a path")
	}
	return u.Scheme + "://" + u.Host + "/", nil
}

// insecureHTTPClient skips certificate checks: only for the emulator, on request.
func insecureHTTPClient() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.TLSClientConfig = &tls.Config{InsecureSkipVerify: true} //nolint:gosec // DisableServerCertificateValidation=True
	t.MaxIdleConnsPerHost = 100
	return &http.Client{Transport: t, Timeout: 65 * time.Second}
}
