// Package model holds the wire types Baton exchanges with a Conductor server
// (tasks, task results, definitions, workflows) together with the handler
// signature and the conversion from what a handler returns to the result that
// is sent back.
//
// Field names and JSON tags follow the Conductor OSS server; unknown fields in
// server answers are ignored so that newer servers keep working.
package model
