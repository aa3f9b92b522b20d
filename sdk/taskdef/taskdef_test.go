package taskdef

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/baton-go/baton/sdk/client"
	"github.com/baton-go/baton/sdk/conductortest"
	"github.com/baton-go/baton/sdk/model"
	"github.com/baton-go/baton/sdk/settings"
	"github.com/baton-go/baton/sdk/workflow/executor"
)

type greetIn struct {
	Name  string `json:"name" jsonschema:"required"`
	Times int    `json:"times,omitempty"`
}

type greetOut struct {
	Greeting string `json:"greeting"`
}

type greetOutV2 struct {
	Greeting string `json:"greeting"`
	Lang     string `json:"lang"`
}

func greetFn(_ context.Context, in greetIn) (greetOut, error) {
	return greetOut{Greeting: "Hello, " + in.Name}, nil
}

func greetFnV2(_ context.Context, in greetIn) (greetOutV2, error) {
	return greetOutV2{Greeting: "Hello, " + in.Name, Lang: "en"}, nil
}

func TestTypedTaskDefDescribesTheGoTypes(t *testing.T) {
	def, err := Typed("greet", greetFn, Retry(2, 5*time.Second, model.RetryExponentialBackoff),
		Timeouts(time.Minute, 30*time.Second), Description("says hello"))
	if err != nil {
		t.Fatal(err)
	}
	if def.RetryCount != 2 || def.RetryDelaySeconds != 5 || def.RetryLogic != model.RetryExponentialBackoff ||
		def.TimeoutSeconds != 60 || def.ResponseTimeoutSeconds != 30 || def.Description != "says hello" {
		t.Fatalf("settings %+v", def)
	}
	in := def.InputSchema.Data
	props, _ := in["properties"].(map[string]interface{})
	name, _ := props["name"].(map[string]interface{})
	times, _ := props["times"].(map[string]interface{})
	if in["type"] != "object" || name["type"] != "string" || times["type"] != "integer" {
		t.Fatalf("input schema %v", in)
	}
	if req, _ := in["required"].([]interface{}); len(req) != 1 || req[0] != "name" {
		t.Fatalf("required %v, want [name]", in["required"])
	}
	if def.InputSchema.Type != "JSON" || def.InputSchema.Name != "greet_input" || def.OutputSchema.Name != "greet_output" {
		t.Fatalf("schema defs %+v %+v", def.InputSchema, def.OutputSchema)
	}
	if _, ok := def.OutputSchema.Data["properties"].(map[string]interface{})["greeting"]; !ok {
		t.Fatalf("output schema %v", def.OutputSchema.Data)
	}

	plain, err := Typed("plain", greetFn)
	if err != nil {
		t.Fatal(err)
	}
	if plain.RetryCount != 3 || plain.RetryDelaySeconds != 60 || plain.ResponseTimeoutSeconds != 3600 || plain.TimeoutPolicy != model.TimeoutPolicyTimeOutWF {
		t.Fatalf("defaults %+v", plain)
	}
}

func TestTypedTaskDefRejectsBadOptions(t *testing.T) {
	for _, c := range []struct {
		opt  Option
		want string
	}{
		{Retry(-1, 0, ""), "retryCount must be >= 0, got -1"},
		{Retry(1, 1500*time.Millisecond, ""), "whole number of seconds"},
		{Retry(1, time.Second, "SOMETIMES"), `got "SOMETIMES"`},
		{Timeouts(10*time.Second, time.Minute), "must not exceed"},
		{Timeouts(0, 0), "response timeout"},
	} {
		if _, err := Typed("x", greetFn, c.opt); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("got %v, want an error containing %q", err, c.want)
		}
	}
	if _, err := Typed("", greetFn); err == nil {
		t.Error("empty name accepted")
	}
}

