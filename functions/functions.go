// Package functions is the catalog of the order saga's function services;
// `natsfn run <name>` and `natsfn local` serve them from here. No service
// imports another: they talk through the events and requests of schemas/.
package functions

import (
	"errors"
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

// Validate reports settings that cannot work, after each service's
// defaults; every error wraps natsfn.ErrConfig.
func (c Config) Validate() error {
	_, err := All(c)
	return err
}

// All returns every function service of the application, by name.
func All(cfg Config) (map[string]natsfn.Service, error) {
	if cfg.Inventory.KeepSettled == 0 && cfg.Orders.Timeout > 0 {
		// Settled holds' markers must outlive any order still pending.
		cfg.Inventory.KeepSettled = max(time.Hour, 4*cfg.Orders.Timeout)
	}
	sim := cfg.Sim
	if sim == nil {
		var err error
		if sim, err = paysim.New(cfg.Provider); err != nil {
			return nil, err
		}
	}
	o, oerr := orders.Service(cfg.Orders)
	i, ierr := inventory.Service(cfg.Inventory)
	p, perr := payment.Service(cfg.Payment)
	if err := errors.Join(oerr, ierr, perr); err != nil {
		return nil, err
	}
	// Each service owns the stream of its events; every event-driven service
	// also declares the others' (creating one that exists changes nothing),
	// so any of them can start first.
	var streams []natsfn.Stream
	for _, s := range []natsfn.Service{o, i, p} {
		streams = append(streams, s.Streams...)
	}
	o.Streams, i.Streams, p.Streams = streams, streams, streams
	return map[string]natsfn.Service{"orders": o, "inventory": i, "payment": p, "paysim": sim.Service()}, nil
}

// Names lists the services in a stable order, for help and error messages.
func Names() []string {
	all, _ := All(Config{})
	var names []string
	for n := range all {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
