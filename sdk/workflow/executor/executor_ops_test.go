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

// TestCallsTakenOverFromTheWorkflowAndMetadataClients: the calls that only
// client.WorkflowClient and client.MetadataClient had before they became
// the executor's (issue 27) send the same requests and read the answers.
func TestCallsTakenOverFromTheWorkflowAndMetadataClients(t *testing.T) {
	e, seenReqs := server(t, func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/api/workflow/wf-1":
			writeJSON(w, model.Workflow{WorkflowId: "wf-1", Status: model.WorkflowCompleted})
		case strings.HasPrefix(r.URL.Path, "/api/workflow/execute/"):
			writeJSON(w, map[string]interface{}{"workflowId": "wf-2", "status": "COMPLETED"})
		case strings.HasPrefix(r.URL.Path, "/api/workflow/running/"):
			writeJSON(w, []string{"wf-1", "wf-3"})
		case r.URL.Path == "/api/workflow/search":
			writeJSON(w, map[string]interface{}{"totalHits": 7, "results": []map[string]interface{}{{"workflowId": "wf-1"}}})
		case r.URL.Path == "/api/metadata/taskdefs/t":
			writeJSON(w, model.TaskDef{Name: "t", RetryCount: 2})
		case r.URL.Path == "/api/metadata/workflow/wf":
			writeJSON(w, model.WorkflowDef{Name: "wf", Version: 3})
		default:
			w.WriteHeader(http.StatusOK)
		}
	})
	if wf, err := e.WaitForWorkflow("wf-1", ""); err != nil || wf.Status != model.WorkflowCompleted {
		t.Errorf("WaitForWorkflow: %+v, %v", wf, err)
	}
	if res, err := e.ExecuteWorkflowOnServer(&model.StartWorkflowRequest{Name: "wf", Version: 1},
		ExecuteOptions{WaitUntilTaskRefs: []string{"a", "b"}, RequestID: "r-1"}); err != nil || res.WorkflowId != "wf-2" {
		t.Errorf("ExecuteWorkflowOnServer: %+v, %v", res, err)
	}
	if ids, err := e.GetRunningWorkflows("wf", 2); err != nil || len(ids) != 2 {
		t.Errorf("GetRunningWorkflows: %v, %v", ids, err)
	}
	if res, err := e.SearchWorkflows(5, 10, "status IN (RUNNING)", "", "startTime:DESC"); err != nil || res.TotalHits != 7 || len(res.Results) != 1 {
		t.Errorf("SearchWorkflows: %+v, %v", res, err)
	}
	if err := e.RegisterTaskDefs(model.TaskDef{Name: "t"}); err != nil {
		t.Error("RegisterTaskDefs:", err)
	}
	if err := e.UpdateTaskDef(model.TaskDef{Name: "t"}); err != nil {
		t.Error("UpdateTaskDef:", err)
	}
	if def, err := e.GetTaskDef("t"); err != nil || def.RetryCount != 2 {
		t.Errorf("GetTaskDef: %+v, %v", def, err)
	}
	if def, err := e.GetWorkflowDef("wf", 0); err != nil || def.Version != 3 {
		t.Errorf("GetWorkflowDef: %+v, %v", def, err)
	}
	var got []string
	for _, s := range seenReqs() {
		got = append(got, s.method+" "+s.path+"?"+s.query)
	}
	want := []string{
		"GET /api/workflow/wf-1?includeTasks=true",
		"POST /api/workflow/execute/wf/1?requestId=r-1&waitUntilTaskRef=a%2Cb",
		"GET /api/workflow/running/wf?version=2",
		"GET /api/workflow/search?query=status+IN+%28RUNNING%29&size=10&sort=startTime%3ADESC&start=5",
		"POST /api/metadata/taskdefs?", "PUT /api/metadata/taskdefs?",
		"GET /api/metadata/taskdefs/t?", "GET /api/metadata/workflow/wf?",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("requests:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
