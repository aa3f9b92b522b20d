// Package defaultrec links sdk/metrics's Prometheus recorder to sdk/worker as
// the default of a runner created without worker.WithMetrics, without
// sdk/worker importing client_golang (so a worker binary that exports no
// metrics does not link it).
//
// It is the database/sql driver pattern: sdk/metrics registers its factory in
// an init function, before main runs, and nothing changes it afterwards. The
// factory is the only package-level variable of the module that is written
// at all; it is written once, during package initialisation, when no other
// goroutine can read it, and Register refuses a second write.
package defaultrec

// factory builds the default recorder (a worker.Recorder, typed any to keep
// this package free of imports). Nil when sdk/metrics is not linked in.
var factory func() (any, error)

// Register sets the factory. It must be called from an init function, once.
func Register(f func() (any, error)) {
	if factory != nil {
		panic("defaultrec: a default recorder is registered already")
	}
	factory = f
}

// New returns a recorder from the registered factory, or nil, nil when none
// is registered.
func New() (any, error) {
	if factory == nil {
		return nil, nil
	}
	return factory()
}
