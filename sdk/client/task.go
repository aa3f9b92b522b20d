package client

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/baton-go/baton/internal/clientwire"
	"github.com/baton-go/baton/sdk/model"
)

// The limits of a batch poll, shared with sdk/worker (PollOptions
// documents them).
const (
	maxPollTimeout = clientwire.MaxPollTimeout
	maxPollCount   = clientwire.MaxPollCount
)

// TaskClient is the task API: polling, updates, logs, queues.
type TaskClient struct {
	c     *APIClient
	retry bool
}

// withoutRetries returns a view of the same client whose calls make one
// attempt each (a rejected token is still refreshed and the request sent
// once more). The worker uses it, through internal/clientwire, because it
// retries polls and results itself.
func (t *TaskClient) withoutRetries() *TaskClient { return &TaskClient{c: t.c, retry: false} }

// PollOptions are the parameters of a batch poll.
type PollOptions struct {
	// Count is how many tasks to ask for, at most 100: Conductor 3.21
	// (Redis queues) hands out at most 100 whatever the count, 3.32 with
	// SQLite as many as asked, so BatchPoll asks for at most 100 and code
	// sees the same batches on both.
	Count int
	// Timeout is how long the server may wait for a task (long poll); 0
	// sends no timeout (the server's default, 100 ms) unless NoWait is set.
	// At most 5 s.
	Timeout time.Duration
	// NoWait asks the server to answer at once with what is queued
	// (timeout=0). Real servers hold a poll for a partial batch until its
	// timeout ends, so a worker draining a queue wants this. Timeout must be
	// 0 with it.
	NoWait bool
	// WorkerID is recorded by the server as the poller and task worker.
	WorkerID string
	// Domain polls the queue of that domain; empty polls the default queue.
	Domain string
}

func pollQuery(workerID, domain string) url.Values {
	q := url.Values{}
	if workerID != "" {
		q.Set("workerid", workerID)
	}
	if domain != "" {
		q.Set("domain", domain)
	}
	return q
}

// Poll asks for one task; nil when there is none. A task that cannot be
// decoded is a *TaskDecodeError naming it and the field (see BatchPoll).
func (t *TaskClient) Poll(ctx context.Context, taskType, workerID, domain string) (*model.Task, error) {
	if taskType == "" {
		return nil, errors.New("client: taskType must not be empty")
	}
	cl := call{method: http.MethodGet, route: "/tasks/poll/{taskType}", pathParams: map[string]string{"taskType": taskType},
		query: pollQuery(workerID, domain), retry: t.retry, idempotent: true}
	resp, err := t.c.do(ctx, cl)
	if err != nil {
		return nil, err
	}
	if resp.status == http.StatusNoContent || len(strings.TrimSpace(string(resp.body))) == 0 {
		return nil, nil
	}
	var task model.Task
	if err := decodeTask(cl, resp, &task); err != nil {
		return nil, err
	}
	return &task, nil
}

// BatchPoll asks for up to o.Count tasks, at most maxPollCount, waiting up
// to o.Timeout for the first. No task is an empty, non-nil slice.
//
// The tasks of the answer are decoded one by one. When some cannot be
// decoded (a value out of range, a field of the wrong type), BatchPoll
// returns the others AND a *TaskDecodeError (matching ErrDecode) that names
// each undecodable task and field: those tasks are IN_PROGRESS on the
// server, and the caller should fail them (the worker does) rather than
// let them wait out their response timeout. An answer that is not a list
// at all is an error with no tasks.
func (t *TaskClient) BatchPoll(ctx context.Context, taskType string, o PollOptions) ([]model.Task, error) {
	if taskType == "" {
		return nil, errors.New("client: taskType must not be empty")
	}
	if o.Count < 1 {
		return nil, fmt.Errorf("client: PollOptions.Count must be >= 1, got %d", o.Count)
	}
	o.Count = min(o.Count, maxPollCount) // 3.32 has no cap of its own
	if o.Timeout < 0 || o.Timeout > maxPollTimeout {
		return nil, fmt.Errorf("client: PollOptions.Timeout must be between 0 and %s, got %s", maxPollTimeout, o.Timeout)
	}
	if o.NoWait && o.Timeout != 0 {
		return nil, fmt.Errorf("client: PollOptions.NoWait needs Timeout 0, got %s", o.Timeout)
	}
	q := pollQuery(o.WorkerID, o.Domain)
	q.Set("count", strconv.Itoa(o.Count))
	if o.Timeout > 0 || o.NoWait {
		q.Set("timeout", strconv.FormatInt(o.Timeout.Milliseconds(), 10))
	}
	cl := call{method: http.MethodGet, route: "/tasks/poll/batch/{taskType}", pathParams: map[string]string{"taskType": taskType},
		query: q, extra: o.Timeout, retry: t.retry, idempotent: true}
	resp, err := t.c.do(ctx, cl)
	if err != nil {
		return nil, err
	}
	tasks, err := decodeBatch(cl, resp, o.Count)
	if tasks == nil && err == nil { // an empty or JSON null answer
		tasks = []model.Task{}
	}
	return tasks, err
}

