package main

import (
	"github.com/go-chi/chi/v5"

	"github.com/shipwell/orderflow/internal/httpapi"
)

// functionRoutes adds the Functions host's invocation routes (POST /<function>).
func functionRoutes(a *app, srv *httpapi.Server) func(chi.Router) {
	return func(r chi.Router) {}
}
