package worker

import (
	"context"
	"errors"
	"net/http"

	"github.com/baton-go/baton/internal/clientwire"
	"github.com/baton-go/baton/internal/retry"
	"github.com/baton-go/baton/sdk/client"
	"github.com/baton-go/baton/sdk/model"
	"github.com/baton-go/baton/sdk/settings"
)

// NewTaskRunnerWithApiClient returns a runner that talks to the server of
// apiClient. The runner sends each request once (client retries off) and
// owns the retries of polls and results itself, so nothing is retried twice
// over.
func NewTaskRunnerWithApiClient(apiClient *client.APIClient, opts ...Option) *TaskRunner {
	tasks, _ := clientwire.TasksWithoutRetries[*client.TaskClient](apiClient)
	return newRunner(&clientAPI{tasks: tasks, base: clientwire.BaseURL(apiClient)}, opts...)
}

// NewTaskRunner returns a runner for the server described by httpSettings,
// authenticating with authSettings when they hold a key (nil: none). Invalid
// settings are reported by the first Start or StartWorker.
func NewTaskRunner(authSettings *settings.AuthenticationSettings, httpSettings *settings.HttpSettings, opts ...Option) *TaskRunner {
	c, err := client.New(authSettings, httpSettings)
	r := NewTaskRunnerWithApiClient(c, opts...)
	if err != nil {
		r.cfg.fail(err)
	}
	return r
}

// clientAPI adapts *client.TaskClient to taskAPI and tells the runner which
// errors are worth retrying.
type clientAPI struct {
	tasks *client.TaskClient
	base  string // for the messages of ConfigError
}

var _ taskAPI = (*clientAPI)(nil)

func (c *clientAPI) batchPoll(ctx context.Context, req pollRequest) ([]model.Task, error) {
	ts, err := c.tasks.BatchPoll(ctx, req.taskType, client.PollOptions{
		Count:    req.count,
		Timeout:  req.timeout,
		NoWait:   req.timeout == 0,
		WorkerID: req.workerID,
		Domain:   req.domain,
	})
	return ts, describe(err)
}

func (c *clientAPI) updateTask(ctx context.Context, r *model.TaskResult) error {
	return describe(c.tasks.UpdateTask(ctx, r))
}

func (c *clientAPI) updateTaskV2(ctx context.Context, r *model.TaskResult) (*model.Task, error) {
	t, err := c.tasks.UpdateTaskV2(ctx, r)
	if err != nil && errors.Is(err, client.ErrNotSupported) {
		return nil, errors.Join(errUpdateV2Unsupported, err)
	}
	return t, describe(err)
}

func (c *clientAPI) queueSizes(ctx context.Context, queues []string) (map[string]int, error) {
	sizes, err := c.tasks.QueueSizes(ctx, queues...)
	var ae *client.APIError
	if errors.As(err, &ae) {
		switch ae.StatusCode {
		case http.StatusNotFound, http.StatusMethodNotAllowed, http.StatusNotImplemented:
			return nil, errors.Join(errQueueSizesUnsupported, err)
		}
	}
	return sizes, describe(err)
}

// describe wraps a *client.APIError into an apiFailure (status, whether
// retrying can help, Retry-After); other errors (transport failures,
// timeouts, undecodable answers) pass through and are retried.
//
// Whether an answer is worth retrying comes from the client's one table,
// retry.Decide, for results (retry.Result); the reporter reads that
// table itself, this flag is for the metrics and hooks' view.
func describe(err error) error {
	if err == nil {
		return nil
	}
	var ae *client.APIError
	if !errors.As(err, &ae) {
		if errors.Is(err, client.ErrDecode) || errors.Is(err, client.ErrResponseTooLarge) {
			// A garbled answer is worth another try, under its own kind.
			return &apiFailure{err: err, retryable: true, kind: ErrorKindDecode}
		}
		return err
	}
	v := retry.Decide(retry.Result, err)
	return &apiFailure{
		err:        err,
		status:     ae.StatusCode,
		retryable:  v == retry.Always || v == retry.Few,
		retryAfter: ae.RetryAfter,
		kind:       kindOfStatus(ae.StatusCode),
	}
}
