package workflow

import (
	"fmt"
	"maps"
	"time"

	"github.com/baton-go/baton/sdk/model"
)

// SimpleTask is a task a worker polls for and runs (type SIMPLE).
type SimpleTask struct{ step[*SimpleTask] }

// Simple returns a SIMPLE task of task type taskName (what the worker polls
// for) under reference name ref.
func Simple(taskName, ref string) *SimpleTask {
	return newTask[*SimpleTask](taskName, ref, TypeSimple)
}

// RetryCount overrides the task definition's retry count for this step.
func (t *SimpleTask) RetryCount(n int) *SimpleTask {
	t.wt.RetryCount = &n
	return t
}

// Definition embeds a task definition in the workflow, so that the task
// type needs no registration of its own; its Name is set to the task's.
func (t *SimpleTask) Definition(def model.TaskDef) *SimpleTask {
	def.Name = t.wt.Name
	t.wt.TaskDefinition = &def
	return t
}

// HTTPRequest is what an HTTP task sends. The server makes the call and
// puts the answer in the task's output (response.body, response.statusCode).
type HTTPRequest struct {
	Method      string                 `json:"method"`
	URI         string                 `json:"uri"`
	Headers     map[string]interface{} `json:"headers,omitempty"`
	Accept      string                 `json:"accept,omitempty"`
	ContentType string                 `json:"contentType,omitempty"`
	Body        interface{}            `json:"body,omitempty"`
	// ConnectionTimeOut and ReadTimeout are in milliseconds.
	ConnectionTimeOut int `json:"connectionTimeOut,omitempty"`
	ReadTimeout       int `json:"readTimeout,omitempty"`
}

// HTTPTask calls an HTTP endpoint from the server (type HTTP).
type HTTPTask struct{ step[*HTTPTask] }

// HTTP returns an HTTP task making req; an empty Method means GET.
func HTTP(ref string, req HTTPRequest) *HTTPTask {
	if req.Method == "" {
		req.Method = "GET"
	}
	t := newTask[*HTTPTask](TypeHTTP, ref, TypeHTTP)
	t.wt.InputParameters["http_request"] = req
	return t
}

// SwitchTask runs the branch whose case matches an expression (type SWITCH).
type SwitchTask struct {
	step[*SwitchTask]
	expr     string
	script   string // evaluator when the expression is a script
	cases    map[string][]Task
	fallback []Task
}

// Switch returns a SWITCH task choosing its case by the value of expr, for
// example "${workflow.input.kind}".
func Switch(ref, expr string) *SwitchTask {
	t := newTask[*SwitchTask](ref, ref, TypeSwitch)
	t.expr, t.cases = expr, map[string][]Task{}
	return t
}

// JavaScript makes the expression a JavaScript expression over the task's
// input ($.name) instead of a value; its result picks the case.
func (t *SwitchTask) JavaScript() *SwitchTask {
	t.script = "javascript"
	return t
}

// Case adds the tasks run when the expression's value is value.
func (t *SwitchTask) Case(value string, tasks ...Task) *SwitchTask {
	t.cases[value] = tasks
	return t
}

// Default sets the tasks run when no case matches.
func (t *SwitchTask) Default(tasks ...Task) *SwitchTask {
	t.fallback = tasks
	return t
}

func (t *SwitchTask) workflowTasks() []model.WorkflowTask {
	wt := t.base()
	wt.DecisionCases = map[string][]model.WorkflowTask{}
	for v, tasks := range t.cases {
		wt.DecisionCases[v] = flatten(tasks)
	}
	if len(t.fallback) > 0 {
		wt.DefaultCase = flatten(t.fallback)
	}
	if t.script != "" {
		wt.EvaluatorType = t.script
		wt.Expression = t.expr
	} else {
		// value-param: Expression names the input parameter whose value is
		// the case.
		wt.EvaluatorType = "value-param"
		wt.Expression = "switchCaseValue"
		wt.InputParameters["switchCaseValue"] = t.expr
	}
	return []model.WorkflowTask{wt}
}

