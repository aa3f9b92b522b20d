package conductortest

import (
	"reflect"
	"testing"
	"time"

	"github.com/baton-go/baton/sdk/model"
)

func TestRetryDelay(t *testing.T) {
	cases := []struct {
		logic  string
		base   int
		factor int
		n      int
		want   time.Duration
	}{
		{model.RetryFixed, 5, 1, 0, 5 * time.Second},
		{model.RetryFixed, 5, 1, 3, 5 * time.Second},
		{model.RetryLinearBackoff, 5, 2, 0, 10 * time.Second},
		{model.RetryLinearBackoff, 5, 2, 2, 30 * time.Second},
		{model.RetryExponentialBackoff, 5, 1, 0, 5 * time.Second},
		{model.RetryExponentialBackoff, 5, 1, 3, 40 * time.Second},
		{model.RetryExponentialBackoff, 5, 1, 40, 2147483647 * time.Second},
	}
	for _, c := range cases {
		def := &model.TaskDef{RetryLogic: c.logic, RetryDelaySeconds: c.base, BackoffScaleFactor: c.factor}
		if got := retryDelay(def, c.n); got != c.want {
			t.Errorf("%s base %d factor %d n %d: %v, want %v", c.logic, c.base, c.factor, c.n, got, c.want)
		}
	}
}

func TestEvalString(t *testing.T) {
	s := &Server{}
	wf := &workflow{}
	wf.m.Input = map[string]any{"n": 5.0, "s": "txt", "m": map[string]any{"k": []any{"a", "b"}}, "nil": nil}
	wf.m.WorkflowId = "wf-1"
	prev := &task{wf: wf}
	prev.m.ReferenceTaskName = "prev"
	prev.m.OutputData = map[string]any{"list": []any{1.0, 2.0}}
	wf.tasks = []*task{prev}
	cases := []struct {
		in   string
		want any
	}{
		{"plain", "plain"},
		{"${workflow.input.n}", 5.0},
		{"${workflow.input.m.k[1]}", "b"},
		{"${workflow.input.m['k'][0]}", "a"},
		{"${workflow.input.missing}", nil},
		{"${prev.output.list}", []any{1.0, 2.0}},
		{"${workflow.workflowId}", "wf-1"},
		{"n=${workflow.input.n}, s=${workflow.input.s}", "n=5, s=txt"},
		{"[${workflow.input.missing}]", "[]"},
		{"${workflow.input.n}${workflow.input.s}", "5txt"},
		{"obj ${workflow.input.m}", `obj {"k":["a","b"]}`},
		{"$${workflow.input.n} stays", "${workflow.input.n} stays"},
		{"${}", ""},
	}
	for _, c := range cases {
		if got := s.evalString(wf, c.in); !reflect.DeepEqual(got, c.want) {
			t.Errorf("%q: %#v, want %#v", c.in, got, c.want)
		}
	}
}
