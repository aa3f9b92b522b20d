package worker

import (
	"context"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/baton-go/baton/sdk/model"
)

func TestEnvironmentOverridesCodeWithWorkerSpecificFirst(t *testing.T) {
	code := func() workerConfig {
		return workerConfig{batchSize: 5, pollInterval: time.Second, domain: "code"}
	}
	cases := []struct {
		name    string
		task    string
		environ []string
		check   func(t *testing.T, wc workerConfig)
	}{
		{"nothing set keeps the code's values", "send", nil, func(t *testing.T, wc workerConfig) {
			if wc.batchSize != 5 || wc.pollInterval != time.Second || wc.domain != "code" || wc.paused || wc.noLease || len(wc.sources) != 0 {
				t.Fatalf("%+v", wc)
			}
		}},
		{"global upper-case form", "send", []string{"CONDUCTOR_WORKER_ALL_BATCH_SIZE=20", "CONDUCTOR_WORKER_ALL_POLL_INTERVAL=250", "CONDUCTOR_WORKER_ALL_DOMAIN=prod"}, func(t *testing.T, wc workerConfig) {
			if wc.batchSize != 20 || wc.pollInterval != 250*time.Millisecond || wc.domain != "prod" {
				t.Fatalf("%+v", wc)
			}
			if wc.sources["batchSize"] != "CONDUCTOR_WORKER_ALL_BATCH_SIZE" {
				t.Fatalf("sources %v", wc.sources)
			}
		}},
		{"global dotted form, Java and Python spellings", "send", []string{"conductor.worker.all.threadCount=7", "conductor.worker.all.poll_interval_millis=2s", "conductor.worker.all.pollTimeout=0"}, func(t *testing.T, wc workerConfig) {
			if wc.batchSize != 7 || wc.pollInterval != 2*time.Second || !wc.pollTimeoutS || wc.pollTimeout != 0 {
				t.Fatalf("%+v", wc)
			}
		}},
		{"worker-specific beats global", "send", []string{"CONDUCTOR_WORKER_ALL_BATCH_SIZE=20", "CONDUCTOR_WORKER_SEND_BATCH_SIZE=3", "conductor.worker.all.domain=a", "conductor.worker.send.domain=b"}, func(t *testing.T, wc workerConfig) {
			if wc.batchSize != 3 || wc.domain != "b" {
				t.Fatalf("%+v", wc)
			}
			if wc.sources["batchSize"] != "CONDUCTOR_WORKER_SEND_BATCH_SIZE" || wc.sources["domain"] != "conductor.worker.send.domain" {
				t.Fatalf("sources %v", wc.sources)
			}
		}},
		{"another task's variables do not apply", "send", []string{"CONDUCTOR_WORKER_OTHER_PAUSED=true", "conductor.worker.other.batchSize=9"}, func(t *testing.T, wc workerConfig) {
			if wc.paused || wc.batchSize != 5 {
				t.Fatalf("%+v", wc)
			}
		}},
		{"task name exactly and in upper case, dashes as underscores", "send-email.v2", []string{"CONDUCTOR_WORKER_SEND_EMAIL_V2_PAUSED=true"}, func(t *testing.T, wc workerConfig) {
			if !wc.paused {
				t.Fatalf("%+v", wc)
			}
		}},
		{"task name exactly in the upper-case form", "sendEmail", []string{"CONDUCTOR_WORKER_sendEmail_LEASE_EXTEND_ENABLED=false"}, func(t *testing.T, wc workerConfig) {
			if !wc.noLease {
				t.Fatalf("%+v", wc)
			}
		}},
		{"worker-specific false beats global true", "send", []string{"CONDUCTOR_WORKER_ALL_PAUSED=true", "conductor.worker.send.paused=false"}, func(t *testing.T, wc workerConfig) {
			if wc.paused {
				t.Fatalf("%+v", wc)
			}
		}},
		{"two spellings that agree are fine", "send", []string{"CONDUCTOR_WORKER_ALL_PAUSED=true", "conductor.worker.all.paused=TRUE"}, func(t *testing.T, wc workerConfig) {
			if !wc.paused {
				t.Fatalf("%+v", wc)
			}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			wc := code()
			if err := newWorkerEnv(c.environ).apply(c.task, &wc); err != nil {
				t.Fatal(err)
			}
			c.check(t, wc)
		})
	}
}

