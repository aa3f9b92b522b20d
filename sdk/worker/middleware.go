package worker

import (
	"fmt"
)

// Middleware wraps a handler: it returns a handler that may change the
// context or the task before calling next, and the output or error after.
// It is the place for what every handler needs (tenant or auth values in
// ctx, custom metrics, tracing, a recovery or retry policy) instead of
// wrapping each handler by hand:
//
//	tenant := func(next worker.HandlerFunc) worker.HandlerFunc {
//		return func(ctx context.Context, t *model.Task) (interface{}, error) {
//			ctx = context.WithValue(ctx, tenantKey{}, t.InputData["tenant"])
//			return next(ctx, t)
//		}
//	}
//	runner := worker.NewTaskRunnerWithApiClient(apiClient, worker.WithMiddleware(tenant))
//
// A middleware runs on the handler's goroutine with the handler's context
// (task, logger, deadline, tracing span); a panic in it fails the task as a
// panic in the handler does. Middleware is applied once, when a worker
// starts, not per task.
type Middleware func(next HandlerFunc) HandlerFunc

// WithMiddleware wraps the handler of every worker the runner starts. The
// first middleware is the outermost: WithMiddleware(a, b) runs a, then b,
// then the worker's own middleware (Wrap), then the handler. Calling it
// more than once appends.
func WithMiddleware(mw ...Middleware) Option {
	return func(c *runnerConfig) {
		for i, m := range mw {
			if m == nil {
				c.fail(fmt.Errorf("worker: WithMiddleware: middleware %d is nil", i))
				return
			}
		}
		c.middleware = append(c.middleware, mw...)
	}
}

// Wrap wraps one worker's handler, inside the runner's middleware; the
// first is the outermost. Repeating the option appends. On a second Start
// of a running worker it has no effect (the first handler stays).
func Wrap(mw ...Middleware) WorkerOption {
	return func(c *workerConfig) {
		for i, m := range mw {
			if m == nil {
				c.fail(fmt.Errorf("worker: Wrap: middleware %d is nil", i))
				return
			}
		}
		c.middleware = append(c.middleware, mw...)
	}
}

// chain applies the runner's and the worker's middleware to h, innermost
// first, so that the first one given ends up outermost. Building the chain
// runs user code: a middleware that panics or returns nil is reported as an
// error of Start rather than taking the process down.
func chain(h HandlerFunc, outer ...[]Middleware) (out HandlerFunc, err error) {
	var all []Middleware
	for _, mws := range outer {
		all = append(all, mws...)
	}
	defer func() {
		if v := recover(); v != nil {
			out, err = nil, fmt.Errorf("worker: a middleware panicked while wrapping the handler: %v", v)
		}
	}()
	for i := len(all) - 1; i >= 0; i-- {
		h = all[i](h)
		if h == nil {
			return nil, fmt.Errorf("worker: middleware %d (counting from 0, runner's first) returned a nil handler", i)
		}
	}
	return h, nil
}
