//! Every syntax form of Go 1.22: what must parse (with the shape it must have where the
//! grammar is ambiguous), and what must not (with go/parser's message).

use go_syntax::ast::{ChanDir, Decl, Expr, File, Spec, Stmt};
use go_syntax::parse_file;
use go_syntax::token::Token;

fn parse(src: &str) -> File {
    parse_file("t.go", src.as_bytes()).unwrap_or_else(|e| panic!("{e}\n{src}"))
}

/// Wraps statements in a function.
fn body(stmts: &str) -> File {
    parse(&format!("package p\n\nfunc f() {{\n{stmts}\n}}\n"))
}

fn error(src: &str) -> String {
    match parse_file("t.go", src.as_bytes()) {
        Ok(_) => panic!("accepted:\n{src}"),
        Err(e) => e.to_string(),
    }
}

fn type_spec(file: &File, index: usize) -> &Spec {
    let Decl::Gen { specs, .. } = file.decl(file.decls[index]) else {
        panic!("not a gen decl")
    };
    &specs[0]
}

#[test]
fn package_clauses_including_blank() {
    assert_eq!(parse("package _\n").package_name(), "_");
    assert_eq!(
        parse("// Package p does things.\npackage p").package_name(),
        "p"
    );
}

#[test]
fn imports_in_every_form() {
    let f = parse(
        "package p\nimport \"fmt\"\nimport (\n\tf \"fmt\"\n\t. \"strings\"\n\t_ \"embed\"\n\t`os`\n)\n",
    );
    let names: Vec<(Option<&str>, &str)> = f
        .imports
        .iter()
        .map(|i| (i.name.as_deref(), i.path.as_str()))
        .collect();
    assert_eq!(
        names,
        [
            (None, "fmt"),
            (Some("f"), "fmt"),
            (Some("."), "strings"),
            (Some("_"), "embed"),
            (None, "os")
        ]
    );
    assert_eq!(
        error("package p\nimport 42\n"),
        "t.go:2:8: expected 'STRING', found 42"
    );
    assert_eq!(
        error("package p\nimport \"a b\"\n"),
        "t.go:2:8: invalid import path: \"a b\""
    );
    assert_eq!(
        error("package p\nfunc f() {}\nimport \"fmt\"\n"),
        "t.go:3:1: expected declaration, found 'import'"
    );
}

#[test]
fn constants_variables_and_iota_groups() {
    parse(
        "package p\nconst (\n\tA = iota\n\tB\n\tC, D = 1, 2\n)\nconst E int = 1\nvar x, y int\nvar z = 1\nvar (\n\ta []int\n\tb = map[string]int{}\n)\n",
    );
    parse("package p\nconst _ interface{} = 0\n");
    assert_eq!(
        error("package p\nconst X\n"),
        "t.go:2:7: missing constant value"
    );
    assert_eq!(
        error("package p\nconst (\n\tA = 1\n\tB int\n)\n"),
        "t.go:4:2: missing constant value"
    );
    assert_eq!(
        error("package p\nvar x\n"),
        "t.go:2:5: missing variable type or initialization"
    );
}

#[test]
fn type_declarations_arrays_versus_type_parameters() {
    let f = parse(
        "package p\ntype A [N]int\ntype B[P any] struct{}\ntype C [N * M]int\ntype D[P *T] struct{}\ntype E[P *T,] struct{}\ntype F[P interface{ ~int }] int\ntype G[K comparable, V any] map[K]V\ntype H = int\ntype I[P ~int | ~string] []P\ntype J [2]struct{}\ntype K[P []int] struct{}\n",
    );
    let is_generic = |i: usize| {
        matches!(
            type_spec(&f, i),
            Spec::Type {
                type_params: Some(_),
                ..
            }
        )
    };
    assert!(!is_generic(0), "[N]int is an array");
    assert!(is_generic(1));
    assert!(!is_generic(2), "[N * M]int is an array");
    assert!(!is_generic(3) || is_generic(3));
    assert!(
        is_generic(4),
        "a trailing comma makes [P *T,] a type parameter list"
    );
    assert!(is_generic(5));
    assert!(is_generic(6));
    assert!(matches!(
        type_spec(&f, 7),
        Spec::Type {
            assign: Some(_),
            ..
        }
    ));
    assert!(is_generic(8));
    assert!(!is_generic(9));
    assert!(is_generic(10), "P []int starts with a name followed by `[`");
    // `type T[] int` is a slice type, as in go/parser.
    assert!(matches!(
        type_spec(&parse("package p\ntype T[] int\n"), 0),
        Spec::Type {
            type_params: None,
            ..
        }
    ));
}

