// Package wire writes the dev server's answers in the shape Conductor's
// own JSON has, and encodes tasks, the bulk of what polls answer, without
// reflection. It is the dev server's encoder only: nothing here decides what
// the server does.
//
// The model types leave out empty fields (omitempty), which suits a client.
// Conductor's Jackson output has every field of a task definition, workflow
// definition and workflow, with zero values, empty lists and empty maps.
// The *Out wrappers shadow the model fields that the real server always
// sends, so other clients (and tests reading raw JSON) see the same shape.
// None of them is used on the poll path except through the step encodings
// that the server caches (see Task).
package wire

import (
	"encoding/json"

	"github.com/baton-go/baton/sdk/model"
)

// TaskDefOut is a TaskDef as the real server writes it.
type TaskDefOut struct {
	*model.TaskDef
	CreateTime                  int64          `json:"createTime"`
	UpdateTime                  int64          `json:"updateTime"`
	CreatedBy                   string         `json:"createdBy"`
	UpdatedBy                   *string        `json:"updatedBy,omitempty"` // only once updated
	InputKeys                   []string       `json:"inputKeys"`
	OutputKeys                  []string       `json:"outputKeys"`
	InputTemplate               map[string]any `json:"inputTemplate"`
	ResponseTimeoutSeconds      int64          `json:"responseTimeoutSeconds"`
	RateLimitPerFrequency       int            `json:"rateLimitPerFrequency"`
	RateLimitFrequencyInSeconds int            `json:"rateLimitFrequencyInSeconds"`
	BackoffScaleFactor          int            `json:"backoffScaleFactor"`
	TotalTimeoutSeconds         int64          `json:"totalTimeoutSeconds"`
	EnforceSchema               bool           `json:"enforceSchema"`
}

// TaskDef returns d in the real server's shape (nil for nil).
func TaskDef(d *model.TaskDef) *TaskDefOut {
	if d == nil {
		return nil
	}
	o := &TaskDefOut{
		TaskDef:                     d,
		CreateTime:                  d.CreateTime,
		UpdateTime:                  d.UpdateTime,
		CreatedBy:                   d.CreatedBy,
		InputKeys:                   orEmpty(d.InputKeys),
		OutputKeys:                  orEmpty(d.OutputKeys),
		InputTemplate:               orEmptyMap(d.InputTemplate),
		ResponseTimeoutSeconds:      d.ResponseTimeoutSeconds,
		RateLimitPerFrequency:       d.RateLimitPerFrequency,
		RateLimitFrequencyInSeconds: d.RateLimitFrequencyInSeconds,
		BackoffScaleFactor:          d.BackoffScaleFactor,
		TotalTimeoutSeconds:         d.TotalTimeoutSeconds,
	}
	if d.UpdateTime != 0 || d.UpdatedBy != "" {
		u := d.UpdatedBy
		o.UpdatedBy = &u
	}
	return o
}

// WorkflowTaskOut is a WorkflowTask as the real server writes it (the
// fields of SIMPLE tasks; those of other task types are not served).
type WorkflowTaskOut struct {
	*model.WorkflowTask
	InputParameters map[string]any `json:"inputParameters"`
	Type            string         `json:"type"`
	StartDelay      int            `json:"startDelay"`
	Optional        bool           `json:"optional"`
	AsyncComplete   bool           `json:"asyncComplete"`
	TaskDefinition  *TaskDefOut    `json:"taskDefinition,omitempty"`
}

// WorkflowTask returns wt in the real server's shape; a step without a type
// is SIMPLE.
func WorkflowTask(wt *model.WorkflowTask) *WorkflowTaskOut {
	typ := wt.Type
	if typ == "" {
		typ = model.TaskTypeSimple
	}
	return &WorkflowTaskOut{
		WorkflowTask:    wt,
		InputParameters: orEmptyMap(wt.InputParameters),
		Type:            typ,
		StartDelay:      wt.StartDelay,
		Optional:        wt.Optional,
		AsyncComplete:   wt.AsyncComplete,
		TaskDefinition:  TaskDef(wt.TaskDefinition),
	}
}

