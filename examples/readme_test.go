package examples_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/baton-go/baton/sdk/conductortest"
	"github.com/baton-go/baton/sdk/model"
	"github.com/baton-go/baton/sdk/settings"
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

// fragmentHeader wraps a README fragment (a block that is neither a program
// nor a test) into a function of its own package. The variables the README's
// fragments take from their surroundings are parameters; the imports are
// every SDK package a fragment may use.
const fragmentHeader = `package %s

import (
	"context"
	"log"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/baton-go/baton/sdk/client"
	"github.com/baton-go/baton/sdk/metrics"
	"github.com/baton-go/baton/sdk/model"
	"github.com/baton-go/baton/sdk/settings"
	"github.com/baton-go/baton/sdk/taskdef"
	"github.com/baton-go/baton/sdk/worker"
	"github.com/baton-go/baton/sdk/workflow/executor"
)

var (
	_ = context.Background
	_ = log.Fatal
	_ = os.Exit
	_ = signal.Notify
	_ = syscall.SIGTERM
	_ = time.Second
	_ = client.New
	_ = metrics.NewExporter
	_ = model.NewTaskResult
	_ = settings.FromEnv
	_ = worker.Terminal
	_ = taskdef.EnsureOverwrite
	_ = executor.NewWorkflowExecutor
)

// Greet stands for the first worker's handler, which fragments may start.
func Greet(t *model.Task) (interface{}, error) { return nil, nil }

func fragment(ctx context.Context, auth *settings.AuthenticationSettings, httpSettings *settings.HttpSettings, apiClient *client.APIClient) {
	_, _, _, _ = ctx, auth, httpSettings, apiClient
	{
`

// readmeBlock is one ```go block of README.md or of another page the test
// keeps honest (docsWithGoBlocks).
type readmeBlock struct {
	file    string // relative to the repository root
	heading string // the nearest heading above it
	line    int
	code    string
}

// docsWithGoBlocks are the pages whose Go blocks the test compiles: the
// README and the guide that takes over where it stops.
var docsWithGoBlocks = []string{"README.md", "docs/guide.md"}

func readmeGoBlocks(t *testing.T, file, doc string) []readmeBlock {
	t.Helper()
	var blocks []readmeBlock
	heading := ""
	lines := strings.Split(doc, "\n")
	for i := 0; i < len(lines); i++ {
		l := lines[i]
		if strings.HasPrefix(l, "#") {
			heading = strings.TrimSpace(strings.TrimLeft(l, "#"))
		}
		if l != "```go" {
			continue
		}
		start := i + 1
		for i++; i < len(lines) && lines[i] != "```"; i++ {
		}
		if i == len(lines) {
			t.Fatalf("%s:%d: unterminated go block", file, start)
		}
		blocks = append(blocks, readmeBlock{file: file, heading: heading, line: start, code: strings.Join(lines[start:i], "\n") + "\n"})
	}
	return blocks
}

// declared finds the variables a fragment declares at its top level (blocks
// start at column 0; an indented := is inside a closure or a block of its own).
var declared = regexp.MustCompile(`(?m)^([A-Za-z_]\w*(?:\s*,\s*[A-Za-z_]\w*)*)\s*:=`)

// readmeToolchain skips a test that builds the docs' programs under -short
// (saying it does what) or without a go tool on PATH; otherwise it returns
// the go tool and the module's root.
func readmeToolchain(t *testing.T, what string) (goTool, root string) {
	t.Helper()
	if testing.Short() {
		t.Skip(what)
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go tool on PATH")
	}
	if root, err = filepath.Abs(".."); err != nil {
		t.Fatal(err)
	}
	return goTool, root
}

