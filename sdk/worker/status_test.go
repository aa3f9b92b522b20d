package worker

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/baton-go/baton/sdk/model"
)

func TestStatusHandlerReadiness(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := setup(t, WithDeferredStart(time.Second), WithPollTimeout(time.Second))
		get := func() (int, map[string]interface{}) {
			rec := httptest.NewRecorder()
			b.r.StatusHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/status", nil))
			var body map[string]interface{}
			if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
				t.Fatalf("body %q: %v", rec.Body.String(), err)
			}
			if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
				t.Fatalf("content type %q", ct)
			}
			return rec.Code, body
		}
		if code, body := get(); code != 503 || body["ready"] != false {
			t.Fatalf("no workers: %d %v", code, body)
		}
		// s2's first poll is held on the server until released.
		release := make(chan struct{})
		b.f.pollHook = func(req pollRequest) {
			if req.taskType == "s2" {
				<-release
			}
		}
		if err := b.r.Start("s1", echo, BatchSize(4), PollInterval(250*time.Millisecond)); err != nil {
			t.Fatal(err)
		}
		if err := b.r.Start("s2", echo, Domain("eu")); err != nil {
			t.Fatal(err)
		}
		if code, _ := get(); code != 503 {
			t.Fatalf("before the first poll: %d, want 503", code)
		}
		b.f.push("", makeTasks("s1", "x", 3)...)
		waitFor(t, 5*time.Minute, "3 done", func() bool { return b.f.updatedCount() == 3 })
		// s2's first poll has not come back yet: not ready.
		if code, _ := get(); code != 503 {
			t.Fatalf("with one worker yet to poll: %d, want 503", code)
		}
		close(release)
		waitFor(t, 5*time.Minute, "s2 polled", func() bool { return b.r.Workers()[1].Ready })
		code, body := get()
		if code != 200 || body["ready"] != true || body["workerId"] != "test-worker" {
			t.Fatalf("after polls: %d %v", code, body)
		}
		ws := body["workers"].([]interface{})
		w0 := ws[0].(map[string]interface{})
		if w0["taskType"] != "s1" || w0["batchSize"] != 4.0 || w0["pollIntervalMs"] != 250.0 || w0["tasks"] != 3.0 || w0["paused"] != false {
			t.Fatalf("worker 0: %v", w0)
		}
		if ws[1].(map[string]interface{})["domain"] != "eu" {
			t.Fatalf("worker 1: %v", ws[1])
		}
		if _, err := time.Parse(time.RFC3339Nano, w0["lastPoll"].(string)); err != nil {
			t.Fatalf("lastPoll: %v", err)
		}
		rec := httptest.NewRecorder()
		b.r.StatusHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/status", nil))
		if rec.Code != http.StatusMethodNotAllowed {
			t.Fatalf("POST: %d", rec.Code)
		}
		if err := b.r.Shutdown(context.Background()); err != nil {
			t.Fatal(err)
		}
		if code, _ := get(); code != 503 {
			t.Fatalf("after shutdown: %d", code)
		}
	})
}

func TestWorkersIsSafeConcurrently(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := setup(t)
		if err := b.r.Start("c", func(context.Context, *model.Task) (interface{}, error) {
			time.Sleep(time.Millisecond)
			return nil, nil
		}, BatchSize(8)); err != nil {
			t.Fatal(err)
		}
		b.f.push("", makeTasks("c", "c", 200)...)
		var wg sync.WaitGroup
		for i := 0; i < 4; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for b.f.updatedCount() < 200 {
					for _, w := range b.r.Workers() {
						if w.SlotsInUse < 0 || w.SlotsInUse > 8 {
							t.Errorf("slots in use %d", w.SlotsInUse)
						}
					}
					b.r.Pause("c")
					b.r.Resume("c")
					time.Sleep(time.Millisecond)
				}
			}()
		}
		wg.Wait()
		if w := b.r.Workers()[0]; w.Tasks != 200 {
			t.Fatalf("status %+v", w)
		}
	})
}
