// Package functions is the catalog of the order saga's function services;
// `natsfn run <name>` and `natsfn local` serve them from here. No service
// imports another: they talk through the events and requests of schemas/.
package functions

import (
	"sort"
	"time"

	"github.com/natsfn/natsfn/functions/inventory"
	"github.com/natsfn/natsfn/functions/orders"
	"github.com/natsfn/natsfn/functions/payment"
	"github.com/natsfn/natsfn/functions/paysim"
	natsfn "github.com/natsfn/natsfn/runtime"
)

// Config tunes the services; the zero value is a sane default.
type Config struct {
	Orders    orders.Config
	Inventory inventory.Config
	Payment   payment.Config
	// Provider is the payment provider simulator's behaviour.
	Provider paysim.Config
	// Sim, if set, is the simulator instance to serve (tests read its counts).
	Sim *paysim.Provider
}

// All returns every function service of the application, by name.
func All(cfg Config) map[string]natsfn.Service {
	if cfg.Inventory.KeepSettled == 0 && cfg.Orders.Timeout > 0 {
		// Settled holds' markers must outlive any order still pending.
		cfg.Inventory.KeepSettled = max(time.Hour, 4*cfg.Orders.Timeout)
	}
	sim := cfg.Sim
	if sim == nil {
		sim = paysim.New(cfg.Provider)
	}
	return map[string]natsfn.Service{
		"orders":    orders.Service(cfg.Orders),
		"inventory": inventory.Service(cfg.Inventory),
		"payment":   payment.Service(cfg.Payment),
		"paysim":    sim.Service(),
	}
}

// Names lists the services in a stable order, for help and error messages.
func Names() []string {
	var names []string
	for n := range All(Config{}) {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
