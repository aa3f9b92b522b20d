package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/baton-go/baton/sdk/client"
	"github.com/baton-go/baton/sdk/conductortest"
	"github.com/baton-go/baton/sdk/model"
	"github.com/baton-go/baton/sdk/settings"
	"github.com/baton-go/baton/sdk/workflow/executor"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// span is the part of the stdout exporter's JSON the test reads.
type span struct {
	Name        string
	SpanContext struct{ TraceID, SpanID string }
	Parent      struct{ TraceID, SpanID string }
}

// TestRun checks that one trace covers the caller and both tasks, that the
// tenant middleware ran for both handlers (their log lines are on the
// server), and that the task definitions carry the generated schemas.
func TestRun(t *testing.T) {
	t.Setenv(settings.EnvAuthKey, "")
	t.Setenv(settings.EnvAuthSecret, "")
	srv := conductortest.NewServer()
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out, spansOut bytes.Buffer
	id, err := run(ctx, &out, &spansOut, srv.URL())
	if err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}

	var spans []span
	dec := json.NewDecoder(&spansOut)
	for {
		var s span
		if err := dec.Decode(&s); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		spans = append(spans, s)
	}
	var caller *span
	for i := range spans {
		if spans[i].Name == "checkout request" {
			caller = &spans[i]
		}
	}
	if caller == nil {
		t.Fatalf("no caller span among %d spans", len(spans))
	}
	count := map[string]int{}
	for _, s := range spans {
		kind, _, _ := strings.Cut(s.Name, " ")
		count[kind]++
		if strings.HasPrefix(s.Name, "conductor.") && s.SpanContext.TraceID != caller.SpanContext.TraceID {
			t.Errorf("span %s is in trace %s, not the caller's %s", s.Name, s.SpanContext.TraceID, caller.SpanContext.TraceID)
		}
		if strings.HasPrefix(s.Name, "conductor.task") && s.Parent.SpanID != caller.SpanContext.SpanID {
			t.Errorf("task span %s is not a child of the caller's span", s.Name)
		}
	}
	if count["conductor.task"] != 2 || count["conductor.execute"] != 2 || count["conductor.update"] != 2 {
		t.Errorf("spans by kind: %v", count)
	}

	wf, _ := srv.Workflow(id)
	if wf.Status != model.WorkflowCompleted {
		t.Fatalf("workflow %s", wf.Status)
	}
	for _, want := range []string{"reserve log: tenant acme", "charge log: charging 1999 cents for tenant acme"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	conductor := executor.NewWorkflowExecutor(client.NewAPIClient(nil, settings.NewHttpSettings(srv.URL())))
	for _, name := range []string{"reserve_stock", "charge_card"} {
		def, err := conductor.GetTaskDefContext(ctx, name)
		if err != nil || def.InputSchema == nil || def.OutputSchema == nil || def.OwnerEmail != ownerEmail {
			t.Errorf("task definition %s on the server: %+v", name, def)
		}
	}
}