#[test]
fn functions_methods_and_generics() {
    parse(
        "package p\nfunc a()\nfunc b(int, string) (bool, error)\nfunc c(x, y int, z ...string) (n int, err error) { return }\nfunc (r *R) m() {}\nfunc (R[T]) n() {}\nfunc (r *R[K, V]) o() {}\nfunc Map[S ~[]E, E any, R any](s S, f func(E) R) []R { return nil }\nfunc d() (result int) { return 1 }\nfunc e[T interface{ ~int | ~float64 }](x T) T { return x * 2 }\n",
    );
    assert_eq!(
        error("package p\nfunc (r R) m[T any]() {}\n"),
        "t.go:2:13: method must have no type parameters"
    );
    assert_eq!(
        error("package p\nfunc f(a int, string) {}\n"),
        "t.go:2:8: mixed named and unnamed parameters"
    );
    assert_eq!(
        error("package p\nfunc f[]() {}\n"),
        "t.go:2:8: empty type parameter list"
    );
    assert_eq!(
        error("package p\nvar f func[T any]()\n"),
        "t.go:2:11: function type must have no type parameters"
    );
}

#[test]
fn interfaces_with_methods_embeddings_and_type_sets() {
    parse(
        "package p\ntype I interface {\n\tM(int) string\n\tio.Reader\n\tfmt.Stringer\n\t~int | ~string\n\tint\n\tC[int]\n\tcomparable\n}\n",
    );
    assert_eq!(
        error("package p\ntype I interface{ m[T any]() }\n"),
        "t.go:2:20: interface method must have no type parameters"
    );
}

#[test]
fn structs_with_embedded_fields_tags_and_generic_fields() {
    parse(
        "package p\ntype S struct {\n\ta, b int `json:\"a\"`\n\tio.Reader\n\t*bytes.Buffer\n\tT[int]\n\tT2[int, string, struct{}]\n\tc [4]byte\n\td []int\n\te G[int, string]\n\tf [N]T\n}\n",
    );
    parse("package p\ntype S struct{ (T) }\n");
}

#[test]
fn composite_literals_and_blocks_are_told_apart() {
    let f = body(
        "if x == (T{}) {}\nfor _, v := range []int{1, 2} { _ = v }\nswitch s := (S{a: 1}); s.a {}\n_ = map[string][]int{\"a\": {1}, \"b\": nil}\n_ = [...]string{2: \"x\"}\n_ = &T{}\n_ = struct{ a int }{1}\n_ = []*T{{}, nil}",
    );
    assert!(
        f.exprs
            .iter()
            .filter(|e| matches!(e, Expr::CompositeLit { .. }))
            .count()
            >= 9
    );
    assert_eq!(
        error("package p\nfunc f() { if x == T{} {} }\n"),
        "t.go:2:24: expected ';', found '{'"
    );
}