// ForkTask runs branches in parallel and waits for them (FORK_JOIN followed
// by its JOIN).
type ForkTask struct {
	step[*ForkTask]
	branches [][]Task
	join     *JoinTask
}

// Fork returns a FORK_JOIN task running each branch (a sequence of tasks)
// in parallel. It is followed by a JOIN, reference name ref+"_join", that
// waits for the last task of every branch; JoinWith replaces it.
func Fork(ref string, branches ...[]Task) *ForkTask {
	t := newTask[*ForkTask](ref, ref, TypeForkJoin)
	t.branches = branches
	return t
}

// JoinWith sets the JOIN that follows the fork.
func (t *ForkTask) JoinWith(j *JoinTask) *ForkTask {
	t.join = j
	return t
}

func (t *ForkTask) workflowTasks() []model.WorkflowTask {
	wt := t.base()
	wt.ForkTasks = make([][]model.WorkflowTask, len(t.branches))
	var last []string
	for i, b := range t.branches {
		wt.ForkTasks[i] = flatten(b)
		if len(b) > 0 {
			last = append(last, b[len(b)-1].Ref())
		}
	}
	j := t.join
	if j == nil {
		j = Join(t.Ref()+"_join", last...)
	}
	return append([]model.WorkflowTask{wt}, j.workflowTasks()...)
}

// JoinTask waits for the listed tasks (type JOIN).
type JoinTask struct{ step[*JoinTask] }

// Join returns a JOIN task waiting for the tasks with reference names on.
func Join(ref string, on ...string) *JoinTask {
	t := newTask[*JoinTask](ref, ref, TypeJoin)
	t.wt.JoinOn = on
	return t
}

// DoWhileTask repeats its tasks while a condition holds (type DO_WHILE).
type DoWhileTask struct {
	step[*DoWhileTask]
	body []Task
}

// DoWhile returns a DO_WHILE task running tasks, then again while condition
// (JavaScript over the task's input and its tasks' outputs, e.g.
// "$.loop['iteration'] < 3") is true.
func DoWhile(ref, condition string, tasks ...Task) *DoWhileTask {
	t := newTask[*DoWhileTask](ref, ref, TypeDoWhile)
	t.body = tasks
	t.wt.LoopCondition = condition
	return t
}

// Loop returns a DO_WHILE task running tasks n times.
func Loop(ref string, n int, tasks ...Task) *DoWhileTask {
	t := DoWhile(ref, fmt.Sprintf("if ( $.%s['iteration'] < $.loop_count ) { true; } else { false; }", ref), tasks...)
	t.wt.InputParameters["loop_count"] = n
	return t
}

func (t *DoWhileTask) workflowTasks() []model.WorkflowTask {
	wt := t.base()
	wt.LoopOver = flatten(t.body)
	return []model.WorkflowTask{wt}
}

// SubWorkflowTask runs another workflow and waits for it (type
// SUB_WORKFLOW).
type SubWorkflowTask struct {
	step[*SubWorkflowTask]
	params model.SubWorkflowParams
	inline *Workflow
}

// SubWorkflow returns a SUB_WORKFLOW task running the registered workflow
// name, version (0 = the latest).
func SubWorkflow(ref, name string, version int) *SubWorkflowTask {
	t := newTask[*SubWorkflowTask](ref, ref, TypeSubWorkflow)
	t.params = model.SubWorkflowParams{Name: name, Version: version}
	return t
}

// SubWorkflowOf returns a SUB_WORKFLOW task running wf's definition, which
// need not be registered.
func SubWorkflowOf(ref string, wf *Workflow) *SubWorkflowTask {
	t := newTask[*SubWorkflowTask](ref, ref, TypeSubWorkflow)
	t.inline = wf
	return t
}

// TaskToDomain sets the task domains of the sub-workflow's tasks.
func (t *SubWorkflowTask) TaskToDomain(m map[string]string) *SubWorkflowTask {
	t.params.TaskToDomain = maps.Clone(m)
	return t
}

