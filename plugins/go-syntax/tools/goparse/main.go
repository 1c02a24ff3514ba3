// Command goparse is the reference for go-syntax's conformance and speed checks: it parses
// Go files with go/parser (comments on) and prints, per file, "ok <path>" or
// "err <path>\t<first error>". With -idents it prints, for each file that parses,
// "idents <path> <count> <fnv64a>" where the hash covers "<offset> <name>\n" of every
// *ast.Ident in source order. With -bench it only parses and reports the time taken.
//
// Usage: goparse [-bench | -idents] < file-list
package main

import (
	"bufio"
	"flag"
	"fmt"
	"go/ast"
	"go/parser"
	"go/scanner"
	"go/token"
	"hash/fnv"
	"os"
	"sort"
	"time"
)

func main() {
	bench := flag.Bool("bench", false, "time parsing only")
	idents := flag.Bool("idents", false, "print identifier digests")
	flag.Parse()
	var paths []string
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 1<<20), 1<<20)
	for in.Scan() {
		paths = append(paths, in.Text())
	}
	srcs := make([][]byte, len(paths))
	total := 0
	for i, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		srcs[i] = b
		total += len(b)
	}
	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()
	start := time.Now()
	for i, p := range paths {
		fset := token.NewFileSet()
		f, err := parser.ParseFile(fset, p, srcs[i], parser.ParseComments)
		if *bench {
			continue
		}
		if *idents {
			if err == nil {
				count, sum := identDigest(fset, f)
				fmt.Fprintf(out, "idents %s %d %016x\n", p, count, sum)
			}
			continue
		}
		if err == nil {
			fmt.Fprintf(out, "ok %s\n", p)
			continue
		}
		msg := err.Error()
		if list, ok := err.(scanner.ErrorList); ok && len(list) > 0 {
			msg = list[0].Error()
		}
		fmt.Fprintf(out, "err %s\t%s\n", p, msg)
	}
	if *bench {
		elapsed := time.Since(start)
		fmt.Fprintf(out, "files=%d bytes=%d seconds=%.4f mbps=%.2f\n", len(paths), total, elapsed.Seconds(), float64(total)/1e6/elapsed.Seconds())
	}
}

func identDigest(fset *token.FileSet, f *ast.File) (int, uint64) {
	type ident struct {
		offset int
		name   string
	}
	var list []ident
	ast.Inspect(f, func(n ast.Node) bool {
		if id, ok := n.(*ast.Ident); ok {
			list = append(list, ident{fset.Position(id.Pos()).Offset, id.Name})
		}
		return true
	})
	sort.SliceStable(list, func(i, j int) bool { return list[i].offset < list[j].offset })
	h := fnv.New64a()
	for _, id := range list {
		fmt.Fprintf(h, "%d %s\n", id.offset, id.name)
	}
	return len(list), h.Sum64()
}
