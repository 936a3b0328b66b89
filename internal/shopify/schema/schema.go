// Package schema embeds the Shopify Admin GraphQL schema (SDL) the product's documents are
// checked against: admin-2026-07, captured from a live store by introspection. The client's
// tests and the Shopify simulator (internal/shopifysim) load it from here; genqlient reads the
// file directly (../genqlient.yaml).
package schema

import _ "embed"

// Version is the Admin API version the embedded schema was captured from.
const Version = "2026-07"

// AdminSDL is the schema text (admin-2026-07.schema.graphql).
//
//go:embed admin-2026-07.schema.graphql
var AdminSDL string
