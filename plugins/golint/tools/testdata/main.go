// Command testdata prints, as JSON, the expectations of golint's testdata files: for each
// `.go` file of a directory, the problems golint's own test expects (`// MATCH /regexp/`,
// `// MATCH:LINE /regexp/`), read as golint's lint_test.go reads them: from each comment
// group's text, at the group's first line unless a line is given.
//
// Usage: go run ./plugins/golint/tools/testdata/main.go DIR > expectations.json
//
// Standard library only: it parses the files, it does not build golint.
package main

import (
	"encoding/json"
	"fmt"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

type instruction struct {
	Line    int    `json:"line"`
	Pattern string `json:"pattern"`
}

type file struct {
	Name         string        `json:"name"`
	Instructions []instruction `json:"instructions"`
	// The file says OK or MATCH: golint's test runs it.
	Tested bool `json:"tested"`
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: testdata DIR")
		os.Exit(2)
	}
	names, err := filepath.Glob(filepath.Join(os.Args[1], "*.go"))
	if err != nil {
		fail(err)
	}
	sort.Strings(names)
	out := []file{}
	for _, name := range names {
		fset := token.NewFileSet()
		f, err := parser.ParseFile(fset, name, nil, parser.ParseComments)
		if err != nil {
			// golint's test fails on such a file; report it untested.
			out = append(out, file{Name: filepath.Base(name)})
			continue
		}
		entry := file{Name: filepath.Base(name), Instructions: []instruction{}}
		for _, cg := range f.Comments {
			ln := fset.Position(cg.Pos()).Line
			for _, line := range strings.Split(cg.Text(), "\n") {
				if line == "" || strings.HasPrefix(line, "#") {
					continue
				}
				if line == "OK" && !entry.Tested {
					entry.Tested = true
					continue
				}
				if !strings.Contains(line, "MATCH") {
					continue
				}
				a, b := strings.Index(line, "/"), strings.LastIndex(line, "/")
				if a == -1 || a == b {
					fail(fmt.Errorf("%s:%d: malformed match %q", name, ln, line))
				}
				at := ln
				if i := strings.Index(line, "MATCH:"); i >= 0 {
					rest := line[i+len("MATCH:"):]
					if j := strings.IndexByte(rest, ' '); j >= 0 {
						rest = rest[:j]
					}
					n, err := strconv.Atoi(rest)
					if err != nil {
						fail(fmt.Errorf("%s:%d: bad match line %q", name, ln, rest))
					}
					at = n
				}
				entry.Tested = true
				entry.Instructions = append(entry.Instructions, instruction{Line: at, Pattern: line[a+1 : b]})
			}
		}
		out = append(out, entry)
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", " ")
	if err := enc.Encode(out); err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "testdata:", err)
	os.Exit(1)
}
