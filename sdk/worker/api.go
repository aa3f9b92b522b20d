package worker

import (
	"context"
	"errors"
	"time"

	"github.com/baton-go/baton/sdk/model"
)

// taskAPI is everything the runner needs from a server: the seam between the
// runner and sdk/client, implemented by clientAPI over *client.TaskClient and
// by fakes in tests. Implementations make one attempt per call; the runner
// owns retries.
type taskAPI interface {
	batchPoll(ctx context.Context, req pollRequest) ([]model.Task, error)
	updateTask(ctx context.Context, r *model.TaskResult) error
	// updateTaskV2 posts r and returns the next task of the same type and
	// domain for r.WorkerId, or nil when there is none. It returns an error
	// matching errUpdateV2Unsupported when the server lacks the endpoint.
	updateTaskV2(ctx context.Context, r *model.TaskResult) (*model.Task, error)
	// queueSizes returns the number of queued tasks of each queue
	// ("taskType" or "domain:taskType"), or an error matching
	// errQueueSizesUnsupported when the server cannot tell.
	queueSizes(ctx context.Context, queues []string) (map[string]int, error)
}

// pollRequest is one batch poll.
type pollRequest struct {
	taskType string
	domain   string
	workerID string
	count    int
	timeout  time.Duration
}

// errUpdateV2Unsupported marks a server without POST /tasks/update-v2.
var errUpdateV2Unsupported = errors.New("worker: server does not support update-v2")

// errQueueSizesUnsupported marks a server without GET /tasks/queue/sizes.
var errQueueSizesUnsupported = errors.New("worker: server does not support queue sizes")

// queueName is the name of the server's queue for a task type in a domain,
// as Conductor builds it (QueueUtils.getQueueName).
func queueName(taskType, domain string) string {
	if domain == "" {
		return taskType
	}
	return domain + ":" + taskType
}
