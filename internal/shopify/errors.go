package shopify

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/shipwell/orderflow/internal/order"
)

// Top-level GraphQL error codes (errors[].extensions.code) the client treats specially.
const (
	// CodeThrottled: the cost bucket could not afford the query; retried after a wait.
	CodeThrottled = "THROTTLED"
	// CodeMaxCostExceeded: a single query asked for more than 1,000 points; never retried.
	CodeMaxCostExceeded = "MAX_COST_EXCEEDED"
	// CodeInternalServerError: Shopify failed while executing; transient.
	CodeInternalServerError = "INTERNAL_SERVER_ERROR"
	// CodeAccessDenied: the token lacks a scope the query needs.
	CodeAccessDenied = "ACCESS_DENIED"
)

// inventorySetQuantities userError codes (InventorySetQuantitiesUserErrorCode) the caller acts on.
const (
	// CodeChangeFromQuantityStale: compare-and-swap failed; re-read the quantity and retry.
	CodeChangeFromQuantityStale = "CHANGE_FROM_QUANTITY_STALE"
	// CodeIdempotencyConcurrentRequest: the same key is still in flight; retry later with it.
	CodeIdempotencyConcurrentRequest = "IDEMPOTENCY_CONCURRENT_REQUEST"
	// CodeIdempotencyKeyMismatch: the key was used before with different variables.
	CodeIdempotencyKeyMismatch = "IDEMPOTENCY_KEY_PARAMETER_MISMATCH"
	// CodeItemNotStocked: the item is not active at the location (inventoryActivate first).
	CodeItemNotStocked = "ITEM_NOT_STOCKED_AT_LOCATION"
)

// GraphQLError is a response's top-level errors[] list: parse and validation errors
// (PARSE_ERROR, undefinedField, selectionMismatch, INVALID_VARIABLE), argument problems
// (INVALID_FIELD_ARGUMENTS), BAD_REQUEST, ACCESS_DENIED, MAX_COST_EXCEEDED, THROTTLED, and so
// on. Shopify sends all of them with HTTP 200.
type GraphQLError struct {
	Operation string        // the operation name, e.g. FulfillmentCreate
	Errors    []ErrorDetail // at least one
}

// ErrorDetail is one entry of errors[].
type ErrorDetail struct {
	Message    string         `json:"message"`
	Path       []any          `json:"path,omitempty"`
	Extensions map[string]any `json:"extensions,omitempty"`
}

// Code returns extensions.code, or "".
func (d ErrorDetail) Code() string {
	c, _ := d.Extensions["code"].(string)
	return c
}

// Code returns the code of the first error that has one.
func (e *GraphQLError) Code() string {
	for _, d := range e.Errors {
		if c := d.Code(); c != "" {
			return c
		}
	}
	return ""
}

// HasCode reports whether any of the errors has the code.
func (e *GraphQLError) HasCode(code string) bool {
	for _, d := range e.Errors {
		if d.Code() == code {
			return true
		}
	}
	return false
}

// Error lists the first errors with their codes.
func (e *GraphQLError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "shopify %s: graphql error", e.Operation)
	for i, d := range e.Errors {
		if i == 3 {
			fmt.Fprintf(&b, "; and %d more", len(e.Errors)-i)
			break
		}
		b.WriteString("; ")
		if c := d.Code(); c != "" {
			b.WriteString(c + ": ")
		}
		b.WriteString(d.Message)
	}
	if e.HasCode(CodeAccessDenied) {
		b.WriteString(" (the access token is missing a scope this call needs; grant it to the app and reinstall)")
	}
	return b.String()
}

// transient reports whether retrying the same request later may succeed.
func (e *GraphQLError) transient() bool {
	for _, d := range e.Errors {
		switch d.Code() {
		case CodeThrottled, CodeInternalServerError, "TIMEOUT", "SERVICE_UNAVAILABLE":
		default:
			return false
		}
	}
	return true
}

