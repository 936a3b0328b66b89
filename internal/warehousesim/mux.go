package warehousesim

import (
	"fmt"
	"net/http"
	"sort"
)

// NewMux serves several simulated warehouses on one listener: warehouse w answers under
// /{w.Name()}/, e.g. POST /warehouse-east/fulfillments and GET /warehouse-east/_sim/orders, so
// its base URL is http://host:port/{name}. GET /_sim/ lists the warehouses and their paths.
// Names must be unique and consist of letters, digits, '-', '_' and '.'.
func NewMux(ws ...*Warehouse) (*http.ServeMux, error) {
	mux := http.NewServeMux()
	names := make([]string, 0, len(ws))
	seen := map[string]bool{}
	for _, w := range ws {
		if w == nil {
			return nil, fmt.Errorf("warehouse simulator mux: nil warehouse")
		}
		name := w.Name()
		if !pathSafe(name) || name == "_sim" {
			return nil, fmt.Errorf("warehouse simulator mux: name %q cannot be a path segment", name)
		}
		if seen[name] {
			return nil, fmt.Errorf("warehouse simulator mux: duplicate name %q", name)
		}
		seen[name] = true
		names = append(names, name)
		mux.Handle("/"+name+"/", http.StripPrefix("/"+name, w))
	}
	sort.Strings(names)
	mux.HandleFunc("/", func(rw http.ResponseWriter, r *http.Request) {
		rw.Header().Set("X-Simulator", "warehouse")
		if r.URL.Path != "/_sim/" && r.URL.Path != "/_sim" && r.URL.Path != "/" {
			writeError(rw, http.StatusNotFound, "no such warehouse (warehouse SIMULATOR); see GET /_sim/")
			return
		}
		list := make([]map[string]string, 0, len(names))
		for _, n := range names {
			list = append(list, map[string]string{"name": n, "baseURL": "/" + n, "admin": "/" + n + "/_sim/"})
		}
		writeJSON(rw, http.StatusOK, map[string]any{"simulator": "warehouse",
			"note": "This is a SIMULATOR, not a real warehouse.", "warehouses": list})
	})
	return mux, nil
}

func pathSafe(s string) bool {
	if s == "" || s == "." || s == ".." {
		return false
	}
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == '.':
		default:
			return false
		}
	}
	return true
}
