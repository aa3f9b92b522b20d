package metrics_test

import (
	"github.com/baton-go/baton/sdk/client"
	"github.com/baton-go/baton/sdk/metrics"
)

// The recorder plugs into the HTTP client as its observer
// (client.WithObserver). metrics does not import client; this external test
// keeps the two method sets in step.
var _ client.Observer = (*metrics.Prometheus)(nil)
