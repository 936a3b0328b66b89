// Package functions implements the Azure Functions custom-handler wire protocol (Functions host
// 4.x) for a Go handler: the invocation request the host POSTs to /<FunctionName>, the response
// it expects back, and the trigger payloads the product uses (HTTP without forwarding, Service Bus
// and timer). It holds no application logic.
//
// The protocol facts come from /work/shared/reference/azure-functions-custom-handler.md (read
// from the host's source); the section numbers in the comments (§2, §4 ...) refer to it.
//
// Rules the package enforces on the way out (§6):
//   - every reply has Content-Type: application/json and a non-empty JSON object body with
//     "Outputs" (an object), "Logs" (an array of strings, never null) and "ReturnValue";
//   - a failure is a non-2xx status: the host fails the invocation (a Service Bus message is
//     abandoned and redelivered, an HTTP caller gets 500). The host throws away Logs on failure,
//     so WriteFailure logs the details to stdout through slog instead.
//
// Decoding is lenient on the way in: the host double-encodes scalar strings ("\"abc\""), sends
// counters as strings ("1"), trims times to whole seconds without an offset, and older hosts used
// different shapes (Query as the string "{}"). Every decoder accepts those variants; none of them
// panics on any input (see the fuzz targets).
package functions