func (t *SubWorkflowTask) workflowTasks() []model.WorkflowTask {
	wt := t.base()
	p := t.params
	if t.inline != nil {
		def := t.inline.def()
		p.Name, p.Version, p.WorkflowDefinition = def.Name, 0, def
	}
	wt.SubWorkflowParam = &p
	return []model.WorkflowTask{wt}
}

// StartWorkflowTask starts another workflow without waiting for it (type
// START_WORKFLOW); its output holds the new workflow's id.
type StartWorkflowTask struct{ step[*StartWorkflowTask] }

// StartWorkflow returns a START_WORKFLOW task starting name, version (0 =
// the latest) with input and correlationID.
func StartWorkflow(ref, name string, version int, input map[string]interface{}, correlationID string) *StartWorkflowTask {
	t := newTask[*StartWorkflowTask](ref, ref, TypeStartWorkflow)
	req := map[string]interface{}{"name": name, "input": input}
	if version > 0 {
		req["version"] = version
	}
	if correlationID != "" {
		req["correlationId"] = correlationID
	}
	t.wt.InputParameters["startWorkflow"] = req
	return t
}

// WaitTask holds the workflow until it is completed from outside, a
// duration has passed or a time has come (type WAIT).
type WaitTask struct{ step[*WaitTask] }

// Wait returns a WAIT task that waits until it is completed by an API call
// (for example UpdateTaskByRefName).
func Wait(ref string) *WaitTask {
	return newTask[*WaitTask](ref, ref, TypeWait)
}

// WaitFor returns a WAIT task that completes after d, rounded to whole
// seconds (the server's resolution).
func WaitFor(ref string, d time.Duration) *WaitTask {
	return Wait(ref).Input("duration", d.Round(time.Second).String())
}

// WaitUntil returns a WAIT task that completes at until, written as the
// server parses it: "2006-01-02 15:04", "2006-01-02 15:04 MST" or
// "2006-01-02".
func WaitUntil(ref, until string) *WaitTask {
	return Wait(ref).Input("until", until)
}

// EventTask publishes its input to an event sink (type EVENT).
type EventTask struct{ step[*EventTask] }

// Event returns an EVENT task publishing to sink, "<queue type>:<name>"
// (for example "conductor:orders" or "sqs:my-queue").
func Event(ref, sink string) *EventTask {
	t := newTask[*EventTask](ref, ref, TypeEvent)
	t.wt.Sink = sink
	return t
}

// ConductorEvent returns an EVENT task publishing to the server's own event
// queue named name, where event handlers can act on it.
func ConductorEvent(ref, name string) *EventTask { return Event(ref, "conductor:"+name) }

// SQSEvent returns an EVENT task publishing to the SQS queue named queue
// (the server needs its SQS module).
func SQSEvent(ref, queue string) *EventTask { return Event(ref, "sqs:"+queue) }

// TerminateTask ends the workflow with a status and reason (type
// TERMINATE).
type TerminateTask struct{ step[*TerminateTask] }

// Terminate returns a TERMINATE task ending the workflow as status
// (COMPLETED, FAILED or TERMINATED) with reason.
func Terminate(ref string, status model.WorkflowStatus, reason string) *TerminateTask {
	t := newTask[*TerminateTask](ref, ref, TypeTerminate)
	t.wt.InputParameters["terminationStatus"] = status
	t.wt.InputParameters["terminationReason"] = reason
	return t
}

// SetVariableTask sets workflow variables from its input (type
// SET_VARIABLE): each input parameter becomes ${workflow.variables.<key>}.
type SetVariableTask struct{ step[*SetVariableTask] }

// SetVariable returns a SET_VARIABLE task; give the variables with Input.
func SetVariable(ref string) *SetVariableTask {
	return newTask[*SetVariableTask](ref, ref, TypeSetVariable)
}

// InlineTask evaluates a script on the server (type INLINE); its output is
// {"result": <the script's value>}.
type InlineTask struct{ step[*InlineTask] }

// Inline returns an INLINE task evaluating the JavaScript script, which
// reads the task's input as $.name.
func Inline(ref, script string) *InlineTask {
	return inline(ref, "javascript", script)
}

