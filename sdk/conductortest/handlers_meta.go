package conductortest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"

	"github.com/baton-go/baton/sdk/conductortest/internal/wire"
	"github.com/baton-go/baton/sdk/model"
)

// defaultTaskDef returns a TaskDef holding the server's defaults for every
// field a request may leave out; decoding a request into it keeps them.
func defaultTaskDef() model.TaskDef {
	return model.TaskDef{
		RetryCount:                  3,
		TimeoutPolicy:               model.TimeoutPolicyTimeOutWF,
		RetryLogic:                  model.RetryFixed,
		RetryDelaySeconds:           60,
		ResponseTimeoutSeconds:      3600,
		RateLimitFrequencyInSeconds: 1,
		BackoffScaleFactor:          1,
		InputKeys:                   []string{},
		OutputKeys:                  []string{},
		InputTemplate:               map[string]any{},
	}
}

func decodeTaskDef(raw []byte) (model.TaskDef, error) {
	def := defaultTaskDef()
	err := json.Unmarshal(raw, &def)
	return def, err
}

// decodeWorkflowDef decodes a WorkflowDef with the server's defaults,
// including those of TaskDefs embedded in its tasks.
func decodeWorkflowDef(raw []byte) (model.WorkflowDef, error) {
	def := model.WorkflowDef{Version: 1, SchemaVersion: 2, Restartable: true, TimeoutPolicy: model.TimeoutPolicyAlertOnly}
	if err := json.Unmarshal(raw, &def); err != nil {
		return def, err
	}
	var embedded struct {
		Tasks []struct {
			TaskDefinition json.RawMessage `json:"taskDefinition"`
		} `json:"tasks"`
	}
	if err := json.Unmarshal(raw, &embedded); err != nil {
		return def, err
	}
	for i, t := range embedded.Tasks {
		if i < len(def.Tasks) && len(t.TaskDefinition) > 0 && !bytes.Equal(t.TaskDefinition, []byte("null")) {
			td, err := decodeTaskDef(t.TaskDefinition)
			if err != nil {
				return def, err
			}
			if td.Name == "" {
				td.Name = def.Tasks[i].Name
			}
			def.Tasks[i].TaskDefinition = &td
		}
	}
	return def, nil
}

// validateTaskDef applies the real server's bean validation. path is the
// Java method parameter the real server names (e.g.
// "registerTaskDef.arg0[0]"); the messages are its own, including the odd
// ones that print the bound instead of the value.
func (s *Server) validateTaskDef(def *model.TaskDef, path string) []validationError {
	var errs []validationError
	add := func(field, msg string, v *string) {
		errs = append(errs, validationError{Path: path + "." + field, Message: msg, InvalidValue: v})
	}
	if def.Name == "" {
		add("name", "TaskDef name cannot be null or empty", nil)
	}
	if def.RetryCount < 0 {
		add("retryCount", "TaskDef retryCount: 0 must be >= 0", itoa(int64(def.RetryCount)))
	}
	if def.ResponseTimeoutSeconds < 1 {
		add("responseTimeoutSeconds", fmt.Sprintf("TaskDef responseTimeoutSeconds: %d should be minimum 1 second", def.ResponseTimeoutSeconds), itoa(def.ResponseTimeoutSeconds))
	}
	if def.BackoffScaleFactor < 1 {
		add("backoffScaleFactor", "Backoff scale factor. Applicable for LINEAR_BACKOFF", itoa(int64(def.BackoffScaleFactor)))
	}
	if def.PollTimeoutSeconds < 0 {
		add("pollTimeoutSeconds", "TaskDef pollTimeoutSeconds: 0 must be >= 0", itoa(int64(def.PollTimeoutSeconds)))
	}
	if s.ownerEmailRequired() && def.OwnerEmail == "" {
		add("ownerEmail", "ownerEmail cannot be empty", nil)
	}
	// Class-level constraints: the path is the definition itself and there
	// is no invalidValue.
	if def.TimeoutSeconds > 0 && def.ResponseTimeoutSeconds > def.TimeoutSeconds {
		errs = append(errs, validationError{Path: path, Message: fmt.Sprintf("TaskDef: %s responseTimeoutSeconds: %d must be less than timeoutSeconds: %d",
			def.Name, def.ResponseTimeoutSeconds, def.TimeoutSeconds)})
	}
	if def.TimeoutSeconds > 0 && def.TotalTimeoutSeconds > 0 && def.TimeoutSeconds > def.TotalTimeoutSeconds {
		errs = append(errs, validationError{Path: path, Message: fmt.Sprintf("TaskDef: %s timeoutSeconds: %d must be less than or equal to totalTimeoutSeconds: %d",
			def.Name, def.TimeoutSeconds, def.TotalTimeoutSeconds)})
	}
	return errs
}

