// Package taskdef builds task definitions from typed handlers and registers
// them.
//
// A worker.Typed handler already says what its input and output look like;
// Typed turns that into the task definition (with JSON Schemas for input and
// output, from github.com/invopop/jsonschema), and Ensure registers it once,
// idempotently, when the worker starts:
//
//	def, err := taskdef.Typed("greet", Greet, taskdef.Retry(3, 10*time.Second, ""))
//	...
//	outcome, err := taskdef.Ensure(ctx, apiClient, def, taskdef.EnsureOwnerEmail("team@example.com"))
//
// It is a package of its own so that a worker that does not use it does not
// link the JSON Schema library.
package taskdef

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"time"

	"github.com/invopop/jsonschema"

	"github.com/baton-go/baton/internal/clientwire"
	"github.com/baton-go/baton/sdk/client"
	"github.com/baton-go/baton/sdk/model"
)

// Values Typed uses for what no option sets: the defaults the
// Conductor server gives a task type that has no definition, so that
// registering a definition changes nothing but the schemas.
const (
	RetryCountDefault      = 3
	RetryDelayDefault      = 60 * time.Second
	ResponseTimeoutDefault = time.Hour
)

// Option sets a field of the definition Typed builds.
type Option func(*model.TaskDef) error

// Description sets the description.
func Description(s string) Option {
	return func(d *model.TaskDef) error { d.Description = s; return nil }
}

// Retry sets how the server retries a failed task: count retries,
// delay apart (whole seconds), with logic FIXED (""), EXPONENTIAL_BACKOFF or
// LINEAR_BACKOFF.
func Retry(count int, delay time.Duration, logic string) Option {
	return func(d *model.TaskDef) error {
		if count < 0 {
			return fmt.Errorf("retryCount must be >= 0, got %d", count)
		}
		if delay < 0 || delay%time.Second != 0 {
			return fmt.Errorf("retry delay must be a whole number of seconds >= 0, got %v", delay)
		}
		switch logic {
		case "":
			logic = model.RetryFixed
		case model.RetryFixed, model.RetryExponentialBackoff, model.RetryLinearBackoff:
		default:
			return fmt.Errorf("retryLogic must be %s, %s or %s, got %q", model.RetryFixed, model.RetryExponentialBackoff, model.RetryLinearBackoff, logic)
		}
		d.RetryCount, d.RetryDelaySeconds, d.RetryLogic = count, int(delay/time.Second), logic
		return nil
	}
}

// Timeouts sets timeoutSeconds (the whole task, 0 = none) and
// responseTimeoutSeconds (how long a worker may go silent; the runner
// extends the lease while a handler runs), in whole seconds.
func Timeouts(timeout, responseTimeout time.Duration) Option {
	return func(d *model.TaskDef) error {
		if timeout < 0 || timeout%time.Second != 0 {
			return fmt.Errorf("timeout must be a whole number of seconds >= 0, got %v", timeout)
		}
		if responseTimeout < time.Second || responseTimeout%time.Second != 0 {
			return fmt.Errorf("response timeout must be a whole number of seconds >= 1s, got %v", responseTimeout)
		}
		if timeout > 0 && responseTimeout > timeout {
			return fmt.Errorf("response timeout %v must not exceed the timeout %v", responseTimeout, timeout)
		}
		d.TimeoutSeconds, d.ResponseTimeoutSeconds = int64(timeout/time.Second), int64(responseTimeout/time.Second)
		return nil
	}
}

// OwnerEmail sets ownerEmail (Conductor 3.21 requires one; 3.32 does not).
func OwnerEmail(email string) Option {
	return func(d *model.TaskDef) error { d.OwnerEmail = email; return nil }
}

// EnforceSchema asks the server to check task input and output
// against the schemas (where it supports that).
func EnforceSchema() Option {
	return func(d *model.TaskDef) error { d.EnforceSchema = true; return nil }
}

