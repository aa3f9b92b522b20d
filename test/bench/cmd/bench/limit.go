package main

// "The limit": the least a worker can do with the same number of execution
// slots. One goroutine per task type polls for as many tasks as there are
// free slots (a 5 s long poll against the dev server, which answers as soon
// as a task is due; timeout 0 and the poll interval after an empty answer
// against a real server, which holds a partial batch until its timeout ends), each task runs on its own goroutine and posts its result
// with a plain update; everything goes over one keep-alive net/http client.
// No retries beyond "try again in 100 ms", no metrics, no logging, no
// lease extension: whatever Baton spends above this is the price of its
// features.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"sync"
	"time"
)

// limitPollTimeout is the long-poll timeout of the limit loop: the server's
// maximum, which is what a loop that only cares about cost would choose on a
// server that answers as soon as a task is due.
const limitPollTimeout = 5 * time.Second

type limitTask struct {
	TaskID             string                 `json:"taskId"`
	WorkflowInstanceID string                 `json:"workflowInstanceId"`
	ScheduledTime      int64                  `json:"scheduledTime"`
	InputData          map[string]interface{} `json:"inputData"`
}

type limitResult struct {
	TaskID             string                 `json:"taskId"`
	WorkflowInstanceID string                 `json:"workflowInstanceId"`
	WorkerID           string                 `json:"workerId"`
	Status             string                 `json:"status"`
	OutputData         map[string]interface{} `json:"outputData"`
}

func startLimit(w *work) (func() error, func()) {
	conns := len(w.cfg.types) * (w.cfg.batch + 1)
	hc := &http.Client{Transport: &http.Transport{MaxIdleConns: conns, MaxIdleConnsPerHost: conns, IdleConnTimeout: time.Minute}}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	begin := func() error {
		for _, tt := range w.cfg.types {
			wg.Add(1)
			go func() {
				defer wg.Done()
				limitLoop(ctx, hc, w, tt)
			}()
		}
		return nil
	}
	return begin, func() {
		cancel()
		wg.Wait()
	}
}

func limitLoop(ctx context.Context, hc *http.Client, w *work, taskType string) {
	slots := make(chan struct{}, w.cfg.batch)
	pollURL := w.cfg.url + "/tasks/poll/batch/" + url.PathEscape(taskType)
	updateURL := w.cfg.url + "/tasks"
	var running sync.WaitGroup
	defer running.Wait()
	for ctx.Err() == nil {
		// One free slot is needed to poll at all; take every other free one too.
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			return
		}
		n := 1
	more:
		for n < w.cfg.batch {
			select {
			case slots <- struct{}{}:
				n++
			default:
				break more
			}
		}
		timeout := limitPollTimeout
		if w.cfg.limitNoWait {
			timeout = 0
		}
		q := "?workerid=bench-limit&count=" + strconv.Itoa(n) + "&timeout=" + strconv.FormatInt(timeout.Milliseconds(), 10)
		tasks, err := limitPoll(ctx, hc, pollURL+q)
		if err != nil {
			for i := 0; i < n; i++ {
				<-slots
			}
			if ctx.Err() == nil {
				fmt.Fprintln(os.Stderr, "limit: poll:", err)
				time.Sleep(100 * time.Millisecond)
			}
			continue
		}
		for i := len(tasks); i < n; i++ {
			<-slots
		}
		if len(tasks) == 0 && timeout == 0 {
			// Nothing queued, and the server did not wait: wait the
			// interval, as any worker polling without a timeout must.
			select {
			case <-time.After(w.cfg.interval):
			case <-ctx.Done():
			}
		}
		for _, t := range tasks {
			running.Add(1)
			go func() {
				defer running.Done()
				defer func() { <-slots }()
				w.do(t.WorkflowInstanceID, t.ScheduledTime, t.InputData)
				body, _ := json.Marshal(limitResult{TaskID: t.TaskID, WorkflowInstanceID: t.WorkflowInstanceID,
					WorkerID: "bench-limit", Status: "COMPLETED", OutputData: handlerOutput})
				for limitUpdate(hc, updateURL, body) != nil {
					time.Sleep(100 * time.Millisecond)
				}
			}()
		}
	}
}

func limitPoll(ctx context.Context, hc *http.Client, u string) ([]limitTask, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	res, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return nil, err
	}
	if res.StatusCode == http.StatusNoContent || len(b) == 0 {
		return nil, nil
	}
	if res.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("status %d: %s", res.StatusCode, b)
	}
	var ts []limitTask
	return ts, json.Unmarshal(b, &ts)
}

func limitUpdate(hc *http.Client, u string, body []byte) error {
	req, err := http.NewRequest(http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	res, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	_, _ = io.Copy(io.Discard, res.Body)
	if res.StatusCode/100 != 2 {
		return fmt.Errorf("update: status %d", res.StatusCode)
	}
	return nil
}
