package executor

import (
	"net/http"
	"strings"
	"testing"

	"github.com/baton-go/baton/sdk/model"
)

// The official executor's workflow calls reach the REST endpoints of
// Conductor OSS (test/integration runs them against the real servers).
func TestWorkflowCallsOfTheOfficialExecutor(t *testing.T) {
	e, seenReqs := server(t, func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Method == "POST" && r.URL.Path == "/api/workflow":
			w.Header().Set("Content-Type", "text/plain")
			_, _ = w.Write([]byte("wf-1"))
		case r.Method == "GET" && r.URL.Path == "/api/workflow/wf-1":
			writeJSON(w, model.Workflow{WorkflowId: "wf-1", Status: model.WorkflowCompleted, Output: map[string]interface{}{"y": 2}})
		case strings.HasSuffix(r.URL.Path, "/rerun"):
			_, _ = w.Write([]byte("wf-1"))
		case r.URL.Path == "/api/workflow/search":
			writeJSON(w, map[string]interface{}{"totalHits": 1, "results": []map[string]interface{}{{"workflowId": "wf-1"}}})
		case strings.HasSuffix(r.URL.Path, "/correlated"):
			writeJSON(w, map[string][]model.Workflow{"c": {{WorkflowId: "wf-1"}}})
		default:
			w.WriteHeader(http.StatusOK)
		}
	})
	def := &model.WorkflowDef{Name: "wf", Version: 1, Tasks: []model.WorkflowTask{{Name: "t", TaskReferenceName: "t"}}}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(e.RegisterWorkflow(false, def))
	must(e.RegisterWorkflow(true, def))
	must(e.UnRegisterWorkflow("wf", 1))
	wf, err := e.ExecuteWorkflow(&model.StartWorkflowRequest{Name: "wf"}, "")
	must(err)
	if wf.Status != model.WorkflowCompleted || wf.Output["y"] != 2.0 {
		t.Errorf("ExecuteWorkflow: %+v", wf)
	}
	if res := e.StartWorkflows(&model.StartWorkflowRequest{Name: "wf"}, &model.StartWorkflowRequest{Name: "wf"}); len(res) != 2 || res[0].WorkflowID != "wf-1" || res[1].Err != nil {
		t.Errorf("StartWorkflows: %+v", res)
	}
	must(e.Pause("wf-1"))
	must(e.Resume("wf-1"))
	must(e.Restart("wf-1", false))
	must(e.Retry("wf-1", false))
	if id, err := e.ReRun("wf-1", model.RerunWorkflowRequest{}); err != nil || id != "wf-1" {
		t.Errorf("ReRun: %q, %v", id, err)
	}
	must(e.SkipTasksFromWorkflow("wf-1", "t"))
	must(e.Terminate("wf-1", "why"))
	must(e.RemoveWorkflow("wf-1"))
	if hits, err := e.Search(0, 10, "", "*"); err != nil || len(hits) != 1 || hits[0].WorkflowId != "wf-1" {
		t.Errorf("Search: %+v, %v", hits, err)
	}
	if m, err := e.GetByCorrelationIds("wf", true, false, "c"); err != nil || len(m["c"]) != 1 {
		t.Errorf("GetByCorrelationIds: %+v, %v", m, err)
	}
	var got []string
	for _, s := range seenReqs() {
		got = append(got, s.method+" "+s.path)
	}
	want := []string{
		"POST /api/metadata/workflow", "PUT /api/metadata/workflow", "DELETE /api/metadata/workflow/wf/1",
		"POST /api/workflow", "GET /api/workflow/wf-1",
		"POST /api/workflow", "POST /api/workflow",
		"PUT /api/workflow/wf-1/pause", "PUT /api/workflow/wf-1/resume", "POST /api/workflow/wf-1/restart",
		"POST /api/workflow/wf-1/retry", "POST /api/workflow/wf-1/rerun", "PUT /api/workflow/wf-1/skiptask/t",
		"DELETE /api/workflow/wf-1", "DELETE /api/workflow/wf-1/remove", "GET /api/workflow/search", "POST /api/workflow/wf/correlated",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("requests:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
