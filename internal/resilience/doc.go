// Package resilience holds the product's crash-safety, warehouse-fault, graceful-shutdown and
// overload tests (issue 7). It has no code of its own: the tests build the real handler binary,
// run `handler serve` on the embedded SQLite default against the warehouse SIMULATORS
// (internal/warehousesim) in the test process, and kill, stop, overload and fault it; the
// overload tests drive the HTTP handler in-process over a deliberately slow store.
//
// What the crash test proves, and what it does not: SIGKILL loses the process but not the
// operating system's page cache, so it proves that a 200 is sent only after the delivery is
// committed (WAL journal, one writer, group commit), and that a restart recovers every committed
// order and job. It does not exercise fsync: surviving a power loss rests on
// synchronous=FULL (the default; SQLITE_SYNCHRONOUS=NORMAL keeps crash safety but may lose the
// last commits on power loss), which no test in this package can observe.
//
// The slow tests (the real binary, a few seconds each) are skipped under -short.
//
//	go test -race ./internal/resilience/          # everything, about 25 s on 2 cores
//	go test -short ./internal/resilience/         # only the in-process overload tests
package resilience
