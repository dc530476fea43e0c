// Package functions is the catalog of the order saga's function services;
// `natsfn run <name>` and `natsfn local` serve them from here.
package functions

import (
	"sort"

	"github.com/natsfn/natsfn/runtime"
)

// All returns every function service of the application, by name.
func All() map[string]runtime.Service {
	return map[string]runtime.Service{}
}

// Names lists the services in a stable order, for help and error messages.
func Names() []string {
	var names []string
	for n := range All() {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
