package client

import (
	"bytes"
	"fmt"

	"github.com/baton-go/baton/internal/fastjson"
	"github.com/baton-go/baton/sdk/model"
)

// Decoding the tasks of the hot calls. Decoding tasks with encoding/json
// was the largest single cost left in a worker at full speed: about 17-28
// µs of CPU per task at batch 100 in profiles of test/bench, for the ~1.6
// KB of JSON of a dev-server task (its workflow task and task definition
// nested in it). The answers of Poll, BatchPoll and UpdateTaskV2 are
// therefore decoded with github.com/goccy/go-json, which decodes into the
// same Go values as encoding/json (numbers in interface{} as float64, keys
// matched regardless of case with the same Unicode folding, unknown fields
// skipped, a repeated key decoded again into the same field, null leaving
// non-nullable fields alone, invalid UTF-8 replaced by U+FFFD, the same
// depth limit), 3 to 6 times faster (BenchmarkTaskDecoders). Every other
// answer still goes through encoding/json (decodeJSON).
//
// The SDK must never accept less than before: an answer go-json refuses, or
// panics on, is decoded again by encoding/json from the zero value, and
// that decides, so its value or its error (and so the ErrDecode message) is
// exactly what it was before. An answer that both refuse is decoded twice,
// which only malformed answers cost.
//
// The opposite case, an answer go-json accepts and encoding/json refuses,
// is not checked at run time: that would take the second decoding on every
// answer. Such an answer would give the handler a task where the SDK used
// to report ErrDecode. FuzzTaskDecoders, the differential fuzz test, fails
// on it (as on any difference in the decoded values); none was found when
// this was written. A finding goes into its corpus and is handled here.

// taskAnswer is what the hot calls decode: a batch of tasks or one task.
type taskAnswer interface {
	[]model.Task | model.Task
}

// decodeTasks is decodeJSON for the answers of the hot calls: an empty
// body leaves *v alone, an answer that cannot be decoded is an error that
// matches ErrDecode and names the call and the content type. *v must be the
// zero value.
func decodeTasks[T taskAnswer](cl call, r *response, v *T) error {
	if len(bytes.TrimSpace(r.body)) == 0 {
		return nil
	}
	if err := unmarshalTasks(r.body, v); err != nil {
		return fmt.Errorf("%w: %s (content type %q): %v", ErrDecode, r.where(cl), r.ctype, err)
	}
	return nil
}

// unmarshalTasks stores in *v, the zero value, what json.Unmarshal(data, v)
// would, or returns its error (see internal/fastjson).
func unmarshalTasks[T taskAnswer](data []byte, v *T) error {
	return fastjson.Unmarshal(data, v)
}
