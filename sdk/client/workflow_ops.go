package client

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/baton-go/baton/internal/wfapi"
	"github.com/baton-go/baton/sdk/model"
)

// This file holds the workflow management calls beyond start, get and
// terminate: pause, resume, restart, retry, rerun, skip, correlation-id
// look-ups, search, batch starts and start-and-wait. Each is one REST call
// of Conductor OSS (docs/migration.md lists them), answered alike by 3.21
// and 3.32 except where a method says otherwise.
//
// Calls that change a workflow are resent only when the request cannot
// have reached the server (retry: true, idempotent: false), so that a lost
// answer does not make the server act twice; reads are resent freely.

func (w *workflowClient) onWorkflow(ctx context.Context, method, route, workflowID string, q url.Values, body []byte, idempotent bool) (*response, error) {
	if workflowID == "" {
		return nil, errors.New("client: workflowID must not be empty")
	}
	return w.c.do(ctx, call{method: method, route: route, pathParams: map[string]string{"workflowId": workflowID},
		query: q, body: body, retry: true, idempotent: idempotent})
}

// Pause stops the server from scheduling further tasks of a running
// workflow; tasks already queued stay pollable. Pausing a finished workflow
// is a 409 (ErrConflict).
func (w *workflowClient) Pause(ctx context.Context, workflowID string) error {
	_, err := w.onWorkflow(ctx, http.MethodPut, "/workflow/{workflowId}/pause", workflowID, nil, nil, true)
	return err
}

// Resume lets a paused workflow go on. Resuming a workflow that is not
// paused is an error from the server (3.21 and 3.32 answer 500).
func (w *workflowClient) Resume(ctx context.Context, workflowID string) error {
	_, err := w.onWorkflow(ctx, http.MethodPut, "/workflow/{workflowId}/resume", workflowID, nil, nil, false)
	return err
}

// Restart runs a finished workflow again from its first task, under the
// same id, with the definition it ran with or, when useLatestDefinitions,
// the latest one. A running workflow is a 409 (ErrConflict).
func (w *workflowClient) Restart(ctx context.Context, workflowID string, useLatestDefinitions bool) error {
	q := url.Values{}
	q.Set("useLatestDefinitions", strconv.FormatBool(useLatestDefinitions))
	_, err := w.onWorkflow(ctx, http.MethodPost, "/workflow/{workflowId}/restart", workflowID, q, nil, false)
	return err
}

// Retry reschedules the last failed task of a failed or timed-out workflow
// and sets the workflow running again; with resumeSubworkflowTasks a failed
// sub-workflow is retried from its failed task instead of started anew.
func (w *workflowClient) Retry(ctx context.Context, workflowID string, resumeSubworkflowTasks bool) error {
	q := url.Values{}
	q.Set("resumeSubworkflowTasks", strconv.FormatBool(resumeSubworkflowTasks))
	_, err := w.onWorkflow(ctx, http.MethodPost, "/workflow/{workflowId}/retry", workflowID, q, nil, false)
	return err
}

// Rerun runs a workflow again from the task req.ReRunFromTaskId (from the
// start when empty), optionally with new input, and returns its id (the
// same workflow id).
func (w *workflowClient) Rerun(ctx context.Context, id string, req model.RerunWorkflowRequest) (string, error) {
	if req.ReRunFromWorkflowId == "" {
		req.ReRunFromWorkflowId = id
	}
	body, err := jsonBody(&req)
	if err != nil {
		return "", err
	}
	resp, err := w.onWorkflow(ctx, http.MethodPost, "/workflow/{workflowId}/rerun", id, nil, body, false)
	if err != nil {
		return "", err
	}
	return workflowID(resp)
}

// SkipTask marks the task taskRefName of a running workflow SKIPPED (it is
// not run, or stops counting if scheduled) and lets the workflow go on.
func (w *workflowClient) SkipTask(ctx context.Context, workflowID, taskRefName string) error {
	if workflowID == "" || taskRefName == "" {
		return fmt.Errorf("client: SkipTask needs a workflowID and a taskRefName (got %q, %q)", workflowID, taskRefName)
	}
	_, err := w.c.do(ctx, call{method: http.MethodPut, route: "/workflow/{workflowId}/skiptask/{taskReferenceName}",
		pathParams: map[string]string{"workflowId": workflowID, "taskReferenceName": taskRefName}, retry: true})
	return err
}

