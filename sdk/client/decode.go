package client

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/baton-go/baton/internal/fastjson"
	"github.com/baton-go/baton/internal/retry"
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
		return &retry.DecodeError{Endpoint: r.where(cl), ContentType: r.ctype, Err: err}
	}
	return nil
}

// decodeTask decodes the one task of a Poll or UpdateTaskV2 answer. A body
// that is a JSON object but not a task (a value out of range, a field of
// the wrong type) is a *TaskDecodeError naming the task and the field, so
// that the caller can fail that task; anything else is a *DecodeError.
func decodeTask(cl call, r *response, t *model.Task) error {
	err := decodeTasks(cl, r, t)
	if err == nil {
		return nil
	}
	var obj map[string]json.RawMessage
	if json.Unmarshal(r.body, &obj) != nil || obj == nil {
		return err
	}
	var de *retry.DecodeError
	errors.As(err, &de)
	return &TaskDecodeError{Endpoint: r.where(cl), Tasks: []UndecodableTask{describeBadTask(obj, r.body, de.Err)}}
}

// decodeBatch decodes the tasks of a batch poll answer one by one when the
// answer as a whole cannot be decoded: one task with a value Go cannot
// hold must not cost the others, which the server has already handed out
// (IN_PROGRESS) as well. It returns the tasks it could decode and, when
// some could not, a *TaskDecodeError for those. An answer that is not a
// JSON array at all is a *DecodeError, as before.
//
// count is how many tasks were asked for: the slice is made for as many as
// the answer can hold (a task takes well over 512 bytes of JSON), so that
// the decoder does not grow it step by step, copying every task each time.
// Its unused elements are zero values, which decoding into it treats as
// the zero value it requires.
func decodeBatch(cl call, r *response, count int) ([]model.Task, error) {
	var tasks []model.Task
	if n := min(count, len(r.body)/512+1); n > 1 {
		tasks = make([]model.Task, 0, n)
	}
	err := decodeTasks(cl, r, &tasks)
	if err == nil {
		return tasks, nil
	}
	var raws []json.RawMessage
	if json.Unmarshal(r.body, &raws) != nil {
		return nil, err
	}
	tasks = make([]model.Task, 0, len(raws))
	var bad []UndecodableTask
	for _, raw := range raws {
		var t model.Task
		terr := unmarshalTasks(raw, &t)
		if terr == nil {
			tasks = append(tasks, t)
			continue
		}
		var obj map[string]json.RawMessage
		_ = json.Unmarshal(raw, &obj)
		bad = append(bad, describeBadTask(obj, raw, terr))
	}
	if len(bad) == 0 {
		return tasks, nil
	}
	return tasks, &TaskDecodeError{Endpoint: r.where(cl), Tasks: bad}
}

// describeBadTask says which task failed to decode (its ids, when they are
// plain strings) and which field, from the decoder's error err.
func describeBadTask(obj map[string]json.RawMessage, raw []byte, err error) UndecodableTask {
	var u UndecodableTask
	str := func(key string) string {
		var s string
		if v, ok := obj[key]; ok && json.Unmarshal(v, &s) == nil {
			return s
		}
		return ""
	}
	u.TaskId, u.WorkflowInstanceId, u.TaskType = str("taskId"), str("workflowInstanceId"), str("taskType")
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		u.Field = te.Field
		if strings.HasPrefix(te.Value, "number") {
			if path, digits, ok := hugeNumber(raw); ok {
				u.Field = path
				u.Reason = fmt.Sprintf("field %s: the number %s is beyond what a float64 holds", path, digits)
				return u
			}
		}
		val := te.Value
		if len(val) > 40 {
			val = val[:40] + "..."
		}
		u.Reason = fmt.Sprintf("field %s: got %s, expected %s", te.Field, val, te.Type)
		return u
	}
	msg := err.Error()
	if len(msg) > 200 {
		msg = msg[:200] + "..."
	}
	u.Reason = "cannot decode the task: " + msg
	return u
}

// hugeNumber finds the first number in the JSON document raw that a
// float64 cannot hold, and returns its path ("inputData.order.id",
// "inputData.list[2]") and a short description of it (the number itself,
// or its first digits and its length when it is long).
func hugeNumber(raw []byte) (string, string, bool) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v interface{}
	if dec.Decode(&v) != nil {
		return "", "", false
	}
	var walk func(v interface{}, path string) (string, string, bool)
	walk = func(v interface{}, path string) (string, string, bool) {
		switch x := v.(type) {
		case json.Number:
			if _, err := strconv.ParseFloat(string(x), 64); err != nil {
				if len(x) > 24 {
					return path, fmt.Sprintf("%s... (%d characters)", x[:12], len(x)), true
				}
				return path, string(x), true
			}
		case map[string]interface{}:
			keys := make([]string, 0, len(x))
			for k := range x {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				p := k
				if path != "" {
					p = path + "." + k
				}
				if p, n, ok := walk(x[k], p); ok {
					return p, n, true
				}
			}
		case []interface{}:
			for i, e := range x {
				if p, n, ok := walk(e, fmt.Sprintf("%s[%d]", path, i)); ok {
					return p, n, true
				}
			}
		}
		return "", "", false
	}
	return walk(v, "")
}

// unmarshalTasks stores in *v, the zero value, what json.Unmarshal(data, v)
// would, or returns its error (see internal/fastjson).
func unmarshalTasks[T taskAnswer](data []byte, v *T) error {
	return fastjson.Unmarshal(data, v)
}
