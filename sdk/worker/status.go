package worker

import (
	"encoding/json"
	"net/http"
	"time"
)

// WorkerStatus describes one running worker (a task type in a domain).
type WorkerStatus struct {
	TaskType string `json:"taskType"`
	Domain   string `json:"domain,omitempty"`
	// BatchSize is the number of execution slots.
	BatchSize    int           `json:"batchSize"`
	PollInterval time.Duration `json:"-"`
	// PollTimeout is the timeout of the worker's next held poll while it
	// is idle (0 when it watches its queue or polls at its interval).
	PollTimeout time.Duration `json:"-"`
	// IdleWait is how the worker waits for tasks when its queue is empty:
	// "hold" (a long poll, on a server proven to answer at once), "probe"
	// (a poll held for two and a half poll intervals), "watch" (the
	// runner's queue watcher checks the queue, or lets the worker poll in
	// turn on a server without queue sizes) or "interval" (PollTimeout(0):
	// polls at the poll interval).
	IdleWait string `json:"idleWait"`
	Paused   bool   `json:"paused"`
	// State is what the poller is doing: starting, polling, paused,
	// waiting_for_slot, backing_off, interval_wait or stopped.
	State string `json:"state"`
	// SlotsInUse counts tasks running or being reported.
	SlotsInUse int `json:"slotsInUse"`
	// Polls counts poll requests, PollErrors the failed ones.
	Polls      uint64 `json:"polls"`
	PollErrors uint64 `json:"pollErrors"`
	// Tasks counts tasks received; Failures the ones whose handler failed
	// (error, panic or unusable output).
	Tasks    uint64 `json:"tasks"`
	Failures uint64 `json:"failures"`
	// UpdateGiveUps counts results that could not be delivered.
	UpdateGiveUps uint64 `json:"updateGiveUps"`
	// LastPoll is the time of the last successful poll (zero before).
	LastPoll time.Time `json:"lastPoll,omitzero"`
	// LastError is the text of the last poll error, if any.
	LastError string `json:"lastError,omitempty"`
	// Ready is true once the worker has polled successfully, and false
	// again for good once it stopped on a misconfiguration.
	Ready bool `json:"ready"`
	// StoppedReason says why the worker stopped on its own (the text of
	// its *ConfigError, as in TaskRunner.Err); empty while it runs.
	StoppedReason string `json:"stoppedReason,omitempty"`
	// LeaseExtension is false when the environment turned automatic lease
	// extension off for this worker.
	LeaseExtension bool `json:"leaseExtension"`
	// ConfigSources names, for each property the environment set, the
	// variable that set it (e.g. "paused": "CONDUCTOR_WORKER_ALL_PAUSED").
	ConfigSources map[string]string `json:"configSources,omitempty"`
}

// MarshalJSON adds the durations in milliseconds.
func (s WorkerStatus) MarshalJSON() ([]byte, error) {
	type plain WorkerStatus
	return json.Marshal(struct {
		plain
		PollIntervalMs int64 `json:"pollIntervalMs"`
		PollTimeoutMs  int64 `json:"pollTimeoutMs"`
	}{plain(s), s.PollInterval.Milliseconds(), s.PollTimeout.Milliseconds()})
}

// Workers lists the runner's workers in the order they were started.
func (r *TaskRunner) Workers() []WorkerStatus {
	r.mu.Lock()
	ws := append([]*taskWorker(nil), r.order...)
	r.mu.Unlock()
	out := make([]WorkerStatus, 0, len(ws))
	for _, tw := range ws {
		out = append(out, tw.status())
	}
	return out
}

// StatusHandler serves Workers as JSON: {"ready": bool, "workerId": ...,
// "reason": ..., "workers": [...]}. The answer is 200 when the runner is
// ready (it has at least one worker, every worker has polled successfully at
// least once and none has stopped on a misconfiguration, and it is not shut
// down) and 503 otherwise, so it can back a readiness probe; "reason" then
// says why (a stopped worker's reason, or that it has not polled yet).
func (r *TaskRunner) StatusHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.Method != http.MethodGet && req.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		ws := r.Workers()
		r.mu.Lock()
		shut := r.shutdown
		r.mu.Unlock()
		ready := !shut && len(ws) > 0
		reason := ""
		switch {
		case shut:
			reason = "shut down"
		case len(ws) == 0:
			reason = "no worker started"
		}
		for _, s := range ws {
			ready = ready && s.Ready
			switch {
			case s.StoppedReason != "" && reason == "":
				reason = s.StoppedReason
			case !s.Ready && reason == "":
				reason = "worker " + s.TaskType + " has not polled successfully yet"
			}
		}
		if ready {
			reason = ""
		}
		body, err := json.Marshal(struct {
			Ready    bool           `json:"ready"`
			WorkerID string         `json:"workerId"`
			Reason   string         `json:"reason,omitempty"`
			Workers  []WorkerStatus `json:"workers"`
		}{ready, r.workerID, reason, ws})
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		if ready {
			w.WriteHeader(http.StatusOK)
		} else {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		_, _ = w.Write(body)
	})
}
