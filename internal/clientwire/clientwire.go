// Package clientwire hands the SDK's other packages the parts of an
// *client.APIClient that exist for their use, without exporting them to
// users: sdk/worker gets its base URL (for error hints) and a task client
// without retries; sdk/workflow/executor and sdk/taskdef get the workflow
// and metadata calls (internal/wfapi), which executor.WorkflowExecutor
// makes public.
//
// sdk/client embeds a Link in APIClient under an unexported alias: the field
// stays hidden and Link has no exported methods or fields, so nothing joins
// APIClient's public API, yet Link's unexported method is in APIClient's
// method set, and only this package can name it.
package clientwire

import (
	"time"

	"github.com/baton-go/baton/internal/wfapi"
)

// The limits of a batch poll (client.PollOptions documents them for users).
const (
	// MaxPollTimeout is the longest long-poll timeout Conductor accepts.
	MaxPollTimeout = 5 * time.Second
	// MaxPollCount is the most tasks one batch poll asks for: Conductor
	// 3.21 hands out at most 100 whatever the count, so asking for no more
	// gives the same batches on every server.
	MaxPollCount = 100
)

// Link is what an APIClient tells the SDK's other packages about itself.
type Link struct {
	baseURL        func() string
	withoutRetries func() any
	workflows      wfapi.Workflows
	metadata       wfapi.Metadata
}

// NewLink returns the Link of a client: baseURL returns its base URL,
// withoutRetries a *client.TaskClient whose calls make one attempt each,
// and workflows and metadata are its workflow and metadata calls.
func NewLink(baseURL func() string, withoutRetries func() any, workflows wfapi.Workflows, metadata wfapi.Metadata) Link {
	return Link{baseURL: baseURL, withoutRetries: withoutRetries, workflows: workflows, metadata: metadata}
}

func (l *Link) clientLink() *Link { return l }

// Workflows returns the workflow calls of c, an *client.APIClient; nil
// when c is something else.
func Workflows(c any) wfapi.Workflows {
	if l := linkOf(c); l != nil {
		return l.workflows
	}
	return nil
}

// Metadata returns the metadata calls of c, an *client.APIClient; nil when
// c is something else.
func Metadata(c any) wfapi.Metadata {
	if l := linkOf(c); l != nil {
		return l.metadata
	}
	return nil
}

type linked interface{ clientLink() *Link }

func linkOf(c any) *Link {
	if lc, ok := c.(linked); ok {
		if l := lc.clientLink(); l.baseURL != nil {
			return l
		}
	}
	return nil
}

// BaseURL is the base URL of c, an *client.APIClient (without trailing
// slash); "" when c is something else.
func BaseURL(c any) string {
	if l := linkOf(c); l != nil {
		return l.baseURL()
	}
	return ""
}

// TasksWithoutRetries returns the task API of c, an *client.APIClient, as
// a view whose calls make one attempt each (a rejected token is still
// refreshed and the request sent once more): the worker retries polls and
// results itself. T is *client.TaskClient; ok is false when c is not a
// client.
func TasksWithoutRetries[T any](c any) (tasks T, ok bool) {
	if l := linkOf(c); l != nil {
		tasks, ok = l.withoutRetries().(T)
	}
	return tasks, ok
}
