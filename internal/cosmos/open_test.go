package cosmos_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/data/azcosmos"

	"github.com/shipwell/orderflow/internal/cosmos"
	"github.com/shipwell/orderflow/internal/cosmos/cosmostest"
	"github.com/shipwell/orderflow/internal/order/ordertest"
)

// secretKey is a syntactically valid account key that must never appear in errors or logs.
const secretKey = "c2VjcmV0LWtleS1tdXN0LW5ldmVyLWJlLWxvZ2dlZA=="

// checkNoSecret fails when any of texts contains the key (or a recognisable part of it).
func checkNoSecret(t *testing.T, key string, texts ...string) {
	t.Helper()
	for _, s := range texts {
		if key != "" && (strings.Contains(s, key) || strings.Contains(s, key[:12])) {
			t.Errorf("secret leaked: %q", s)
		}
	}
}

func TestOpenRejectsMalformedConnectionStrings(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, conn, key, want string
	}{
		{"garbage", "this is not a connection string", "", "not name=value"},
		{"no key", "AccountEndpoint=https://acme.documents.azure.com:443/;", "", "AccountKey is missing"},
		{"no endpoint", "AccountKey=" + secretKey + ";", secretKey, "AccountEndpoint is missing"},
		{"empty key", "AccountEndpoint=https://acme.documents.azure.com:443/;AccountKey=;", "", "AccountKey is empty"},
		{"key not base64", "AccountEndpoint=https://acme.documents.azure.com:443/;AccountKey=s3cr3t!!not-base64-at-all;", "s3cr3t!!not-base64-at-all", "not base64"},
		{"endpoint not a URL", "AccountEndpoint=acme.documents.azure.com;AccountKey=" + secretKey, secretKey, "AccountEndpoint"},
		{"endpoint scheme", "AccountEndpoint=ftp://acme/;AccountKey=" + secretKey, secretKey, "https://"},
		{"endpoint with path", "AccountEndpoint=https://acme.documents.azure.com/dbs/x;AccountKey=" + secretKey, secretKey, "without a path"},
		{"key first, odd case", "accountkey=" + secretKey + ";ACCOUNTENDPOINT=notaurl", secretKey, "AccountEndpoint"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			log, logs := newLogger(t)
			s, err := cosmos.Open(context.Background(), cosmos.Config{ConnectionString: tc.conn, Logger: log})
			if err == nil {
				s.Close()
				t.Fatal("Open accepted a malformed connection string")
			}
			msg := err.Error()
			if !strings.Contains(msg, cosmos.SettingConnection) || !strings.Contains(msg, tc.want) {
				t.Errorf("error %q does not name %s and %q", msg, cosmos.SettingConnection, tc.want)
			}
			checkNoSecret(t, tc.key, msg, logs.String())
		})
	}
}

func TestOpenRejectsBadSettings(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		cfg  cosmos.Config
		want string
	}{
		{"nothing", cosmos.Config{}, "COSMOS_CONNECTION or COSMOS_ENDPOINT"},
		{"endpoint not a URL", cosmos.Config{Endpoint: "acme"}, cosmos.SettingEndpoint},
		{"database name", cosmos.Config{Endpoint: "https://acme.documents.azure.com/", Database: "a/b"}, cosmos.SettingDatabase},
		{"container name", cosmos.Config{Endpoint: "https://acme.documents.azure.com/", Container: "c#1"}, cosmos.SettingContainer},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := cosmos.Open(context.Background(), tc.cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Open = %v, want an error naming %s", err, tc.want)
			}
		})
	}
}

