// Package functionsapp holds the Azure Functions tests of the product: the real `handler` binary
// (built once per test run) behind the Functions host SIMULATOR (internal/functions/hostsim),
// with the app root's host.json and eight function folders, talking to the Shopify and warehouse
// SIMULATORS over loopback.
//
// The tests cover every function the way the host invokes it: the five Shopify webhooks and
// fulfillment-callback forwarded raw to /api/<name> (byte-exact HMAC, 401 passed through,
// function keys never logged) and through the non-forwarded invocation envelope (with that mode's
// documented limits); fulfillment-router receiving jobs as Service Bus messages in binary and
// string mode (IDs above 2^53, redelivery, transient warehouse failures re-scheduled instead of
// abandoned, invalid bodies quarantined); inventory-sync timer invocations (schedule status
// present or null, past due, overlap refused by the lease, last success recorded); readiness
// within the host's start budget, JSON-only stdout, and a clean exit on SIGTERM.
//
// There is no Service Bus here: with no SERVICE_BUS_* settings the product's queue is the SQLite
// jobs table, the binary runs with DISPATCH_WORKER=off, and the tests take queued jobs from that
// table and deliver them to fulfillment-router as the host would deliver the messages.
//
// The package has no non-test code besides this comment.
package functionsapp
