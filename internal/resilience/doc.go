// Package resilience holds the product's crash-safety, warehouse-fault, graceful-shutdown and
// overload tests (issue 7). It has no code of its own: the tests build the real handler binary,
// run `handler serve` on the embedded SQLite default against the warehouse SIMULATORS
// (internal/warehousesim) in the test process, and kill, stop, overload and fault it.
//
// The slow tests (the real binary, several seconds each) are skipped under -short.
//
//	go test -race ./internal/resilience/          # everything, about a minute on 2 cores
//	go test -short ./internal/resilience/         # only the in-process overload tests
package resilience
