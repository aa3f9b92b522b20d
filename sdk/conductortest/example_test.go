package conductortest_test

import (
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/baton-go/baton/sdk/conductortest"
	"github.com/baton-go/baton/sdk/model"
)

// A test server, a one-task workflow, and a worker's poll and update over
// plain HTTP.
func Example() {
	srv := conductortest.NewServer(conductortest.WithOwnerEmailOptional())
	defer srv.Close()
	_ = srv.RegisterWorkflowDef(model.WorkflowDef{Name: "greet", Version: 1, Tasks: []model.WorkflowTask{
		{Name: "say_hello", TaskReferenceName: "hello", InputParameters: map[string]any{"who": "${workflow.input.who}"}},
	}})
	id, _ := srv.StartWorkflow(model.StartWorkflowRequest{Name: "greet", Input: map[string]any{"who": "Ada"}})

	client := &http.Client{Transport: &http.Transport{}}
	defer client.CloseIdleConnections()
	res, _ := client.Get(srv.URL() + "/tasks/poll/say_hello?workerid=example")
	var task model.Task
	_ = jsonDecode(res.Body, &task)
	res.Body.Close()
	fmt.Println("input:", task.InputData["who"])

	body := fmt.Sprintf(`{"workflowInstanceId":%q,"taskId":%q,"status":"COMPLETED","outputData":{"greeting":"Hello, Ada"}}`,
		task.WorkflowInstanceId, task.TaskId)
	res, _ = client.Post(srv.URL()+"/tasks", "application/json", strings.NewReader(body))
	_, _ = io.Copy(io.Discard, res.Body)
	res.Body.Close()

	wf, _ := srv.Workflow(id)
	fmt.Println(wf.Status, wf.Output["greeting"], len(srv.Updates(task.TaskId)))
	// Output:
	// input: Ada
	// COMPLETED Hello, Ada 1
}