// Typed returns the definition of task type name for a handler over
// In and Out (the function given to Typed): JSON Schemas generated from the
// two types (field names as encoding/json spells them; a field is required
// only when tagged `jsonschema:"required"`, since Typed accepts missing
// fields; other properties are allowed), the server's defaults for retries
// and timeouts unless options say otherwise.
func Typed[In, Out any](name string, _ func(context.Context, In) (Out, error), opts ...Option) (model.TaskDef, error) {
	if name == "" {
		return model.TaskDef{}, errors.New("taskdef: Typed: name must not be empty")
	}
	def := model.TaskDef{
		Name:                   name,
		RetryCount:             RetryCountDefault,
		RetryLogic:             model.RetryFixed,
		RetryDelaySeconds:      int(RetryDelayDefault / time.Second),
		ResponseTimeoutSeconds: int64(ResponseTimeoutDefault / time.Second),
		TimeoutPolicy:          model.TimeoutPolicyTimeOutWF,
	}
	for _, o := range opts {
		if err := o(&def); err != nil {
			return model.TaskDef{}, fmt.Errorf("taskdef: Typed %q: %w", name, err)
		}
	}
	var err error
	if def.InputSchema, err = schemaOf(reflect.TypeFor[In](), name+"_input"); err != nil {
		return model.TaskDef{}, fmt.Errorf("taskdef: Typed %q: input: %w", name, err)
	}
	if def.OutputSchema, err = schemaOf(reflect.TypeFor[Out](), name+"_output"); err != nil {
		return model.TaskDef{}, fmt.Errorf("taskdef: Typed %q: output: %w", name, err)
	}
	return def, nil
}

// schemaOf generates the JSON Schema of t with invopop/jsonschema, inline
// (no $ref), as a map the server stores. A *model.TaskResult output has no
// schema: the handler reports the result itself.
func schemaOf(t reflect.Type, name string) (_ *model.SchemaDef, err error) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == reflect.TypeFor[model.TaskResult]() {
		return nil, nil
	}
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("cannot describe %v as a JSON Schema: %v", t, v)
		}
	}()
	r := jsonschema.Reflector{
		DoNotReference:             true,
		ExpandedStruct:             true,
		AllowAdditionalProperties:  true,
		RequiredFromJSONSchemaTags: true,
		Anonymous:                  true,
	}
	s := r.ReflectFromType(t)
	s.Version = "" // the server keeps the schema as data; no meta-schema URL
	raw, err := json.Marshal(s)
	if err != nil {
		return nil, err
	}
	var data map[string]interface{}
	if err := json.Unmarshal(raw, &data); err != nil {
		return nil, err
	}
	return &model.SchemaDef{Name: name, Version: 1, Type: "JSON", Data: data}, nil
}

// Outcome says what Ensure did.
type Outcome string

const (
	Created     Outcome = "created"     // there was no definition
	Updated     Outcome = "updated"     // same settings; schemas, description or enforceSchema brought up to date
	Unchanged   Outcome = "unchanged"   // the server's definition already matched
	Overwritten Outcome = "overwritten" // settings differed and EnsureOverwrite allowed replacing them
)

// ErrConflict is returned (wrapped, with the differing fields) when
// the server's definition has other retry, timeout or owner settings than
// the code's, and EnsureOverwrite was not given.
var ErrConflict = errors.New("taskdef: the server's task definition differs from the code's")

// EnsureOption changes what Ensure does.
type EnsureOption func(*ensureConfig)

type ensureConfig struct {
	overwrite  bool
	ownerEmail string
}

// EnsureOverwrite lets Ensure replace retry, timeout and owner
// settings that differ on the server (an operator may have changed them on
// purpose: without this, the difference is reported and nothing is
// written).
func EnsureOverwrite() EnsureOption { return func(c *ensureConfig) { c.overwrite = true } }

// EnsureOwnerEmail is the ownerEmail used when the definition has none
// (Conductor OSS requires one; Orkes fills it from the key's user).
func EnsureOwnerEmail(email string) EnsureOption {
	return func(c *ensureConfig) { c.ownerEmail = email }
}

