package client

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"github.com/baton-go/baton/internal/wfapi"
	"github.com/baton-go/baton/sdk/model"
)

// metadataClient is the metadata API (wfapi.Metadata): task and workflow
// definitions, made public by sdk/workflow/executor and used by
// sdk/taskdef.
type metadataClient struct{ c *APIClient }

var _ wfapi.Metadata = (*metadataClient)(nil)

// RegisterTaskDefs creates or replaces task definitions.
func (m *metadataClient) RegisterTaskDefs(ctx context.Context, defs ...model.TaskDef) error {
	if len(defs) == 0 {
		return errors.New("client: RegisterTaskDefs needs at least one definition")
	}
	for i, d := range defs {
		if d.Name == "" {
			return fmt.Errorf("client: TaskDef[%d].Name must not be empty", i)
		}
	}
	body, err := jsonBody(defs)
	if err != nil {
		return err
	}
	_, err = m.c.do(ctx, call{method: http.MethodPost, route: "/metadata/taskdefs", body: body, retry: true, idempotent: true})
	return err
}

// UpdateTaskDef replaces an existing task definition; ErrNotFound when
// there is none by that name.
func (m *metadataClient) UpdateTaskDef(ctx context.Context, def model.TaskDef) error {
	if def.Name == "" {
		return errors.New("client: TaskDef.Name must not be empty")
	}
	body, err := jsonBody(def)
	if err != nil {
		return err
	}
	_, err = m.c.do(ctx, call{method: http.MethodPut, route: "/metadata/taskdefs", body: body, retry: true, idempotent: true})
	return err
}

// GetTaskDef returns a task definition; ErrNotFound when unknown.
func (m *metadataClient) GetTaskDef(ctx context.Context, name string) (*model.TaskDef, error) {
	if name == "" {
		return nil, errors.New("client: task definition name must not be empty")
	}
	cl := call{method: http.MethodGet, route: "/metadata/taskdefs/{name}", pathParams: map[string]string{"name": name}, retry: true, idempotent: true}
	def, err := callJSON(ctx, m.c, cl, model.TaskDef{})
	if err != nil {
		return nil, err
	}
	return &def, nil
}

// RegisterWorkflowDef creates one workflow definition; ErrConflict when that
// name and version exist already (use UpdateWorkflowDefs to replace).
func (m *metadataClient) RegisterWorkflowDef(ctx context.Context, def *model.WorkflowDef) error {
	if def == nil || def.Name == "" {
		return errors.New("client: WorkflowDef.Name must not be empty")
	}
	body, err := jsonBody(def)
	if err != nil {
		return err
	}
	_, err = m.c.do(ctx, call{method: http.MethodPost, route: "/metadata/workflow", body: body, retry: true})
	return err
}

// UpdateWorkflowDefs creates or replaces workflow definitions.
func (m *metadataClient) UpdateWorkflowDefs(ctx context.Context, defs ...model.WorkflowDef) error {
	if len(defs) == 0 {
		return errors.New("client: UpdateWorkflowDefs needs at least one definition")
	}
	for i, d := range defs {
		if d.Name == "" {
			return fmt.Errorf("client: WorkflowDef[%d].Name must not be empty", i)
		}
	}
	body, err := jsonBody(defs)
	if err != nil {
		return err
	}
	cl := call{method: http.MethodPut, route: "/metadata/workflow", body: body, retry: true, idempotent: true}
	resp, err := m.c.do(ctx, cl)
	if err != nil {
		return err
	}
	// The answer is a BulkResponse; a server may accept some definitions
	// and refuse others, which must not pass as success.
	var bulk model.BulkResponse
	if err := decodeJSON(cl, resp, &bulk); err != nil {
		return err
	}
	if len(bulk.BulkErrorResults) > 0 {
		names := make([]string, 0, len(bulk.BulkErrorResults))
		for name := range bulk.BulkErrorResults {
			names = append(names, name)
		}
		sort.Strings(names)
		parts := make([]string, len(names))
		for i, name := range names {
			parts[i] = fmt.Sprintf("%s: %s", name, bulk.BulkErrorResults[name])
		}
		return fmt.Errorf("client: the server refused %d of %d workflow definitions: %s", len(names), len(defs), strings.Join(parts, "; "))
	}
	return nil
}

// GetWorkflowDef returns a workflow definition (version 0 = latest).
func (m *metadataClient) GetWorkflowDef(ctx context.Context, name string, version int) (*model.WorkflowDef, error) {
	if name == "" {
		return nil, errors.New("client: workflow definition name must not be empty")
	}
	q := url.Values{}
	if version > 0 {
		q.Set("version", strconv.Itoa(version))
	}
	cl := call{method: http.MethodGet, route: "/metadata/workflow/{name}", pathParams: map[string]string{"name": name}, query: q, retry: true, idempotent: true}
	def, err := callJSON(ctx, m.c, cl, model.WorkflowDef{})
	if err != nil {
		return nil, err
	}
	return &def, nil
}
