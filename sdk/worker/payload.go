package worker

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/baton-go/baton/sdk/client"
	"github.com/baton-go/baton/sdk/model"
)

// Large payloads (see sdk/client/payload.go for the protocol).
//
// Before a handler runs, a task whose input the server keeps in its
// external payload storage gets that input: a handler never sees the empty
// input the server hands out in its place. A fetch that fails is tried
// again, with growing waits, while the task's response timeout (the time
// the server gives a worker before it takes the task back) lasts; then the
// task fails with a reason that says the handler did not run.
//
// After the handler, an output over the hard limit fails the task at once
// (FAILED_WITH_TERMINAL_ERROR, with the size and the limit in the reason)
// instead of being refused by the server after retries; an output over the
// threshold is uploaded when the store takes uploads and else sent inline
// for the server to store.

// payloadStore is what the executor needs for external payloads. clientAPI
// implements it; a taskAPI that does not (the fakes of tests) gets
// localPayloads, which only applies the limits.
type payloadStore interface {
	fetchTaskInput(ctx context.Context, t *model.Task) error
	storeTaskOutput(ctx context.Context, r *model.TaskResult, size int64) (bool, error)
}

func (c *clientAPI) fetchTaskInput(ctx context.Context, t *model.Task) error {
	return describe(c.tasks.FetchTaskInput(ctx, t))
}

func (c *clientAPI) storeTaskOutput(ctx context.Context, r *model.TaskResult, size int64) (bool, error) {
	return c.tasks.StoreTaskOutput(ctx, r, size)
}

// payloadsOf returns api's payload handling, or localPayloads.
func payloadsOf(api taskAPI) payloadStore {
	if p, ok := api.(payloadStore); ok {
		return p
	}
	return localPayloads{th: client.DefaultPayloadThresholds()}
}

// localPayloads applies the hard output limit without a server to ask.
type localPayloads struct{ th client.PayloadThresholds }

func (l localPayloads) fetchTaskInput(_ context.Context, t *model.Task) error {
	if t.ExternalInputPayloadStoragePath != "" && len(t.InputData) == 0 {
		return fmt.Errorf("%w: no client to read %s with", client.ErrPayloadUnavailable, t.ExternalInputPayloadStoragePath)
	}
	return nil
}

func (l localPayloads) storeTaskOutput(_ context.Context, _ *model.TaskResult, size int64) (bool, error) {
	if l.th.MaxTaskOutput > 0 && size > l.th.MaxTaskOutput {
		return false, &client.PayloadTooLargeError{Type: "TASK_OUTPUT", Size: size, Limit: l.th.MaxTaskOutput}
	}
	return false, nil
}

// Input fetch retries: waits from inputFetchMinWait doubling to
// inputFetchMaxWait, for as long as the task's response timeout lasts
// (inputFetchDefaultWindow when the task has none).
const (
	inputFetchMinWait       = 100 * time.Millisecond
	inputFetchMaxWait       = 5 * time.Second
	inputFetchDefaultWindow = time.Minute
	// payloadAttemptTimeout bounds one fetch or upload: a 10 MB payload
	// takes well under a second on any network a worker should use.
	payloadAttemptTimeout = 2 * time.Minute
)

// needsInput reports a task whose input is in external storage.
func needsInput(t *model.Task) bool {
	return t.ExternalInputPayloadStoragePath != "" && len(t.InputData) == 0
}

