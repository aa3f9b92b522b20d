package worker

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/baton-go/baton/sdk/model"
)

func TestShutdownDeadlineDuringUpdateOutageGivesUp(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var gave atomic.Int32
		b := setup(t, WithHooks(Hooks{OnUpdateGaveUp: func(_ *model.TaskResult, err error) {
			if errors.Is(err, ErrShutdown) {
				gave.Add(1)
			}
		}}))
		b.f.updErr = func(int, *model.TaskResult) error { return statusErr(503) }
		if err := b.r.Start("o", echo, BatchSize(3)); err != nil {
			t.Fatal(err)
		}
		b.f.push("", makeTasks("o", "o", 3)...)
		waitFor(t, 5*time.Minute, "attempts", func() bool { return b.rec.updateErrs.Load() >= 6 })
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		err := b.r.Shutdown(ctx)
		if !errors.Is(err, ErrShutdown) || !strings.Contains(err.Error(), "3 task(s) not drained") {
			t.Fatalf("Shutdown: %v", err)
		}
		b.r.WaitWorkers()
		if gave.Load() != 3 || b.r.Workers()[0].UpdateGiveUps != 3 {
			t.Fatalf("give-ups: hook %d, status %d", gave.Load(), b.r.Workers()[0].UpdateGiveUps)
		}
		if n := b.linesAt(logrus.ErrorLevel, "giving up"); n != 3 {
			t.Fatalf("%d error lines for 3 give-ups", n)
		}
	})
}

func TestLeaseExtensionFailureIsReported(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var werr atomic.Value
		b := setup(t, WithHooks(Hooks{OnWorkerError: func(_ string, err error) { werr.Store(err) }}), WithPollTimeout(time.Second))
		b.f.updErr = func(_ int, r *model.TaskResult) error { return nil }
		failing := &leaseFailFake{fakeAPI: b.f}
		b.r.api = failing
		if err := b.r.Start("lf", func(context.Context, *model.Task) (interface{}, error) {
			time.Sleep(1500 * time.Millisecond)
			return nil, nil
		}); err != nil {
			t.Fatal(err)
		}
		ts := makeTasks("lf", "l", 1)
		ts[0].ResponseTimeoutSeconds = 2
		b.f.push("", ts...)
		waitFor(t, 5*time.Minute, "result", func() bool { return b.f.updatedCount() == 1 })
		err, _ := werr.Load().(error)
		if err == nil || !strings.Contains(err.Error(), "extending lease of task l-0") {
			t.Fatalf("OnWorkerError got %v", err)
		}
		if b.rec.leases.Load() != 0 {
			t.Fatal("a failed extension was counted")
		}
	})
}

type leaseFailFake struct{ *fakeAPI }

func (f *leaseFailFake) updateTask(ctx context.Context, r *model.TaskResult) error {
	if r.ExtendLease {
		return statusErr(500)
	}
	return f.fakeAPI.updateTask(ctx, r)
}

func TestNoPayloadInLogsAtInfoOrAbove(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := setup(t)
		const secret = "s3cr3t-card-4111"
		n := 0
		b.f.updErr = func(k int, _ *model.TaskResult) error {
			if k <= updateWarnAfter+1 {
				return statusErr(503)
			}
			return nil
		}
		h := func(_ context.Context, t *model.Task) (interface{}, error) {
			n++
			switch n % 3 {
			case 0:
				panic("boom")
			case 1:
				return nil, errors.New("declined")
			}
			return map[string]interface{}{"card": t.InputData["card"]}, nil
		}
		if err := b.r.Start("pl", h); err != nil {
			t.Fatal(err)
		}
		ts := makeTasks("pl", "p", 6)
		for i := range ts {
			ts[i].InputData["card"] = secret
		}
		b.f.push("", ts...)
		waitFor(t, 5*time.Minute, "done", func() bool { return b.f.updatedCount() == 6 })
		for _, e := range b.logs.AllEntries() {
			if e.Level > logrus.InfoLevel {
				continue // debug and trace may carry more
			}
			line, _ := e.String()
			if strings.Contains(line, secret) {
				t.Fatalf("payload in a %s line: %s", e.Level, line)
			}
		}
	})
}

func TestEveryGoroutineEndsAfterShutdown(t *testing.T) {
	// synctest.Test fails if any goroutine started in the bubble outlives it;
	// this runs a busy runner with several task types and shuts it down in
	// the middle.
	synctest.Test(t, func(t *testing.T) {
		b := setup(t)
		for i := 0; i < 3; i++ {
			name := fmt.Sprintf("g%d", i)
			if err := b.r.Start(name, func(ctx context.Context, _ *model.Task) (interface{}, error) {
				select {
				case <-time.After(time.Duration(1+i) * time.Second):
				case <-ctx.Done():
				}
				return nil, nil
			}, BatchSize(5)); err != nil {
				t.Fatal(err)
			}
			b.f.push("", makeTasks(name, name, 50)...)
		}
		time.Sleep(4 * time.Second)
		ctx, cancel := context.WithTimeout(context.Background(), 2500*time.Millisecond)
		defer cancel()
		_ = b.r.Shutdown(ctx)
		b.r.WaitWorkers()
	})
}