// itoa is a validation error's invalidValue: the real server sends it as a
// string.
func itoa(v int64) *string {
	s := strconv.FormatInt(v, 10)
	return &s
}

// enum checks happen while decoding on the real server (Jackson), so a bad
// value is a 500 there.
func checkTaskDefEnums(def *model.TaskDef) *apiError {
	switch def.TimeoutPolicy {
	case model.TimeoutPolicyRetry, model.TimeoutPolicyTimeOutWF, model.TimeoutPolicyAlertOnly:
	default:
		return serverError("JSON parse error: Cannot deserialize value of type `com.netflix.conductor.common.metadata.tasks.TaskDef$TimeoutPolicy` from String %q: not one of the values accepted for Enum class: [RETRY, TIME_OUT_WF, ALERT_ONLY]", def.TimeoutPolicy)
	}
	switch def.RetryLogic {
	case model.RetryFixed, model.RetryExponentialBackoff, model.RetryLinearBackoff:
	default:
		return serverError("JSON parse error: Cannot deserialize value of type `com.netflix.conductor.common.metadata.tasks.TaskDef$RetryLogic` from String %q: not one of the values accepted for Enum class: [FIXED, EXPONENTIAL_BACKOFF, LINEAR_BACKOFF]", def.RetryLogic)
	}
	return nil
}

func (s *Server) validateWorkflowDef(def *model.WorkflowDef, path string) *apiError {
	var errs []validationError
	add := func(field, msg string, v *string) {
		errs = append(errs, validationError{Path: path + "." + field, Message: msg, InvalidValue: v})
	}
	// Class-level constraints of WorkflowDef name the definition itself.
	addDef := func(msg string) { errs = append(errs, validationError{Path: path, Message: msg}) }
	if def.Name == "" {
		add("name", "WorkflowDef name cannot be null or empty", nil)
	}
	if len(def.Tasks) == 0 {
		add("tasks", "WorkflowTask list cannot be empty", nil)
	}
	if def.SchemaVersion != 2 {
		add("schemaVersion", "workflowDef schemaVersion: 2 is only supported", itoa(int64(def.SchemaVersion)))
	}
	if s.ownerEmailRequired() && def.OwnerEmail == "" {
		add("ownerEmail", "ownerEmail cannot be empty", nil)
	}
	switch def.TimeoutPolicy {
	case model.TimeoutPolicyTimeOutWF, model.TimeoutPolicyAlertOnly:
	default:
		return serverError("JSON parse error: Cannot deserialize value of type `com.netflix.conductor.common.metadata.workflow.WorkflowDef$TimeoutPolicy` from String %q: not one of the values accepted for Enum class: [TIME_OUT_WF, ALERT_ONLY]", def.TimeoutPolicy)
	}
	refs := map[string]bool{}
	for i, wt := range def.Tasks {
		tp := fmt.Sprintf("tasks[%d]", i)
		if wt.Name == "" {
			add(tp+".name", "WorkflowTask name cannot be empty or null", nil)
		}
		if wt.TaskReferenceName == "" {
			add(tp+".taskReferenceName", "WorkflowTask taskReferenceName name cannot be empty or null", nil)
		} else if refs[wt.TaskReferenceName] {
			addDef(fmt.Sprintf("taskReferenceName: %s should be unique across tasks for a given workflowDefinition: %s", wt.TaskReferenceName, def.Name))
		}
		refs[wt.TaskReferenceName] = true
		if wt.StartDelay < 0 {
			add(tp+".startDelay", "must be greater than or equal to 0", itoa(int64(wt.StartDelay)))
		}
		if wt.TaskDefinition != nil {
			if e := checkTaskDefEnums(wt.TaskDefinition); e != nil {
				return e
			}
		}
	}
	// Every ${x...} in the input parameters must start with "workflow" or a
	// reference name of this workflow.
	for _, wt := range def.Tasks {
		keys := make([]string, 0, len(wt.InputParameters))
		for k := range wt.InputParameters {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			v := wt.InputParameters[k]
			for _, p := range exprRoots(v) {
				if p != "workflow" && !refs[p] && !systemVar(p) {
					addDef(fmt.Sprintf("taskReferenceName: %s for given task: %s input value: %s of input parameter: %s is not defined in workflow definition.",
						p, wt.Name, k, paramText(v)))
				}
			}
		}
	}
	if len(errs) > 0 {
		return invalid(errs...)
	}
	return nil
}

