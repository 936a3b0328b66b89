//go:build !unix

package main

// lockDataDir is a no-op where flock is not available; run one serving process per DATA_DIR.
func lockDataDir(string) (func(), error) { return func() {}, nil }
