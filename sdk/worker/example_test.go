package worker_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/baton-go/baton/sdk/client"
	"github.com/baton-go/baton/sdk/conductortest"
	"github.com/baton-go/baton/sdk/model"
	"github.com/baton-go/baton/sdk/settings"
	"github.com/baton-go/baton/sdk/worker"
)

// devServer starts the in-memory server with a one-task workflow named after
// the task type, and returns a client for it.
func devServer(taskType string) (*conductortest.Server, *client.APIClient) {
	srv := conductortest.NewServer(conductortest.WithOwnerEmailOptional())
	err := srv.RegisterWorkflowDef(model.WorkflowDef{
		Name: taskType, Version: 1, SchemaVersion: 2,
		Tasks: []model.WorkflowTask{{
			Name: taskType, TaskReferenceName: taskType, Type: "SIMPLE",
			InputParameters: map[string]interface{}{"name": "${workflow.input.name}", "amount": "${workflow.input.amount}"},
		}},
	})
	if err != nil {
		panic(err)
	}
	return srv, client.NewAPIClient(nil, settings.NewHttpSettings(srv.URL()))
}

func run(srv *conductortest.Server, name string, input map[string]interface{}) model.Workflow {
	id, err := srv.StartWorkflow(model.StartWorkflowRequest{Name: name, Version: 1, Input: input})
	if err != nil {
		panic(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.WaitWorkflows(ctx, id); err != nil {
		panic(err)
	}
	wf, _ := srv.Workflow(id)
	return wf
}

func quiet() logrus.FieldLogger {
	l := logrus.New()
	l.SetOutput(io.Discard)
	return l
}

// The original SDK's way: StartWorker with an ExecuteTaskFunction, then
// Shutdown and WaitWorkers.
func ExampleTaskRunner_StartWorker() {
	srv, api := devServer("greet")
	defer srv.Close()

	runner := worker.NewTaskRunnerWithApiClient(api, worker.WithLogger(quiet()))
	greet := func(t *model.Task) (interface{}, error) {
		return map[string]interface{}{"greeting": fmt.Sprintf("Hello, %v!", t.InputData["name"])}, nil
	}
	// Up to 10 tasks at a time; 100 ms between polls when the server
	// answers empty polls at once.
	if err := runner.StartWorker("greet", greet, 10, 100*time.Millisecond); err != nil {
		panic(err)
	}

	wf := run(srv, "greet", map[string]interface{}{"name": "Ada"})
	fmt.Println(wf.Status, wf.Output["greeting"])

	if err := runner.Shutdown(context.Background()); err != nil {
		panic(err)
	}
	runner.WaitWorkers() // returns once every goroutine of the runner has ended
	// Output: COMPLETED Hello, Ada!
}

// The context-first handler: the context carries the task, a logger with
// its fields and an idempotency key for side effects.
func ExampleTaskRunner_Start() {
	srv, api := devServer("charge")
	defer srv.Close()
	runner := worker.NewTaskRunnerWithApiClient(api, worker.WithLogger(quiet()))
	defer runner.Shutdown(context.Background())

	charge := func(ctx context.Context, t *model.Task) (interface{}, error) {
		key := worker.IdempotencyKey(ctx) // the same for every retry of this task
		worker.LoggerFromContext(ctx).WithField("key", key).Info("charging")
		if t.InputData["amount"] == nil {
			return nil, worker.Terminal(errors.New("no amount")) // FAILED_WITH_TERMINAL_ERROR: no retry
		}
		return map[string]interface{}{"charged": t.InputData["amount"], "keyLength": len(key)}, nil
	}
	if err := runner.Start("charge", charge, worker.BatchSize(5)); err != nil {
		panic(err)
	}

	ok := run(srv, "charge", map[string]interface{}{"amount": 42})
	bad := run(srv, "charge", map[string]interface{}{})
	fmt.Println(ok.Status, ok.Output["charged"], ok.Output["keyLength"])
	fmt.Println(bad.Status, bad.Tasks[0].Status, bad.Tasks[0].ReasonForIncompletion)
	// Output:
	// COMPLETED 42 36
	// FAILED FAILED_WITH_TERMINAL_ERROR no amount
}

type Invoice struct {
	Name   string `json:"name"`
	Amount int    `json:"amount"`
}

type Receipt struct {
	Text string `json:"text"`
}

// Typed handlers decode the task input into a struct and encode the output
// struct. Input that does not fit fails the task for good, naming the field.
func ExampleTyped() {
	srv, api := devServer("invoice")
	defer srv.Close()
	runner := worker.NewTaskRunnerWithApiClient(api, worker.WithLogger(quiet()))
	defer runner.Shutdown(context.Background())

	bill := worker.Typed(func(ctx context.Context, in Invoice) (Receipt, error) {
		return Receipt{Text: fmt.Sprintf("%s owes %d", in.Name, in.Amount)}, nil
	})
	if err := runner.Start("invoice", bill); err != nil {
		panic(err)
	}

	ok := run(srv, "invoice", map[string]interface{}{"name": "Ada", "amount": 12})
	bad := run(srv, "invoice", map[string]interface{}{"name": "Bob", "amount": "twelve"})
	fmt.Println(ok.Output["text"])
	fmt.Println(bad.Tasks[0].Status, bad.Tasks[0].ReasonForIncompletion)
	// Output:
	// Ada owes 12
	// FAILED_WITH_TERMINAL_ERROR task input field "amount": cannot decode a JSON string into int (decoding into worker_test.Invoice)
}

// Shutdown starts no poll (one already out is read to its end), lets
// running handlers finish until its context ends, then cancels them with
// cause ErrShutdown.
func ExampleTaskRunner_Shutdown() {
	srv, api := devServer("slow")
	defer srv.Close()
	runner := worker.NewTaskRunnerWithApiClient(api, worker.WithLogger(quiet()))

	started := make(chan struct{})
	slow := func(ctx context.Context, t *model.Task) (interface{}, error) {
		close(started)
		<-ctx.Done() // a handler that needs longer than the shutdown allows
		return nil, context.Cause(ctx)
	}
	if err := runner.Start("slow", slow); err != nil {
		panic(err)
	}
	if _, err := srv.StartWorkflow(model.StartWorkflowRequest{Name: "slow", Version: 1, Input: map[string]interface{}{}}); err != nil {
		panic(err)
	}
	<-started

	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	err := runner.Shutdown(ctx)
	runner.WaitWorkers()
	fmt.Println(errors.Is(err, worker.ErrShutdown), errors.Is(err, context.DeadlineExceeded))
	fmt.Println(runner.Start("slow", slow))
	// Output:
	// true true
	// worker: runner is shut down
}