// paramText prints an input parameter value as the real server's message
// does (strings as they are, anything else as JSON).
func paramText(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	b, _ := json.Marshal(v)
	return string(b)
}

func systemVar(p string) bool {
	switch p {
	case "CPEWF_TASK_ID", "NETFLIX_ENV", "NETFLIX_STACK", "CPEWF_CURRENT_TIMESTAMP":
		return true
	}
	return false
}

// exprRoots lists the first path segment of every ${...} in v.
func exprRoots(v any) []string {
	var out []string
	var walk func(any)
	walk = func(v any) {
		switch x := v.(type) {
		case string:
			for _, part := range splitExpr(x) {
				if strings.HasPrefix(part, "${") && strings.HasSuffix(part, "}") {
					segs := splitPath(strings.TrimPrefix(strings.TrimSpace(part[2:len(part)-1]), "$."))
					if len(segs) > 0 {
						out = append(out, segs[0])
					}
				}
			}
		case map[string]any:
			for _, e := range x {
				walk(e)
			}
		case []any:
			for _, e := range x {
				walk(e)
			}
		}
	}
	walk(v)
	return out
}

// RegisterTaskDefs upserts task definitions, applying the same defaults and
// validation as POST /api/metadata/taskdefs.
func (s *Server) RegisterTaskDefs(defs ...model.TaskDef) error {
	raws := make([]json.RawMessage, len(defs))
	for i := range defs {
		b, err := json.Marshal(&defs[i])
		if err != nil {
			return err
		}
		raws[i] = b
	}
	if e := s.registerTaskDefs(raws); e != nil {
		return e
	}
	return nil
}

func (s *Server) registerTaskDefs(raws []json.RawMessage) *apiError {
	if len(raws) == 0 {
		return invalid(validationError{Path: "registerTaskDef.arg0", Message: "TaskDefList is empty"})
	}
	defs := make([]model.TaskDef, len(raws))
	var errs []validationError
	firstNull := -1 // the real server stores the definitions before a null, then fails on it
	for i, raw := range raws {
		if isNull(raw) {
			if firstNull < 0 {
				firstNull = i
			}
			continue
		}
		def, err := decodeTaskDef(raw)
		if err != nil {
			return serverError("JSON parse error: %v", err)
		}
		if e := checkTaskDefEnums(&def); e != nil {
			return e
		}
		errs = append(errs, s.validateTaskDef(&def, fmt.Sprintf("registerTaskDef.arg0[%d]", i))...)
		defs[i] = def
	}
	if len(errs) > 0 {
		return invalid(errs...)
	}
	if firstNull >= 0 {
		defs = defs[:firstNull]
	}
	now := nowMs(s.now())
	s.mu.Lock()
	for _, def := range defs {
		def.CreateTime = now
		def.UpdateTime = 0
		s.taskDefs[def.Name] = &taskDefEntry{def: def}
	}
	clear(s.snapCache)
	s.mu.Unlock()
	if firstNull >= 0 {
		return serverError("Cannot invoke \"com.netflix.conductor.common.metadata.tasks.TaskDef.setCreatedBy(String)\" because \"taskDefinition\" is null")
	}
	return nil
}

// isNull tells whether raw is the JSON null.
func isNull(raw []byte) bool { return bytes.Equal(bytes.TrimSpace(raw), []byte("null")) }

// nullTasks refuses a workflow definition that says "tasks": null with the
// 500 of the real server's validator (absent tasks default to []).
func nullTasks(raw []byte) *apiError {
	if !bytes.Contains(raw, []byte(`"tasks"`)) {
		return nil
	}
	var probe struct {
		Tasks json.RawMessage `json:"tasks"`
	}
	if json.Unmarshal(raw, &probe) == nil && isNull(probe.Tasks) {
		return serverError("HV000028: Unexpected exception during isValid call.")
	}
	return nil
}

func (s *Server) handleRegisterTaskDefs(w http.ResponseWriter, r *http.Request) {
	var raws []json.RawMessage
	if e := s.decode(r, &raws); e != nil {
		s.writeError(w, e)
		return
	}
	if e := s.registerTaskDefs(raws); e != nil {
		s.writeError(w, e)
		return
	}
	writeEmpty(w, http.StatusOK)
}

