package conductortest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/baton-go/baton/sdk/model"
)

// StartWorkflow starts a workflow like POST /api/workflow and returns its id.
func (s *Server) StartWorkflow(req model.StartWorkflowRequest) (string, error) {
	raw, err := json.Marshal(&req)
	if err != nil {
		return "", err
	}
	id, e := s.startFromRequest(raw)
	if e != nil {
		return "", e
	}
	return id, nil
}

func (s *Server) startFromRequest(raw []byte) (string, *apiError) {
	var req model.StartWorkflowRequest
	if err := json.Unmarshal(raw, &req); err != nil {
		if !decodeBigNumberInput(raw, &req) {
			return "", serverError("JSON parse error: %v", err)
		}
	}
	var fields struct {
		Input       json.RawMessage `json:"input"`
		Version     json.RawMessage `json:"version"`
		WorkflowDef json.RawMessage `json:"workflowDef"`
	}
	_ = json.Unmarshal(raw, &fields)
	if bytes.Equal(fields.Input, []byte("null")) {
		return "", badRequest("NULL input passed when starting workflow")
	}
	var errs []validationError
	if req.Name == "" {
		errs = append(errs, validationError{Path: "startWorkflow.arg0.name", Message: "Workflow name cannot be null or empty"})
	}
	switch {
	case req.Priority < 0:
		errs = append(errs, validationError{Path: "startWorkflow.arg0.priority", Message: fmt.Sprintf("priority: %d should be minimum 0", req.Priority), InvalidValue: itoa(int64(req.Priority))})
	case req.Priority > 99:
		errs = append(errs, validationError{Path: "startWorkflow.arg0.priority", Message: fmt.Sprintf("priority: %d should be maximum 99", req.Priority), InvalidValue: itoa(int64(req.Priority))})
	}
	if len(errs) > 0 {
		return "", invalid(errs...)
	}
	var version *int
	if len(fields.Version) > 0 && !bytes.Equal(fields.Version, []byte("null")) {
		v := req.Version
		version = &v
	}
	var inline *model.WorkflowDef
	if len(fields.WorkflowDef) > 0 && !bytes.Equal(fields.WorkflowDef, []byte("null")) {
		def, err := decodeWorkflowDef(fields.WorkflowDef)
		if err != nil {
			return "", serverError("JSON parse error: %v", err)
		}
		if e := s.validateWorkflowDef(&def, "startWorkflow.startWorkflowRequest.workflowDef"); e != nil {
			return "", e
		}
		inline = &def
	}
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	def := inline
	if def == nil {
		def = s.workflowDef(req.Name, version)
		if def == nil {
			return "", notFound("No such workflow defined. name=%s, version=%s", req.Name, versionText(version))
		}
	}
	if e := checkSupported(def); e != nil {
		return "", e
	}
	input, extIn, e := s.startInputPayload(&req)
	if e != nil {
		return "", e
	}
	req.Input = input
	wf := s.startWorkflow(def, inline == nil, &req, now)
	wf.extIn = extIn
	return wf.m.WorkflowId, nil
}

// checkSupported refuses definitions with task types this server cannot run.
// Registering them succeeds, as on a real server, so that code which
// registers its workflows at start-up runs unchanged against the dev server;
// starting one is refused with a message naming the task type and where such
// workflows do run.
func checkSupported(def *model.WorkflowDef) *apiError {
	for _, wt := range def.Tasks {
		if wt.Type != "" && wt.Type != model.TaskTypeSimple {
			return badRequest("the dev server (conductortest) runs SIMPLE tasks only: task %s of workflow %s has type %s;"+
				" run workflows with other task types on a real Conductor server, as make test-conductor does", wt.TaskReferenceName, def.Name, wt.Type)
		}
	}
	return nil
}

func (s *Server) handleStart(w http.ResponseWriter, r *http.Request) {
	body, e := readJSONBody(r)
	if e != nil {
		s.writeError(w, e)
		return
	}
	id, e := s.startFromRequest(body)
	if e != nil {
		s.writeError(w, e)
		return
	}
	writeText(w, id)
}

