package worker

import (
	"github.com/baton-go/baton/sdk/metrics"
	"github.com/baton-go/baton/sdk/model"
)

// recordStarted tells a recorder that wants to know (metrics.StartRecorder,
// for the cross-SDK task_execution_started_total and active_workers) that a
// handler is about to run. Recorders without it pay one type check.
func (p *poller) recordStarted(t *model.Task) {
	if s, ok := p.r.rec.(metrics.StartRecorder); ok {
		s.ExecuteStarted(t.TaskType)
	}
}
