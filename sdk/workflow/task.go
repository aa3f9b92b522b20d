package workflow

import (
	"fmt"
	"maps"

	"github.com/baton-go/baton/sdk/model"
)

// Task types the builder produces (model.WorkflowTask.Type). Which of them
// the Conductor OSS servers run is recorded in docs/migration.md and
// checked by test/integration's builder tests.
const (
	TypeSimple        = "SIMPLE"
	TypeHTTP          = "HTTP"
	TypeSwitch        = "SWITCH"
	TypeForkJoin      = "FORK_JOIN"
	TypeJoin          = "JOIN"
	TypeDoWhile       = "DO_WHILE"
	TypeSubWorkflow   = "SUB_WORKFLOW"
	TypeStartWorkflow = "START_WORKFLOW"
	TypeWait          = "WAIT"
	TypeEvent         = "EVENT"
	TypeTerminate     = "TERMINATE"
	TypeSetVariable   = "SET_VARIABLE"
	TypeInline        = "INLINE"
	TypeJQ            = "JSON_JQ_TRANSFORM"
	TypeDynamic       = "DYNAMIC"
	TypeDynamicFork   = "FORK_JOIN_DYNAMIC"
	TypeHuman         = "HUMAN"
	TypeKafkaPublish  = "KAFKA_PUBLISH"
)

// Task is one step of a workflow under construction. The builder's task
// types implement it; Raw wraps a hand-made model.WorkflowTask.
type Task interface {
	// Ref is the task's reference name, unique in its workflow.
	Ref() string
	// workflowTasks is what the task contributes to the definition: one
	// entry for most types, two for a fork (the fork and its join).
	workflowTasks() []model.WorkflowTask
}

// step holds what every task type has: name, reference name, type, input
// and the flags of model.WorkflowTask. T is the concrete task type, so that
// the chained setters return it.
type step[T any] struct {
	self T
	wt   model.WorkflowTask
}

// newTask returns a task of type P (a pointer to a struct that embeds
// step[P]) with its name, reference name and type set.
func newTask[P interface {
	*S
	init(self P, name, ref, taskType string)
}, S any](name, ref, taskType string) P {
	t := P(new(S))
	t.init(t, name, ref, taskType)
	return t
}

func (s *step[T]) init(self T, name, ref, taskType string) {
	s.self = self
	s.wt = model.WorkflowTask{Name: name, TaskReferenceName: ref, Type: taskType, InputParameters: map[string]interface{}{}}
}

// Ref returns the task's reference name.
func (s *step[T]) Ref() string { return s.wt.TaskReferenceName }

// Input sets one input parameter; a value may be an expression such as
// "${workflow.input.id}" or another task's OutputRef.
func (s *step[T]) Input(key string, value interface{}) T {
	s.wt.InputParameters[key] = value
	return s.self
}

// InputMap sets several input parameters.
func (s *step[T]) InputMap(in map[string]interface{}) T {
	maps.Copy(s.wt.InputParameters, in)
	return s.self
}

// Description sets the task's description.
func (s *step[T]) Description(d string) T {
	s.wt.Description = d
	return s.self
}

// Optional marks the task optional: when it fails for good the workflow
// goes on (the task ends COMPLETED_WITH_ERRORS).
func (s *step[T]) Optional(optional bool) T {
	s.wt.Optional = optional
	return s.self
}

// StartDelay holds the task back for seconds after it is scheduled.
func (s *step[T]) StartDelay(seconds int) T {
	s.wt.StartDelay = seconds
	return s.self
}

// OutputRef is the expression for the task's output, or for one path in it
// ("" = the whole output), for use as another task's input.
func (s *step[T]) OutputRef(path string) string {
	if path == "" {
		return fmt.Sprintf("${%s.output}", s.wt.TaskReferenceName)
	}
	return fmt.Sprintf("${%s.output.%s}", s.wt.TaskReferenceName, path)
}

// base returns a copy of the task's model entry whose input map the caller
// may change without touching the builder.
func (s *step[T]) base() model.WorkflowTask {
	wt := s.wt
	wt.InputParameters = maps.Clone(s.wt.InputParameters)
	return wt
}

func (s *step[T]) workflowTasks() []model.WorkflowTask { return []model.WorkflowTask{s.base()} }

// flatten turns a sequence of tasks into model entries, in order.
func flatten(tasks []Task) []model.WorkflowTask {
	out := []model.WorkflowTask{}
	for _, t := range tasks {
		out = append(out, t.workflowTasks()...)
	}
	return out
}

// raw is a task given as a model entry.
type raw struct{ wt model.WorkflowTask }

// Raw wraps a hand-made model.WorkflowTask, for task types or fields the
// builder does not cover. The entry is used as given.
func Raw(wt model.WorkflowTask) Task { return raw{wt: wt} }

func (r raw) Ref() string                         { return r.wt.TaskReferenceName }
func (r raw) workflowTasks() []model.WorkflowTask { return []model.WorkflowTask{r.wt} }

// Cache sets the task's output cache (key, an expression over the input,
// and time to live). Conductor OSS 3.21 and 3.32 keep the setting without
// acting on it; Orkes servers reuse a cached output.
func (s *step[T]) Cache(key string, ttlSeconds int) T {
	s.wt.CacheConfig = &model.CacheConfig{Key: key, TtlInSecond: ttlSeconds}
	return s.self
}