func (s *Server) handleUpdateTaskDef(w http.ResponseWriter, r *http.Request) {
	body, e := readJSONBody(r)
	if e != nil {
		s.writeError(w, e)
		return
	}
	def, err := decodeTaskDef(body)
	if err != nil {
		s.writeError(w, serverError("JSON parse error: %v", err))
		return
	}
	if e := checkTaskDefEnums(&def); e != nil {
		s.writeError(w, e)
		return
	}
	if errs := s.validateTaskDef(&def, "updateTaskDef.arg0"); len(errs) > 0 {
		s.writeError(w, invalid(errs...))
		return
	}
	now := nowMs(s.now())
	s.mu.Lock()
	old := s.taskDefs[def.Name]
	if old != nil {
		def.CreateTime = old.def.CreateTime
		def.UpdateTime = now
		s.taskDefs[def.Name] = &taskDefEntry{def: def}
		clear(s.snapCache)
	}
	s.mu.Unlock()
	if old == nil {
		s.writeError(w, notFound("No such task by name %s", def.Name))
		return
	}
	writeEmpty(w, http.StatusOK)
}

func (s *Server) handleGetTaskDef(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	s.mu.Lock()
	e := s.taskDefs[name]
	s.mu.Unlock()
	if e == nil {
		s.writeError(w, notFound("No such taskType found by name: %s", name))
		return
	}
	s.writeJSON(w, http.StatusOK, wire.TaskDef(&e.def))
}

func (s *Server) handleGetTaskDefs(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defs := make([]model.TaskDef, 0, len(s.taskDefs))
	for _, e := range s.taskDefs {
		defs = append(defs, e.def)
	}
	s.mu.Unlock()
	sort.Slice(defs, func(i, j int) bool { return defs[i].Name < defs[j].Name })
	out := make([]*wire.TaskDefOut, len(defs))
	for i := range defs {
		out[i] = wire.TaskDef(&defs[i])
	}
	s.writeJSON(w, http.StatusOK, out)
}

func (s *Server) handleDeleteTaskDef(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	s.mu.Lock()
	e := s.taskDefs[name]
	delete(s.taskDefs, name)
	clear(s.snapCache)
	s.mu.Unlock()
	if e == nil {
		if s.is321() {
			s.writeError(w, notFound("Cannot remove the task - no such task definition"))
		} else {
			s.writeError(w, serverError("No such task definition"))
		}
		return
	}
	writeEmpty(w, http.StatusOK)
}

// RegisterWorkflowDef creates or replaces a workflow definition (like PUT
// /api/metadata/workflow with one entry), applying defaults and validation.
func (s *Server) RegisterWorkflowDef(def model.WorkflowDef) error {
	raw, err := json.Marshal(&def)
	if err != nil {
		return err
	}
	d, err := decodeWorkflowDef(raw)
	if err != nil {
		return err
	}
	if e := s.validateWorkflowDef(&d, "updateWorkflowDef.arg0[0]"); e != nil {
		return e
	}
	s.putWorkflowDef(d, false)
	return nil
}

// putWorkflowDef stores def; with create it refuses an existing
// name+version.
func (s *Server) putWorkflowDef(def model.WorkflowDef, create bool) *apiError {
	now := nowMs(s.now())
	s.mu.Lock()
	defer s.mu.Unlock()
	versions := s.wfDefs[def.Name]
	if versions == nil {
		versions = map[int]*wfDefEntry{}
		s.wfDefs[def.Name] = versions
	}
	if old := versions[def.Version]; old != nil {
		if create {
			return errf(http.StatusConflict, "Workflow with %s.%d already exists!", def.Name, def.Version)
		}
		def.CreateTime = old.def.CreateTime
		def.UpdateTime = now
	} else if create {
		def.CreateTime = now
	} else {
		def.UpdateTime = now // the real server's update path sets only this
	}
	versions[def.Version] = &wfDefEntry{def: def}
	clear(s.snapCache)
	return nil
}

func (s *Server) handleCreateWorkflowDef(w http.ResponseWriter, r *http.Request) {
	body, e := readJSONBody(r)
	if e != nil {
		s.writeError(w, e)
		return
	}
	def, err := decodeWorkflowDef(body)
	if err != nil {
		s.writeError(w, serverError("JSON parse error: %v", err))
		return
	}
	if e := nullTasks(body); e != nil {
		s.writeError(w, e)
		return
	}
	if e := s.validateWorkflowDef(&def, "registerWorkflowDef.arg0"); e != nil {
		s.writeError(w, e)
		return
	}
	if e := s.putWorkflowDef(def, true); e != nil {
		s.writeError(w, e)
		return
	}
	writeEmpty(w, http.StatusOK)
}

