package apisurface

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestWorkerSurfaceWithinBudget: sdk/worker exports what a worker author
// uses, at most 80 identifiers, each with a doc comment (issue 27).
// taskdef.go is left out: task definitions are moving to their own package.
func TestWorkerSurfaceWithinBudget(t *testing.T) {
	s, err := Count(filepath.Join("..", "..", "sdk", "worker"), "taskdef.go")
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Names) < 40 {
		t.Fatalf("found only %d names; the counter is broken: %v", len(s.Names), s.Names)
	}
	if len(s.Names) > 80 {
		t.Errorf("sdk/worker exports %d identifiers, budget 80:\n%s", len(s.Names), strings.Join(s.Names, "\n"))
	}
	if len(s.NoDoc) > 0 {
		t.Errorf("exported without a doc comment: %v", s.NoDoc)
	}
}

// TestCountSeesMethodsAndSkipsUnexported checks the counter on a fixture:
// methods of exported types (generic ones too) count, methods of
// unexported types and unexported names do not, and a name without a doc
// comment is reported.
func TestCountSeesMethodsAndSkipsUnexported(t *testing.T) {
	s, err := Count(filepath.Join("testdata", "sample"))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Join(s.Names, " "), "A C F G G.Get T T.M"; got != want {
		t.Errorf("names %q, want %q", got, want)
	}
	if got, want := strings.Join(s.NoDoc, " "), "C F"; got != want {
		t.Errorf("undocumented %q, want %q", got, want)
	}
}
