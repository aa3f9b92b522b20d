// Package apisurface counts a package's exported identifiers the way issue
// 27 does, so that a test can hold the public surface of an SDK package to a
// budget: exported top-level names (functions, types, variables,
// constants) plus the exported methods of exported types, in the package's
// non-test files. It also reports the names without a doc comment.
package apisurface

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Surface is what Count found.
type Surface struct {
	Names []string // sorted; methods as Type.Method
	NoDoc []string // names without a doc comment
}

// Count parses the non-test Go files of dir, skipping the file names in
// skip.
func Count(dir string, skip ...string) (Surface, error) {
	skipped := map[string]bool{}
	for _, s := range skip {
		skipped[s] = true
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return Surface{}, err
	}
	fset := token.NewFileSet()
	var files []*ast.File
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") || skipped[name] {
			continue
		}
		f, err := parser.ParseFile(fset, filepath.Join(dir, name), nil, parser.ParseComments)
		if err != nil {
			return Surface{}, err
		}
		files = append(files, f)
	}
	var s Surface
	add := func(name string, documented bool) {
		s.Names = append(s.Names, name)
		if !documented {
			s.NoDoc = append(s.NoDoc, name)
		}
	}
	for _, f := range files {
		for _, d := range f.Decls {
			switch d := d.(type) {
			case *ast.FuncDecl:
				if !d.Name.IsExported() {
					continue
				}
				name := d.Name.Name
				if d.Recv != nil {
					recv := receiverName(d.Recv.List[0].Type)
					if !ast.IsExported(recv) {
						continue
					}
					name = recv + "." + name
				}
				add(name, d.Doc != nil)
			case *ast.GenDecl:
				for _, spec := range d.Specs {
					switch spec := spec.(type) {
					case *ast.TypeSpec:
						if spec.Name.IsExported() {
							add(spec.Name.Name, spec.Doc != nil || d.Doc != nil)
						}
					case *ast.ValueSpec:
						for _, id := range spec.Names {
							if id.IsExported() {
								add(id.Name, spec.Doc != nil || d.Doc != nil || spec.Comment != nil)
							}
						}
					}
				}
			}
		}
	}
	sort.Strings(s.Names)
	sort.Strings(s.NoDoc)
	return s, nil
}

func receiverName(t ast.Expr) string {
	for {
		switch x := t.(type) {
		case *ast.StarExpr:
			t = x.X
		case *ast.IndexExpr:
			t = x.X
		case *ast.IndexListExpr:
			t = x.X
		case *ast.Ident:
			return x.Name
		default:
			return ""
		}
	}
}