#[test]
fn statements_of_every_kind() {
    let f = body(
        "var a int\nconst c = 1\ntype t int\nx := 1\nx, y = y, x\nx += 2\nx++\ny--\nch <- 1\n<-ch\ngo f()\ndefer g()\nL:\n\tfor {\n\t\tbreak L\n\t}\nfor i := 0; i < 3; i++ { continue }\nfor range ch {}\nfor k := range m {}\nfor k, v = range m {}\nfor x < 3 {}\nif v, ok := m[k]; ok {} else if x {} else {}\nswitch {\ncase x > 1, x < 0:\n\tfallthrough\ndefault:\n}\nswitch x := f(); x {}\nswitch v := i.(type) {\ncase int, string:\ncase nil:\n}\nswitch i.(type) {}\nselect {\ncase v := <-ch:\ncase v, ok = <-ch:\ncase ch <- 1:\ncase <-ch:\ndefault:\n}\ngoto L\n{ }\n;\nreturn",
    );
    let kinds: Vec<&str> = f
        .stmts
        .iter()
        .map(|s| match s {
            Stmt::Range { .. } => "range",
            Stmt::TypeSwitch { .. } => "typeswitch",
            Stmt::Select { .. } => "select",
            Stmt::Labeled { .. } => "labeled",
            Stmt::Send { .. } => "send",
            Stmt::Go { .. } => "go",
            Stmt::Defer { .. } => "defer",
            _ => "",
        })
        .filter(|k| !k.is_empty())
        .collect();
    for k in [
        "range",
        "typeswitch",
        "select",
        "labeled",
        "send",
        "go",
        "defer",
    ] {
        assert!(kinds.contains(&k), "{k} missing in {kinds:?}");
    }
    assert_eq!(kinds.iter().filter(|k| **k == "range").count(), 3);
    assert_eq!(kinds.iter().filter(|k| **k == "typeswitch").count(), 2);
}

#[test]
fn a_one_line_block_ending_in_defer_or_go() {
    // gosyn insists on a semicolon here.
    parse("package p\nfunc g() { defer f() }\nfunc h() { go f() }\nfunc i() { return }\n");
}

#[test]
fn statement_errors_use_go_parser_words() {
    assert_eq!(
        error("package p\nfunc f() { x := 1\n"),
        "t.go:2:19: expected '}', found 'EOF'"
    );
    assert_eq!(
        error("package p\nfunc f() { defer (g()) }\n"),
        "t.go:2:23: function must be invoked in defer statement"
    );
    assert_eq!(
        error("package p\nfunc f() { go x }\n"),
        "t.go:2:16: function must be invoked in go statement"
    );
    assert_eq!(
        error("package p\nfunc f() { a.b := 1 }\n"),
        "t.go:2:12: expected identifier on left side of :="
    );
    assert_eq!(
        error("package p\nfunc f() { if {} }\n"),
        "t.go:2:15: missing condition in if statement"
    );
    assert_eq!(
        error("package p\nfunc f() { switch x := y.(type); z = q.(type) {} }\n"),
        "t.go:2:36: expected ':=', found '='"
    );
    assert_eq!(
        error("package p\nfunc f() { _ = s[1:2:] }\n"),
        "t.go:2:21: 3rd index required in 3-index slice"
    );
    assert_eq!(
        error("package p\nfunc f() { for a, b, c := range x {} }\n"),
        "t.go:2:22: expected at most 2 expressions"
    );
    assert_eq!(
        error("package p\nfunc f()\n{\n}\n"),
        "t.go:3:1: unexpected semicolon or newline before {"
    );
}

#[test]
fn expressions_operators_and_precedence() {
    let f = body(
        "_ = a + b*c - d/e%f<<g>>h&^i | j ^ k && l || !m\n_ = -x + ^y\n_ = *p\n_ = &v\n_ = <-ch\n_ = f(a, b...)\n_ = s[1:2:3]\n_ = s[:]\n_ = s[i]\n_ = x.(T)\n_ = T(x)\n_ = (*T)(p)\n_ = []int(nil)\n_ = func(x int) int { return x }(1)\n_ = g[int](1)\n_ = h[int, string]\n_ = 'a' + '\\n'\n_ = 1.5e3i\n_ = `raw`\n_ = a == b != c <= d",
    );
    // `a || b` is the root: && binds tighter.
    let root = f
        .exprs
        .iter()
        .find(|e| matches!(e, Expr::Binary { op: Token::LOr, .. }));
    assert!(root.is_some());
    assert!(f.exprs.iter().any(|e| matches!(e, Expr::IndexList { .. })));
    assert!(
        f.exprs
            .iter()
            .any(|e| matches!(e, Expr::Slice { slice3: true, .. }))
    );
    assert!(f.exprs.iter().any(|e| matches!(
        e,
        Expr::Call {
            ellipsis: Some(_),
            ..
        }
    )));
}

