package worker

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/baton-go/baton/sdk/model"
)

// Execution logs: lines a handler adds to the task's execution log, which
// Conductor shows on the task in its UI and returns from GET
// /tasks/{taskId}/log (client.TaskClient.GetLogs). They travel in the
// result's "logs" field, so they are delivered, retried and (at worst)
// given up together with the result: never posted without it, never lost
// while it is delivered.

// Limits of one execution's log. Lines beyond them are dropped and counted
// in a last line, so a chatty handler cannot make its result too large for
// the server.
const (
	// execLogLineMaxBytes is the longest line kept; longer ones are cut.
	execLogLineMaxBytes = 4 << 10
	// execLogMaxBytes caps the bytes of all lines of one execution.
	execLogMaxBytes = 64 << 10
	// execLogMaxLines caps the number of lines of one execution.
	execLogMaxLines = 500
)

// execLog collects one execution's lines; handlers may log from several
// goroutines.
type execLog struct {
	mu      sync.Mutex
	lines   []model.TaskExecLog
	bytes   int
	dropped int
}

func (l *execLog) add(taskID, line string, now time.Time) {
	if len(line) > execLogLineMaxBytes {
		line = truncate(line, execLogLineMaxBytes) + " …(cut)"
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.lines) >= execLogMaxLines || l.bytes+len(line) > execLogMaxBytes {
		l.dropped++
		return
	}
	l.bytes += len(line)
	l.lines = append(l.lines, model.TaskExecLog{Log: line, TaskId: taskID, CreatedTime: now.UnixMilli()})
}

// attach appends the collected lines (and a note of dropped ones) to res
// after any the handler put there itself.
func (l *execLog) attach(res *model.TaskResult, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.lines) == 0 && l.dropped == 0 {
		return
	}
	res.Logs = append(res.Logs, l.lines...)
	if l.dropped > 0 {
		res.Logs = append(res.Logs, model.TaskExecLog{
			Log:         "baton: " + strconv.Itoa(l.dropped) + " more log line(s) dropped: over the execution log limit",
			TaskId:      res.TaskId,
			CreatedTime: now.UnixMilli(),
		})
	}
}

// Log appends a line to the execution log of the task whose handler ctx
// belongs to. The lines are sent with the task's result and appear in
// Conductor's UI and in GetLogs; they are limited per execution
// (500 lines and 64 KiB; a line is cut at 4 KiB). It does nothing
// when ctx does not come from the runner. It is safe for concurrent use.
// Never log secrets: anyone who can read the task can read its log.
func Log(ctx context.Context, line string) {
	if info := infoFrom(ctx); info != nil {
		info.xlog.add(info.task.TaskId, line, time.Now())
	}
}

// Logf is Log with fmt.Sprintf formatting.
func Logf(ctx context.Context, format string, args ...interface{}) {
	if info := infoFrom(ctx); info != nil {
		info.xlog.add(info.task.TaskId, fmt.Sprintf(format, args...), time.Now())
	}
}
