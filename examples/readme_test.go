package examples_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// readmeTestHeader declares what the README's test snippet uses; the README shows
// the function only, so the test supplies the file header.
const readmeTestHeader = `package main

import (
	"context"
	"testing"
	"time"

	"github.com/baton-go/baton/sdk/client"
	"github.com/baton-go/baton/sdk/conductortest"
	"github.com/baton-go/baton/sdk/model"
	"github.com/baton-go/baton/sdk/settings"
	"github.com/baton-go/baton/sdk/worker"
)

`

// TestReadmeSnippets keeps the README honest while the SDK changes: the
// "Your first worker" program must compile, and the test shown under
// "Testing your own workers" (which uses that program's Greet) must compile
// and pass. Both are built inside this module through a go build overlay, so
// they use the SDK as it is in this checkout and nothing is written into it.
func TestReadmeSnippets(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs a test binary")
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go tool on PATH")
	}
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	firstWorker := goBlockAfter(t, string(readme), "## Your first worker")
	testSnippet := goBlockAfter(t, string(readme), "## Testing your own workers")
	if !strings.HasPrefix(firstWorker, "package main") || !strings.HasPrefix(testSnippet, "func Test") {
		t.Fatalf("README snippets changed shape:\nfirst worker starts %.40q\ntest starts %.40q", firstWorker, testSnippet)
	}

	dir := t.TempDir()
	// A package path that does not exist in the checkout: the overlay
	// supplies all of its files.
	pkgDir := filepath.Join(root, "examples", "zz_readme_snippets")
	files := map[string]string{
		filepath.Join(pkgDir, "main.go"):        firstWorker,
		filepath.Join(pkgDir, "readme_test.go"): readmeTestHeader + testSnippet,
	}
	replace := map[string]string{}
	for target, content := range files {
		src := filepath.Join(dir, filepath.Base(target))
		if err := os.WriteFile(src, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		replace[target] = src
	}
	overlay, err := json.Marshal(map[string]interface{}{"Replace": replace})
	if err != nil {
		t.Fatal(err)
	}
	overlayFile := filepath.Join(dir, "overlay.json")
	if err := os.WriteFile(overlayFile, overlay, 0o600); err != nil {
		t.Fatal(err)
	}

	bin := filepath.Join(dir, "readme.test")
	build := exec.Command(goTool, "test", "-c", "-vet=off", "-overlay", overlayFile, "-o", bin, "./examples/zz_readme_snippets")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("README snippets do not compile: %v\n%s", err, out)
	}
	runTest := exec.Command(bin, "-test.run", "^Test", "-test.v")
	runTest.Dir = dir
	out, err := runTest.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS") {
		t.Fatalf("README test snippet failed: %v\n%s", err, out)
	}
}

// goBlockAfter returns the first ```go block after heading.
func goBlockAfter(t *testing.T, doc, heading string) string {
	t.Helper()
	i := strings.Index(doc, "\n"+heading+"\n")
	if i < 0 {
		t.Fatalf("README has no heading %q", heading)
	}
	rest := doc[i:]
	start := strings.Index(rest, "```go\n")
	if start < 0 {
		t.Fatalf("no go block after %q", heading)
	}
	rest = rest[start+len("```go\n"):]
	end := strings.Index(rest, "```\n")
	if end < 0 {
		t.Fatalf("unterminated go block after %q", heading)
	}
	return rest[:end]
}
