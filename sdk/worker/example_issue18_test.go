package worker_test

import (
	"context"
	"fmt"
	"strings"

	"github.com/baton-go/baton/sdk/model"
	"github.com/baton-go/baton/sdk/worker"
)

// Middleware wraps every handler of a runner (WithMiddleware) or of one
// worker (Wrap); the first given is the outermost.
func ExampleWithMiddleware() {
	srv, api := devServer("shout")
	defer srv.Close()

	type tenantKey struct{}
	tenant := func(next worker.HandlerFunc) worker.HandlerFunc {
		return func(ctx context.Context, t *model.Task) (interface{}, error) {
			return next(context.WithValue(ctx, tenantKey{}, "acme"), t)
		}
	}
	upper := func(next worker.HandlerFunc) worker.HandlerFunc {
		return func(ctx context.Context, t *model.Task) (interface{}, error) {
			out, err := next(ctx, t)
			if m, ok := out.(map[string]interface{}); ok {
				m["greeting"] = strings.ToUpper(fmt.Sprint(m["greeting"]))
			}
			return out, err
		}
	}
	runner := worker.NewTaskRunnerWithApiClient(api, worker.WithLogger(quiet()), worker.WithMiddleware(tenant))
	defer runner.Shutdown(context.Background())
	greet := func(ctx context.Context, t *model.Task) (interface{}, error) {
		return map[string]interface{}{"greeting": fmt.Sprintf("hello %v from %v", t.InputData["name"], ctx.Value(tenantKey{}))}, nil
	}
	if err := runner.Start("shout", greet, worker.Wrap(upper)); err != nil {
		panic(err)
	}
	wf := run(srv, "shout", map[string]interface{}{"name": "Ada"})
	fmt.Println(wf.Output["greeting"])
	// Output: HELLO ADA FROM ACME
}

// Log adds lines to the task's execution log, which Conductor shows in its
// UI; they are sent with the result.
func ExampleLog() {
	srv, api := devServer("logged")
	defer srv.Close()

	runner := worker.NewTaskRunnerWithApiClient(api, worker.WithLogger(quiet()))
	defer runner.Shutdown(context.Background())
	h := func(ctx context.Context, t *model.Task) (interface{}, error) {
		worker.Log(ctx, "looking up the customer")
		worker.Logf(ctx, "found %v", t.InputData["name"])
		return map[string]interface{}{}, nil
	}
	if err := runner.Start("logged", h); err != nil {
		panic(err)
	}
	wf := run(srv, "logged", map[string]interface{}{"name": "Ada"})
	logs, err := api.Tasks().GetLogs(context.Background(), wf.Tasks[0].TaskId)
	if err != nil {
		panic(err)
	}
	for _, l := range logs {
		fmt.Println(l.Log)
	}
	// Output:
	// looking up the customer
	// found Ada
}
