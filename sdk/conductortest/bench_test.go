package conductortest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/baton-go/baton/sdk/conductortest"
	"github.com/baton-go/baton/sdk/model"
)

// BenchmarkRoundTrip measures poll + update round trips over loopback HTTP:
// workers batch-poll one task type and post one update per task, as an SDK
// worker does. Every task belongs to its own one-task workflow, so each
// update also completes a workflow.
func BenchmarkRoundTrip(b *testing.B) {
	for _, batch := range []int{1, 10, 100} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) { benchRoundTrip(b, batch) })
	}
}

func benchRoundTrip(b *testing.B, batch int) {
	srv := conductortest.NewServer(conductortest.WithOwnerEmailOptional(), conductortest.WithLongPoll("early"))
	defer srv.Close()
	if err := srv.RegisterWorkflowDef(model.WorkflowDef{Name: "bench", Version: 1,
		Tasks: []model.WorkflowTask{{Name: "bench_task", TaskReferenceName: "t"}}}); err != nil {
		b.Fatal(err)
	}
	for i := 0; i < b.N; i++ {
		if _, err := srv.StartWorkflow(model.StartWorkflowRequest{Name: "bench", Input: map[string]any{"i": i}}); err != nil {
			b.Fatal(err)
		}
	}
	tr := &http.Transport{MaxIdleConnsPerHost: 64}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	workers := 4
	if batch == 1 {
		workers = 16
	}
	var done atomic.Int64
	total := int64(b.N)
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	cpu0 := processCPU()
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			url := fmt.Sprintf("%s/tasks/poll/batch/bench_task?count=%d&timeout=50&workerid=bench", srv.URL(), batch)
			var buf bytes.Buffer
			for done.Load() < total {
				res, err := client.Get(url)
				if err != nil {
					b.Error(err)
					return
				}
				// Only the ids are decoded: the benchmark measures the
				// server, not the client's JSON decoding.
				var tasks []struct {
					TaskId             string `json:"taskId"`
					WorkflowInstanceId string `json:"workflowInstanceId"`
				}
				err = json.NewDecoder(res.Body).Decode(&tasks)
				res.Body.Close()
				if err != nil {
					b.Error(err)
					return
				}
				for i := range tasks {
					t := &tasks[i]
					buf.Reset()
					buf.WriteString(`{"workflowInstanceId":"` + t.WorkflowInstanceId + `","taskId":"` + t.TaskId +
						`","status":"COMPLETED","workerId":"bench","outputData":{"ok":true}}`)
					ures, err := client.Post(srv.URL()+"/tasks", "application/json", &buf)
					if err != nil {
						b.Error(err)
						return
					}
					_, _ = io.Copy(io.Discard, ures.Body)
					ures.Body.Close()
					if ures.StatusCode != 200 {
						b.Errorf("update: %d", ures.StatusCode)
						return
					}
					done.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	cpu := processCPU() - cpu0
	b.StopTimer()
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "tasks/s")
	// CPU per task (client and server together) is steadier than tasks/s
	// on a shared machine: 2 cores / cpu-µs gives the capacity.
	b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-µs/task")
	if st := srv.Stats(); st.WorkflowsComplete != total {
		b.Fatalf("completed %d workflows, want %d", st.WorkflowsComplete, total)
	}
}

// BenchmarkLongPollWake measures how long a waiting long poll takes to
// return after a task is scheduled (start of a workflow to the poll's
// answer arriving at the client).
func BenchmarkLongPollWake(b *testing.B) {
	srv := conductortest.NewServer(conductortest.WithOwnerEmailOptional(), conductortest.WithLongPoll("early"))
	defer srv.Close()
	if err := srv.RegisterWorkflowDef(model.WorkflowDef{Name: "wake", Version: 1,
		Tasks: []model.WorkflowTask{{Name: "wake_task", TaskReferenceName: "t"}}}); err != nil {
		b.Fatal(err)
	}
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	url := srv.URL() + "/tasks/poll/batch/wake_task?count=1&timeout=5000"
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		type result struct {
			at  time.Time
			n   int
			err error
		}
		ch := make(chan result, 1)
		go func() {
			res, err := client.Get(url)
			if err != nil {
				ch <- result{err: err}
				return
			}
			var tasks []model.Task
			err = json.NewDecoder(res.Body).Decode(&tasks)
			res.Body.Close()
			ch <- result{at: time.Now(), n: len(tasks), err: err}
		}()
		// Wait until the poll is parked on the server.
		waitParked(b, srv, "wake_task")
		t0 := time.Now()
		if _, err := srv.StartWorkflow(model.StartWorkflowRequest{Name: "wake", Input: map[string]any{}}); err != nil {
			b.Fatal(err)
		}
		r := <-ch
		if r.err != nil || r.n != 1 {
			b.Fatalf("poll: %v, %d tasks", r.err, r.n)
		}
		lat = append(lat, r.at.Sub(t0))
	}
	b.StopTimer()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
}

func waitParked(tb testing.TB, srv *conductortest.Server, taskType string) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for srv.Waiting(taskType, "") == 0 {
		if ctx.Err() != nil {
			tb.Fatal("poll never parked")
		}
		time.Sleep(50 * time.Microsecond)
	}
}

// processCPU returns the user+system CPU time used by this process so far.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
