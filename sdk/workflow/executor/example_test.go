package executor_test

import (
	"errors"
	"fmt"
	"log"

	"github.com/baton-go/baton/sdk/client"
	"github.com/baton-go/baton/sdk/conductortest"
	"github.com/baton-go/baton/sdk/model"
	"github.com/baton-go/baton/sdk/settings"
	"github.com/baton-go/baton/sdk/workflow"
	"github.com/baton-go/baton/sdk/workflow/executor"
)

// A workflow defined with the builder, registered and started through the
// executor, and moved on by hand: the approval step is completed by its
// reference name, as a person or another system would do it. Against a
// real server the same calls also pause, resume, retry or terminate.
func Example() {
	srv := conductortest.NewServer(conductortest.WithOwnerEmailOptional()) // stands in for Conductor
	defer srv.Close()

	exec := executor.NewWorkflowExecutor(client.NewAPIClient(nil, settings.NewHttpSettings(srv.URL())))
	def, err := workflow.New("expense").Version(1).
		Add(workflow.Simple("approve", "approval").Input("amount", "${workflow.input.amount}")).
		Output("approvedBy", "${approval.output.by}").
		Def()
	if err != nil {
		log.Fatal(err)
	}
	if err := exec.RegisterWorkflow(true, def); err != nil {
		log.Fatal(err)
	}
	id, err := exec.StartWorkflow(&model.StartWorkflowRequest{Name: "expense", Version: 1,
		Input: map[string]interface{}{"amount": 42}})
	if err != nil {
		log.Fatal(err)
	}
	if err := exec.UpdateTaskByRefName("approval", id, model.CompletedTask, map[string]interface{}{"by": "Grace"}); err != nil {
		log.Fatal(err)
	}
	wf, err := exec.GetWorkflow(id, false)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(wf.Status, wf.Output["approvedBy"])
	// Output: COMPLETED Grace
}

// RegisterWorkflow without overwrite creates a definition and refuses to
// replace it; with overwrite it creates or replaces.
func ExampleWorkflowExecutor_RegisterWorkflow() {
	srv := conductortest.NewServer()
	defer srv.Close()
	ex := executor.NewWorkflowExecutor(client.NewAPIClient(nil, settings.NewHttpSettings(srv.URL())))
	if err := ex.RegisterTaskDefs(model.TaskDef{Name: "a", OwnerEmail: "team@example.com"}); err != nil {
		log.Fatal(err)
	}
	def := model.WorkflowDef{Name: "flow", Version: 1, OwnerEmail: "team@example.com",
		Tasks: []model.WorkflowTask{{Name: "a", TaskReferenceName: "a", Type: model.TaskTypeSimple}}}
	fmt.Println(ex.RegisterWorkflow(false, &def))
	err := ex.RegisterWorkflow(false, &def)
	fmt.Println(errors.Is(err, client.ErrConflict))
	fmt.Println(ex.RegisterWorkflow(true, &def))
	// Output:
	// <nil>
	// true
	// <nil>
}
