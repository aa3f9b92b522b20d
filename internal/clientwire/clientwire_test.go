package clientwire_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/baton-go/baton/internal/clientwire"
	"github.com/baton-go/baton/sdk/client"
	"github.com/baton-go/baton/sdk/settings"
)

// TestLinkGivesTheWorkerWhatTheClientKeepsUnexported: sdk/worker reads a
// client's base URL and gets a task client that makes one attempt per call,
// while the same client's own Tasks() retries.
func TestLinkGivesTheWorkerWhatTheClientKeepsUnexported(t *testing.T) {
	var requests atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer srv.Close()
	c, err := client.New(nil, settings.NewHttpSettings(srv.URL+"/api/"),
		client.WithRetryPolicy(client.RetryPolicy{MaxAttempts: 3, BaseDelay: time.Millisecond, MaxDelay: time.Millisecond}))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := clientwire.BaseURL(c), srv.URL+"/api"; got != want {
		t.Errorf("BaseURL = %q, want %q", got, want)
	}
	once, ok := clientwire.TasksWithoutRetries[*client.TaskClient](c)
	if !ok || once == nil {
		t.Fatalf("TasksWithoutRetries: %v, %v", once, ok)
	}
	ctx := context.Background()
	if _, err := once.QueueSizes(ctx, "t"); err == nil {
		t.Fatal("a 503 answer was not an error")
	}
	if n := requests.Swap(0); n != 1 {
		t.Errorf("the task client without retries sent %d requests, want 1", n)
	}
	if _, err := c.Tasks().QueueSizes(ctx, "t"); err == nil {
		t.Fatal("a 503 answer was not an error")
	}
	if n := requests.Load(); n != 3 {
		t.Errorf("the client's own task API sent %d requests, want 3 (its retry policy)", n)
	}
	if clientwire.BaseURL("not a client") != "" {
		t.Error("BaseURL of something else is not empty")
	}
	if _, ok := clientwire.TasksWithoutRetries[*client.TaskClient](42); ok {
		t.Error("TasksWithoutRetries of something else is ok")
	}
}

// TestLinkOfAnInvalidClient: NewAPIClient with invalid settings returns a
// client whose calls fail with the validation error; the worker's view of
// it does the same instead of being missing.
func TestLinkOfAnInvalidClient(t *testing.T) {
	if _, err := client.New(nil, settings.NewHttpSettings("not a url")); err == nil {
		t.Fatal("settings with a bad URL were accepted")
	}
	c := client.NewAPIClient(nil, settings.NewHttpSettings("not a url"))
	once, ok := clientwire.TasksWithoutRetries[*client.TaskClient](c)
	if !ok {
		t.Fatal("no task client for an invalid client")
	}
	if _, err := once.QueueSizes(context.Background(), "t"); err == nil {
		t.Error("a call through an invalid client did not fail")
	}
	if _, err := clientwire.Workflows(c).Get(context.Background(), "wf", false); err == nil {
		t.Error("a workflow call through an invalid client did not fail")
	}
	if _, err := clientwire.Metadata(c).GetTaskDef(context.Background(), "t"); err == nil {
		t.Error("a metadata call through an invalid client did not fail")
	}
}
