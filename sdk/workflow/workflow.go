// Package workflow builds Conductor workflow definitions in Go: a Workflow
// holds tasks made by this package's constructors (Simple, HTTP, Switch,
// Fork, DoWhile, SubWorkflow, Wait, ...), and Def turns it into the
// model.WorkflowDef that the metadata API registers or a start request
// carries inline.
//
//	wf := workflow.New("order").Version(1).OwnerEmail("team@example.com").
//		Add(
//			workflow.Simple("charge", "charge"),
//			workflow.Switch("route", "${charge.output.outcome}").
//				Case("ok", workflow.Simple("ship", "ship")).
//				Default(workflow.Terminate("stop", model.WorkflowFailed, "not charged")),
//		)
//	def, err := wf.Def()
//
// The definitions are checked against Conductor OSS 3.21.14 and 3.32.3 by
// the real-server tests (make test-conductor), and against the JSON the
// official Go SDK's builder produces for the same workflow by test/bench.
// The dev server (sdk/conductortest) runs SIMPLE tasks only.
package workflow

import (
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/baton-go/baton/sdk/model"
)

// Workflow is a workflow definition under construction. Its zero value is
// not usable; call New.
type Workflow struct {
	d     model.WorkflowDef
	tasks []Task
}

// New returns a workflow named name with the server's defaults made
// explicit: schema version 2, restartable, timeout policy ALERT_ONLY with no
// timeout.
func New(name string) *Workflow {
	return &Workflow{d: model.WorkflowDef{
		Name:          name,
		SchemaVersion: 2,
		Restartable:   true,
		TimeoutPolicy: model.TimeoutPolicyAlertOnly,
	}}
}

// Name returns the workflow's name.
func (w *Workflow) Name() string { return w.d.Name }

// GetVersion returns the workflow's version (0 = not set).
func (w *Workflow) GetVersion() int { return w.d.Version }

// Version sets the definition's version (0 leaves it to the server: 1).
func (w *Workflow) Version(v int) *Workflow { w.d.Version = v; return w }

// Description sets the description.
func (w *Workflow) Description(s string) *Workflow { w.d.Description = s; return w }

// OwnerEmail sets the owner's e-mail, which servers with
// conductor.app.ownerEmailMandatory require.
func (w *Workflow) OwnerEmail(s string) *Workflow { w.d.OwnerEmail = s; return w }

// Timeout sets the timeout policy (model.TimeoutPolicyTimeOutWF or
// model.TimeoutPolicyAlertOnly) and the timeout in seconds (0 = none).
func (w *Workflow) Timeout(policy string, seconds int64) *Workflow {
	w.d.TimeoutPolicy, w.d.TimeoutSeconds = policy, seconds
	return w
}

// FailureWorkflow names a workflow the server starts when this one fails.
func (w *Workflow) FailureWorkflow(name string) *Workflow { w.d.FailureWorkflow = name; return w }

// Restartable says whether a completed execution may be restarted.
func (w *Workflow) Restartable(b bool) *Workflow { w.d.Restartable = b; return w }

// StatusListener turns the server's workflow status listener on for this
// workflow.
func (w *Workflow) StatusListener(b bool) *Workflow { w.d.WorkflowStatusListenerEnabled = b; return w }

// InputParameters documents the names of the workflow's input.
func (w *Workflow) InputParameters(names ...string) *Workflow {
	w.d.InputParameters = slices.Clone(names)
	return w
}

// Output sets one output parameter, e.g. Output("total", t.OutputRef("sum")).
func (w *Workflow) Output(key string, value interface{}) *Workflow {
	if w.d.OutputParameters == nil {
		w.d.OutputParameters = map[string]interface{}{}
	}
	w.d.OutputParameters[key] = value
	return w
}

// OutputParameters sets the workflow's output parameters.
func (w *Workflow) OutputParameters(out map[string]interface{}) *Workflow {
	w.d.OutputParameters = maps.Clone(out)
	return w
}

// Variables sets the initial workflow variables.
func (w *Workflow) Variables(v map[string]interface{}) *Workflow {
	w.d.Variables = maps.Clone(v)
	return w
}

// InputTemplate sets default values for the workflow's input.
func (w *Workflow) InputTemplate(v map[string]interface{}) *Workflow {
	w.d.InputTemplate = maps.Clone(v)
	return w
}

// Add appends tasks, run in order.
func (w *Workflow) Add(tasks ...Task) *Workflow {
	w.tasks = append(w.tasks, tasks...)
	return w
}

// def builds the definition without checking it.
func (w *Workflow) def() *model.WorkflowDef {
	d := w.d
	d.Tasks = flatten(w.tasks)
	return &d
}

// Def returns the workflow definition. It fails when the workflow has no
// name or no task, or when a task has no name or reference name, or a
// reference name is used twice (anywhere in the workflow, branches and loop
// bodies included): the server refuses such definitions, and saying which
// task is wrong here is clearer than its 400.
func (w *Workflow) Def() (*model.WorkflowDef, error) {
	d := w.def()
	if d.Name == "" {
		return nil, errors.New("workflow: the workflow has no name")
	}
	if len(d.Tasks) == 0 {
		return nil, fmt.Errorf("workflow %s: no tasks", d.Name)
	}
	seen := map[string]bool{}
	if err := check(d.Name, d.Tasks, seen); err != nil {
		return nil, err
	}
	return d, nil
}

// MustDef is Def for definitions known to be valid (tests, examples); it
// panics on an error.
func (w *Workflow) MustDef() *model.WorkflowDef {
	d, err := w.Def()
	if err != nil {
		panic(err)
	}
	return d
}

func check(wf string, tasks []model.WorkflowTask, seen map[string]bool) error {
	for i, t := range tasks {
		if t.TaskReferenceName == "" {
			return fmt.Errorf("workflow %s: task %d (name %q, type %s) has no reference name", wf, i, t.Name, t.Type)
		}
		if t.Name == "" {
			return fmt.Errorf("workflow %s: task %s has no name", wf, t.TaskReferenceName)
		}
		if seen[t.TaskReferenceName] {
			return fmt.Errorf("workflow %s: reference name %s is used by more than one task", wf, t.TaskReferenceName)
		}
		seen[t.TaskReferenceName] = true
		for _, branch := range t.ForkTasks {
			if err := check(wf, branch, seen); err != nil {
				return err
			}
		}
		for _, v := range slices.Sorted(maps.Keys(t.DecisionCases)) {
			if err := check(wf, t.DecisionCases[v], seen); err != nil {
				return err
			}
		}
		if err := check(wf, t.DefaultCase, seen); err != nil {
			return err
		}
		if err := check(wf, t.LoopOver, seen); err != nil {
			return err
		}
	}
	return nil
}
