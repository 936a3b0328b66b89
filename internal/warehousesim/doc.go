// Package warehousesim is a SIMULATOR of a warehouse API, not a real warehouse. It serves the
// warehouse side of DESIGN.md §5.2 for tests and the demo, and plays the warehouse side of the
// callback (§5.3):
//
//	POST /fulfillments               accept an order (bearer key, Idempotency-Key, JSON body)
//	POST /fulfillments/{id}/cancel   cancel an accepted fulfillment
//	GET  /inventory[?cursor=]        the stock feed, paginated with nextCursor
//
// Every response carries "X-Simulator: warehouse" and "X-Simulator-Warehouse: {name}", and
// every log line says SIMULATOR.
//
// A *Warehouse is one simulated warehouse (an http.Handler); create several for several
// warehouses, and serve each on its own listener or all on one with NewMux, which mounts each
// under /{name}/ (for example /warehouse-east/fulfillments).
//
// # Behaviour
//
//   - Authentication: "Authorization: Bearer {Config.Key}", else 401.
//   - Validation of POST /fulfillments: Content-Type application/json (415), an Idempotency-Key
//     (400), externalOrderId a decimal string, at least one item with a SKU and a positive
//     integer quantity, a shippingAddress with a country (400 with {"error": reason}).
//   - Idempotency: the first request with a key is accepted (201 {"fulfillmentId": id}); later
//     requests with the same key return the same id (200, or 409 when Config.DuplicateStatus is
//     409) and are not a new order.
//   - Cancel: 200 when cancelled; 404 unknown id; 409 already cancelled; 422 already shipped
//     (the callback has started). A cancelled fulfillment never gets a callback.
//   - Callback: after accepting, and after CallbackConfig.Delay, the simulator POSTs the §5.3
//     body to CallbackConfig.URL with "Authorization: Bearer {key}", retrying non-2xx answers a
//     bounded number of times with doubling waits. Tracking numbers are deterministic:
//     "1Z" + 16 hex digits derived from the warehouse name and the order id.
//   - Records: every API request (Requests), the distinct accepted orders (Orders), requests per
//     Idempotency-Key (CountByKey) and every callback attempt (Callbacks), for assertions.
//   - Faults, switchable at run time (InjectFault, or POST /_sim/faults): a status (503, 500,
//     429 with Retry-After…) for the next N requests and/or a time window, a delay before
//     answering, never answering (Hang), resetting the connection (Reset), or processing the
//     request and then resetting instead of answering (ResetAfter: the order is accepted but the
//     client never hears it). SetHook installs arbitrary per-request behaviour.
//
// # Admin API
//
// A small JSON API under /_sim/ lets another process (the demo) drive a running simulator. It is
// not recorded and never faulted; when Config.AdminKey is set it requires
// "Authorization: Bearer {AdminKey}". Never expose it beyond a test machine.
//
//	GET    /_sim/                      summary: name, counts, callback settings
//	GET    /_sim/orders                accepted fulfillments
//	GET    /_sim/requests              every API request and its answer
//	GET    /_sim/stock                 {"items":[{"sku","quantity"}]}
//	POST   /_sim/stock                 {"items":[{"sku","quantity"}],"replace":false}
//	GET    /_sim/faults                active faults
//	POST   /_sim/faults                add a fault, e.g. {"endpoint":"fulfillments","count":3,"status":503}
//	DELETE /_sim/faults                clear all faults
//	GET    /_sim/callbacks             every callback attempt
//	POST   /_sim/callbacks/{id}        send fulfillment {id}'s callback now (again, if it was sent)
//	PUT    /_sim/callback              change callback settings, e.g. {"url":"http://…","enabled":true,"delay":"50ms"}
//	POST   /_sim/reset                 forget requests, orders, callbacks and faults (stock stays)
package warehousesim
