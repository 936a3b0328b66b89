// Command stubhandler stands in for cmd/handler in the packaging test when that package does
// not exist yet: the test only needs some main package to build for linux/amd64.
package main

import (
	"net/http"
	"os"
)

func main() {
	http.ListenAndServe("127.0.0.1:"+os.Getenv("FUNCTIONS_CUSTOMHANDLER_PORT"), http.NotFoundHandler())
}
