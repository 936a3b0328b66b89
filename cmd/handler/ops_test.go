package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shipwell/orderflow/internal/sqlite"
)

// TestCommandLines runs the operator commands against an empty embedded store.
func TestCommandLines(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("DATA_DIR", dir)
	t.Setenv("SHOPIFY_WEBHOOK_SECRET", "s")
	var out0, err0 bytes.Buffer
	if code := run(context.Background(), []string{"orders", "list"}, &out0, &err0); code != 1 || !strings.Contains(err0.String(), "no database at") {
		t.Fatalf("operator command on an empty DATA_DIR: exit %d %q", code, err0.String())
	}
	db, err := sqlite.Open(filepath.Join(dir, "orderflow.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	tests := []struct {
		args []string
		code int
		out  string // substring of stdout+stderr
	}{
		{[]string{"orders", "show", "123", "--json"}, 1, "no order 123"},
		{[]string{"orders", "show", "--json", "123"}, 1, "no order 123"},
		{[]string{"orders", "show"}, 2, "want one order id"},
		{[]string{"orders", "list", "--status", "bogus"}, 2, `unknown status "bogus"`},
		{[]string{"orders", "list", "--json"}, 0, "[]"},
		{[]string{"orders", "list", "--status", "held"}, 0, "ORDER"},
		{[]string{"dead-letters", "replay"}, 2, "want an order id or --all"},
		{[]string{"dead-letters", "replay", "1", "--all"}, 2, "want an order id or --all"},
		{[]string{"dead-letters", "replay", "--all"}, 0, "0 job(s) queued again"},
		{[]string{"dead-letters", "list"}, 0, "REASON"},
		{[]string{"quarantine", "list"}, 0, "WEBHOOK ID"},
		{[]string{"register-webhooks", "--base-url", "http://insecure.example"}, 1, "https"},
		{[]string{"register-webhooks"}, 2, "--base-url is required"},
		{[]string{"frobnicate"}, 2, "unknown command"},
		{[]string{"version"}, 0, "handler dev"},
	}
	for _, tc := range tests {
		var out, errb bytes.Buffer
		code := run(context.Background(), tc.args, &out, &errb)
		all := out.String() + errb.String()
		if code != tc.code || !strings.Contains(all, tc.out) {
			t.Errorf("handler %s: exit %d, want %d; output %q lacks %q", strings.Join(tc.args, " "), code, tc.code, all, tc.out)
		}
	}
}
