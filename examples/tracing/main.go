// Command tracing shows the operator-facing features of issue 18 together:
//
//   - OpenTelemetry spans (worker.WithTracerProvider) written by the
//     OpenTelemetry SDK's stdout exporter: one trace follows a "checkout"
//     request from the service that starts the workflow through both of the
//     workflow's tasks, because the caller puts its trace context into the
//     workflow input (worker.InjectTraceContext) and the workflow hands it to
//     each task as "traceparent".
//   - Middleware (worker.WithMiddleware): a tenant middleware reads the
//     tenant from the task input and puts it into the handler's context, so
//     handlers need not parse it; the tracing span is outside it.
//   - Execution log lines (worker.Log), visible in the Conductor UI.
//   - Task definitions from typed handlers (taskdef.Typed and
//     taskdef.Ensure), registered with JSON Schemas of the Go types.
//
// Workers also obey CONDUCTOR_WORKER_* variables; try
// CONDUCTOR_WORKER_CHARGE_CARD_BATCH_SIZE=4 go run ./examples/tracing.
//
// It uses the server at CONDUCTOR_SERVER_URL when set and the in-process dev
// server otherwise, prints the spans as JSON, and exits.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"go.opentelemetry.io/otel/exporters/stdout/stdouttrace"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/baton-go/baton/sdk/client"
	"github.com/baton-go/baton/sdk/conductortest"
	"github.com/baton-go/baton/sdk/model"
	"github.com/baton-go/baton/sdk/settings"
	"github.com/baton-go/baton/sdk/taskdef"
	"github.com/baton-go/baton/sdk/worker"
	"github.com/baton-go/baton/sdk/workflow/executor"
)

const (
	workflowName = "baton_tracing_demo"
	ownerEmail   = "examples@example.com"
)

// tenantKey is the context key of the tenant middleware.
type tenantKey struct{}

// Tenant returns the tenant the middleware put into ctx.
func Tenant(ctx context.Context) string {
	s, _ := ctx.Value(tenantKey{}).(string)
	return s
}

// tenantMiddleware takes the tenant from the task input: every handler of
// the runner gets it from its context, and a task without one fails for good
// before any handler runs.
func tenantMiddleware(next worker.HandlerFunc) worker.HandlerFunc {
	return func(ctx context.Context, t *model.Task) (interface{}, error) {
		tenant, _ := t.InputData["tenant"].(string)
		if tenant == "" {
			return nil, worker.Terminal(errors.New("task input has no tenant"))
		}
		worker.Logf(ctx, "tenant %s", tenant)
		return next(context.WithValue(ctx, tenantKey{}, tenant), t)
	}
}

// ReserveInput and ReserveOutput are the contract of "reserve_stock".
type ReserveInput struct {
	Item     string `json:"item" jsonschema:"required"`
	Quantity int    `json:"quantity" jsonschema:"required"`
}

type ReserveOutput struct {
	ReservationID string `json:"reservationId"`
}

// Reserve is the handler of "reserve_stock".
func Reserve(ctx context.Context, in ReserveInput) (ReserveOutput, error) {
	worker.Logf(ctx, "reserving %d x %s", in.Quantity, in.Item)
	return ReserveOutput{ReservationID: Tenant(ctx) + "-" + in.Item}, nil
}

// ChargeInput and ChargeOutput are the contract of "charge_card".
type ChargeInput struct {
	AmountCents int `json:"amountCents" jsonschema:"required"`
}

type ChargeOutput struct {
	Charged bool `json:"charged"`
}

// Charge is the handler of "charge_card".
func Charge(ctx context.Context, in ChargeInput) (ChargeOutput, error) {
	worker.Logf(ctx, "charging %d cents for tenant %s", in.AmountCents, Tenant(ctx))
	return ChargeOutput{Charged: true}, nil
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	serverURL := os.Getenv(settings.EnvServerURL)
	if serverURL == "" {
		dev := conductortest.NewServer()
		defer dev.Close()
		serverURL = dev.URL()
	}
	if _, err := run(ctx, os.Stdout, os.Stdout, serverURL); err != nil {
		fmt.Fprintln(os.Stderr, "tracing:", err)
		stop()
		os.Exit(1)
	}
}

