package worker

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/baton-go/baton/sdk/model"
)

type mwKey struct{}

// recordingMW notes its name on the way in and out, and adds it to a ctx
// value the handler can see.
func recordingMW(name string, mu *sync.Mutex, trail *[]string) Middleware {
	return func(next HandlerFunc) HandlerFunc {
		return func(ctx context.Context, t *model.Task) (interface{}, error) {
			mu.Lock()
			*trail = append(*trail, "in:"+name)
			mu.Unlock()
			prev, _ := ctx.Value(mwKey{}).(string)
			out, err := next(context.WithValue(ctx, mwKey{}, prev+name), t)
			mu.Lock()
			*trail = append(*trail, "out:"+name)
			mu.Unlock()
			return out, err
		}
	}
}

func TestMiddlewareWrapsHandlersInOrder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		var trail []string
		b := setup(t, WithMiddleware(recordingMW("a", &mu, &trail), recordingMW("b", &mu, &trail)), WithMiddleware(recordingMW("c", &mu, &trail)))
		h := func(ctx context.Context, task *model.Task) (interface{}, error) {
			mu.Lock()
			trail = append(trail, "handler")
			mu.Unlock()
			// The handler's own context values survive the wrapping.
			if TaskFromContext(ctx) != task {
				return nil, errors.New("task missing from ctx")
			}
			return map[string]interface{}{"seen": ctx.Value(mwKey{})}, nil
		}
		if err := b.r.Start("mw", h, Wrap(recordingMW("w", &mu, &trail))); err != nil {
			t.Fatal(err)
		}
		b.f.push("", makeTasks("mw", "m", 1)...)
		waitFor(t, 5*time.Minute, "done", func() bool { return b.f.updatedCount() == 1 })
		want := "in:a in:b in:c in:w handler out:w out:c out:b out:a"
		mu.Lock()
		got := strings.Join(trail, " ")
		mu.Unlock()
		if got != want {
			t.Fatalf("order\n got %s\nwant %s", got, want)
		}
		if res := b.f.resultsOf("m-0")[0]; res.Status != model.CompletedTask || res.OutputData["seen"] != "abcw" {
			t.Fatalf("result %+v", res)
		}
	})
}

func TestMiddlewareOfOneWorkerDoesNotWrapOthers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		var trail []string
		b := setup(t)
		if err := b.r.Start("one", echo, Wrap(recordingMW("w", &mu, &trail))); err != nil {
			t.Fatal(err)
		}
		if err := b.r.Start("two", echo); err != nil {
			t.Fatal(err)
		}
		b.f.push("", makeTasks("two", "t", 2)...)
		waitFor(t, 5*time.Minute, "done", func() bool { return b.f.updatedCount() == 2 })
		mu.Lock()
		defer mu.Unlock()
		if len(trail) != 0 {
			t.Fatalf("worker two's tasks went through worker one's middleware: %v", trail)
		}
	})
}

func TestPanicInMiddlewareFailsTheTaskAndTheWorkerGoesOn(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		boom := func(next HandlerFunc) HandlerFunc {
			return func(ctx context.Context, t *model.Task) (interface{}, error) {
				if t.InputData["i"] == float64(0) {
					panic("middleware exploded")
				}
				return next(ctx, t)
			}
		}
		b := setup(t, WithMiddleware(boom))
		if err := b.r.Start("mp", echo); err != nil {
			t.Fatal(err)
		}
		b.f.push("", makeTasks("mp", "p", 2)...)
		waitFor(t, 5*time.Minute, "done", func() bool { return b.f.updatedCount() == 2 })
		r0, r1 := b.f.resultsOf("p-0")[0], b.f.resultsOf("p-1")[0]
		if r0.Status != model.FailedTask || !strings.Contains(r0.ReasonForIncompletion, "middleware exploded") {
			t.Fatalf("panicking middleware: %+v", r0)
		}
		if r1.Status != model.CompletedTask {
			t.Fatalf("next task: %+v", r1)
		}
	})
}

func TestBrokenMiddlewareIsAStartError(t *testing.T) {
	cases := map[string]struct {
		opts  []Option
		wopts []WorkerOption
		want  string
	}{
		"nil runner middleware": {opts: []Option{WithMiddleware(nil)}, want: "WithMiddleware: middleware 0 is nil"},
		"nil worker middleware": {wopts: []WorkerOption{Wrap(nil)}, want: "Wrap: middleware 0 is nil"},
		"returns nil":           {wopts: []WorkerOption{Wrap(func(HandlerFunc) HandlerFunc { return nil })}, want: "returned a nil handler"},
		"panics when wrapping":  {wopts: []WorkerOption{Wrap(func(HandlerFunc) HandlerFunc { panic("no") })}, want: "panicked while wrapping the handler: no"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			b := setup(t, c.opts...)
			err := b.r.Start("bad", echo, c.wopts...)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want an error containing %q", err, c.want)
			}
			if len(b.r.Workers()) != 0 {
				t.Fatal("worker started")
			}
		})
	}
}
