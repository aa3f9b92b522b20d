package conductortest

import (
	"github.com/baton-go/baton/sdk/conductortest/internal/wire"
	"github.com/baton-go/baton/sdk/model"
)

// The server's side of writing answers: snapshots are taken under s.mu and
// encoded by internal/wire after it is released.

// stepEnc holds the encodings of one workflow step, made on first use and
// shared by every task of that step (see defSnap).
type stepEnc struct{ wt, def []byte }

// stepJSON returns (and caches) the encodings of t's WorkflowTask and
// TaskDef. Caller holds s.mu.
func (t *task) stepJSON() (wt, def []byte) {
	e := &t.wf.snap.steps[t.wf.stepIndex(t.wt)]
	if e.wt == nil {
		e.wt = wire.Marshal(wire.WorkflowTask(t.wt))
		e.def = wire.Marshal(wire.TaskDef(t.def))
	}
	return e.wt, e.def
}

func (wf *workflow) stepIndex(wt *model.WorkflowTask) int {
	for i := range wf.def.Tasks {
		if &wf.def.Tasks[i] == wt {
			return i
		}
	}
	return 0
}

// forWire snapshots t for encoding. Caller holds s.mu.
func (t *task) forWire() wire.Task {
	wt, def := t.stepJSON()
	return wire.Task{Model: t.snapshot(), WorkflowTask: wt, TaskDef: def}
}

// workflowWire is a workflow snapshot taken under s.mu, encoded later.
type workflowWire struct {
	m     model.Workflow
	tasks []wire.Task
}

// forWire snapshots wf (with its tasks if asked) for encoding. Caller holds
// s.mu.
func (wf *workflow) forWire(includeTasks bool) workflowWire {
	w := workflowWire{m: wf.snapshot(false)}
	if includeTasks {
		w.tasks = make([]wire.Task, len(wf.tasks))
		for i, t := range wf.tasks {
			w.tasks[i] = t.forWire()
		}
	}
	return w
}

func (w *workflowWire) out() *wire.WorkflowOut { return wire.Workflow(&w.m, w.tasks) }
