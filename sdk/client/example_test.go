package client_test

import (
	"context"
	"errors"
	"fmt"
	"log"

	"github.com/baton-go/baton/sdk/client"
	"github.com/baton-go/baton/sdk/conductortest"
	"github.com/baton-go/baton/sdk/model"
	"github.com/baton-go/baton/sdk/settings"
	"github.com/baton-go/baton/sdk/workflow/executor"
)

// New checks the settings before it returns, so a typo in the URL is an error
// here and not a failed request later.
func ExampleNew() {
	srv := conductortest.NewServer() // stands in for Conductor: use your server's URL, /api included
	defer srv.Close()

	apiClient, err := client.New(nil, settings.NewHttpSettings(srv.URL()))
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	md := executor.NewWorkflowExecutor(apiClient)
	if err := md.RegisterTaskDefsContext(ctx, model.TaskDef{Name: "greet", OwnerEmail: "team@example.com"}); err != nil {
		log.Fatal(err)
	}
	if err := md.RegisterWorkflowContext(ctx, true, &model.WorkflowDef{Name: "greeting", Version: 1, OwnerEmail: "team@example.com",
		Tasks: []model.WorkflowTask{{Name: "greet", TaskReferenceName: "greet", Type: model.TaskTypeSimple}}}); err != nil {
		log.Fatal(err)
	}
	id, err := executor.NewWorkflowExecutor(apiClient).StartWorkflowContext(ctx, &model.StartWorkflowRequest{Name: "greeting", Version: 1,
		Input: map[string]interface{}{"name": "Ada"}})
	if err != nil {
		log.Fatal(err)
	}
	wf, err := executor.NewWorkflowExecutor(apiClient).GetWorkflowContext(ctx, id, true)
	if err != nil {
		log.Fatal(err)
	}
	// No worker has polled yet: the first task waits in its queue.
	fmt.Println(wf.Status, wf.Tasks[0].TaskType, wf.Tasks[0].Status)
	// Output: RUNNING greet SCHEDULED
}

// A bad setting makes New fail with an error that names the field and the
// value.
func ExampleNew_badSetting() {
	_, err := client.New(nil, settings.NewHttpSettings("localhost:8080"))
	fmt.Println(err)
	// Output: settings: BaseUrl must be an absolute http(s) URL, got "localhost:8080" (e.g. http://localhost:8080/api)
}

// NewAPIClient is the official SDK's constructor: it never fails, and a bad
// setting is the error of every call instead (New returns it at once).
func ExampleNewAPIClient() {
	apiClient := client.NewAPIClient(nil, settings.NewHttpSettings("localhost:8080"))
	_, err := apiClient.Tasks().GetTask(context.Background(), "some-task-id")
	fmt.Println(err)
	// Output: settings: BaseUrl must be an absolute http(s) URL, got "localhost:8080" (e.g. http://localhost:8080/api)
}

// Server errors match the sentinel errors with errors.Is, and errors.As gives
// the status and the server's message.
func ExampleAPIError() {
	srv := conductortest.NewServer()
	defer srv.Close()
	apiClient, err := client.New(nil, settings.NewHttpSettings(srv.URL()))
	if err != nil {
		log.Fatal(err)
	}
	_, err = executor.NewWorkflowExecutor(apiClient).GetTaskDefContext(context.Background(), "no_such_task")
	var apiErr *client.APIError
	fmt.Println(errors.Is(err, client.ErrNotFound), errors.As(err, &apiErr) && apiErr.StatusCode == 404)
	// Output: true true
}
