package client

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	"github.com/baton-go/baton/internal/wfapi"
	"github.com/baton-go/baton/sdk/model"
)

// workflowClient is the workflow API (wfapi.Workflows), made public by
// sdk/workflow/executor.
type workflowClient struct{ c *APIClient }

var _ wfapi.Workflows = (*workflowClient)(nil)

// Start starts a workflow and returns its id. A start is not resent after
// the request may have reached the server, so that a lost answer cannot
// start the workflow twice; it is retried when the server could not be
// reached or asked to be called again later.
func (w *workflowClient) Start(ctx context.Context, req *model.StartWorkflowRequest) (string, error) {
	if req == nil || req.Name == "" {
		return "", errors.New("client: StartWorkflowRequest.Name must not be empty")
	}
	r := *req
	if r.Input == nil {
		r.Input = map[string]interface{}{}
	}
	send, err := w.prepareStartInput(ctx, &r)
	if err != nil {
		return "", err
	}
	body, err := jsonBody(send)
	if err != nil {
		return "", err
	}
	resp, err := w.c.do(ctx, call{method: http.MethodPost, route: "/workflow", body: body, retry: true})
	if err != nil {
		return "", err
	}
	return workflowID(resp)
}

// workflowID reads the text/plain id a start answers with; an empty answer
// is an error rather than an empty id the caller would go on to use.
func workflowID(resp *response) (string, error) {
	id := text(resp)
	if id == "" {
		return "", fmt.Errorf("%w: %s answered %d without a workflow id", ErrDecode, resp.endpoint, resp.status)
	}
	return id, nil
}

// Get returns a workflow execution, with its tasks when includeTasks.
func (w *workflowClient) Get(ctx context.Context, workflowID string, includeTasks bool) (*model.Workflow, error) {
	if workflowID == "" {
		return nil, errors.New("client: workflowID must not be empty")
	}
	q := url.Values{}
	q.Set("includeTasks", strconv.FormatBool(includeTasks))
	cl := call{method: http.MethodGet, route: "/workflow/{workflowId}", pathParams: map[string]string{"workflowId": workflowID},
		query: q, retry: true, idempotent: true}
	wf, err := callJSON(ctx, w.c, cl, model.Workflow{})
	if err != nil {
		return nil, err
	}
	if wf.WorkflowId == "" {
		return nil, fmt.Errorf("%w: workflow %s: empty answer", ErrDecode, workflowID)
	}
	if err := w.fetchWorkflowPayloads(ctx, &wf); err != nil {
		return nil, err
	}
	return &wf, nil
}

// Terminate ends a running workflow with the given reason.
func (w *workflowClient) Terminate(ctx context.Context, workflowID, reason string) error {
	if workflowID == "" {
		return errors.New("client: workflowID must not be empty")
	}
	q := url.Values{}
	if reason != "" {
		q.Set("reason", reason)
	}
	_, err := w.c.do(ctx, call{method: http.MethodDelete, route: "/workflow/{workflowId}", pathParams: map[string]string{"workflowId": workflowID},
		query: q, retry: true, idempotent: true})
	return err
}

// Delete removes a workflow execution from the server.
func (w *workflowClient) Delete(ctx context.Context, workflowID string) error {
	if workflowID == "" {
		return errors.New("client: workflowID must not be empty")
	}
	q := url.Values{}
	q.Set("archiveWorkflow", "false")
	_, err := w.c.do(ctx, call{method: http.MethodDelete, route: "/workflow/{workflowId}/remove", pathParams: map[string]string{"workflowId": workflowID},
		query: q, retry: true, idempotent: true})
	return err
}