func TestBadEnvironmentValueIsAnErrorNamingVariableAndValue(t *testing.T) {
	cases := []struct {
		environ []string
		want    []string
	}{
		{[]string{"CONDUCTOR_WORKER_ALL_PAUSED=maybe"}, []string{`CONDUCTOR_WORKER_ALL_PAUSED="maybe"`, "true or false"}},
		{[]string{"CONDUCTOR_WORKER_ALL_BATCH_SIZE=0"}, []string{`CONDUCTOR_WORKER_ALL_BATCH_SIZE="0"`, ">= 1"}},
		{[]string{"conductor.worker.all.poll_interval=soon"}, []string{`conductor.worker.all.poll_interval="soon"`, "milliseconds"}},
		{[]string{"CONDUCTOR_WORKER_ALL_POLL_TIMEOUT=9000"}, []string{`CONDUCTOR_WORKER_ALL_POLL_TIMEOUT="9000"`, "between 0 and 5s"}},
		{[]string{"CONDUCTOR_WORKER_T_BATCH_SIZE=lots"}, []string{`CONDUCTOR_WORKER_T_BATCH_SIZE="lots"`, `task type "t"`}},
		{[]string{"CONDUCTOR_WORKER_ALL_PAUSED=true", "conductor.worker.all.paused=false"}, []string{"disagree", `"true"`, `"false"`}},
	}
	for _, c := range cases {
		t.Run(c.environ[0], func(t *testing.T) {
			b := setup(t, WithEnviron(c.environ))
			err := b.r.Start("t", echo)
			if err == nil {
				t.Fatal("Start accepted a bad environment")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Fatalf("error %q does not contain %q", err, w)
				}
			}
			if len(b.r.Workers()) != 0 {
				t.Fatal("a worker started despite the error")
			}
		})
	}
}

func TestSeedWorkerObeysPausedFromEnvironment(t *testing.T) {
	for _, v := range []string{"CONDUCTOR_WORKER_ALL_PAUSED", "CONDUCTOR_WORKER_PAUSED_TASK_PAUSED", "conductor.worker.paused_task.paused"} {
		t.Run(v, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				b := setup(t, WithEnviron([]string{v + "=true"}), WithPollTimeout(time.Second))
				seed := func(t *model.Task) (interface{}, error) { return map[string]interface{}{"ok": true}, nil }
				if err := b.r.StartWorker("paused_task", seed, 2, 10*time.Millisecond); err != nil {
					t.Fatal(err)
				}
				b.f.push("", makeTasks("paused_task", "p", 2)...)
				time.Sleep(time.Minute)
				synctest.Wait()
				st := b.r.Workers()[0]
				if b.f.pollCount() != 0 || !st.Paused || st.ConfigSources["paused"] != v {
					t.Fatalf("worker paused by %s polled %d times; status %+v", v, b.f.pollCount(), st)
				}
				// The variable sets the starting state; Resume still works.
				b.r.Resume("paused_task")
				waitFor(t, 5*time.Minute, "both tasks done", func() bool { return b.f.updatedCount() == 2 })
			})
		})
	}
}

func TestEnvironmentPausesOnlyItsTask(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := setup(t, WithEnviron([]string{"CONDUCTOR_WORKER_A_PAUSED=true"}), WithPollTimeout(time.Second))
		for _, tt := range []string{"a", "b"} {
			if err := b.r.Start(tt, echo); err != nil {
				t.Fatal(err)
			}
		}
		b.f.push("", makeTasks("b", "b", 3)...)
		waitFor(t, 5*time.Minute, "b's tasks done", func() bool { return b.f.updatedCount() == 3 })
		for _, p := range b.f.pollsCopy() {
			if p.taskType == "a" {
				t.Fatal("the paused task type was polled")
			}
		}
	})
}

