package conductortest

import (
	"net/http"
	"strings"
	"time"

	"github.com/sirupsen/logrus"
)

func (s *Server) routes() *http.ServeMux {
	mux := http.NewServeMux()
	h := mux.HandleFunc

	// Conductor OSS 3.21 serves health at /health only; /api/health is a
	// 404 (3.32 serves both) and Spring's /actuator/health reports DOWN (an
	// Elasticsearch indicator stays on with indexing off), so neither is a
	// readiness check.
	h("GET /health", s.handleHealth)
	h("GET /api/health", func(w http.ResponseWriter, r *http.Request) {
		if s.is321() {
			s.writeError(w, noResource(r))
			return
		}
		s.handleHealth(w, r)
	})
	h("GET /actuator/health", s.handleActuatorHealth)
	h("POST /api/token", s.handleToken)

	// "GET /api/tasks/poll/{tasktype}" would clash with ".../{taskId}/log"
	// (both match /api/tasks/poll/log), so single polls are dispatched here.
	h("GET /api/tasks/{first}/{second}", func(w http.ResponseWriter, r *http.Request) {
		if r.PathValue("first") != "poll" {
			s.writeError(w, noResource(r))
			return
		}
		s.handlePoll(w, r, r.PathValue("second"))
	})
	h("GET /api/tasks/poll/batch/{tasktype}", s.handleBatchPoll)
	h("POST /api/tasks", s.handleUpdate)
	h("POST /api/tasks/update-v2", s.handleUpdateV2)
	h("POST /api/tasks/{workflowId}/{taskRefName}/{status}", s.handleUpdateByRef(false))
	h("POST /api/tasks/{workflowId}/{taskRefName}/{status}/sync", s.handleUpdateByRef(true))
	h("GET /api/tasks/{taskId}", s.handleGetTask)
	h("POST /api/tasks/{taskId}/log", s.handleAddLog)
	h("GET /api/tasks/{taskId}/log", func(w http.ResponseWriter, r *http.Request) {
		if r.PathValue("taskId") == "poll" {
			s.handlePoll(w, r, "log")
			return
		}
		s.handleGetLogs(w, r)
	})
	h("GET /api/tasks/queue/sizes", s.handleQueueSizes)
	h("GET /api/tasks/queue/size", s.handleQueueSize)
	h("GET /api/tasks/queue/all", s.handleQueueAll)
	h("GET /api/tasks/queue/polldata", s.handlePollData)
	h("GET /api/tasks/queue/polldata/all", s.handlePollDataAll)
	h("POST /api/tasks/queue/requeue/{tasktype}", s.handleRequeue)
	h("GET /api/tasks/search", s.handleSearch)
	h("GET /api/workflow/search", s.handleSearch)
	h("GET /api/tasks/externalstoragelocation", s.handleStorageLocation)
	h("GET /api/workflow/externalstoragelocation", s.handleStorageLocation)
	h("GET /api/external/postgres/{key}", s.handlePostgresPayload)
	h("GET /external/presigned/{key}", s.handlePresigned)
	h("PUT /external/presigned/{key}", s.handlePresigned)

	h("POST /api/metadata/taskdefs", s.handleRegisterTaskDefs)
	h("PUT /api/metadata/taskdefs", s.handleUpdateTaskDef)
	h("GET /api/metadata/taskdefs", s.handleGetTaskDefs)
	h("GET /api/metadata/taskdefs/{name}", s.handleGetTaskDef)
	h("DELETE /api/metadata/taskdefs/{name}", s.handleDeleteTaskDef)
	h("POST /api/metadata/workflow", s.handleCreateWorkflowDef)
	h("PUT /api/metadata/workflow", s.handleUpdateWorkflowDefs)
	h("GET /api/metadata/workflow", s.handleGetWorkflowDefs)
	h("GET /api/metadata/workflow/{name}", s.handleGetWorkflowDef)
	h("DELETE /api/metadata/workflow/{name}/{version}", s.handleDeleteWorkflowDef)

	h("POST /api/workflow", s.handleStart)
	h("POST /api/workflow/{name}", s.handleStartByName)
	h("GET /api/workflow/{workflowId}", s.handleGetWorkflow)
	h("DELETE /api/workflow/{workflowId}", s.handleTerminate)
	h("DELETE /api/workflow/{workflowId}/remove", s.handleRemoveWorkflow)
	h("DELETE /api/workflow/{workflowId}/terminate-remove", s.handleTerminateRemove)

	h("/", func(w http.ResponseWriter, r *http.Request) {
		// A known path with another method is a 500 on 3.21
		// (HttpRequestMethodNotSupportedException is not mapped), a 405
		// on 3.32.
		for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodDelete} {
			if m == r.Method {
				continue
			}
			probe := r.Clone(r.Context())
			probe.Method = m
			if _, pattern := mux.Handler(probe); pattern != "/" && pattern != "" {
				e := serverError("Request method '%s' is not supported", r.Method)
				if !s.is321() {
					e.status = http.StatusMethodNotAllowed
				}
				s.writeError(w, e)
				return
			}
		}
		s.writeError(w, noResource(r))
	})
	return mux
}

