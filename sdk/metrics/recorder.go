package metrics

import (
	"github.com/baton-go/baton/internal/defaultrec"
	"github.com/baton-go/baton/internal/errkind"
	"github.com/baton-go/baton/sdk/worker"
)

// The recorder interface lives with its caller (worker.Recorder); this
// package implements it for Prometheus.
var _ worker.Recorder = (*Prometheus)(nil)

// A runner created without worker.WithMetrics reports to DefaultRecorder when
// this package is part of the program (see internal/defaultrec).
func init() {
	defaultrec.Register(func() (any, error) { return DefaultRecorder() })
}

// pollErrorKinds are the values of the kind label of task_poll_error, and
// executeErrorKinds those of task_execute_error. Each series exists, at
// zero, from a task type's first event on.
var (
	pollErrorKinds    = errkind.Poll()
	executeErrorKinds = errkind.Execute()
)
