// Command samples prints, as JSON, the code samples of a gosec checkout that its rule tests
// run, each with the rule it is run against, the number of issues gosec expects and the
// source text of its configuration.
//
// Usage: go run ./plugins/gosec/tools/samples GOSEC_CHECKOUT > samples.json
//
// It reads rules/rules_test.go for the pairs `runner("G101", testutils.SampleCodeG101)` and
// testutils/*_samples.go for the samples. Standard library only: it parses the files, it
// does not build gosec.
package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/printer"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
)

type sample struct {
	Rule   string   `json:"rule"`
	Set    string   `json:"set"`
	Index  int      `json:"index"`
	Files  []string `json:"files"`
	Errors int      `json:"errors"`
	Config string   `json:"config"`
	// Why the sample could not be read (its code is not made of string literals).
	Unreadable string `json:"unreadable,omitempty"`
}

var runner = regexp.MustCompile(`runner\("(G\d+)",\s*testutils\.(\w+)\)`)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: samples GOSEC_CHECKOUT")
		os.Exit(2)
	}
	root := os.Args[1]
	tests, err := os.ReadFile(filepath.Join(root, "rules", "rules_test.go"))
	if err != nil {
		fail(err)
	}
	ruleOf := map[string]string{}
	var order []string
	for _, m := range runner.FindAllStringSubmatch(string(tests), -1) {
		if _, seen := ruleOf[m[2]]; !seen {
			order = append(order, m[2])
		}
		ruleOf[m[2]] = m[1]
	}
	files, err := filepath.Glob(filepath.Join(root, "testutils", "*_samples.go"))
	if err != nil {
		fail(err)
	}
	fset := token.NewFileSet()
	sets := map[string][]sample{}
	for _, path := range files {
		f, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			fail(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			spec, ok := n.(*ast.ValueSpec)
			if !ok {
				return true
			}
			for i, name := range spec.Names {
				rule, wanted := ruleOf[name.Name]
				if !wanted || i >= len(spec.Values) {
					continue
				}
				list, ok := spec.Values[i].(*ast.CompositeLit)
				if !ok {
					continue
				}
				for j, elt := range list.Elts {
					s, err := decode(fset, elt)
					if err != nil {
						s = sample{Unreadable: err.Error()}
					}
					s.Rule, s.Set, s.Index = rule, name.Name, j
					sets[name.Name] = append(sets[name.Name], s)
				}
			}
			return false
		})
	}
	out := []sample{}
	for _, set := range order {
		if len(sets[set]) == 0 {
			fail(fmt.Errorf("%s: no samples found", set))
		}
		out = append(out, sets[set]...)
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", " ")
	if err := enc.Encode(out); err != nil {
		fail(err)
	}
}

// decode reads `{[]string{...}, N, config}` (positional or keyed).
func decode(fset *token.FileSet, elt ast.Expr) (sample, error) {
	var s sample
	lit, ok := elt.(*ast.CompositeLit)
	if !ok || len(lit.Elts) != 3 {
		return s, fmt.Errorf("not a three-field sample")
	}
	fields := map[string]ast.Expr{}
	for i, e := range lit.Elts {
		if kv, ok := e.(*ast.KeyValueExpr); ok {
			fields[kv.Key.(*ast.Ident).Name] = kv.Value
		} else {
			fields[[]string{"Code", "Errors", "Config"}[i]] = e
		}
	}
	code, ok := fields["Code"].(*ast.CompositeLit)
	if !ok {
		return s, fmt.Errorf("Code is not a literal")
	}
	for _, c := range code.Elts {
		text, err := str(c)
		if err != nil {
			return s, err
		}
		s.Files = append(s.Files, text)
	}
	n, ok := fields["Errors"].(*ast.BasicLit)
	if !ok {
		return s, fmt.Errorf("Errors is not a literal")
	}
	errors, err := strconv.Atoi(n.Value)
	if err != nil {
		return s, err
	}
	s.Errors = errors
	var buf bytes.Buffer
	if err := printer.Fprint(&buf, fset, fields["Config"]); err != nil {
		return s, err
	}
	s.Config = buf.String()
	return s, nil
}

// str folds a string literal or a `+` of them.
func str(e ast.Expr) (string, error) {
	switch e := e.(type) {
	case *ast.BasicLit:
		if e.Kind == token.STRING {
			return strconv.Unquote(e.Value)
		}
	case *ast.ParenExpr:
		return str(e.X)
	case *ast.BinaryExpr:
		if e.Op == token.ADD {
			a, err := str(e.X)
			if err != nil {
				return "", err
			}
			b, err := str(e.Y)
			return a + b, err
		}
	}
	return "", fmt.Errorf("a Code element is not made of string literals")
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "samples:", err)
	os.Exit(1)
}