// run registers the definitions, runs the workers, starts one workflow from
// inside a "checkout" span and waits for it. Spans go to spans as JSON;
// a summary goes to out. It returns the workflow id.
func run(ctx context.Context, out, spans io.Writer, serverURL string) (_ string, runErr error) {
	exporter, err := stdouttrace.New(stdouttrace.WithWriter(spans))
	if err != nil {
		return "", err
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exporter))
	defer func() { _ = tp.Shutdown(context.Background()) }()

	apiClient := client.NewAPIClient(
		settings.NewAuthenticationSettings(os.Getenv(settings.EnvAuthKey), os.Getenv(settings.EnvAuthSecret)),
		settings.NewHttpSettings(serverURL),
	)
	conductor := executor.NewWorkflowExecutor(apiClient)
	reserveDef, err := taskdef.Typed("reserve_stock", Reserve, taskdef.Retry(2, time.Second, ""),
		taskdef.Timeouts(time.Minute, 30*time.Second))
	if err != nil {
		return "", err
	}
	chargeDef, err := taskdef.Typed("charge_card", Charge, taskdef.Retry(2, time.Second, ""),
		taskdef.Timeouts(time.Minute, 30*time.Second))
	if err != nil {
		return "", err
	}
	for _, def := range []model.TaskDef{reserveDef, chargeDef} {
		outcome, err := taskdef.Ensure(ctx, apiClient, def, taskdef.EnsureOwnerEmail(ownerEmail))
		if err != nil {
			return "", err
		}
		fmt.Fprintf(out, "task definition %s: %s\n", def.Name, outcome)
	}
	// Each task gets the tenant and the caller's trace context from the
	// workflow input.
	common := map[string]interface{}{"tenant": "${workflow.input.tenant}", worker.TraceparentKey: "${workflow.input.traceparent}"}
	with := func(m map[string]interface{}) map[string]interface{} {
		for k, v := range common {
			m[k] = v
		}
		return m
	}
	if err := conductor.RegisterWorkflowContext(ctx, true, &model.WorkflowDef{
		Name: workflowName, Version: 1, SchemaVersion: 2, OwnerEmail: ownerEmail,
		Tasks: []model.WorkflowTask{
			{Name: "reserve_stock", TaskReferenceName: "reserve", Type: model.TaskTypeSimple,
				InputParameters: with(map[string]interface{}{"item": "${workflow.input.item}", "quantity": 1})},
			{Name: "charge_card", TaskReferenceName: "charge", Type: model.TaskTypeSimple,
				InputParameters: with(map[string]interface{}{"amountCents": "${workflow.input.amountCents}"})},
		},
	}); err != nil {
		return "", fmt.Errorf("register workflow: %w", err)
	}

	runner := worker.NewTaskRunnerWithApiClient(apiClient,
		worker.WithTracerProvider(tp),
		worker.WithMiddleware(tenantMiddleware),
	)
	defer func() {
		shutCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = runner.Shutdown(shutCtx)
		runner.WaitWorkers()
		// A wrong URL or key stops the workers by themselves; say so.
		runErr = errors.Join(runErr, runner.Err())
	}()
	if err := runner.Start("reserve_stock", worker.Typed(Reserve), worker.PollInterval(20*time.Millisecond)); err != nil {
		return "", err
	}
	if err := runner.Start("charge_card", worker.Typed(Charge), worker.PollInterval(20*time.Millisecond)); err != nil {
		return "", err
	}

	// The calling service: its own span, and the workflow started inside it.
	callCtx, span := tp.Tracer("checkout-service").Start(ctx, "checkout request")
	input := map[string]interface{}{"tenant": "acme", "item": "book", "amountCents": 1999}
	worker.InjectTraceContext(callCtx, input)
	id, err := conductor.StartWorkflowContext(callCtx, &model.StartWorkflowRequest{Name: workflowName, Version: 1, Input: input})
	span.End()
	if err != nil {
		return "", fmt.Errorf("start workflow: %w", err)
	}
	w, err := waitForEnd(ctx, conductor, id)
	if err != nil {
		return id, err
	}
	fmt.Fprintf(out, "workflow %s %s, trace %s\n", id, w.Status, span.SpanContext().TraceID())
	for _, t := range w.Tasks {
		logs, err := apiClient.Tasks().GetLogs(ctx, t.TaskId)
		if err != nil {
			return id, err
		}
		for _, l := range logs {
			fmt.Fprintf(out, "  %s log: %s\n", t.ReferenceTaskName, l.Log)
		}
	}
	if w.Status != model.WorkflowCompleted {
		return id, fmt.Errorf("workflow ended %s: %s", w.Status, w.ReasonForIncompletion)
	}
	return id, nil
}

// waitForEnd returns the workflow (with its tasks) once it has ended.
func waitForEnd(ctx context.Context, conductor *executor.WorkflowExecutor, id string) (*model.Workflow, error) {
	for {
		w, err := conductor.GetWorkflowContext(ctx, id, true)
		if err != nil {
			return nil, err
		}
		if w.Status.Terminal() {
			return w, nil
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}