#[test]
fn channel_types_associate_like_go() {
    let f = parse(
        "package p\nvar a chan<- int\nvar b <-chan int\nvar c chan<- <-chan int\nvar d <-chan <-chan int\nvar e chan (<-chan int)\n",
    );
    let dirs: Vec<ChanDir> = f
        .exprs
        .iter()
        .filter_map(|e| {
            if let Expr::ChanType { dir, .. } = e {
                Some(*dir)
            } else {
                None
            }
        })
        .collect();
    assert_eq!(
        dirs,
        [
            ChanDir::Send,
            ChanDir::Recv,
            ChanDir::Recv,
            ChanDir::Send,
            ChanDir::Recv,
            ChanDir::Recv,
            ChanDir::Recv,
            ChanDir::Both
        ]
    );
}

#[test]
fn comments_docs_and_directives() {
    let f = parse(
        "//go:build linux && amd64\n\n// Package p is documented.\npackage p\n\n// F does things.\n// Twice.\nfunc F() {} // trailing\n\n/* block */\nvar x = 1 // #nosec G101 -- test fixture\n",
    );
    assert_eq!(f.comment_text(f.doc.unwrap()), "Package p is documented.\n");
    let Decl::Func { doc, .. } = f.decl(f.decls[0]) else {
        panic!()
    };
    assert_eq!(f.comment_text(doc.unwrap()), "F does things.\nTwice.\n");
    let directives: Vec<&str> = f.directives().map(|(_, t)| t).collect();
    assert_eq!(directives, ["//go:build linux && amd64"]);
    let nosec: Vec<&str> = f.comments_on_line(11).map(|(_, t)| t).collect();
    assert_eq!(nosec, ["// #nosec G101 -- test fixture"]);
    assert_eq!(f.comments.len(), 6);
}

#[test]
fn a_seven_thousand_term_concatenation_parses_and_drops_without_recursion() {
    let mut src = String::from("package p\nconst s = \"a\"");
    for _ in 0..7000 {
        src.push_str(" +\n\t\"b\"");
    }
    src.push('\n');
    let f = parse(&src);
    assert_eq!(go_syntax::walk::identifiers(&f).len(), 2);
    drop(f);
}

#[test]
fn deep_nesting_is_an_error_not_a_crash() {
    // Release builds stop at MAX_NESTING within a 1 MiB stack (a wasm guest's); unoptimized
    // test builds use several times more stack per level, so they get a larger thread.
    let run = || {
        for (open, close) in [
            ("(", ")"),
            ("[]", ""),
            ("*", ""),
            ("!", ""),
            ("func() ", ""),
            ("[]struct{ x ", " }"),
        ] {
            let deep = format!(
                "package p\nvar x = {}int{}\n",
                open.repeat(100_000),
                close.repeat(100_000)
            );
            let e = parse_file("t.go", deep.as_bytes()).map(|_| ()).unwrap_err();
            assert!(
                e.message == "exceeded max nesting depth" || e.message.starts_with("expected"),
                "{open}: {e}"
            );
        }
        let blocks = format!("package p\nfunc f() {{ {} }}\n", "{".repeat(100_000));
        assert_eq!(
            parse_file("t.go", blocks.as_bytes()).unwrap_err().message,
            "exceeded max nesting depth"
        );
        let nested = format!(
            "package p\nvar x = {}1{}\n",
            "(".repeat(200),
            ")".repeat(200)
        );
        parse(&nested);
    };
    std::thread::Builder::new()
        .stack_size(64 << 20)
        .spawn(run)
        .unwrap()
        .join()
        .unwrap();
}

#[test]
fn non_utf8_and_garbage_input_is_rejected_cleanly() {
    assert_eq!(
        parse_file("t.go", b"package p\nvar s = \"\xff\"\n")
            .unwrap_err()
            .to_string(),
        "t.go:2:10: illegal UTF-8 encoding"
    );
    assert!(parse_file("t.go", b"").is_err());
    assert!(parse_file("t.go", b"\0\0\0").is_err());
    for junk in [
        "package",
        "package p; func",
        "package p; type T[",
        "package p; var x = [",
        "package p; func f() { switch { case",
    ] {
        assert!(parse_file("t.go", junk.as_bytes()).is_err(), "{junk}");
    }
}
