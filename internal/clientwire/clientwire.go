// Package clientwire hands sdk/worker the parts of an *client.APIClient that
// exist for the SDK's own use (its base URL for error hints, a task client
// without retries), without exporting them to users.
//
// sdk/client embeds a Link in APIClient under an unexported alias: the field
// stays hidden and Link has no exported methods or fields, so nothing joins
// APIClient's public API, yet Link's unexported method is in APIClient's
// method set, and only this package can name it.
package clientwire

// Link is what an APIClient tells the SDK's other packages about itself.
type Link struct {
	baseURL        func() string
	withoutRetries func() any
}

// NewLink returns the Link of a client: baseURL returns its base URL and
// withoutRetries a *client.TaskClient whose calls make one attempt each.
func NewLink(baseURL func() string, withoutRetries func() any) Link {
	return Link{baseURL: baseURL, withoutRetries: withoutRetries}
}

func (l *Link) clientLink() *Link { return l }

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