// An endpoint nobody listens on, and one that accepts connections but never answers, fail
// Open within StartupTimeout (the test would hang otherwise) with the setting named.
func TestOpenUnreachableEndpoint(t *testing.T) {
	t.Parallel()
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { silent.Close() })
	go func() {
		var held []net.Conn
		for {
			c, err := silent.Accept()
			if err != nil {
				for _, c := range held {
					c.Close()
				}
				return
			}
			held = append(held, c) // never answer
		}
	}()
	for _, tc := range []struct {
		name, endpoint string
		timeout        time.Duration
	}{
		{"refused", "http://127.0.0.1:1/", 10 * time.Second}, // the SDK gives up first
		{"silent", "http://" + silent.Addr().String() + "/", 2 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			log, logs := newLogger(t)
			s, err := cosmos.Open(context.Background(), cosmos.Config{
				ConnectionString: "AccountEndpoint=" + tc.endpoint + ";AccountKey=" + secretKey + ";",
				Logger:           log, StartupTimeout: tc.timeout,
			})
			if err == nil {
				s.Close()
				t.Fatal("Open succeeded against an unreachable endpoint")
			}
			if !strings.Contains(err.Error(), cosmos.SettingConnection) || !strings.Contains(err.Error(), tc.endpoint) {
				t.Errorf("error %q does not name %s and the endpoint", err, cosmos.SettingConnection)
			}
			checkNoSecret(t, secretKey, err.Error(), logs.String())
		})
	}
	t.Run("managed identity", func(t *testing.T) {
		t.Parallel()
		_, err := cosmos.Open(context.Background(), cosmos.Config{Endpoint: "http://127.0.0.1:1/",
			Credential: fakeCredential{}, StartupTimeout: 2 * time.Second})
		if err == nil || !strings.Contains(err.Error(), cosmos.SettingEndpoint) {
			t.Fatalf("Open = %v, want an error naming %s", err, cosmos.SettingEndpoint)
		}
	})
}

func TestOpenMissingDatabaseOrContainer(t *testing.T) {
	t.Parallel()
	srv := cosmostest.Start(t)
	c := srv.NewContainer(t, recommended)
	pk := srv.NewContainer(t, cosmostest.WithPartitionKeyPath("/pk"))
	for _, tc := range []struct {
		name                string
		database, container string
		want                []string
	}{
		{"database", "no-such-db-" + c.DatabaseID, c.ContainerID, []string{cosmos.SettingDatabase, "no such database"}},
		{"container", c.DatabaseID, "no-such-container", []string{cosmos.SettingContainer, "no such container", "/id"}},
		{"partition key", pk.DatabaseID, pk.ContainerID, []string{cosmos.SettingContainer, "/pk", "want /id"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			log, logs := newLogger(t)
			cfg := cosmos.Config{ConnectionString: srv.ConnectionString(), Database: tc.database, Container: tc.container,
				HTTPClient: srv.HTTPClient(), Logger: log}
			s, err := cosmos.Open(ctx(t), cfg)
			if err == nil {
				s.Close()
				t.Fatal("Open succeeded")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			checkNoSecret(t, srv.Key, err.Error(), logs.String())
		})
	}
}

// fakeCredential stands in for DefaultAzureCredential (the simulator accepts any token).
type fakeCredential struct{ err error }

func (f fakeCredential) GetToken(context.Context, policy.TokenRequestOptions) (azcore.AccessToken, error) {
	if f.err != nil {
		return azcore.AccessToken{}, f.err
	}
	return azcore.AccessToken{Token: "fake-token", ExpiresOn: time.Now().Add(time.Hour)}, nil
}

// COSMOS_ENDPOINT with a token credential reaches the account; a credential that cannot get a
// token is a start-up error saying so.
func TestOpenWithTokenCredential(t *testing.T) {
	t.Parallel()
	srv := cosmostest.Start(t)
	srv.RequireSimulator(t) // a real account would refuse the fake token
	c := srv.NewContainer(t, recommended)
	log, logs := newLogger(t)
	cfg := cosmos.Config{Endpoint: srv.Endpoint, Credential: fakeCredential{}, Database: c.DatabaseID,
		Container: c.ContainerID, HTTPClient: srv.HTTPClient(), Logger: log}
	s := open(t, cfg)
	o := ordertest.NewOrder(shop, "1")
	if err := s.Save(ctx(t), o); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx(t), o.ID); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), "managed identity") {
		t.Errorf("start-up log does not say which authentication is used: %s", logs)
	}

	cfg.Credential = fakeCredential{err: errors.New("ManagedIdentityCredential: no identity assigned")}
	_, err := cosmos.Open(ctx(t), cfg)
	if err == nil || !strings.Contains(err.Error(), cosmos.SettingEndpoint) || !strings.Contains(err.Error(), "no identity assigned") {
		t.Fatalf("Open with a failing credential = %v, want an error naming %s and the cause", err, cosmos.SettingEndpoint)
	}
}