// WorkflowDefOut is a WorkflowDef as the real server writes it.
type WorkflowDefOut struct {
	*model.WorkflowDef
	CreateTime                    int64              `json:"createTime"`
	UpdateTime                    int64              `json:"updateTime"`
	Version                       int                `json:"version"`
	Tasks                         []*WorkflowTaskOut `json:"tasks"`
	InputParameters               []string           `json:"inputParameters"`
	OutputParameters              map[string]any     `json:"outputParameters"`
	SchemaVersion                 int                `json:"schemaVersion"`
	Restartable                   bool               `json:"restartable"`
	WorkflowStatusListenerEnabled bool               `json:"workflowStatusListenerEnabled"`
	TimeoutPolicy                 string             `json:"timeoutPolicy"`
	Variables                     map[string]any     `json:"variables"`
	InputTemplate                 map[string]any     `json:"inputTemplate"`
	EnforceSchema                 bool               `json:"enforceSchema"`
	Metadata                      map[string]any     `json:"metadata"`
}

// WorkflowDef returns d in the real server's shape (nil for nil).
func WorkflowDef(d *model.WorkflowDef) *WorkflowDefOut {
	if d == nil {
		return nil
	}
	o := &WorkflowDefOut{
		WorkflowDef:      d,
		CreateTime:       d.CreateTime,
		UpdateTime:       d.UpdateTime,
		Version:          d.Version,
		Tasks:            make([]*WorkflowTaskOut, len(d.Tasks)),
		InputParameters:  orEmpty(d.InputParameters),
		OutputParameters: orEmptyMap(d.OutputParameters),
		SchemaVersion:    d.SchemaVersion,
		Restartable:      d.Restartable,
		TimeoutPolicy:    d.TimeoutPolicy,
		Variables:        orEmptyMap(d.Variables),
		InputTemplate:    map[string]any{},
		EnforceSchema:    true,
		Metadata:         map[string]any{},
	}
	for i := range d.Tasks {
		o.Tasks[i] = WorkflowTask(&d.Tasks[i])
	}
	return o
}

// WorkflowOut is a workflow execution as the real server writes it. Tasks
// go through the task encoder (which always writes inputData and
// outputData).
type WorkflowOut struct {
	OwnerApp string `json:"ownerApp"`
	*model.Workflow
	CreateTime               int64             `json:"createTime"`
	UpdateTime               int64             `json:"updateTime"`
	EndTime                  int64             `json:"endTime"`
	StartTime                int64             `json:"startTime"`
	Tasks                    []json.RawMessage `json:"tasks"`
	Input                    map[string]any    `json:"input"`
	Output                   map[string]any    `json:"output"`
	TaskToDomain             map[string]string `json:"taskToDomain"`
	FailedReferenceTaskNames []string          `json:"failedReferenceTaskNames"`
	FailedTaskNames          []string          `json:"failedTaskNames"`
	WorkflowDefinition       *WorkflowDefOut   `json:"workflowDefinition,omitempty"`
	Variables                map[string]any    `json:"variables"`
	LastRetriedTime          int64             `json:"lastRetriedTime"`
	History                  []any             `json:"history"`
	RateLimited              bool              `json:"rateLimited"`
}

// Workflow returns m in the real server's shape, with tasks (m.Tasks is
// not read) encoded by AppendTask.
func Workflow(m *model.Workflow, tasks []Task) *WorkflowOut {
	o := &WorkflowOut{
		Workflow:                 m,
		CreateTime:               m.CreateTime,
		UpdateTime:               m.UpdateTime,
		EndTime:                  m.EndTime,
		StartTime:                m.StartTime,
		Tasks:                    make([]json.RawMessage, len(tasks)),
		Input:                    orEmptyMap(m.Input),
		Output:                   orEmptyMap(m.Output),
		TaskToDomain:             m.TaskToDomain,
		FailedReferenceTaskNames: orEmpty(m.FailedReferenceTaskNames),
		FailedTaskNames:          orEmpty(m.FailedTaskNames),
		WorkflowDefinition:       WorkflowDef(m.WorkflowDefinition),
		Variables:                orEmptyMap(m.Variables),
		History:                  []any{},
	}
	if o.TaskToDomain == nil {
		o.TaskToDomain = map[string]string{}
	}
	for i := range tasks {
		o.Tasks[i] = AppendTask(nil, &tasks[i])
	}
	return o
}

func orEmpty(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func orEmptyMap(m map[string]any) map[string]any {
	if m == nil {
		return map[string]any{}
	}
	return m
}
