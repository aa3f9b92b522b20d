// Package apisurface holds a test that keeps the SDK's public packages
// small: it counts what each exports and fails when a package grows past
// its limit, so that a name added for the SDK's own wiring goes under
// internal/ instead.
package apisurface

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

const module = "github.com/baton-go/baton/"

// exported lists the exported identifiers of the package in dir (relative
// to the module root): the exported top-level names (functions, types,
// variables, constants) and the exported methods of exported types, as
// "Name" or "Type.Method". An exported alias of a type defined under
// internal/ brings that type's exported methods along: a user calls them
// on the alias all the same. Test files are not part of the package's
// surface and are skipped.
func exported(t *testing.T, dir string) []string {
	t.Helper()
	var names []string
	for _, f := range parseDir(t, dir) {
		imports := map[string]string{}
		for _, im := range f.Imports {
			path := strings.Trim(im.Path.Value, `"`)
			name := filepath.Base(path)
			if im.Name != nil {
				name = im.Name.Name
			}
			imports[name] = path
		}
		for _, d := range f.Decls {
			switch d := d.(type) {
			case *ast.FuncDecl:
				if !d.Name.IsExported() {
					continue
				}
				if d.Recv == nil {
					names = append(names, d.Name.Name)
					continue
				}
				if recv := receiverType(d.Recv.List[0].Type); ast.IsExported(recv) {
					names = append(names, recv+"."+d.Name.Name)
				}
			case *ast.GenDecl:
				for _, s := range d.Specs {
					switch s := s.(type) {
					case *ast.TypeSpec:
						if !s.Name.IsExported() {
							continue
						}
						names = append(names, s.Name.Name)
						if sel, ok := s.Type.(*ast.SelectorExpr); ok && s.Assign.IsValid() {
							path := imports[sel.X.(*ast.Ident).Name]
							if strings.HasPrefix(path, module+"internal/") {
								for _, m := range methodsOf(t, strings.TrimPrefix(path, module), sel.Sel.Name) {
									names = append(names, s.Name.Name+"."+m)
								}
							}
						}
					case *ast.ValueSpec:
						for _, id := range s.Names {
							if id.IsExported() {
								names = append(names, id.Name)
							}
						}
					}
				}
			}
		}
	}
	sort.Strings(names)
	return names
}

// parseDir parses the non-test Go files of dir, relative to the module root.
func parseDir(t *testing.T, dir string) []*ast.File {
	t.Helper()
	root := filepath.Join("..", "..", dir)
	entries, err := os.ReadDir(root)
	if err != nil {
		t.Fatalf("read %s: %v", dir, err)
	}
	fset := token.NewFileSet()
	var files []*ast.File
	for _, e := range entries {
		n := e.Name()
		if e.IsDir() || !strings.HasSuffix(n, ".go") || strings.HasSuffix(n, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, filepath.Join(root, n), nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatalf("parse %s: %v", n, err)
		}
		files = append(files, f)
	}
	return files
}

// methodsOf lists the exported methods of the type typ of the package dir.
func methodsOf(t *testing.T, dir, typ string) []string {
	t.Helper()
	var ms []string
	for _, f := range parseDir(t, dir) {
		for _, d := range f.Decls {
			if fd, ok := d.(*ast.FuncDecl); ok && fd.Recv != nil && fd.Name.IsExported() && receiverType(fd.Recv.List[0].Type) == typ {
				ms = append(ms, fd.Name.Name)
			}
		}
	}
	return ms
}

// receiverType names the type of a method's receiver: T, *T, T[P] or *T[P].
func receiverType(e ast.Expr) string {
	for {
		switch x := e.(type) {
		case *ast.StarExpr:
			e = x.X
		case *ast.IndexExpr:
			e = x.X
		case *ast.IndexListExpr:
			e = x.X
		case *ast.Ident:
			return x.Name
		default:
			return ""
		}
	}
}

// TestPublicPackagesStayWithinTheirExportLimits holds each public package
// to its limit (issue 27): a name added for the SDK's own wiring belongs
// under internal/, and one added for users has to earn its place.
func TestPublicPackagesStayWithinTheirExportLimits(t *testing.T) {
	for _, c := range []struct {
		dir   string
		limit int
	}{
		{dir: "sdk/client", limit: 55},
		{dir: "sdk/conductortest", limit: 45},
		{dir: "sdk/worker", limit: 80},
	} {
		t.Run(c.dir, func(t *testing.T) {
			names := exported(t, c.dir)
			if n := len(names); n > c.limit {
				t.Errorf("%s exports %d identifiers, more than its limit of %d: keep the SDK's own wiring under internal/ (%s)",
					c.dir, n, c.limit, strings.Join(names, " "))
			} else {
				t.Logf("%s exports %d identifiers (limit %d)", c.dir, n, c.limit)
			}
		})
	}
}

// TestWorkerDoesNotLinkJSONSchema: a worker binary that does not build task
// definitions from Go types must not carry the JSON Schema library
// (issue 27); sdk/taskdef has it.
func TestWorkerDoesNotLinkJSONSchema(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	out, err := exec.Command("go", "list", "-deps", module+"sdk/worker").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, out)
	}
	for _, dep := range strings.Fields(string(out)) {
		if strings.Contains(dep, "jsonschema") {
			t.Errorf("sdk/worker depends on %s", dep)
		}
	}
}