// correlationValues is q as query parameters.
func correlationValues(q wfapi.CorrelationQuery) url.Values {
	v := url.Values{}
	v.Set("includeClosed", strconv.FormatBool(q.IncludeClosed))
	v.Set("includeTasks", strconv.FormatBool(q.IncludeTasks))
	return v
}

// ByCorrelationIDs returns, for each correlation id, the executions of
// workflow name started with it, in one request.
func (w *workflowClient) ByCorrelationIDs(ctx context.Context, name string, correlationIDs []string, q wfapi.CorrelationQuery) (map[string][]model.Workflow, error) {
	if name == "" {
		return nil, errors.New("client: workflow name must not be empty")
	}
	if correlationIDs == nil {
		correlationIDs = []string{}
	}
	body, err := jsonBody(correlationIDs)
	if err != nil {
		return nil, err
	}
	cl := call{method: http.MethodPost, route: "/workflow/{name}/correlated", pathParams: map[string]string{"name": name},
		query: correlationValues(q), body: body, retry: true, idempotent: true}
	out, err := callJSON(ctx, w.c, cl, map[string][]model.Workflow{})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Search returns the workflows matching q.
func (w *workflowClient) Search(ctx context.Context, q wfapi.SearchQuery) (*model.WorkflowSearchResult, error) {
	v := url.Values{}
	if q.Start > 0 {
		v.Set("start", strconv.Itoa(q.Start))
	}
	if q.Size > 0 {
		v.Set("size", strconv.Itoa(q.Size))
	}
	if q.Sort != "" {
		v.Set("sort", q.Sort)
	}
	if q.FreeText != "" {
		v.Set("freeText", q.FreeText)
	}
	if q.Query != "" {
		v.Set("query", q.Query)
	}
	cl := call{method: http.MethodGet, route: "/workflow/search", query: v, retry: true, idempotent: true}
	out, err := callJSON(ctx, w.c, cl, model.WorkflowSearchResult{})
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// Running returns the ids of the running executions of workflow name,
// version (0 = the server's default, version 1).
func (w *workflowClient) Running(ctx context.Context, name string, version int) ([]string, error) {
	if name == "" {
		return nil, errors.New("client: workflow name must not be empty")
	}
	q := url.Values{}
	if version > 0 {
		q.Set("version", strconv.Itoa(version))
	}
	cl := call{method: http.MethodGet, route: "/workflow/running/{name}", pathParams: map[string]string{"name": name},
		query: q, retry: true, idempotent: true}
	out, err := callJSON(ctx, w.c, cl, []string{})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// StartMany starts each request, at most parallel at a time (0 = 4), and
// returns one result per request in the same order. Conductor has no batch
// start endpoint, so these are separate starts: some may succeed while
// others fail, and each result says which.
func (w *workflowClient) StartMany(ctx context.Context, reqs []*model.StartWorkflowRequest, parallel int) []wfapi.StartResult {
	if parallel <= 0 {
		parallel = 4
	}
	out := make([]wfapi.StartResult, len(reqs))
	var g errgroup.Group
	g.SetLimit(parallel)
	for i, r := range reqs {
		g.Go(func() error {
			id, err := w.Start(ctx, r)
			out[i] = wfapi.StartResult{WorkflowID: id, Err: err}
			return nil
		})
	}
	_ = g.Wait()
	return out
}

// StartAndWait starts a workflow and waits until it has finished (or the
// task o.UntilTaskRef has), returning the workflow with its tasks. ctx
// bounds the wait: when it ends first, the error wraps ctx.Err() and the
// workflow, still running, is returned with it so that the caller has its
// id.
//
// It watches the workflow from the client, so it works on every server;
// Execute uses the server's own synchronous endpoint where there is one.
func (w *workflowClient) StartAndWait(ctx context.Context, req *model.StartWorkflowRequest, o wfapi.WaitOptions) (*model.Workflow, error) {
	id, err := w.Start(ctx, req)
	if err != nil {
		return nil, err
	}
	return w.Wait(ctx, id, o)
}

// Wait waits until the workflow has finished (or the task o.UntilTaskRef
// has) and returns it with its tasks; see StartAndWait.
func (w *workflowClient) Wait(ctx context.Context, workflowID string, o wfapi.WaitOptions) (*model.Workflow, error) {
	every := o.Every
	if every <= 0 {
		every = 200 * time.Millisecond
	}
	t := time.NewTimer(0)
	defer t.Stop()
	var last *model.Workflow
	for {
		select {
		case <-ctx.Done():
			if last == nil {
				return nil, fmt.Errorf("client: waiting for workflow %s: %w", workflowID, ctx.Err())
			}
			return last, fmt.Errorf("client: workflow %s still %s: %w", workflowID, last.Status, ctx.Err())
		case <-t.C:
		}
		wf, err := w.Get(ctx, workflowID, true)
		if err != nil {
			if ctx.Err() != nil && last != nil {
				return last, fmt.Errorf("client: workflow %s still %s: %w", workflowID, last.Status, ctx.Err())
			}
			return nil, err
		}
		last = wf
		if wf.Status.Terminal() || taskDone(wf, o.UntilTaskRef) {
			return wf, nil
		}
		t.Reset(every)
	}
}

func taskDone(wf *model.Workflow, ref string) bool {
	if ref == "" {
		return false
	}
	for _, t := range wf.Tasks {
		if t.ReferenceTaskName == ref && t.Status.Terminal() {
			return true
		}
	}
	return false
}

// Execute starts a workflow and lets the server wait for it: the answer
// comes when the workflow has finished, is blocked at a WAIT task or at one
// of o.WaitUntilTaskRefs, or when o.WaitFor has passed (SignalTimeout set).
// The endpoint exists from Conductor 3.21.23 on (3.32.3 has it); on older
// servers such as 3.21.14 nothing is started and the error matches
// ErrNotSupported, after which StartAndWait does the same from the client.
func (w *workflowClient) Execute(ctx context.Context, req *model.StartWorkflowRequest, o wfapi.ExecuteOptions) (*model.SignalResponse, error) {
	if req == nil || req.Name == "" {
		return nil, errors.New("client: StartWorkflowRequest.Name must not be empty")
	}
	r := *req
	if r.Input == nil {
		r.Input = map[string]interface{}{}
	}
	body, err := jsonBody(&r)
	if err != nil {
		return nil, err
	}
	q := url.Values{}
	for i, ref := range o.WaitUntilTaskRefs {
		if i == 0 {
			q.Set("waitUntilTaskRef", ref)
		} else {
			q.Set("waitUntilTaskRef", q.Get("waitUntilTaskRef")+","+ref)
		}
	}
	if s := int(o.WaitFor.Round(time.Second) / time.Second); s > 0 {
		q.Set("waitForSeconds", strconv.Itoa(s))
	}
	if o.RequestID != "" {
		q.Set("requestId", o.RequestID)
	}
	cl := call{method: http.MethodPost, route: "/workflow/execute/{name}/{version}",
		pathParams: map[string]string{"name": r.Name, "version": strconv.Itoa(r.Version)},
		query:      q, body: body, retry: true, extra: o.WaitFor}
	if o.WaitFor <= 0 {
		cl.extra = 10 * time.Second
	}
	resp, err := w.c.do(ctx, cl)
	if err != nil {
		var ae *APIError
		if errors.As(err, &ae) && endpointMissing(ae) {
			return nil, fmt.Errorf("%w: %w", ErrNotSupported, err)
		}
		return nil, err
	}
	var out model.SignalResponse
	if err := decodeJSON(cl, resp, &out); err != nil {
		return nil, err
	}
	if out.WorkflowId == "" && out.TargetWorkflowId == "" {
		return nil, fmt.Errorf("%w: %s answered %d without a workflow id", ErrDecode, resp.endpoint, resp.status)
	}
	return &out, nil
}
