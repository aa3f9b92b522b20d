package client

import (
	"encoding/json"
	"strconv"

	"github.com/baton-go/baton/internal/plainjson"
	"github.com/baton-go/baton/sdk/model"
)

// appendResult appends the JSON of r exactly as json.Marshal(r) writes it
// (the same fields in the same order, the same omissions, the same string
// escaping with HTML characters escaped), without reflection over the
// struct, and output data made of plain JSON values (maps, slices, strings,
// numbers, booleans) without reflection either: encoding results was a
// tenth of a worker's CPU per task in a pprof of make bench-conductor.
// Other output and the logs go through json.Marshal. FuzzResultEncoding
// holds it to json.Marshal byte for byte.
func appendResult(dst []byte, r *model.TaskResult) ([]byte, error) {
	dst = append(dst, `{"workflowInstanceId":`...)
	dst = plainjson.AppendString(dst, r.WorkflowInstanceId)
	dst = append(dst, `,"taskId":`...)
	dst = plainjson.AppendString(dst, r.TaskId)
	if r.ReasonForIncompletion != "" {
		dst = append(dst, `,"reasonForIncompletion":`...)
		dst = plainjson.AppendString(dst, r.ReasonForIncompletion)
	}
	if r.CallbackAfterSeconds != 0 {
		dst = append(dst, `,"callbackAfterSeconds":`...)
		dst = strconv.AppendInt(dst, r.CallbackAfterSeconds, 10)
	}
	if r.WorkerId != "" {
		dst = append(dst, `,"workerId":`...)
		dst = plainjson.AppendString(dst, r.WorkerId)
	}
	if r.Status != "" {
		dst = append(dst, `,"status":`...)
		dst = plainjson.AppendString(dst, string(r.Status))
	}
	dst = append(dst, `,"outputData":`...)
	if out, ok := plainjson.Append(dst, r.OutputData); ok {
		dst = out
	} else {
		b, err := json.Marshal(r.OutputData)
		if err != nil {
			return nil, err
		}
		dst = append(dst, b...)
	}
	if len(r.Logs) > 0 {
		b, err := json.Marshal(r.Logs)
		if err != nil {
			return nil, err
		}
		dst = append(dst, `,"logs":`...)
		dst = append(dst, b...)
	}
	if r.ExtendLease {
		dst = append(dst, `,"extendLease":true`...)
	}
	if r.ExternalOutputPayloadStoragePath != "" {
		dst = append(dst, `,"externalOutputPayloadStoragePath":`...)
		dst = plainjson.AppendString(dst, r.ExternalOutputPayloadStoragePath)
	}
	if r.SubWorkflowId != "" {
		dst = append(dst, `,"subWorkflowId":`...)
		dst = plainjson.AppendString(dst, r.SubWorkflowId)
	}
	return append(dst, '}'), nil
}