// InlineGraalJS is Inline with the "graaljs" evaluator, which servers with
// GraalJS offer.
func InlineGraalJS(ref, script string) *InlineTask {
	return inline(ref, "graaljs", script)
}

func inline(ref, evaluator, script string) *InlineTask {
	t := newTask[*InlineTask](ref, ref, TypeInline)
	t.wt.InputParameters["evaluatorType"] = evaluator
	t.wt.InputParameters["expression"] = script
	return t
}

// JQTask transforms its input with a jq query (type JSON_JQ_TRANSFORM);
// its output's "result" holds the first value, "resultList" all of them.
type JQTask struct{ step[*JQTask] }

// JQ returns a JSON_JQ_TRANSFORM task applying query to its input.
func JQ(ref, query string) *JQTask {
	t := newTask[*JQTask](ref, ref, TypeJQ)
	t.wt.InputParameters["queryExpression"] = query
	return t
}

// DynamicTask runs the task type named at run time (type DYNAMIC).
type DynamicTask struct{ step[*DynamicTask] }

// Dynamic returns a DYNAMIC task running the task type that taskName (an
// expression such as "${workflow.input.handler}") names.
func Dynamic(ref, taskName string) *DynamicTask {
	t := newTask[*DynamicTask](ref, ref, TypeDynamic)
	t.wt.InputParameters["taskToExecute"] = taskName
	t.wt.DynamicTaskNameParam = "taskToExecute"
	return t
}

// DynamicForkTask runs a list of tasks known only at run time in parallel
// (FORK_JOIN_DYNAMIC followed by its JOIN).
type DynamicForkTask struct{ step[*DynamicForkTask] }

// DynamicFork returns a FORK_JOIN_DYNAMIC task whose branches come from
// tasks (an expression giving a list of workflow tasks, each with name,
// taskReferenceName and type) and their inputs from inputs (an expression
// giving a map from reference name to input), typically another task's
// OutputRef. A JOIN, reference name ref+"_join", follows it.
func DynamicFork(ref, tasks, inputs string) *DynamicForkTask {
	t := newTask[*DynamicForkTask](ref, ref, TypeDynamicFork)
	t.wt.InputParameters["forkedTasks"] = tasks
	t.wt.InputParameters["forkedTasksInputs"] = inputs
	t.wt.DynamicForkTasksParam = "forkedTasks"
	t.wt.DynamicForkTasksInputParamName = "forkedTasksInputs"
	return t
}

func (t *DynamicForkTask) workflowTasks() []model.WorkflowTask {
	// The server fills the join's list when it forks.
	return append([]model.WorkflowTask{t.base()}, Join(t.Ref()+"_join").workflowTasks()...)
}

// HumanTask waits, like WAIT, for a person's answer given through the API
// (type HUMAN).
type HumanTask struct{ step[*HumanTask] }

// Human returns a HUMAN task.
func Human(ref string) *HumanTask {
	return newTask[*HumanTask](ref, ref, TypeHuman)
}

// KafkaRequest is what a KAFKA_PUBLISH task sends.
type KafkaRequest struct {
	BootStrapServers string                 `json:"bootStrapServers"`
	Topic            string                 `json:"topic"`
	Key              string                 `json:"key,omitempty"`
	KeySerializer    string                 `json:"keySerializer,omitempty"`
	Value            interface{}            `json:"value"`
	Headers          map[string]interface{} `json:"headers,omitempty"`
	RequestTimeoutMs int                    `json:"requestTimeoutMs,omitempty"`
	MaxBlockMs       int                    `json:"maxBlockMs,omitempty"`
}

// KafkaPublishTask publishes a message to Kafka from the server (type
// KAFKA_PUBLISH; the server needs its Kafka module).
type KafkaPublishTask struct{ step[*KafkaPublishTask] }

// KafkaPublish returns a KAFKA_PUBLISH task sending req.
func KafkaPublish(ref string, req KafkaRequest) *KafkaPublishTask {
	t := newTask[*KafkaPublishTask](ref, ref, TypeKafkaPublish)
	t.wt.InputParameters["kafka_request"] = req
	return t
}
