// Package compat holds the checks of Baton against the official Go SDK
// (github.com/conductor-sdk/conductor-go) that need that SDK as a
// dependency, which only this test module has: the list of its exported
// identifiers behind docs/migration.md, and the differential test of the
// workflow builders.
package compat

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"sort"
	"strings"
)

// Ident is one exported identifier of a package: a type, function,
// constant or variable, a method ("Type.Method") or an exported field of an
// exported struct ("Type.Field").
type Ident struct {
	Pkg  string // path inside the module, e.g. "sdk/workflow"
	Name string // e.g. "NewSimpleTask", "ConductorWorkflow.Add"
	Kind string // type, func, method, field, const, var
}

// Full is the identifier as docs/migration.md writes it: "sdk/workflow.NewSimpleTask".
func (i Ident) Full() string { return i.Pkg + "." + i.Name }

// ListIdents parses every non-test Go file under root (a module's
// directory) and returns the exported identifiers of its non-internal
// packages, sorted.
func ListIdents(root string) ([]Ident, error) {
	var out []Ident
	fset := token.NewFileSet()
	methods := map[string][]string{} // pkg NUL receiver -> exported method names
	embeds := map[string][]string{}  // pkg NUL exported struct type -> embedded type names
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			base := d.Name()
			if path != root && (base == "internal" || base == "test" || base == "testdata" || base == "examples" || strings.HasPrefix(base, ".")) {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		rel, err := filepath.Rel(root, filepath.Dir(path))
		if err != nil {
			return err
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		if f.Name.Name == "main" {
			return nil
		}
		pkg := filepath.ToSlash(rel)
		out = append(out, fileIdents(pkg, f)...)
		collectPromotion(pkg, f, methods, embeds)
		return nil
	})
	if err != nil {
		return nil, err
	}
	// Methods promoted from embedded types (exported or not, generic or
	// not) are part of the embedding type's API.
	for key, embedded := range embeds {
		pkg, typ, _ := strings.Cut(key, "\x00")
		for _, e := range embedded {
			for _, m := range methods[pkg+"\x00"+e] {
				out = append(out, Ident{Pkg: pkg, Name: typ + "." + m, Kind: "method"})
			}
		}
	}
	seen := map[string]bool{}
	uniq := out[:0]
	for _, id := range out {
		if !seen[id.Full()] {
			seen[id.Full()] = true
			uniq = append(uniq, id)
		}
	}
	sort.Slice(uniq, func(a, b int) bool { return uniq[a].Full() < uniq[b].Full() })
	return uniq, nil
}

func fileIdents(pkg string, f *ast.File) []Ident {
	var out []Ident
	add := func(name, kind string) { out = append(out, Ident{Pkg: pkg, Name: name, Kind: kind}) }
	for _, decl := range f.Decls {
		switch d := decl.(type) {
		case *ast.FuncDecl:
			if !d.Name.IsExported() {
				continue
			}
			if d.Recv == nil {
				add(d.Name.Name, "func")
				continue
			}
			recv := receiverName(d.Recv.List[0].Type)
			if ast.IsExported(recv) {
				add(recv+"."+d.Name.Name, "method")
			}
		case *ast.GenDecl:
			for _, spec := range d.Specs {
				switch s := spec.(type) {
				case *ast.TypeSpec:
					if !s.Name.IsExported() {
						continue
					}
					add(s.Name.Name, "type")
					if st, ok := s.Type.(*ast.StructType); ok {
						for _, fld := range st.Fields.List {
							for _, n := range fld.Names {
								if n.IsExported() {
									add(s.Name.Name+"."+n.Name, "field")
								}
							}
						}
					}
				case *ast.ValueSpec:
					kind := "var"
					if d.Tok == token.CONST {
						kind = "const"
					}
					for _, n := range s.Names {
						if n.IsExported() {
							add(n.Name, kind)
						}
					}
				}
			}
		}
	}
	return out
}

// collectPromotion records f's exported methods by receiver and the types
// its exported structs embed.
func collectPromotion(pkg string, f *ast.File, methods, embeds map[string][]string) {
	for _, decl := range f.Decls {
		switch d := decl.(type) {
		case *ast.FuncDecl:
			if d.Recv != nil && d.Name.IsExported() {
				k := pkg + "\x00" + receiverName(d.Recv.List[0].Type)
				methods[k] = append(methods[k], d.Name.Name)
			}
		case *ast.GenDecl:
			for _, spec := range d.Specs {
				s, ok := spec.(*ast.TypeSpec)
				if !ok || !s.Name.IsExported() {
					continue
				}
				st, ok := s.Type.(*ast.StructType)
				if !ok {
					continue
				}
				for _, fld := range st.Fields.List {
					if len(fld.Names) == 0 {
						k := pkg + "\x00" + s.Name.Name
						embeds[k] = append(embeds[k], receiverName(fld.Type))
					}
				}
			}
		}
	}
}

func receiverName(e ast.Expr) string {
	switch t := e.(type) {
	case *ast.StarExpr:
		return receiverName(t.X)
	case *ast.IndexExpr:
		return receiverName(t.X)
	case *ast.IndexListExpr:
		return receiverName(t.X)
	case *ast.Ident:
		return t.Name
	}
	return fmt.Sprintf("%T", e)
}
