package client

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/baton-go/baton/sdk/model"
)

// The benchmarks measure the client's own cost per call (building the
// request, auth header, decoding) over an in-process transport, so that
// network time does not hide it.

func benchBatch(n int) []byte {
	tasks := make([]model.Task, n)
	for i := range tasks {
		tasks[i] = model.Task{TaskId: fmt.Sprintf("task-%d", i), TaskType: "bench", WorkflowInstanceId: "wf",
			Status: model.TaskInProgress, InputData: map[string]interface{}{"orderId": i, "items": []string{"a", "b"}}}
	}
	b, _ := json.Marshal(tasks)
	return b
}

func BenchmarkBatchPoll(b *testing.B) {
	for _, n := range []int{1, 20, 100} {
		b.Run(fmt.Sprintf("tasks=%d", n), func(b *testing.B) {
			c := fuzzClient(b, 200, "application/json", benchBatch(n))
			c.rc.SetResponseBodyLimit(maxResponseBytesDefault)
			tc := c.Tasks().withoutRetries()
			ctx := context.Background()
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				ts, err := tc.BatchPoll(ctx, "bench", PollOptions{Count: n, WorkerID: "w"})
				if err != nil || len(ts) != n {
					b.Fatalf("%d tasks, %v", len(ts), err)
				}
			}
		})
	}
}

func BenchmarkUpdateTask(b *testing.B) {
	c := fuzzClient(b, 200, "text/plain", []byte("task-1"))
	tc := c.Tasks().withoutRetries()
	ctx := context.Background()
	r := &model.TaskResult{TaskId: "task-1", WorkflowInstanceId: "wf", Status: model.CompletedTask, WorkerId: "w",
		OutputData: map[string]interface{}{"charged": true, "amount": 1234}}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := tc.UpdateTask(ctx, r); err != nil {
			b.Fatal(err)
		}
	}
}
