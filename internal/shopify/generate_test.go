package shopify

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/Khan/genqlient/generate"
	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/parser"
	"github.com/vektah/gqlparser/v2/validator"

	"github.com/shipwell/orderflow/internal/shopify/gql"
	"github.com/shipwell/orderflow/internal/shopify/schema"
)

// TestGeneratedCodeIsCurrent regenerates gql/generated.go from operations.graphql and the
// schema (genqlient validates every document on the way) and fails on any difference: run
// `go generate ./internal/shopify` after changing a document.
func TestGeneratedCodeIsCurrent(t *testing.T) {
	cfg, err := generate.ReadAndValidateConfig("genqlient.yaml")
	if err != nil {
		t.Fatal(err)
	}
	files, err := generate.Generate(cfg)
	if err != nil {
		t.Fatalf("genqlient: %v", err)
	}
	if len(files) == 0 {
		t.Fatal("genqlient generated nothing")
	}
	for name, want := range files {
		rel, err := filepath.Rel(mustAbs(t, "."), name)
		if err != nil {
			rel = name
		}
		got, err := os.ReadFile(name)
		if err != nil {
			t.Fatalf("%s: %v (run go generate ./internal/shopify)", rel, err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s is stale: run go generate ./internal/shopify", rel)
		}
	}
}

func mustAbs(t *testing.T, p string) string {
	t.Helper()
	a, err := filepath.Abs(p)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// TestSentDocumentsValidate validates the exact text of every document the client sends
// against the Admin API schema with gqlparser (independently of genqlient).
func TestSentDocumentsValidate(t *testing.T) {
	sch, err := gqlparser.LoadSchema(&ast.Source{Name: "admin", Input: schema.AdminSDL})
	if err != nil {
		t.Fatal(err)
	}
	docs := map[string]string{
		"OrderFulfillmentState":     gql.OrderFulfillmentState_Operation,
		"FulfillmentOrderLines":     gql.FulfillmentOrderLines_Operation,
		"FulfillmentCreate":         gql.FulfillmentCreate_Operation,
		"VariantsBySKU":             gql.VariantsBySKU_Operation,
		"InventoryAvailable":        gql.InventoryAvailable_Operation,
		"InventorySetQuantities":    gql.InventorySetQuantities_Operation,
		"WebhookSubscriptions":      gql.WebhookSubscriptions_Operation,
		"WebhookSubscriptionCreate": gql.WebhookSubscriptionCreate_Operation,
		"WebhookSubscriptionUpdate": gql.WebhookSubscriptionUpdate_Operation,
	}
	src, err := os.ReadFile("operations.graphql")
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(src), "\nquery ") + strings.Count(string(src), "\nmutation "); n != len(docs) {
		t.Errorf("operations.graphql has %d operations, this test checks %d", n, len(docs))
	}
	for name, text := range docs {
		doc, perr := parser.ParseQuery(&ast.Source{Name: name, Input: text})
		if perr != nil {
			t.Errorf("%s: %v", name, perr)
			continue
		}
		if errs := validator.ValidateWithRules(sch, doc, nil); len(errs) > 0 {
			t.Errorf("%s: %v", name, errs)
		}
		if doc.Operations.ForName(name) == nil {
			t.Errorf("%s: operation name differs", name)
		}
		for _, dep := range []string{"callbackUrl", "fulfillmentCreateV2", "compareQuantity", "ignoreCompareQuantity"} {
			if strings.Contains(text, dep) {
				t.Errorf("%s uses the deprecated or removed %s", name, dep)
			}
		}
	}
	if !strings.Contains(gql.InventorySetQuantities_Operation, "@idempotent(key: $key)") {
		t.Error("inventorySetQuantities is sent without @idempotent")
	}
}
