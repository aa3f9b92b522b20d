package worker

import (
	"context"
	"crypto/sha1"
	"math/rand/v2"
	"strconv"

	"github.com/sirupsen/logrus"

	"github.com/baton-go/baton/internal/uuid"
	"github.com/baton-go/baton/sdk/model"
)

// execInfo is what the runner attaches to a handler's context: one value, so
// that a task pays for one context.WithValue. The logger and the string forms
// of the ids are built only when a handler asks for them.
type execInfo struct {
	task     *model.Task
	workerID string
	execHi   uint64
	execLo   uint64
	base     logrus.FieldLogger
	xlog     execLog // lines for the task's execution log (execlog.go)
}

type execInfoKey struct{}

func withExecInfo(ctx context.Context, info *execInfo) context.Context {
	return context.WithValue(ctx, execInfoKey{}, info)
}

func infoFrom(ctx context.Context) *execInfo {
	info, _ := ctx.Value(execInfoKey{}).(*execInfo)
	return info
}

func newExecInfo(t *model.Task, workerID string, base logrus.FieldLogger) *execInfo {
	return &execInfo{task: t, workerID: workerID, execHi: rand.Uint64(), execLo: rand.Uint64(), base: base}
}

// TaskFromContext returns the task a handler is running, or nil when ctx
// does not come from the runner.
func TaskFromContext(ctx context.Context) *model.Task {
	if info := infoFrom(ctx); info != nil {
		return info.task
	}
	return nil
}

// WorkerIDFromContext returns the id of the worker running the handler, or
// "" when ctx does not come from the runner.
func WorkerIDFromContext(ctx context.Context) string {
	if info := infoFrom(ctx); info != nil {
		return info.workerID
	}
	return ""
}

// ExecutionIDFromContext returns a random id (UUID form) that is new for each
// execution of a handler: a task handed out again after IN_PROGRESS, or
// re-delivered after a crash, gets a different one. Use it to tell
// executions apart in logs; use IdempotencyKey for side effects. "" when ctx
// does not come from the runner.
func ExecutionIDFromContext(ctx context.Context) string {
	info := infoFrom(ctx)
	if info == nil {
		return ""
	}
	var b [16]byte
	putUint64(b[:8], info.execHi)
	putUint64(b[8:], info.execLo)
	return uuid.V4(b)
}

// LoggerFromContext returns the runner's logger with the fields taskType,
// taskId, workflowId, workerId and executionId set. Outside a handler it
// returns a logger that discards everything, so it is always safe to call.
func LoggerFromContext(ctx context.Context) logrus.FieldLogger {
	info := infoFrom(ctx)
	if info == nil {
		l := logrus.New()
		l.SetOutput(discard{})
		return l
	}
	return info.base.WithFields(logrus.Fields{
		"taskType":    info.task.TaskType,
		"taskId":      info.task.TaskId,
		"workflowId":  info.task.WorkflowInstanceId,
		"workerId":    info.workerID,
		"executionId": ExecutionIDFromContext(ctx),
	})
}

// IdempotencyKey returns a key for the side effects of the running task: a
// UUID (version 5, name-based) derived from the workflow id, the task's
// reference name and its loop iteration. It is the same for every execution
// of the same logical task (IN_PROGRESS callbacks, retries, which get a new
// task id, and re-deliveries after a worker crash or restart), and differs
// between tasks, so an external API called with it performs the operation
// once. "" when ctx does not come from the runner.
func IdempotencyKey(ctx context.Context) string {
	info := infoFrom(ctx)
	if info == nil {
		return ""
	}
	return TaskIdempotencyKey(info.task)
}

// TaskIdempotencyKey is IdempotencyKey for a task at hand (for example in a
// test, or when a task is handled outside the runner).
func TaskIdempotencyKey(t *model.Task) string {
	wf := t.WorkflowInstanceId
	if wf == "" {
		// A task without a workflow has nothing more stable than its own id.
		wf = "task:" + t.TaskId
	}
	// Length-prefixed parts: no choice of ids can make two tasks collide by
	// moving characters between fields.
	name := make([]byte, 0, 64)
	name = strconv.AppendInt(name, int64(len(wf)), 10)
	name = append(name, ':')
	name = append(name, wf...)
	name = strconv.AppendInt(name, int64(len(t.ReferenceTaskName)), 10)
	name = append(name, ':')
	name = append(name, t.ReferenceTaskName...)
	name = append(name, '#')
	name = strconv.AppendInt(name, int64(t.Iteration), 10)
	return uuidV5(idempotencyNamespace, name)
}

// idempotencyNamespace is the namespace UUID of Baton's idempotency keys
// (randomly chosen once, never to change: changing it changes every key).
var idempotencyNamespace = [16]byte{
	0x8b, 0x1e, 0x4f, 0x2a, 0x6c, 0x3d, 0x4e, 0x91,
	0xa7, 0x52, 0x0d, 0xc4, 0x19, 0xe8, 0x77, 0x3b,
}

// uuidV5 computes a name-based UUID as RFC 9562 section 5.5 describes:
// SHA-1 over namespace and name, truncated to 16 bytes, version and variant
// bits set.
func uuidV5(ns [16]byte, name []byte) string {
	h := sha1.New()
	h.Write(ns[:])
	h.Write(name)
	var sum [sha1.Size]byte
	h.Sum(sum[:0])
	var b [16]byte
	copy(b[:], sum[:16])
	b[6] = b[6]&0x0f | 0x50
	b[8] = b[8]&0x3f | 0x80
	return uuid.Format(b)
}

func putUint64(b []byte, v uint64) {
	for i := 7; i >= 0; i-- {
		b[i] = byte(v)
		v >>= 8
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
