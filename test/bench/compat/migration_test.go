package compat

import (
	"bytes"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite docs/migration.md from the rules")

const (
	officialModule = "github.com/conductor-sdk/conductor-go"
	repoRoot       = "../../.."
)

// official returns the directory and version of conductor-go as this test
// module requires it (go.mod; the go command fetched it from the module
// proxy).
func official(t *testing.T) (dir, version string) {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}} {{.Version}}", officialModule).Output()
	if err != nil {
		t.Fatalf("go list -m %s: %v", officialModule, err)
	}
	dir, version, _ = strings.Cut(strings.TrimSpace(string(out)), " ")
	if dir == "" {
		t.Fatalf("go list -m %s gave no directory (run go mod download)", officialModule)
	}
	return dir, version
}

// TestMigrationCoversEveryIdentifier: docs/migration.md lists every
// exported identifier of conductor-go (listed with go/ast, not by hand),
// each with an answer from counterparts.txt; an answer that says Baton has
// it ("same", "renamed to X") must name an identifier Baton exports; and
// the file is what the rules generate (go test ./compat -update rewrites
// it).
func TestMigrationCoversEveryIdentifier(t *testing.T) {
	dir, version := official(t)
	ids, err := ListIdents(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(ids) < 1000 {
		t.Fatalf("found %d identifiers in %s; the lister is broken", len(ids), dir)
	}
	batonIDs, err := ListIdents(repoRoot)
	if err != nil {
		t.Fatal(err)
	}
	baton := map[string]bool{}
	for _, id := range batonIDs {
		baton[id.Full()] = true
	}
	f, err := os.Open("counterparts.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rules, err := ReadRules(f)
	if err != nil {
		t.Fatal("counterparts.txt:", err)
	}
	if probs := Problems(ids, rules, baton); len(probs) > 0 {
		t.Fatalf("%d identifiers without a true answer:\n%s", len(probs), strings.Join(probs, "\n"))
	}
	intro, err := os.ReadFile("migration_intro.md")
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := WriteMigration(&buf, string(intro), version, ids, rules); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(repoRoot, "docs", "migration.md")
	if *update {
		if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	have, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(have, buf.Bytes()) {
		t.Fatalf("docs/migration.md is not what counterparts.txt and migration_intro.md generate; run: cd test/bench && go test ./compat -run TestMigration -update")
	}
}

// TestListIdentsFindsKnownNames guards the lister itself on a few names
// every reader of the official SDK knows.
func TestListIdentsFindsKnownNames(t *testing.T) {
	dir, _ := official(t)
	ids, err := ListIdents(dir)
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]string{}
	for _, id := range ids {
		have[id.Full()] = id.Kind
	}
	for name, kind := range map[string]string{
		"sdk/workflow.NewSimpleTask":             "func",
		"sdk/workflow.ConductorWorkflow.Add":     "method",
		"sdk/workflow/executor.WorkflowExecutor": "type",
		"sdk/model.WorkflowDef.Name":             "field",
		"sdk/worker.TaskRunner.StartWorker":      "method",
		"sdk/settings.NewAuthenticationSettings": "func",
	} {
		if have[name] != kind {
			t.Errorf("%s: kind %q, want %q", name, have[name], kind)
		}
	}
	for name := range have {
		if strings.Contains(name, "_test") || strings.Contains(name, ".toWorkflowTask") {
			t.Errorf("unexported or test identifier listed: %s", name)
		}
	}
}
