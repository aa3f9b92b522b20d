package worker

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
	"testing/synctest"

	"github.com/sirupsen/logrus"

	"github.com/baton-go/baton/sdk/model"
)

// A failed execution leaves one log line with what a person needs to find
// the cause, and the task's fields to find the task.
func TestFailedExecutionsAreLoggedWithTheCause(t *testing.T) {
	type out struct {
		Name  string             `json:"name"`
		Score map[string]float64 `json:"score"`
	}
	tests := []struct {
		name   string
		h      HandlerFunc
		level  logrus.Level
		fields map[string]string // field -> substring of its value
	}{
		{
			name:   "panic",
			h:      func(context.Context, *model.Task) (interface{}, error) { panic("wheels came off") },
			level:  logrus.ErrorLevel,
			fields: map[string]string{"panic": "wheels came off", "stack": "logs_test.go"},
		},
		{
			name:   "error",
			h:      func(context.Context, *model.Task) (interface{}, error) { return nil, errors.New("db down") },
			level:  logrus.WarnLevel,
			fields: map[string]string{logrus.ErrorKey: "db down", "status": "FAILED"},
		},
		{
			name: "unencodable output",
			h: func(context.Context, *model.Task) (interface{}, error) {
				return out{Name: "x", Score: map[string]float64{"a": 1, "b": math.Inf(-1)}}, nil
			},
			level:  logrus.WarnLevel,
			fields: map[string]string{"reason": `field "score.b"`, "status": "FAILED_WITH_TERMINAL_ERROR"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				b := setup(t)
				if err := b.r.Start("x", tt.h); err != nil {
					t.Fatal(err)
				}
				b.f.push("", makeTasks("x", "o", 1)...)
				eventually(t, "the result", func() bool { return b.f.updatedCount() == 1 })
				var lines []*logrus.Entry
				for _, e := range b.logs.AllEntries() {
					if e.Level <= logrus.WarnLevel {
						lines = append(lines, e)
					}
				}
				if len(lines) != 1 {
					t.Fatalf("%d warning/error lines, want 1: %v", len(lines), lines)
				}
				e := lines[0]
				if e.Level != tt.level {
					t.Errorf("level %s, want %s", e.Level, tt.level)
				}
				want := map[string]string{"taskId": "o-0", "workflowId": "wf-o", "taskType": "x", "workerId": "test-worker"}
				for k, v := range tt.fields {
					want[k] = v
				}
				for k, v := range want {
					got, ok := e.Data[k]
					if !ok {
						t.Errorf("field %s missing from %q (fields %v)", k, e.Message, e.Data)
						continue
					}
					str := fmt.Sprint(got)
					if !strings.Contains(str, v) {
						t.Errorf("field %s = %q, want it to contain %q", k, str, v)
					}
				}
			})
		})
	}
}
