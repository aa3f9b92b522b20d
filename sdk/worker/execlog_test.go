package worker

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/baton-go/baton/sdk/model"
)

func logLines(res model.TaskResult) []string {
	var out []string
	for _, l := range res.Logs {
		out = append(out, l.Log)
	}
	return out
}

func TestLogLinesTravelWithTheResultAndSurviveRetries(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := setup(t)
		b.f.updErr = func(n int, _ *model.TaskResult) error {
			if n == 1 {
				return errors.New("connection reset")
			}
			return nil
		}
		h := func(ctx context.Context, task *model.Task) (interface{}, error) {
			Log(ctx, "charging card")
			var wg sync.WaitGroup
			for i := range 3 {
				wg.Go(func() { Logf(ctx, "part %d", i) })
			}
			wg.Wait()
			return nil, errors.New("card declined")
		}
		if err := b.r.Start("logs", h); err != nil {
			t.Fatal(err)
		}
		b.f.push("", makeTasks("logs", "g", 1)...)
		waitFor(t, 5*time.Minute, "accepted", func() bool { return b.f.updatedCount() == 1 })
		rs := b.f.resultsOf("g-0")
		res := rs[len(rs)-1]
		lines := logLines(res)
		if res.Status != model.FailedTask || len(lines) != 4 || lines[0] != "charging card" {
			t.Fatalf("delivered result: status %s, logs %q", res.Status, lines)
		}
		for _, l := range res.Logs {
			if l.TaskId != "g-0" || l.CreatedTime == 0 {
				t.Fatalf("log entry %+v", l)
			}
		}
	})
}

func TestLogIsCappedAndSaysSo(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := setup(t)
		h := func(ctx context.Context, task *model.Task) (interface{}, error) {
			Log(ctx, strings.Repeat("é", execLogLineMaxBytes)) // 2 bytes per character
			for i := range execLogMaxLines + 10 {
				Logf(ctx, "line %d", i)
			}
			res := model.NewTaskResult(task)
			res.Status = model.CompletedTask
			res.Log("the handler's own line")
			return res, nil
		}
		if err := b.r.Start("capped", h); err != nil {
			t.Fatal(err)
		}
		b.f.push("", makeTasks("capped", "c", 1)...)
		waitFor(t, 5*time.Minute, "done", func() bool { return b.f.updatedCount() == 1 })
		lines := logLines(b.f.resultsOf("c-0")[0])
		if len(lines) != execLogMaxLines+2 {
			t.Fatalf("%d lines, want the handler's own, %d kept and a note", len(lines), execLogMaxLines)
		}
		if lines[0] != "the handler's own line" {
			t.Fatalf("first line %q", lines[0])
		}
		if long := lines[1]; len(long) > execLogLineMaxBytes+20 || !strings.HasSuffix(long, "(cut)") || !strings.HasPrefix(long, "éé") {
			t.Fatalf("long line not cut cleanly: %d bytes, ends %q", len(long), long[len(long)-12:])
		}
		if last := lines[len(lines)-1]; last != "baton: 11 more log line(s) dropped: over the execution log limit" {
			t.Fatalf("last line %q", last)
		}
	})
}

// Log and Logf with a context that does not come from the runner do
// nothing: such lines reach no task's log, not even the log of the task
// whose handler made the call, and nothing breaks.
func TestLogOutsideARunnerIsHarmless(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		Log(context.Background(), "nobody hears this")
		Logf(context.Background(), "nor %s", "this")
		b := setup(t)
		if err := b.r.Start("lo", func(ctx context.Context, _ *model.Task) (interface{}, error) {
			Log(context.Background(), "stray")
			Logf(context.WithoutCancel(context.TODO()), "stray %d", 2)
			Log(ctx, "kept")
			return nil, nil
		}); err != nil {
			t.Fatal(err)
		}
		b.f.push("", makeTasks("lo", "l", 1)...)
		waitFor(t, time.Minute, "the result", func() bool { return b.f.updatedCount() == 1 })
		rs := b.f.resultsOf("l-0")
		if len(rs) != 1 || rs[0].Status != model.CompletedTask {
			t.Fatalf("results %+v", rs)
		}
		if got := strings.Join(logLines(rs[0]), "|"); got != "kept" {
			t.Fatalf("execution log %q, want only the line logged with the handler's context", got)
		}
	})
}

// On the dev server over HTTP: the lines of two executions of one task
// (IN_PROGRESS, then COMPLETED) are what GetLogs returns.
func TestLogLinesAppearInGetLogs(t *testing.T) {
	e := newITEnv(t)
	e.defineSequence(t, "logged_flow", "logged", 1, nil)
	r := e.runner(t)
	h := func(ctx context.Context, task *model.Task) (interface{}, error) {
		Logf(ctx, "visit %d", task.PollCount)
		if task.PollCount < 2 {
			res := model.NewTaskResult(task)
			res.Status = model.InProgressTask
			return res, nil
		}
		return map[string]interface{}{"ok": true}, nil
	}
	if err := r.Start("logged", h, PollInterval(5*time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	ids := e.start(t, "logged_flow", 1, nil)
	e.wait(t, 20*time.Second, ids)
	wf, _ := e.srv.Workflow(ids[0])
	logs, err := e.api.Tasks().GetLogs(context.Background(), wf.Tasks[0].TaskId)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, l := range logs {
		got = append(got, l.Log)
	}
	if fmt.Sprint(got) != "[visit 1 visit 2]" {
		t.Fatalf("GetLogs: %q", got)
	}
}