// The emulator's connection strings carry DisableServerCertificateValidation=True: honoured,
// and without it a self-signed certificate is a start-up error.
func TestOpenDisableServerCertificateValidation(t *testing.T) {
	t.Parallel()
	requireLocalSimulator(t)
	srv := cosmostest.StartDedicated(t, cosmostest.Options{TLS: true})
	c := srv.NewContainer(t, recommended)
	base := "AccountEndpoint=" + srv.Endpoint + ";AccountKey=" + srv.Key + ";"
	cfg := cosmos.Config{Database: c.DatabaseID, Container: c.ContainerID, StartupTimeout: 10 * time.Second}

	log, logs := newLogger(t)
	cfg.Logger, cfg.ConnectionString = log, base+"DisableServerCertificateValidation=True;"
	s := open(t, cfg)
	if err := s.Ping(ctx(t)); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), "certificate checks are OFF") {
		t.Errorf("no warning about disabled certificate checks: %s", logs)
	}

	cfg.ConnectionString = base
	_, err := cosmos.Open(ctx(t), cfg)
	if err == nil || !strings.Contains(err.Error(), cosmos.SettingConnection) || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("Open against a self-signed certificate = %v, want a certificate error naming %s", err, cosmos.SettingConnection)
	}
}

// EnsureContainer creates the database and container Open needs, is idempotent, and refuses a
// container partitioned otherwise.
func TestEnsureContainer(t *testing.T) {
	t.Parallel()
	srv := cosmostest.Start(t)
	var b [5]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	dbID := "t-ensure-" + hex.EncodeToString(b[:])
	client := srv.NewClient(t)
	t.Cleanup(func() {
		if db, err := client.NewDatabase(dbID); err == nil {
			_, _ = db.Delete(context.Background(), nil)
		}
	})
	log, _ := newLogger(t)
	cfg := cosmos.Config{ConnectionString: srv.ConnectionString(), Database: dbID, HTTPClient: srv.HTTPClient(), Logger: log}
	if _, err := cosmos.Open(ctx(t), cfg); err == nil || !strings.Contains(err.Error(), cosmos.SettingDatabase) {
		t.Fatalf("Open before setup = %v, want a missing-database error", err)
	}
	for range 2 {
		if err := cosmos.EnsureContainer(ctx(t), cfg); err != nil {
			t.Fatalf("EnsureContainer: %v", err)
		}
	}
	s := open(t, cfg) // default container name "orders"
	if err := s.Save(ctx(t), ordertest.NewOrder(shop, "1")); err != nil {
		t.Fatal(err)
	}
	cc, err := client.NewContainer(dbID, cosmos.DefaultContainer)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := cc.Read(ctx(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	if p := resp.ContainerProperties; p.PartitionKeyDefinition.Paths[0] != "/id" || p.DefaultTimeToLive == nil || *p.DefaultTimeToLive != -1 {
		t.Fatalf("created container: pk %v ttl %v", p.PartitionKeyDefinition.Paths, p.DefaultTimeToLive)
	}

	db, err := client.NewDatabase(dbID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.CreateContainer(ctx(t), azcosmos.ContainerProperties{ID: "by-pk",
		PartitionKeyDefinition: azcosmos.PartitionKeyDefinition{Paths: []string{"/pk"}}}, nil); err != nil {
		t.Fatal(err)
	}
	cfg.Container = "by-pk"
	if err := cosmos.EnsureContainer(ctx(t), cfg); err == nil || !strings.Contains(err.Error(), cosmos.SettingContainer) {
		t.Fatalf("EnsureContainer on a /pk container = %v, want an error naming %s", err, cosmos.SettingContainer)
	}
}
