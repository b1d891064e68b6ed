package scenarios_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tcplab/tcplab/lab/scenario"
	"github.com/tcplab/tcplab/lab/scenarios"
)

// TestKnobsAreRead: a scenario offers only knobs its code reads, so that
// `--set` never accepts a value nothing uses.
//
// The rule, over this package's source (not its tests): a knob is read by
// a scenario when its name stands as a string literal argument of a call
// to a Knobs accessor (.Int, .Duration, .Str, .Float, .Bool), or of a
// function of the package that hands one of its string parameters on to
// an accessor (knobInt), in code reachable from the scenario's literal:
// the literal itself (Server, Client, Weight, Verdicts) and every function,
// method or package-level variable of the package it names, followed
// transitively (a method by its name alone, so every method of that name
// counts; a name a declaration declares inside itself, a parameter or
// local variable, is not followed there). Declaring a knob, listing it in
// Cases or naming it in any other string is no reading.
//
// Out of scope are the knobs the runner applies itself, whatever default
// a scenario gives them: impair.* (scenario.ImpairKnobs) and the
// per-container sysctls, server.<s> and client.<s> for s in
// scenario.Sysctls.
func TestKnobsAreRead(t *testing.T) {
	src := parsePackage(t, ".")
	for _, sc := range scenarios.All() {
		t.Run(sc.ID, func(t *testing.T) {
			lit := src.literals[sc.ID]
			require.NotNil(t, lit, "no literal with ID %q among the package's variables", sc.ID)
			read := src.readFrom(lit)
			for _, kn := range sc.Knobs {
				if appliedByRunner(kn.Name) {
					continue
				}
				assert.True(t, read[kn.Name], "%s offers knob %s, but nothing reachable from its literal reads it (see TestKnobsAreRead)", sc.ID, kn.Name)
			}
		})
	}
}

// The walk must see what it is meant to see: a knob read through a
// helper two calls away (sink → knobInt), and one read in Weight.
func TestKnobsAreReadSeesHelpers(t *testing.T) {
	src := parsePackage(t, ".")
	read := src.readFrom(src.literals["write-block"])
	assert.True(t, read["server.read_buffer"], "the sink's knobInt read")
	assert.True(t, read["server.read_every"], "the driver's own read")
	assert.False(t, read["client.dials"], "a knob of other scenarios only")
	read = src.readFrom(src.literals["latency-bdp"])
	assert.True(t, read["client.warmup"], "Weight's read")
}

func appliedByRunner(name string) bool {
	for _, kn := range scenario.ImpairKnobs {
		if kn.Name == name {
			return true
		}
	}
	role, short, _ := strings.Cut(name, ".")
	_, sysctl := scenario.Sysctls[short]
	return sysctl && (role == string(scenario.Server) || role == string(scenario.Client))
}

// accessors are the Knobs methods that read a knob by name.
var accessors = map[string]bool{"Int": true, "Duration": true, "Str": true, "Float": true, "Bool": true}

type source struct {
	funcs    map[string][]ast.Node // package-level functions and variables, by name
	methods  map[string][]ast.Node // methods, by name alone
	literals map[string]ast.Node   // each scenario literal, by its ID
	// forward says which argument of a package function (or method) is a
	// knob name it hands on to an accessor.
	forward map[string]int
}

func parsePackage(t *testing.T, dir string) *source {
	t.Helper()
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	fset := token.NewFileSet()
	s := &source{funcs: map[string][]ast.Node{}, methods: map[string][]ast.Node{},
		literals: map[string]ast.Node{}, forward: map[string]int{}}
	var fns []*ast.FuncDecl
	for _, e := range entries {
		name := e.Name()
		if !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, filepath.Join(dir, name), nil, parser.SkipObjectResolution)
		require.NoError(t, err)
		for _, d := range f.Decls {
			switch d := d.(type) {
			case *ast.FuncDecl:
				fns = append(fns, d)
				if d.Recv != nil {
					s.methods[d.Name.Name] = append(s.methods[d.Name.Name], d)
				} else {
					s.funcs[d.Name.Name] = append(s.funcs[d.Name.Name], d)
				}
			case *ast.GenDecl:
				for _, spec := range d.Specs {
					vs, ok := spec.(*ast.ValueSpec)
					if !ok {
						continue
					}
					for _, n := range vs.Names {
						s.funcs[n.Name] = append(s.funcs[n.Name], vs)
					}
					for _, v := range vs.Values {
						if id := scenarioID(v); id != "" {
							s.literals[id] = vs
						}
					}
				}
			}
		}
	}
	// Forwarders, to a fixed point: knobInt(k, name) calls k.Int(name).
	for changed := true; changed; {
		changed = false
		for _, fd := range fns {
			if _, done := s.forward[fd.Name.Name]; done {
				continue
			}
			params := stringParams(fd)
			ast.Inspect(fd.Body, func(n ast.Node) bool {
				call, ok := n.(*ast.CallExpr)
				if !ok {
					return true
				}
				if i, ok := s.nameArg(call); ok && i < len(call.Args) {
					if id, ok := call.Args[i].(*ast.Ident); ok {
						if at, ok := params[id.Name]; ok {
							s.forward[fd.Name.Name], changed = at, true
						}
					}
				}
				return true
			})
		}
	}
	return s
}