func TestEnvironmentDomainBatchSizeAndConfigLog(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := setup(t, WithEnviron([]string{"CONDUCTOR_WORKER_ALL_DOMAIN=blue", "conductor.worker.d.batchSize=4"}), WithPollTimeout(time.Second))
		if err := b.r.Start("d", echo, Domain("green"), BatchSize(1)); err != nil {
			t.Fatal(err)
		}
		// A second start of the same worker keeps the operator's total.
		if err := b.r.Start("d", echo, Domain("green"), BatchSize(1)); err != nil {
			t.Fatal(err)
		}
		b.f.push("blue", makeTasks("d", "x", 8)...)
		waitFor(t, 5*time.Minute, "tasks of the environment's domain done", func() bool { return b.f.updatedCount() == 8 })
		st := b.r.Workers()
		if len(st) != 1 || st[0].Domain != "blue" || st[0].BatchSize != 4 {
			t.Fatalf("status %+v", st)
		}
		for _, p := range b.f.pollsCopy() {
			if p.domain != "blue" || p.count > 4 {
				t.Fatalf("poll %+v", p)
			}
		}
		var found bool
		for _, e := range b.logs.AllEntries() {
			if e.Message == "worker: configuration" && e.Level == logrus.InfoLevel {
				found = e.Data["domain"] == "blue" && e.Data["batchSize"] == 4 && e.Data["taskType"] == "d" &&
					strings.Contains(e.Data["fromEnvironment"].(string), "domain=CONDUCTOR_WORKER_ALL_DOMAIN")
			}
		}
		if !found {
			t.Fatal("no configuration line with the effective values and their variables")
		}
	})
}

func TestEnvironmentTurnsLeaseExtensionOff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := setup(t, WithEnviron([]string{"CONDUCTOR_WORKER_LONG_LEASE_EXTEND_ENABLED=false"}))
		h := func(ctx context.Context, _ *model.Task) (interface{}, error) {
			time.Sleep(3 * time.Second)
			return nil, nil
		}
		if err := b.r.Start("long", h); err != nil {
			t.Fatal(err)
		}
		ts := makeTasks("long", "l", 1)
		ts[0].ResponseTimeoutSeconds = 1
		b.f.push("", ts...)
		waitFor(t, 5*time.Minute, "done", func() bool { return b.f.updatedCount() == 1 })
		b.f.mu.Lock()
		n := b.f.leases["l-0"]
		b.f.mu.Unlock()
		if n != 0 || b.r.Workers()[0].LeaseExtension {
			t.Fatalf("%d lease extensions with extension turned off; status %+v", n, b.r.Workers()[0])
		}
	})
}

