package worker

import (
	"errors"
	"time"
)

// taskAPI is everything the runner needs from a server: the seam between the
// runner and sdk/client, implemented by clientAPI over *client.TaskClient and
// by fakes in tests. Each part of the runner sees only its own slice of it:
// the poller a batchPoller, the executor a leaseExtender, the reporter a
// resultPoster, the watcher a queueSizer. Implementations make one attempt
// per call; the runner owns retries.
type taskAPI interface {
	batchPoller
	resultPoster
	queueSizer
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
