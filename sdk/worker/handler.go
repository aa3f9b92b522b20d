package worker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"

	"github.com/baton-go/baton/sdk/model"
)

// HandlerFunc is the context-first handler. ctx carries the task, a logger
// with the task's fields, an idempotency key (see the *FromContext
// functions) and a deadline when the task definition has a timeout; it is
// cancelled with cause ErrShutdown when a shutdown deadline passes.
//
// What it returns becomes the task's result:
// (value, nil) completes the task with value as output (it must encode to a
// JSON object); (nil, err) fails it with err's text, or with
// FAILED_WITH_TERMINAL_ERROR when err wraps Terminal(...); a *model.TaskResult
// or model.TaskResult is sent as it is (IN_PROGRESS with
// CallbackAfterSeconds asks the server to hand the task back later). A panic
// fails the task with the panic value and a trimmed stack.
type HandlerFunc func(ctx context.Context, t *model.Task) (interface{}, error)

// fromExecuteFunc adapts the original SDK's handler signature.
func fromExecuteFunc(fn model.ExecuteTaskFunction) HandlerFunc {
	return func(_ context.Context, t *model.Task) (interface{}, error) { return fn(t) }
}

// Typed adapts a function over typed input and output. The task's input is
// decoded into In as encoding/json would decode the task's inputData object;
// a value that does not fit fails the task with FAILED_WITH_TERMINAL_ERROR
// (retrying cannot fix the input) and a reason naming the field. The returned
// Out is encoded as the task's output, so it must encode to a JSON object
// (a struct, a map or a pointer to one). Out may also be *model.TaskResult.
func Typed[In, Out any](fn func(ctx context.Context, in In) (Out, error)) HandlerFunc {
	return func(ctx context.Context, t *model.Task) (interface{}, error) {
		var in In
		if err := decodeInput(t.InputData, &in, reflect.TypeFor[In]().String()); err != nil {
			return nil, model.NewNonRetryableError(err)
		}
		out, err := fn(ctx, in)
		return out, err
	}
}

func decodeInput(data map[string]interface{}, into interface{}, typeName string) error {
	if m, ok := into.(*map[string]interface{}); ok {
		*m = data
		return nil
	}
	raw, err := json.Marshal(data)
	if err != nil {
		return fmt.Errorf("task input cannot be encoded: %v", err)
	}
	if err := json.Unmarshal(raw, into); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			field := te.Field
			if field == "" {
				field = "(whole input)"
			}
			return fmt.Errorf("task input field %q: cannot decode a JSON %s into %s (decoding into %s)", field, te.Value, te.Type, typeName)
		}
		return fmt.Errorf("task input cannot be decoded into %s: %v", typeName, err)
	}
	return nil
}