// writeOverlay writes files (path in the module -> content) into dir and
// returns a go build -overlay file that puts them in place, so that the
// docs' code builds inside this module without anything written into it.
func writeOverlay(t *testing.T, dir, root string, files map[string]string) string {
	t.Helper()
	replace := map[string]string{}
	for target, content := range files {
		src := filepath.Join(dir, strings.ReplaceAll(strings.TrimPrefix(target, root+"/"), "/", "_"))
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
	return overlayFile
}

// TestReadmeSnippets keeps every Go block of README.md and docs/guide.md
// honest while the SDK changes. Complete programs must build as they stand;
// the guide's test under "Testing your workers" (which uses the first
// worker's Greet) must
// compile and pass; every other block (a fragment) must compile inside a
// function that supplies the variables it uses. Then the first worker and the
// "Giving it work" program are run as a newcomer would: against a server they
// complete a workflow, and against a wrong base path or a wrong key secret
// the worker exits by itself within 20 s saying what is wrong. Everything is
// built inside this module through a go build overlay, so it uses the SDK as
// it is in this checkout and nothing is written into it.
func TestReadmeSnippets(t *testing.T) {
	goTool, root := readmeToolchain(t, "builds and runs the README's programs")
	var blocks []readmeBlock
	for _, name := range docsWithGoBlocks {
		doc, err := os.ReadFile(filepath.Join(root, name))
		if err != nil {
			t.Fatal(err)
		}
		blocks = append(blocks, readmeGoBlocks(t, name, string(doc))...)
	}
	dir := t.TempDir()
	files := map[string]string{} // path in the module -> content
	var programs, fragments []string
	workerPkg, registerPkg := "", ""
	var testSnippet string
	for i, b := range blocks {
		switch {
		case strings.HasPrefix(b.code, "package main\n"):
			pkg := fmt.Sprintf("examples/zz_readme_program%d", i)
			files[filepath.Join(root, pkg, "main.go")] = b.code
			programs = append(programs, "./"+pkg)
			if strings.Contains(b.code, "func Greet(") {
				if workerPkg != "" {
					t.Fatalf("%s:%d: a second program defines Greet; the test runs the first worker only", b.file, b.line)
				}
				workerPkg = pkg
			}
			if strings.Contains(b.code, "StartWorkflow") {
				registerPkg = pkg // the "Giving it work" recipe
			}
		case strings.HasPrefix(b.code, "func Test"):
			if testSnippet != "" {
				t.Fatalf("%s:%d: a second test snippet; this test knows where only one goes", b.file, b.line)
			}
			testSnippet = b.code
		default:
			name := fmt.Sprintf("zz_readme_fragment%d", i)
			var uses strings.Builder
			for _, m := range declared.FindAllStringSubmatch(b.code, -1) {
				for _, v := range strings.Split(m[1], ",") {
					if v = strings.TrimSpace(v); v != "_" {
						fmt.Fprintf(&uses, "\t_ = %s\n", v)
					}
				}
			}
			// The fragment's own line numbers in compile errors point into
			// its page.
			src := fmt.Sprintf(fragmentHeader, name) + fmt.Sprintf("//line %s:%d\n", b.file, b.line+1) + b.code + uses.String() + "\t}\n}\n"
			files[filepath.Join(root, "examples", name, "fragment.go")] = src
			fragments = append(fragments, "./examples/"+name)
		}
	}
	if workerPkg == "" || registerPkg == "" || testSnippet == "" || len(programs) < 2 || len(fragments) < 3 {
		t.Fatalf("README.md and docs/guide.md changed shape: programs %v (first worker in %q), %d fragments, test snippet found: %v",
			programs, workerPkg, len(fragments), testSnippet != "")
	}
	files[filepath.Join(root, workerPkg, "readme_test.go")] = readmeTestHeader + testSnippet

	overlayFile := writeOverlay(t, dir, root, files)
	goCmd := func(args ...string) {
		t.Helper()
		cmd := exec.Command(goTool, args...)
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("README blocks do not compile (go %s): %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	goCmd(append([]string{"build", "-overlay", overlayFile}, fragments...)...)
	// One go build for every program: they compile and link side by side,
	// each to dir/<its package's name>.
	goCmd(append([]string{"build", "-overlay", overlayFile, "-o", dir + string(filepath.Separator)}, programs...)...)
	bins := map[string]string{}
	for _, p := range programs {
		bins[p] = filepath.Join(dir, filepath.Base(p))
	}
	testBin := filepath.Join(dir, "readme.test")
	goCmd("test", "-c", "-vet=off", "-overlay", overlayFile, "-o", testBin, "./"+workerPkg)

	t.Run("test snippet passes", func(t *testing.T) {
		runTest := exec.Command(testBin, "-test.run", "^Test", "-test.v")
		runTest.Dir = dir
		out, err := runTest.CombinedOutput()
		if err != nil || !strings.Contains(string(out), "--- PASS") {
			t.Fatalf("README test snippet failed: %v\n%s", err, out)
		}
	})

	workerBin := bins["./"+workerPkg]
	registerBin := bins["./"+registerPkg]
	t.Run("newcomer completes a workflow", func(t *testing.T) {
		srv := conductortest.NewServer()
		defer srv.Close()
		env := serverEnv(srv.URL(), "", "")
		w := exec.Command(workerBin)
		w.Env = env
		var wout bytes.Buffer
		w.Stdout, w.Stderr = &wout, &wout
		if err := w.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan error, 1)
		go func() { exited <- w.Wait() }()
		defer func() {
			_ = w.Process.Signal(syscall.SIGINT)
			select {
			case err := <-exited:
				if err != nil {
					t.Errorf("worker after Ctrl-C: %v\n%s", err, wout.String())
				}
			case <-time.After(30 * time.Second):
				_ = w.Process.Kill()
				<-exited
				t.Errorf("worker did not stop within 30 s of SIGINT")
			}
		}()
		reg := exec.Command(registerBin)
		reg.Env = env
		out, err := reg.Output()
		if err != nil {
			t.Fatalf("register program: %v\n%s", err, out)
		}
		id := strings.TrimSpace(string(out))
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := srv.WaitWorkflows(ctx, id); err != nil {
			t.Fatalf("workflow %q: %v\nworker output:\n%s", id, err, wout.String())
		}
		wf, _ := srv.Workflow(id)
		if wf.Status != model.WorkflowCompleted || wf.Output["greeting"] != "Hello, Ada!" {
			t.Fatalf("workflow %s, output %v", wf.Status, wf.Output)
		}
	})

	const secret, wrongSecret = "readme-secret-31337", "readme-wrong-secret-4242"
	for _, c := range []struct {
		name    string
		opts    []conductortest.Option
		url     func(string) string
		secret  string
		message string
	}{
		{"wrong base path", nil, func(u string) string { return strings.TrimSuffix(u, "/api") }, "", "does the base URL end in /api?"},
		{"wrong secret", []conductortest.Option{conductortest.WithAuth("readme-key", secret)}, func(u string) string { return u }, wrongSecret, "check the key id and secret"},
	} {
		t.Run("worker stops on a "+c.name, func(t *testing.T) {
			// Each waits out the worker's evidence rule (15 s) with its
			// own server and process: side by side, not one after the other.
			t.Parallel()
			srv := conductortest.NewServer(c.opts...)
			defer srv.Close()
			key := ""
			if c.secret != "" {
				key = "readme-key"
			}
			w := exec.Command(workerBin)
			w.Env = serverEnv(c.url(srv.URL()), key, c.secret)
			var wout bytes.Buffer
			w.Stdout, w.Stderr = &wout, &wout
			start := time.Now()
			if err := w.Start(); err != nil {
				t.Fatal(err)
			}
			exited := make(chan error, 1)
			go func() { exited <- w.Wait() }()
			select {
			case err := <-exited:
				if err == nil {
					t.Errorf("worker exited 0 after %s, want a failure", time.Since(start))
				}
			case <-time.After(20 * time.Second):
				_ = w.Process.Kill()
				<-exited
				t.Fatalf("worker still running after 20 s\n%s", wout.String())
			}
			if !strings.Contains(wout.String(), c.message) {
				t.Errorf("output does not say %q:\n%s", c.message, wout.String())
			}
			if strings.Contains(wout.String(), secret) || strings.Contains(wout.String(), wrongSecret) {
				t.Errorf("output holds a secret:\n%s", wout.String())
			}
		})
	}
}

// serverEnv is the environment of a README program: the parent's, with the
// server variables replaced.
func serverEnv(url, key, secret string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, settings.EnvServerURL+"=") && !strings.HasPrefix(kv, settings.EnvAuthKey+"=") &&
			!strings.HasPrefix(kv, settings.EnvAuthSecret+"=") {
			env = append(env, kv)
		}
	}
	return append(env, settings.EnvServerURL+"="+url, settings.EnvAuthKey+"="+key, settings.EnvAuthSecret+"="+secret)
}
