package client

import (
	"context"
	"errors"
	"net/http"
	"strconv"
)

// DeleteWorkflowDef removes the definition of workflow name, version. An
// unknown definition is a 404 (ErrNotFound).
func (m *metadataClient) DeleteWorkflowDef(ctx context.Context, name string, version int) error {
	if name == "" {
		return errors.New("client: workflow name must not be empty")
	}
	_, err := m.c.do(ctx, call{method: http.MethodDelete, route: "/metadata/workflow/{name}/{version}",
		pathParams: map[string]string{"name": name, "version": strconv.Itoa(version)}, retry: true})
	return err
}
