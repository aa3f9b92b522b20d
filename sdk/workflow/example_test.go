package workflow_test

import (
	"fmt"

	"github.com/baton-go/baton/sdk/model"
	"github.com/baton-go/baton/sdk/workflow"
)

// An order workflow: charge through a worker, then branch on the outcome,
// ship and notify in parallel, or stop the workflow as failed. Register
// the definition with executor.RegisterWorkflow or the metadata client.
func Example() {
	charge := workflow.Simple("charge_card", "charge").Input("amount", "${workflow.input.amount}")
	wf := workflow.New("order").Version(1).OwnerEmail("team@example.com").
		Add(
			charge,
			workflow.Switch("outcome", charge.OutputRef("status")).
				Case("ok", workflow.Fork("after_charge",
					[]workflow.Task{workflow.Simple("ship", "ship")},
					[]workflow.Task{workflow.HTTP("notify", workflow.HTTPRequest{Method: "POST", URI: "https://example.com/hook"})},
				)).
				Default(workflow.Terminate("declined", model.WorkflowFailed, "card declined")),
		).
		Output("charged", charge.OutputRef("status"))
	def, err := wf.Def()
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, t := range def.Tasks {
		fmt.Println(t.TaskReferenceName, t.Type)
	}
	fmt.Println(def.Tasks[1].DecisionCases["ok"][1].JoinOn)
	// Output:
	// charge SIMPLE
	// outcome SWITCH
	// [ship notify]
}