func validateResult(r *model.TaskResult) error {
	if r == nil {
		return errors.New("client: task result must not be nil")
	}
	if r.TaskId == "" {
		return errors.New("client: TaskResult.TaskId must not be empty")
	}
	if r.WorkflowInstanceId == "" {
		return fmt.Errorf("client: TaskResult.WorkflowInstanceId must not be empty (task %s)", r.TaskId)
	}
	if !r.ExtendLease && !r.Status.Valid() {
		return fmt.Errorf("client: TaskResult.Status must be IN_PROGRESS, COMPLETED, FAILED or FAILED_WITH_TERMINAL_ERROR, got %q (task %s)", r.Status, r.TaskId)
	}
	return nil
}

func resultBody(r *model.TaskResult) ([]byte, error) {
	if r.OutputData == nil {
		cp := *r
		cp.OutputData = map[string]interface{}{}
		r = &cp
	}
	b, err := appendResult(make([]byte, 0, 256), r)
	if err != nil {
		return nil, fmt.Errorf("client: encoding the request body: %w", err)
	}
	return b, nil
}

// UpdateTask posts a task result. A duplicate update of a task that already
// ended is accepted by the server and changes nothing.
func (t *TaskClient) UpdateTask(ctx context.Context, r *model.TaskResult) error {
	if err := validateResult(r); err != nil {
		return err
	}
	body, err := resultBody(r)
	if err != nil {
		return err
	}
	_, err = t.c.do(ctx, call{method: http.MethodPost, route: "/tasks", body: body, retry: t.retry, idempotent: true})
	return err
}

// UpdateTaskV2 posts a task result and returns the next task of the same
// type (and domain) for r.WorkerId, or nil when there is none. A
// *TaskDecodeError means that the result WAS accepted but the next task
// could not be decoded: it names that task, which the caller should fail.
//
// The call is not resent after the request may have reached the server
// (a timeout, a reset, 502, 504): each post takes another task off the
// queue. A caller whose post failed that way should post the same result
// with UpdateTask, which is harmless to repeat, and poll for the next task.
//
// When the server lacks the endpoint the error matches ErrNotSupported (and
// still wraps the *APIError). Both "no such endpoint" and "no such task"
// are 404s, so the body decides: a 404 counts as an unknown task or
// workflow, and stays a plain ErrNotFound, only when its message says so
// ("No such task ...", "No such workflow ...", "Task not found ..."); any
// other 404 (Spring's "No static resource api/tasks/update-v2.", an empty or
// HTML body from a proxy, Jersey's "HTTP 404 Not Found") means the endpoint
// is missing. 405 and 501 always mean that, and so does a 500 about an
// unsupported request method (Conductor 3.21 maps Spring's
// method-not-allowed to 500). When in doubt the answer is ErrNotSupported,
// because falling back to UpdateTask is harmless, while taking a missing
// endpoint for a missing task would drop the result.
func (t *TaskClient) UpdateTaskV2(ctx context.Context, r *model.TaskResult) (*model.Task, error) {
	if err := validateResult(r); err != nil {
		return nil, err
	}
	body, err := resultBody(r)
	if err != nil {
		return nil, err
	}
	// Not idempotent: every post that reaches the server takes a task off
	// the queue for this worker (see above).
	cl := call{method: http.MethodPost, route: "/tasks/update-v2", body: body, retry: t.retry}
	resp, err := t.c.do(ctx, cl)
	if err != nil {
		var apiErr *APIError
		if errors.As(err, &apiErr) && endpointMissing(apiErr) {
			return nil, fmt.Errorf("%w: %w", ErrNotSupported, err)
		}
		return nil, err
	}
	if resp.status == http.StatusNoContent || len(strings.TrimSpace(string(resp.body))) == 0 {
		return nil, nil
	}
	var next model.Task
	if err := decodeTask(cl, resp, &next); err != nil {
		return nil, err
	}
	if next.TaskId == "" {
		return nil, nil
	}
	return &next, nil
}

