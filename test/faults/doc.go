// Package faults is Baton's fault suite: the runner and client against the
// in-memory dev server (sdk/conductortest) with its fault injection switched
// on: outages, injected error statuses, dropped and mangled answers, short
// token lifetimes, misbehaving handlers, over-delivery and SIGTERM. Each
// scenario asserts from the server's side that no result was lost, and logs
// the numbers it measured (tasks, retries, duplicates, recovery time).
//
// Run it with `make test-faults` (or as part of `make test`); it takes a few
// minutes. With -short (`make test-short`) every scenario is skipped.
package faults