// noResource is Spring's answer to an unmapped path: the path without its
// leading slash and without the query.
func noResource(r *http.Request) *apiError {
	return notFound("No static resource %s.", strings.TrimPrefix(r.URL.Path, "/"))
}

// groupOf names the fault-injection group of a request.
func groupOf(r *http.Request) string {
	p := r.URL.Path
	switch {
	case hasPrefix(p, "/api/tasks/poll/"):
		return "poll"
	case r.Method == http.MethodPost && (p == "/api/tasks" || p == "/api/tasks/update-v2"):
		return "update"
	case r.Method == http.MethodPost && hasPrefix(p, "/api/tasks/") && !hasSuffix(p, "/log") && !hasPrefix(p, "/api/tasks/queue/"):
		return "update"
	case p == "/api/token":
		return "token"
	case hasPrefix(p, "/api/metadata"):
		return "metadata"
	case hasPrefix(p, "/api/workflow"):
		return "workflow"
	case hasPrefix(p, "/api/tasks"):
		return "task"
	}
	return "other"
}

func hasPrefix(s, p string) bool { return len(s) >= len(p) && s[:len(p)] == p }
func hasSuffix(s, p string) bool { return len(s) >= len(p) && s[len(s)-len(p):] == p }

func (s *Server) debugEnabled() bool {
	switch l := s.log.(type) {
	case *logrus.Logger:
		return l.IsLevelEnabled(logrus.DebugLevel)
	case *logrus.Entry:
		return l.Logger.IsLevelEnabled(logrus.DebugLevel)
	}
	return true
}

// statusWriter remembers the status code for the request log.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (s *Server) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !s.enter() {
			w.Header().Set("Connection", "close")
			writeEmpty(w, http.StatusServiceUnavailable)
			return
		}
		defer s.exit()
		release, ok := s.acquireSlot(r.Context())
		if !ok {
			w.Header().Set("Connection", "close")
			writeEmpty(w, http.StatusServiceUnavailable)
			return
		}
		defer release()
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		group := groupOf(r)
		if group == "token" && s.auth != nil {
			// Counted around the whole request (injected latency
			// included) so that overlapping token fetches show.
			done := s.auth.enter()
			defer done()
		}
		s.serveWithFaults(sw, r, next, group)
		if s.debugEnabled() {
			s.log.WithFields(logrus.Fields{
				"method":   r.Method,
				"path":     r.URL.Path,
				"query":    r.URL.RawQuery,
				"status":   sw.status,
				"duration": time.Since(start).String(),
			}).Debug("conductortest: request")
		}
	})
}

// Unwrap lets the fault injector reach the connection's Hijacker.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