func endpointMissing(e *APIError) bool {
	msg := strings.ToLower(e.Message)
	switch e.StatusCode {
	case http.StatusMethodNotAllowed, http.StatusNotImplemented:
		return true
	case http.StatusNotFound:
		if strings.Contains(msg, "update-v2") || strings.Contains(msg, "static resource") {
			return true
		}
		entity := strings.Contains(msg, "task") || strings.Contains(msg, "workflow")
		return !(entity && (strings.Contains(msg, "no such") || strings.Contains(msg, "not found")))
	case http.StatusInternalServerError:
		return strings.Contains(msg, "method") && strings.Contains(msg, "not supported")
	}
	return false
}

func outputMap(output interface{}) (map[string]interface{}, error) {
	m, _, err := model.OutputToMap(output)
	if err != nil {
		return nil, fmt.Errorf("client: output: %w", err)
	}
	return m, nil
}

func refNameCall(workflowID, refName string, status model.TaskResultStatus, output interface{}, workerID string, sync bool) (call, error) {
	if workflowID == "" || refName == "" {
		return call{}, fmt.Errorf("client: workflowID and refName must not be empty, got %q and %q", workflowID, refName)
	}
	if !status.Valid() {
		return call{}, fmt.Errorf("client: status must be IN_PROGRESS, COMPLETED, FAILED or FAILED_WITH_TERMINAL_ERROR, got %q", status)
	}
	m, err := outputMap(output)
	if err != nil {
		return call{}, err
	}
	body, err := jsonBody(m)
	if err != nil {
		return call{}, err
	}
	route := "/tasks/{workflowId}/{taskRefName}/{status}"
	if sync {
		route += "/sync"
	}
	q := url.Values{}
	if workerID != "" {
		q.Set("workerid", workerID)
	}
	// Not idempotent: resent after it took effect, an update by reference
	// name can reach the retry Conductor scheduled under the same name.
	return call{method: http.MethodPost, route: route, query: q, body: body,
		pathParams: map[string]string{"workflowId": workflowID, "taskRefName": refName, "status": string(status)}}, nil
}

// UpdateTaskByRefName sets the status of the running task with reference
// name refName in the workflow, merging output into its output. It returns
// the task id; ErrNotFound (errors.Is) when the workflow has no such
// running task.
//
// It is not resent once the request may have reached the server (a
// timeout, a reset, 502, 504, 500): Conductor looks the task up by its
// reference name, and after a FAILED update it schedules a retry under the
// same name, which a resent update would then change. Only answers that
// prove nothing was applied (connection refused, 429, 503) are retried;
// otherwise the caller must check the workflow before trying again.
func (t *TaskClient) UpdateTaskByRefName(ctx context.Context, workflowID, refName string, status model.TaskResultStatus, output interface{}, workerID string) (string, error) {
	cl, err := refNameCall(workflowID, refName, status, output, workerID, false)
	if err != nil {
		return "", err
	}
	cl.retry = t.retry
	resp, err := t.c.do(ctx, cl)
	if err != nil {
		return "", err
	}
	id := text(resp)
	if id == "" {
		// The server answers 200 with no body when nothing matched.
		return "", &APIError{StatusCode: http.StatusNotFound, Method: cl.method, Path: "/tasks/" + workflowID + "/" + refName + "/" + string(status),
			Message: fmt.Sprintf("no running task %q in workflow %s", refName, workflowID)}
	}
	return id, nil
}

// UpdateTaskByRefNameSync is UpdateTaskByRefName returning the workflow as
// it is after the update.
func (t *TaskClient) UpdateTaskByRefNameSync(ctx context.Context, workflowID, refName string, status model.TaskResultStatus, output interface{}, workerID string) (*model.Workflow, error) {
	cl, err := refNameCall(workflowID, refName, status, output, workerID, true)
	if err != nil {
		return nil, err
	}
	cl.retry = t.retry
	wf, err := callJSON(ctx, t.c, cl, model.Workflow{})
	if err != nil {
		return nil, err
	}
	return &wf, nil
}