// UserError is one entry of a mutation's userErrors[]: field is the path of the input that is
// wrong (array indexes as strings, e.g. ["input","quantities","3","changeFromQuantity"]).
// Code is set only by mutations with typed user errors (inventory).
type UserError struct {
	Field   []string `json:"field"`
	Message string   `json:"message"`
	Code    string   `json:"code,omitempty"`
}

// Index returns the array index that follows the path segment after in Field, e.g.
// Index("quantities") is 3 for ["input","quantities","3","quantity"].
func (u UserError) Index(after string) (int, bool) {
	for i := 0; i+1 < len(u.Field); i++ {
		if u.Field[i] == after {
			n, err := strconv.Atoi(u.Field[i+1])
			return n, err == nil
		}
	}
	return 0, false
}

// String renders "field.path: message (CODE)".
func (u UserError) String() string {
	s := u.Message
	if len(u.Field) > 0 {
		s = strings.Join(u.Field, ".") + ": " + s
	}
	if u.Code != "" {
		s += " (" + u.Code + ")"
	}
	return s
}

// UserErrors is a mutation's non-empty userErrors[]: Shopify refused the input (HTTP 200).
type UserErrors struct {
	Operation string
	Errors    []UserError
}

// Error lists every user error.
func (e *UserErrors) Error() string {
	parts := make([]string, 0, len(e.Errors))
	for _, u := range e.Errors {
		parts = append(parts, u.String())
	}
	return fmt.Sprintf("shopify %s: rejected: %s", e.Operation, strings.Join(parts, "; "))
}

// HasCode reports whether any user error has the code.
func (e *UserErrors) HasCode(code string) bool {
	for _, u := range e.Errors {
		if u.Code == code {
			return true
		}
	}
	return false
}

// HTTPError is a non-200 answer from the Admin API. 401 (bad token), 402 (shop frozen or
// unpaid), 403 (missing scope), 404 (shop not found) and 423 (shop locked) are permanent
// and returned at once; 429 and 5xx are retried and returned only when retries run out.
type HTTPError struct {
	Operation  string
	StatusCode int
	Message    string // Shopify's "errors" text, when the body had one
}

// Error names the status, what it means, and Shopify's message.
func (e *HTTPError) Error() string {
	msg := fmt.Sprintf("shopify %s: HTTP %d", e.Operation, e.StatusCode)
	if c := httpCause(e.StatusCode); c != "" {
		msg += ": " + c
	}
	if e.Message != "" {
		msg += " (Shopify says: " + e.Message + ")"
	}
	return msg
}

// httpCause names what an HTTP status means for an Admin API call.
func httpCause(status int) string {
	switch status {
	case 400:
		return "bad request"
	case 401:
		return "the access token is invalid or missing (check SHOPIFY_ACCESS_TOKEN)"
	case 402:
		return "the shop is frozen or its plan is unpaid"
	case 403:
		return "the access token lacks a required scope, or the app is not allowed to do this"
	case 404:
		return "shop or API endpoint not found (check SHOPIFY_STORE_URL and SHOPIFY_API_VERSION)"
	case 423:
		return "the shop is locked"
	case 429:
		return "rate limited"
	case 301, 302, 303, 307, 308:
		return "the store URL redirects (set SHOPIFY_STORE_URL to the shop's .myshopify.com domain)"
	}
	if status >= 500 {
		return "Shopify server error"
	}
	return ""
}

// Is makes errors.Is(err, order.ErrStale) true for a compare-and-swap failure, so callers that
// only know the order package can tell it apart.
func (e *UserErrors) Is(target error) bool {
	return target == order.ErrStale && e.HasCode(CodeChangeFromQuantityStale)
}

// IsStale reports whether err is an inventory compare-and-swap failure
// (CHANGE_FROM_QUANTITY_STALE): re-read the available quantities and try again.
func IsStale(err error) bool {
	var u *UserErrors
	return errors.As(err, &u) && u.HasCode(CodeChangeFromQuantityStale)
}