func TestProcessEnvironmentIsReadByDefault(t *testing.T) {
	t.Setenv("CONDUCTOR_WORKER_ALL_PAUSED", "true")
	e := newITEnv(t)
	r := e.runner(t)
	seed := func(t *model.Task) (interface{}, error) { return map[string]interface{}{}, nil }
	if err := r.StartWorker("env_paused", seed, 1, 10*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	st := r.Workers()[0]
	if !st.Paused || st.ConfigSources["paused"] != "CONDUCTOR_WORKER_ALL_PAUSED" {
		t.Fatalf("status %+v", st)
	}
	// Paused, the poller parks before its first poll and waits for a setting
	// or a slot to change (TestNoPollAfterPauseReturnsInIntervalMode shows on
	// a fake clock that it stays parked): once it is there, no poll can have
	// been made.
	waitFor(t, 30*time.Second, "the poller to park paused", func() bool { return r.Workers()[0].State == "paused" })
	if e.srv.Stats().Polls != 0 {
		t.Fatalf("a worker paused by the environment polled the server %d times", e.srv.Stats().Polls)
	}
}

func TestUnknownGlobalVariableIsLoggedNotIgnoredSilently(t *testing.T) {
	b := setup(t, WithEnviron([]string{"CONDUCTOR_WORKER_ALL_PAUSD=true", "conductor.worker.all.worker_id=x", "CONDUCTOR_WORKER_ALL_PAUSED=false"}))
	var warned []string
	for _, e := range b.logs.AllEntries() {
		if e.Level == logrus.WarnLevel && strings.Contains(e.Message, "names no worker property") {
			warned = append(warned, e.Data["variable"].(string))
		}
	}
	if strings.Join(warned, ",") != "CONDUCTOR_WORKER_ALL_PAUSD,conductor.worker.all.worker_id" {
		t.Fatalf("warned about %v", warned)
	}
}

// Issue 24, point 6: a-b, a.b and a_b all map to CONDUCTOR_WORKER_A_B_*,
// so an operator could not tell which worker such a variable reached. Now
// the second Start fails and names both task types.
func TestTwoTaskNamesOnOneVariableFailStartNamingBoth(t *testing.T) {
	b := setup(t, WithEnviron([]string{"CONDUCTOR_WORKER_SEND_EMAIL_PAUSED=true"}))
	if err := b.r.Start("send-email", echo); err != nil {
		t.Fatal(err)
	}
	err := b.r.Start("send.email", echo)
	if err == nil || !strings.Contains(err.Error(), `"send-email"`) || !strings.Contains(err.Error(), `"send.email"`) ||
		!strings.Contains(err.Error(), "CONDUCTOR_WORKER_SEND_EMAIL_PAUSED") {
		t.Fatalf("Start = %v, want an error naming both task types and the variable", err)
	}
	// Without such a variable the two names do not clash.
	b2 := setup(t, WithEnviron(nil))
	if err := b2.r.Start("send-email", echo); err != nil {
		t.Fatal(err)
	}
	if err := b2.r.Start("send.email", echo); err != nil {
		t.Fatalf("without a variable for them: %v", err)
	}
}

// Issue 24, point 6: a typo in a task-specific variable (only the ALL_ ones
// were checked) was silently ignored. Now it is warned about once, with the
// closest worker or property name.
func TestTypoInTaskVariableIsWarnedOnceWithTheClosestName(t *testing.T) {
	b := setup(t, WithEnviron([]string{
		"CONDUCTOR_WORKER_GRETE_BATCH_SIZE=3",  // task name typo
		"CONDUCTOR_WORKER_GREET_BATCHSIZE=4",   // property typo
		"conductor.worker.greet.polInterval=5", // property typo, dotted form
		"CONDUCTOR_WORKER_GREET_PAUSED=false",  // fine
		"CONDUCTOR_WORKER_INVOICE_PAUSED=true", // a worker not started (yet): no warning
	}))
	if err := b.r.Start("greet", echo); err != nil {
		t.Fatal(err)
	}
	if err := b.r.Start("other", echo); err != nil {
		t.Fatal(err)
	}
	warned := map[string]string{}
	for _, e := range b.logs.AllEntries() {
		if e.Level == logrus.WarnLevel && strings.Contains(e.Message, "reaches no worker") {
			v := e.Data["variable"].(string)
			if _, dup := warned[v]; dup {
				t.Errorf("%s warned twice", v)
			}
			warned[v] = e.Message
		}
	}
	want := map[string]string{
		"CONDUCTOR_WORKER_GRETE_BATCH_SIZE":  `did you mean "greet"`,
		"CONDUCTOR_WORKER_GREET_BATCHSIZE":   `did you mean "BATCH_SIZE"`,
		"conductor.worker.greet.polInterval": `did you mean "pollInterval"`,
	}
	if len(warned) != len(want) {
		t.Errorf("warned about %v, want %v", warned, want)
	}
	for v, hint := range want {
		if !strings.Contains(warned[v], hint) {
			t.Errorf("%s: warning %q, want it to contain %s", v, warned[v], hint)
		}
	}
}

// Issue 24, point 6: "250" (milliseconds, as the other SDKs write it) and
// "250ms" are the same poll interval, yet two spellings holding them were
// reported as disagreeing. Values are now compared after parsing.
func TestSpellingsAgreeingAfterParsingAreNotAConflict(t *testing.T) {
	env := newWorkerEnv([]string{"CONDUCTOR_WORKER_ALL_POLL_INTERVAL=250", "conductor.worker.all.pollInterval=250ms",
		"CONDUCTOR_WORKER_ALL_PAUSED=yes", "conductor.worker.all.paused=true"})
	if err := env.check(); err != nil {
		t.Fatalf("check: %v", err)
	}
	wc := workerConfig{}
	if err := env.apply("greet", &wc); err != nil || wc.pollInterval != 250*time.Millisecond || !wc.paused {
		t.Fatalf("apply: %v, %+v", err, wc)
	}
	if err := newWorkerEnv([]string{"CONDUCTOR_WORKER_ALL_POLL_INTERVAL=250", "conductor.worker.all.pollInterval=1s"}).check(); err == nil {
		t.Fatal("250 ms and 1 s must still disagree")
	}
}
