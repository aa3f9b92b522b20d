package worker

import (
	"errors"

	"github.com/baton-go/baton/sdk/model"
)

// ErrShutdown is returned by Start and StartWorker after Shutdown, and is the
// cause (context.Cause) of a handler context cancelled because the shutdown
// deadline passed.
var ErrShutdown = errors.New("worker: runner is shut down")

// Terminal wraps err so that the task fails with FAILED_WITH_TERMINAL_ERROR
// and the server does not retry it. It is model.NewNonRetryableError under a
// shorter name; errors.Is and errors.As see through it.
func Terminal(err error) error { return model.NewNonRetryableError(err) }