func TestEnsureTaskDefOnTheDevServer(t *testing.T) {
	ctx := context.Background()
	srv := conductortest.NewServer(conductortest.WithOwnerEmailOptional())
	t.Cleanup(srv.Close)
	api := client.NewAPIClient(nil, settings.NewHttpSettings(srv.URL()))
	md := executor.NewWorkflowExecutor(api)
	def, err := Typed("ensure_greet", greetFn)
	if err != nil {
		t.Fatal(err)
	}
	step := func(def model.TaskDef, want Outcome, opts ...EnsureOption) {
		t.Helper()
		got, err := Ensure(ctx, api, def, opts...)
		if err != nil || got != want {
			t.Fatalf("Ensure: %v, %v; want %v", got, err, want)
		}
	}
	step(def, Created)
	onServer, err := md.GetTaskDefContext(ctx, "ensure_greet")
	if err != nil {
		t.Fatal(err)
	}
	if !sameSchema(onServer.InputSchema, def.InputSchema) || !sameSchema(onServer.OutputSchema, def.OutputSchema) || onServer.RetryCount != 3 {
		t.Fatalf("the server holds %+v", onServer)
	}
	// A restart with the same code writes nothing.
	step(def, Unchanged)

	// New output type: the schema is updated, the operator's limit kept.
	onServer.ConcurrentExecLimit = 7
	if err := md.UpdateTaskDefContext(ctx, *onServer); err != nil {
		t.Fatal(err)
	}
	v2, err := Typed("ensure_greet", greetFnV2)
	if err != nil {
		t.Fatal(err)
	}
	step(v2, Updated)
	after, _ := md.GetTaskDefContext(ctx, "ensure_greet")
	if !sameSchema(after.OutputSchema, v2.OutputSchema) || after.ConcurrentExecLimit != 7 {
		t.Fatalf("after update: %+v", after)
	}

	// Someone changed the retries on the server: reported, not overwritten.
	after.RetryCount = 9
	if err := md.UpdateTaskDefContext(ctx, *after); err != nil {
		t.Fatal(err)
	}
	_, err = Ensure(ctx, api, v2)
	if !errors.Is(err, ErrConflict) || !strings.Contains(err.Error(), "retryCount is 9 on the server, 3 in the code") {
		t.Fatalf("conflict: %v", err)
	}
	if cur, _ := md.GetTaskDefContext(ctx, "ensure_greet"); cur.RetryCount != 9 {
		t.Fatal("a conflicting definition was overwritten without EnsureOverwrite")
	}
	step(v2, Overwritten, EnsureOverwrite())
	if cur, _ := md.GetTaskDefContext(ctx, "ensure_greet"); cur.RetryCount != 3 || cur.ConcurrentExecLimit != 7 {
		t.Fatalf("after overwrite: %+v", cur)
	}
}

func TestEnsureTaskDefNeedsAnOwnerEmailWhereTheServerDoes(t *testing.T) {
	srv := conductortest.NewServer(conductortest.WithVersion(conductortest.Version321)) // requires ownerEmail, as Conductor 3.21 does
	defer srv.Close()
	api := client.NewAPIClient(nil, settings.NewHttpSettings(srv.URL()))
	md := executor.NewWorkflowExecutor(api)
	def, err := Typed("owned", greetFn)
	if err != nil {
		t.Fatal(err)
	}
	_, err = Ensure(context.Background(), api, def)
	if err == nil || !strings.Contains(err.Error(), "requires an ownerEmail") {
		t.Fatalf("got %v", err)
	}
	got, err := Ensure(context.Background(), api, def, EnsureOwnerEmail("team@example.com"))
	if err != nil || got != Created {
		t.Fatalf("%v, %v", got, err)
	}
	// Registered and usable: a typed worker runs a task of it.
	if cur, _ := md.GetTaskDefContext(context.Background(), "owned"); cur.OwnerEmail != "team@example.com" {
		t.Fatalf("owner %q", cur.OwnerEmail)
	}
}