// fetchInput fills in t's externalized input, trying again after failures
// that may pass while the task's response timeout lasts. ctx is the
// runner's work context.
func (e *executor) fetchInput(ctx context.Context, t *model.Task) error {
	start := e.clock.Now()
	window := inputFetchDefaultWindow
	if t.ResponseTimeoutSeconds > 0 {
		window = time.Duration(t.ResponseTimeoutSeconds) * time.Second
	}
	if dl, ok := taskDeadline(t, start); ok && dl.Sub(start) < window {
		window = dl.Sub(start)
	}
	wait := inputFetchMinWait
	for attempt := 1; ; attempt++ {
		actx, cancel := context.WithTimeout(ctx, payloadAttemptTimeout)
		err := e.payload.fetchTaskInput(actx, t)
		cancel()
		if err == nil {
			return nil
		}
		if errors.Is(err, client.ErrPayloadUnavailable) || ctx.Err() != nil {
			return err
		}
		if e.clock.Now().Add(wait).Sub(start) >= window {
			return fmt.Errorf("%w (gave up after %d attempts in %s)", err, attempt, e.clock.Now().Sub(start).Round(time.Millisecond))
		}
		e.w.log.WithFields(logrus.Fields{"taskId": t.TaskId, "workflowId": t.WorkflowInstanceId, "attempt": attempt, "wait": wait}).WithError(err).
			Warn("worker: reading the task's input from external storage failed; trying again")
		if h := e.hooks.OnWorkerError; h != nil {
			h(t.TaskType, fmt.Errorf("reading the input of task %s: %w", t.TaskId, err))
		}
		tm := e.clock.NewTimer(wait)
		select {
		case <-ctx.Done():
			tm.Stop()
			return err
		case <-tm.C():
		}
		wait = min(wait*2, inputFetchMaxWait)
	}
}

// inputFailed is the result of a task whose input could not be read: the
// handler did not run. A store that cannot have the input (no URI, no such
// object) fails the task for good; anything else fails it retryably.
func (e *executor) inputFailed(t *model.Task, err error) *model.TaskResult {
	st := model.FailedTask
	if errors.Is(err, client.ErrPayloadUnavailable) {
		st = model.FailedWithTerminalErrorTask
	}
	reason := fmt.Sprintf("worker: the task's input is in the server's external payload storage (%s) and could not be read, so the handler did not run: %v",
		t.ExternalInputPayloadStoragePath, err)
	e.w.stats.failed()
	e.w.log.WithFields(logrus.Fields{"taskId": t.TaskId, "workflowId": t.WorkflowInstanceId, "status": st}).WithError(err).
		Error("worker: task input could not be read from external storage; handler not run")
	if h := e.hooks.OnWorkerError; h != nil {
		h(t.TaskType, fmt.Errorf("reading the input of task %s: %w", t.TaskId, err))
	}
	return &model.TaskResult{
		TaskId:                t.TaskId,
		WorkflowInstanceId:    t.WorkflowInstanceId,
		WorkerId:              e.workerID,
		Status:                st,
		ReasonForIncompletion: truncate(reason, model.MaxReasonLength),
		OutputData:            map[string]interface{}{},
	}
}

// storeOutput applies the output thresholds to res before it is reported.
func (e *executor) storeOutput(ctx context.Context, t *model.Task, res *model.TaskResult, size int64) {
	if len(res.OutputData) == 0 {
		return
	}
	actx, cancel := context.WithTimeout(ctx, payloadAttemptTimeout)
	uploaded, err := e.payload.storeTaskOutput(actx, res, size)
	cancel()
	var tooLarge *client.PayloadTooLargeError
	switch {
	case errors.As(err, &tooLarge):
		// The server would refuse it on every attempt: fail now, saying why.
		res.Status = model.FailedWithTerminalErrorTask
		res.ReasonForIncompletion = truncate("worker: task output not sent: "+err.Error(), model.MaxReasonLength)
		res.OutputData = map[string]interface{}{}
		res.CallbackAfterSeconds = 0
	case err != nil:
		e.w.log.WithFields(logrus.Fields{"taskId": t.TaskId, "workflowId": t.WorkflowInstanceId, "bytes": size}).WithError(err).
			Warn("worker: uploading a large output to external storage failed; sending it inline for the server to store")
	case uploaded && debugEnabled(e.w.log):
		e.w.log.WithFields(logrus.Fields{"taskId": t.TaskId, "bytes": size, "path": res.ExternalOutputPayloadStoragePath}).
			Debug("worker: output uploaded to external storage")
	}
}