func (s *Server) handleUpdateWorkflowDefs(w http.ResponseWriter, r *http.Request) {
	var raws []json.RawMessage
	if e := s.decode(r, &raws); e != nil {
		s.writeError(w, e)
		return
	}
	defs := make([]model.WorkflowDef, len(raws))
	for i, raw := range raws {
		if isNull(raw) {
			s.writeError(w, invalid(validationError{Path: fmt.Sprintf("updateWorkflowDef.arg0[%d].<list element>", i), Message: "WorkflowDef cannot be null"}))
			return
		}
		def, err := decodeWorkflowDef(raw)
		if err != nil {
			s.writeError(w, serverError("JSON parse error: %v", err))
			return
		}
		if e := nullTasks(raw); e != nil {
			s.writeError(w, e)
			return
		}
		if e := s.validateWorkflowDef(&def, fmt.Sprintf("updateWorkflowDef.arg0[%d]", i)); e != nil {
			s.writeError(w, e)
			return
		}
		defs[i] = def
	}
	// The real server's field order (bulkErrorResults first).
	resp := struct {
		BulkErrorResults      map[string]string `json:"bulkErrorResults"`
		BulkSuccessfulResults []string          `json:"bulkSuccessfulResults"`
	}{map[string]string{}, []string{}}
	for _, def := range defs {
		s.putWorkflowDef(def, false)
		resp.BulkSuccessfulResults = append(resp.BulkSuccessfulResults, def.Name)
	}
	s.writeJSON(w, http.StatusOK, &resp)
}

// workflowDef finds name at version, or the latest version when version is
// nil. Caller holds s.mu.
func (s *Server) workflowDef(name string, version *int) *model.WorkflowDef {
	versions := s.wfDefs[name]
	if version != nil {
		if e := versions[*version]; e != nil {
			return &e.def
		}
		return nil
	}
	var best *wfDefEntry
	for v, e := range versions {
		if best == nil || v > best.def.Version {
			best = e
		}
	}
	if best == nil {
		return nil
	}
	return &best.def
}

func versionText(v *int) string {
	if v == nil {
		return "null"
	}
	return strconv.Itoa(*v)
}

func (s *Server) handleGetWorkflowDef(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	version, e := intParam(r, "version", "java.lang.Integer")
	if e != nil {
		s.writeError(w, e)
		return
	}
	s.mu.Lock()
	def := s.workflowDef(name, version)
	var out model.WorkflowDef
	if def != nil {
		out = *def
	}
	s.mu.Unlock()
	if def == nil {
		s.writeError(w, notFound("No such workflow found by name: %s, version: %s", name, versionText(version)))
		return
	}
	s.writeJSON(w, http.StatusOK, wire.WorkflowDef(&out))
}

func (s *Server) handleGetWorkflowDefs(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	out := []model.WorkflowDef{}
	for _, versions := range s.wfDefs {
		for _, e := range versions {
			out = append(out, e.def)
		}
	}
	s.mu.Unlock()
	sort.Slice(out, func(i, j int) bool {
		if out[i].Name != out[j].Name {
			return out[i].Name < out[j].Name
		}
		return out[i].Version < out[j].Version
	})
	defs := make([]*wire.WorkflowDefOut, len(out))
	for i := range out {
		defs[i] = wire.WorkflowDef(&out[i])
	}
	s.writeJSON(w, http.StatusOK, defs)
}

func (s *Server) handleDeleteWorkflowDef(w http.ResponseWriter, r *http.Request) {
	name, vs := r.PathValue("name"), r.PathValue("version")
	v, pe := atoiParam("version", "java.lang.Integer", vs)
	if pe != nil {
		s.writeError(w, pe)
		return
	}
	s.mu.Lock()
	e := s.wfDefs[name][v]
	if e != nil {
		delete(s.wfDefs[name], v)
		clear(s.snapCache)
	}
	s.mu.Unlock()
	if e == nil {
		if s.is321() {
			s.writeError(w, notFound("Cannot remove the workflow - no such workflow definition: %s version: %d", name, v))
		} else {
			s.writeError(w, serverError("No such workflow definition: %s version: %d", name, v))
		}
		return
	}
	writeEmpty(w, http.StatusOK)
}

// intParam reads an optional integer query parameter of the handler's Java
// type javaType; a malformed value is a 500 as on the real server.
func intParam(r *http.Request, name, javaType string) (*int, *apiError) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return nil, nil
	}
	n, e := atoiParam(name, javaType, v)
	if e != nil {
		return nil, e
	}
	return &n, nil
}
