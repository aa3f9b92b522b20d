package conductortest_test

import (
	"testing"
	"time"

	"github.com/baton-go/baton/sdk/conductortest"
	"github.com/baton-go/baton/sdk/model"
)

func TestAdvanceSkipsRetryDelayAndFiresTimeouts(t *testing.T) {
	a := newAPI(t)
	a.needLocal("its fake clock")
	a.registerWorkflow(simpleWorkflow("one", "adv_task")) // ad hoc: retry after 60 s, response timeout 3600 s
	id := a.start("one", nil)
	a.update(a.pollOne("adv_task"), model.FailedTask, nil, "x")
	if got := a.pollBatch("adv_task", "count=1&timeout=0"); len(got) != 0 {
		t.Fatal("retry visible before its delay")
	}
	a.srv.Advance(61 * time.Second)
	retry := a.pollOne("adv_task")
	if retry.RetryCount != 1 {
		t.Fatalf("retry %+v", retry)
	}
	// An hour later the worker has not answered: response timeout, retried,
	// by the time Advance returns.
	a.srv.Advance(time.Hour + time.Second)
	if tk, _ := a.srv.Task(retry.TaskId); tk.Status != model.TaskTimedOut {
		t.Fatalf("task %s an hour past its response timeout, want TIMED_OUT", tk.Status)
	}
	if wf := a.workflow(id); len(wf.Tasks) != 3 || wf.Tasks[2].RetryCount != 2 {
		t.Fatalf("tasks after timeout: %d", len(wf.Tasks))
	}
}

func TestAdvanceExpiresTokens(t *testing.T) {
	a := newAPI(t, conductortest.WithAuth("k", "s"), conductortest.WithTokenTTL(time.Minute))
	a.needLocal("its fake clock")
	var tok struct{ Token string }
	a.expect(200, "POST", "/token", map[string]string{"keyId": "k", "keySecret": "s"}).json(t, &tok)
	a.token = tok.Token
	a.expect(200, "GET", "/metadata/taskdefs", nil)
	a.srv.Advance(time.Minute)
	if e := a.expect(401, "GET", "/metadata/taskdefs", nil).errBody(t); e.Error != "EXPIRED_TOKEN" {
		t.Fatalf("answer %+v", e)
	}
}