func (s *Server) handleStartByName(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	version, e := intParam(r, "version", "java.lang.Integer")
	if e != nil {
		s.writeError(w, e)
		return
	}
	priority, e := intParam(r, "priority", "int")
	if e != nil {
		s.writeError(w, e)
		return
	}
	body, e := readJSONBody(r)
	if e != nil {
		s.writeError(w, e)
		return
	}
	var input map[string]any
	if err := json.Unmarshal(body, &input); err != nil {
		s.writeError(w, serverError("JSON parse error: %v", err))
		return
	}
	if input == nil {
		s.writeError(w, badRequest("NULL input passed when starting workflow"))
		return
	}
	req := model.StartWorkflowRequest{Name: name, CorrelationId: r.URL.Query().Get("correlationId"), Input: input}
	if priority != nil {
		req.Priority = *priority
		// Bean validation of the query parameter (the 4th argument).
		switch {
		case req.Priority < 0:
			s.writeError(w, invalid(validationError{Path: "startWorkflow.arg3", Message: "0 is the minimum priority value", InvalidValue: itoa(int64(req.Priority))}))
			return
		case req.Priority > 99:
			s.writeError(w, invalid(validationError{Path: "startWorkflow.arg3", Message: "99 is the maximum priority value", InvalidValue: itoa(int64(req.Priority))}))
			return
		}
	}
	now := s.now()
	s.mu.Lock()
	def := s.workflowDef(name, version)
	if def == nil {
		s.mu.Unlock()
		s.writeError(w, notFound("No such workflow found by name: %s, version: %s", name, versionText(version)))
		return
	}
	if e := checkSupported(def); e != nil {
		s.mu.Unlock()
		s.writeError(w, e)
		return
	}
	wf := s.startWorkflow(def, true, &req, now)
	wf.extIn = s.externalize(wf.m.Input, s.opts.payloadLimits.WorkflowInput)
	id := wf.m.WorkflowId
	s.mu.Unlock()
	writeText(w, id)
}

func (s *Server) handleGetWorkflow(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("workflowId")
	include, e := boolParam(r, "includeTasks", true)
	if e != nil {
		s.writeError(w, e)
		return
	}
	s.mu.Lock()
	wf := s.workflows[id]
	var snap workflowWire
	if wf != nil {
		snap = wf.forWire(include)
	}
	s.mu.Unlock()
	if wf == nil {
		s.writeError(w, notFound("No such workflow found by id: %s", id))
		return
	}
	s.writeJSON(w, http.StatusOK, snap.out())
}

func (s *Server) workflowSnapshot(id string, includeTasks bool) (model.Workflow, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	wf := s.workflows[id]
	if wf == nil {
		return model.Workflow{}, false
	}
	return wf.snapshot(includeTasks), true
}

func (s *Server) handleTerminate(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("workflowId")
	reason := r.URL.Query().Get("reason")
	if e := s.Terminate(id, reason); e != nil {
		s.writeError(w, e.(*apiError))
		return
	}
	writeEmpty(w, http.StatusOK)
}

// Terminate ends a workflow as DELETE /api/workflow/{id} does: it becomes
// TERMINATED and its pending tasks CANCELED. A COMPLETED workflow cannot be
// terminated.
func (s *Server) Terminate(workflowID, reason string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	wf := s.workflows[workflowID]
	if wf == nil {
		return notFound("No such workflow found by id: %s", workflowID)
	}
	if wf.m.Status == model.WorkflowCompleted {
		return errf(http.StatusConflict, "Cannot terminate a COMPLETED workflow.")
	}
	if wf.m.Status == model.WorkflowTerminated && !s.is321() {
		// 3.32 leaves a terminated workflow alone (3.21 terminates it
		// again and takes the new reason).
		return nil
	}
	s.endWorkflow(wf, model.WorkflowTerminated, reason, s.now())
	return nil
}

func (s *Server) handleRemoveWorkflow(w http.ResponseWriter, r *http.Request) {
	archive, e := boolParam(r, "archiveWorkflow", true)
	if e != nil {
		s.writeError(w, e)
		return
	}
	if e := s.removeWorkflow(r.PathValue("workflowId"), archive); e != nil {
		s.writeError(w, e)
		return
	}
	writeEmpty(w, http.StatusOK)
}