// Ensure makes the server's definition of def.Name match def, and is
// safe to call on every start:
//   - no definition: def is registered (Created);
//   - same retry, timeout and owner settings: nothing is written when the
//     schemas, description and enforceSchema match too (Unchanged),
//     else those are updated (Updated);
//   - other settings: an error matching ErrConflict that lists them,
//     and nothing is written, unless EnsureOverwrite (Overwritten).
//
// Fields def does not manage (rate and concurrency limits, input template,
// ...) keep the server's values on update.
func Ensure(ctx context.Context, apiClient *client.APIClient, def model.TaskDef, opts ...EnsureOption) (Outcome, error) {
	if apiClient == nil {
		apiClient = client.NewAPIClient(nil, nil) // every call says the client is missing
	}
	md := clientwire.Metadata(apiClient)
	var c ensureConfig
	for _, o := range opts {
		o(&c)
	}
	if def.Name == "" {
		return "", errors.New("taskdef: Ensure: def.Name must not be empty")
	}
	if def.OwnerEmail == "" {
		def.OwnerEmail = c.ownerEmail
	}
	cur, err := md.GetTaskDef(ctx, def.Name)
	if errors.Is(err, client.ErrNotFound) {
		if err := md.RegisterTaskDefs(ctx, def); err != nil {
			return "", registerError(def, err)
		}
		return Created, nil
	}
	if err != nil {
		return "", fmt.Errorf("taskdef: Ensure %q: reading the server's definition: %w", def.Name, err)
	}
	diffs := settingDiffs(cur, &def)
	if len(diffs) > 0 && !c.overwrite {
		return "", fmt.Errorf("%w: task type %q: %s (pass taskdef.EnsureOverwrite() to replace them)", ErrConflict, def.Name, strings.Join(diffs, "; "))
	}
	if len(diffs) == 0 && sameContract(cur, &def) {
		return Unchanged, nil
	}
	merged := *cur
	merged.Description = def.Description
	merged.InputSchema, merged.OutputSchema, merged.EnforceSchema = def.InputSchema, def.OutputSchema, def.EnforceSchema
	merged.RetryCount, merged.RetryLogic, merged.RetryDelaySeconds = def.RetryCount, def.RetryLogic, def.RetryDelaySeconds
	merged.TimeoutSeconds, merged.ResponseTimeoutSeconds, merged.TimeoutPolicy = def.TimeoutSeconds, def.ResponseTimeoutSeconds, def.TimeoutPolicy
	if def.OwnerEmail != "" {
		merged.OwnerEmail = def.OwnerEmail
	}
	if err := md.UpdateTaskDef(ctx, merged); err != nil {
		return "", registerError(def, err)
	}
	if len(diffs) > 0 {
		return Overwritten, nil
	}
	return Updated, nil
}

func registerError(def model.TaskDef, err error) error {
	if def.OwnerEmail == "" && strings.Contains(err.Error(), "ownerEmail") {
		return fmt.Errorf("taskdef: Ensure %q: the server requires an ownerEmail: set it with taskdef.EnsureOwnerEmail or OwnerEmail: %w", def.Name, err)
	}
	return fmt.Errorf("taskdef: Ensure %q: %w", def.Name, err)
}

// settingDiffs lists the settings (not the contract) in which the server's
// definition differs from the code's.
func settingDiffs(cur, want *model.TaskDef) []string {
	var out []string
	diff := func(field string, server, code interface{}) {
		if fmt.Sprint(server) != fmt.Sprint(code) {
			out = append(out, fmt.Sprintf("%s is %v on the server, %v in the code", field, server, code))
		}
	}
	diff("retryCount", cur.RetryCount, want.RetryCount)
	diff("retryLogic", orDefault(cur.RetryLogic, model.RetryFixed), orDefault(want.RetryLogic, model.RetryFixed))
	diff("retryDelaySeconds", cur.RetryDelaySeconds, want.RetryDelaySeconds)
	diff("timeoutSeconds", cur.TimeoutSeconds, want.TimeoutSeconds)
	diff("responseTimeoutSeconds", cur.ResponseTimeoutSeconds, want.ResponseTimeoutSeconds)
	diff("timeoutPolicy", orDefault(cur.TimeoutPolicy, model.TimeoutPolicyTimeOutWF), orDefault(want.TimeoutPolicy, model.TimeoutPolicyTimeOutWF))
	if want.OwnerEmail != "" && cur.OwnerEmail != "" {
		diff("ownerEmail", cur.OwnerEmail, want.OwnerEmail)
	}
	return out
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

// sameContract compares what the code owns outright: schemas, description
// and enforceSchema.
func sameContract(cur, want *model.TaskDef) bool {
	return cur.Description == want.Description && cur.EnforceSchema == want.EnforceSchema &&
		sameSchema(cur.InputSchema, want.InputSchema) && sameSchema(cur.OutputSchema, want.OutputSchema)
}

func sameSchema(a, b *model.SchemaDef) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	// encoding/json sorts map keys, so equal data encodes equally.
	ja, errA := json.Marshal(a)
	jb, errB := json.Marshal(b)
	return errA == nil && errB == nil && string(ja) == string(jb)
}