// GetTask returns a task by id; ErrNotFound when unknown.
func (t *TaskClient) GetTask(ctx context.Context, taskID string) (*model.Task, error) {
	if taskID == "" {
		return nil, errors.New("client: taskID must not be empty")
	}
	cl := call{method: http.MethodGet, route: "/tasks/{taskId}", pathParams: map[string]string{"taskId": taskID}, retry: t.retry, idempotent: true}
	task, err := callJSON(ctx, t.c, cl, model.Task{})
	if err != nil {
		return nil, err
	}
	if task.TaskId == "" {
		return nil, &APIError{StatusCode: http.StatusNotFound, Method: cl.method, Path: "/tasks/" + taskID, Message: "empty answer"}
	}
	return &task, nil
}

// AddLog appends a line to the task's execution log.
func (t *TaskClient) AddLog(ctx context.Context, taskID, line string) error {
	if taskID == "" {
		return errors.New("client: taskID must not be empty")
	}
	_, err := t.c.do(ctx, call{method: http.MethodPost, route: "/tasks/{taskId}/log", pathParams: map[string]string{"taskId": taskID},
		body: []byte(line), retry: t.retry})
	return err
}

// GetLogs returns the task's execution log (empty when there is none).
func (t *TaskClient) GetLogs(ctx context.Context, taskID string) ([]model.TaskExecLog, error) {
	if taskID == "" {
		return nil, errors.New("client: taskID must not be empty")
	}
	cl := call{method: http.MethodGet, route: "/tasks/{taskId}/log", pathParams: map[string]string{"taskId": taskID}, retry: t.retry, idempotent: true}
	logs, err := callJSON(ctx, t.c, cl, []model.TaskExecLog{})
	if err != nil {
		return nil, err
	}
	return logs, nil
}

// QueueSizes returns the number of queued tasks per task type.
func (t *TaskClient) QueueSizes(ctx context.Context, taskTypes ...string) (map[string]int, error) {
	if len(taskTypes) == 0 {
		return nil, errors.New("client: QueueSizes needs at least one task type")
	}
	q := url.Values{}
	for i, tt := range taskTypes {
		if tt == "" {
			return nil, fmt.Errorf("client: taskTypes[%d] must not be empty", i)
		}
		q.Add("taskType", tt)
	}
	cl := call{method: http.MethodGet, route: "/tasks/queue/sizes", query: q, retry: t.retry, idempotent: true}
	sizes, err := callJSON(ctx, t.c, cl, map[string]int{})
	if err != nil {
		return nil, err
	}
	return sizes, nil
}

// PollData returns, per domain, the last poll of the task type's queue.
func (t *TaskClient) PollData(ctx context.Context, taskType string) ([]model.PollData, error) {
	if taskType == "" {
		return nil, errors.New("client: taskType must not be empty")
	}
	q := url.Values{}
	q.Set("taskType", taskType)
	cl := call{method: http.MethodGet, route: "/tasks/queue/polldata", query: q, retry: t.retry, idempotent: true}
	pd, err := callJSON(ctx, t.c, cl, []model.PollData{})
	if err != nil {
		return nil, err
	}
	return pd, nil
}

// QueueInfo is what QueueOverview reports for one task type.
type QueueInfo struct {
	TaskType string
	Size     int
	Pollers  []model.PollData
}

// QueueOverview lists, for each task type, its queue size and its last
// pollers: the server's view of which workers serve which queues.
func (t *TaskClient) QueueOverview(ctx context.Context, taskTypes ...string) ([]QueueInfo, error) {
	sizes, err := t.QueueSizes(ctx, taskTypes...)
	if err != nil {
		return nil, err
	}
	out := make([]QueueInfo, 0, len(taskTypes))
	for _, tt := range taskTypes {
		pd, err := t.PollData(ctx, tt)
		if err != nil {
			return nil, err
		}
		out = append(out, QueueInfo{TaskType: tt, Size: sizes[tt], Pollers: pd})
	}
	return out, nil
}