// scenarioID is the ID of a &scenario.Scenario{…} literal, or "".
func scenarioID(v ast.Expr) string {
	if u, ok := v.(*ast.UnaryExpr); ok {
		v = u.X
	}
	cl, ok := v.(*ast.CompositeLit)
	if !ok {
		return ""
	}
	if sel, ok := cl.Type.(*ast.SelectorExpr); !ok || sel.Sel.Name != "Scenario" {
		return ""
	}
	for _, el := range cl.Elts {
		kv, ok := el.(*ast.KeyValueExpr)
		if k, isIdent := kv.Key.(*ast.Ident); !ok || !isIdent || k.Name != "ID" {
			continue
		}
		if lit, ok := kv.Value.(*ast.BasicLit); ok && lit.Kind == token.STRING {
			id, _ := strconv.Unquote(lit.Value)
			return id
		}
	}
	return ""
}

// stringParams are fd's parameters of type string, by name: their index
// among its arguments.
func stringParams(fd *ast.FuncDecl) map[string]int {
	out := map[string]int{}
	i := 0
	for _, field := range fd.Type.Params.List {
		id, isString := field.Type.(*ast.Ident)
		for _, n := range field.Names {
			if isString && id.Name == "string" {
				out[n.Name] = i
			}
			i++
		}
		if len(field.Names) == 0 {
			i++
		}
	}
	return out
}

// nameArg says which argument of call is a knob name, if call reads one:
// an accessor's first, or the argument a forwarder hands on.
func (s *source) nameArg(call *ast.CallExpr) (int, bool) {
	var name string
	switch f := call.Fun.(type) {
	case *ast.SelectorExpr:
		if accessors[f.Sel.Name] {
			return 0, true
		}
		name = f.Sel.Name
	case *ast.Ident:
		name = f.Name
	default:
		return 0, false
	}
	i, ok := s.forward[name]
	return i, ok
}

// readFrom is the set of knob names read in code reachable from start.
func (s *source) readFrom(start ast.Node) map[string]bool {
	read := map[string]bool{}
	seen := map[ast.Node]bool{start: true}
	queue := []ast.Node{start}
	enqueue := func(ns []ast.Node) {
		for _, n := range ns {
			if !seen[n] {
				seen[n] = true
				queue = append(queue, n)
			}
		}
	}
	for len(queue) > 0 {
		n := queue[0]
		queue = queue[1:]
		local := localNames(n)
		ast.Inspect(n, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.CallExpr:
				if i, ok := s.nameArg(n); ok && i < len(n.Args) {
					if lit, ok := n.Args[i].(*ast.BasicLit); ok && lit.Kind == token.STRING {
						name, _ := strconv.Unquote(lit.Value)
						read[name] = true
					}
				}
			case *ast.SelectorExpr:
				enqueue(s.methods[n.Sel.Name])
			case *ast.Ident:
				if !local[n.Name] {
					enqueue(s.funcs[n.Name])
				}
			}
			return true
		})
	}
	return read
}

// localNames are the names declared inside decl (parameters, results,
// variables, constants): a name among them is not followed to the
// package-level declaration it may shadow there.
func localNames(decl ast.Node) map[string]bool {
	out := map[string]bool{}
	add := func(ids ...*ast.Ident) {
		for _, id := range ids {
			out[id.Name] = true
		}
	}
	addExprs := func(es ...ast.Expr) {
		for _, e := range es {
			if id, ok := e.(*ast.Ident); ok {
				add(id)
			}
		}
	}
	ast.Inspect(decl, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.FuncType:
			for _, fl := range []*ast.FieldList{n.Params, n.Results} {
				if fl != nil {
					for _, f := range fl.List {
						add(f.Names...)
					}
				}
			}
		case *ast.AssignStmt:
			if n.Tok == token.DEFINE {
				addExprs(n.Lhs...)
			}
		case *ast.RangeStmt:
			if n.Tok == token.DEFINE {
				addExprs(n.Key, n.Value)
			}
		case *ast.FuncDecl:
			if n.Recv != nil {
				for _, f := range n.Recv.List {
					add(f.Names...)
				}
			}
		case *ast.BlockStmt:
			for _, st := range n.List {
				if ds, ok := st.(*ast.DeclStmt); ok {
					for _, spec := range ds.Decl.(*ast.GenDecl).Specs {
						if vs, ok := spec.(*ast.ValueSpec); ok {
							add(vs.Names...)
						}
					}
				}
			}
		}
		return true
	})
	return out
}