// handleTerminateRemove is terminate followed by remove, as on the real
// server (a COMPLETED workflow cannot be terminated, so it stays).
func (s *Server) handleTerminateRemove(w http.ResponseWriter, r *http.Request) {
	archive, e := boolParam(r, "archiveWorkflow", true)
	if e != nil {
		s.writeError(w, e)
		return
	}
	id := r.PathValue("workflowId")
	if err := s.Terminate(id, r.URL.Query().Get("reason")); err != nil {
		s.writeError(w, err.(*apiError))
		return
	}
	if e := s.removeWorkflow(id, archive); e != nil {
		s.writeError(w, e)
		return
	}
	writeEmpty(w, http.StatusOK)
}

// removeWorkflow deletes a workflow and its tasks. Archiving a workflow that
// has not ended fails on the real server after the workflow is deleted (its
// queued tasks are left for polls to drop); here they are dropped at once.
func (s *Server) removeWorkflow(id string, archive bool) *apiError {
	s.mu.Lock()
	wf := s.workflows[id]
	if wf != nil && archive && !wf.m.Status.Terminal() && !s.is321() {
		// 3.32 refuses before deleting anything.
		s.mu.Unlock()
		return badRequest("Cannot archive workflow: %s with status: %s", id, wf.m.Status)
	}
	if wf != nil {
		for _, t := range wf.tasks {
			s.dequeue(t)
			s.setStatus(t, model.TaskCanceled)
			s.setTimer(&t.timer, 0, nil, nil)
			delete(s.tasks, t.m.TaskId)
		}
		s.setTimer(&wf.timer, 0, nil, nil)
		delete(s.workflows, id)
		if !wf.m.Status.Terminal() {
			// Waiters must not hang on a workflow that no longer exists.
			close(s.wfChanged)
			s.wfChanged = make(chan struct{})
		}
	}
	s.mu.Unlock()
	if wf == nil {
		return notFound("No such workflow found by id: %s", id)
	}
	if archive && !wf.m.Status.Terminal() {
		return badRequest("Cannot archive workflow: %s with status: %s", id, wf.m.Status)
	}
	return nil
}

func (s *Server) handleHealth(w http.ResponseWriter, r *http.Request) {
	const body = `{"healthResults":[],"suppressedHealthResults":[],"healthy":true}`
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write([]byte(body))
}

func (s *Server) handleActuatorHealth(w http.ResponseWriter, r *http.Request) {
	writeRaw(w, http.StatusServiceUnavailable, "application/json", []byte(`{"status":"DOWN"}`))
}

// decodeBigNumberInput decodes a start request whose input holds a number
// beyond float64 (a 400-digit integer), which Conductor accepts and keeps
// as a BigInteger: such numbers stay json.Number, written back as they
// came, while every other number is a float64 as usual. It reports false
// when the request fails to decode for another reason.
func decodeBigNumberInput(raw []byte, req *model.StartWorkflowRequest) bool {
	var top map[string]json.RawMessage
	if json.Unmarshal(raw, &top) != nil {
		return false
	}
	var input json.RawMessage
	for k, v := range top {
		if strings.EqualFold(k, "input") {
			input = v
			delete(top, k)
		}
	}
	rest, err := json.Marshal(top)
	if err != nil || json.Unmarshal(rest, req) != nil {
		return false
	}
	dec := json.NewDecoder(bytes.NewReader(input))
	dec.UseNumber()
	var in map[string]interface{}
	if len(input) > 0 && dec.Decode(&in) != nil {
		return false
	}
	req.Input = keepBigNumbers(in).(map[string]interface{})
	return true
}

// keepBigNumbers turns the json.Numbers of v that a float64 holds into
// float64s and leaves the others as they are.
func keepBigNumbers(v interface{}) interface{} {
	switch x := v.(type) {
	case json.Number:
		if f, err := strconv.ParseFloat(string(x), 64); err == nil {
			return f
		}
		return x
	case map[string]interface{}:
		for k, e := range x {
			x[k] = keepBigNumbers(e)
		}
		if x == nil {
			return map[string]interface{}(nil)
		}
		return x
	case []interface{}:
		for i, e := range x {
			x[i] = keepBigNumbers(e)
		}
	}
	return v
}
