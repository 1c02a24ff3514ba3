//! The rules, with revive's names (golint itself has none) and golint's confidences.

use sluice_sdk::{Rule, Severity};

/// `(id, summary, help)` of every rule.
pub const RULES: &[(&str, &str, &str)] = &[
    (
        "package-comments",
        "Packages have a package comment of the form \"Package name ...\"",
        "golint: a package needs a doc comment in one of its files, starting with `Package <name> ` (not required of `main`), with no blank line between it and the `package` clause. Sluice reports a missing comment once per package, with golint's message, at confidence 1 since it has looked at every file (golint reports it per file at 0.2, which its default threshold hides).",
    ),
    (
        "dot-imports",
        "No dot imports outside tests",
        "golint: `import . \"pkg\"` makes it unclear where names come from. Allowed in `_test.go` files.",
    ),
    (
        "blank-imports",
        "Blank imports only in main or test packages, or with a comment",
        "golint: a `_` import outside `main` and tests must carry a comment saying why its side effects are wanted. A run of blank imports needs the comment on the first.",
    ),
    (
        "exported",
        "Exported names have doc comments of the form \"Name ...\", and do not stutter",
        "golint: every exported function, method (on an exported type), type, const and var needs a doc comment starting with its name; a type's may start with an article. `Error`, `String`, `Read`, `Write`, `ServeHTTP`, `Unwrap` and the `sort.Interface` methods are exempt. Also reports names that repeat the package name (`http.HTTPServer`), at confidence 0.8.",
    ),
    (
        "var-naming",
        "Names use MixedCaps and Go's initialisms",
        "golint: no underscores (0.9), no ALL_CAPS (0.8), no leading `k` on constants and top-level variables (0.8), initialisms in one case (`ID`, `URL`, `HTTP`, ...; 0.8), package names in lower case without underscores (1.0). Interface method names and cgo-exported functions are not checked; test functions (`TestX_y`) are not either.",
    ),
    (
        "indent-error-flow",
        "No else after an if block that ends with a return",
        "golint: `if c { ...; return } else { ... }` should drop the else and outdent its block.",
    ),
    (
        "range",
        "No redundant blank variables in range loops",
        "golint: `for _ = range x` is `for range x`, and `for k, _ = range x` is `for k = range x`.",
    ),
    (
        "errorf",
        "errors.New(fmt.Sprintf(...)) is fmt.Errorf(...)",
        "golint: use `fmt.Errorf` (and `t.Errorf` for `t.Error(fmt.Sprintf(...))` on a parameter declared `*testing.T`), in files that import the standard `errors` (not another package called errors).",
    ),
    (
        "error-naming",
        "Error variables are named errFoo or ErrFoo",
        "golint: package-level `var x = errors.New(...)` or `fmt.Errorf(...)` should be named `errX` (unexported) or `ErrX` (exported). Confidence 0.9.",
    ),
    (
        "error-strings",
        "Error strings are not capitalized and do not end with punctuation",
        "golint: messages of `errors.New` and `fmt.Errorf` are wrapped by callers, so they start in lower case (confidence 0.6: proper nouns are common) and do not end with `.`, `:`, `!` or a newline (0.8).",
    ),
    (
        "receiver-naming",
        "Receivers are named consistently, not this, self or _",
        "golint: a receiver name reflects its type, is not `this`/`self`/`_`, and is the same for every method of a type. golint compares methods within one file; Sluice compares within the package, in file order (as staticcheck's ST1016).",
    ),
    (
        "increment-decrement",
        "x += 1 is x++",
        "golint: use `x++` and `x--`. Confidence 0.8.",
    ),
    (
        "error-return",
        "error is the last result",
        "golint: when a function returns several results, `error` comes last. Confidence 0.9.",
    ),
    (
        "unexported-return",
        "Exported functions do not return unexported types",
        "golint (with types): callers cannot name the result type. Sluice decides it from syntax and the package's own declarations: a result whose type is (a pointer to) a type declared unexported in the package. Aliases count by their own name (`type b = A` is unexported). The type is named as golint names it, with the package name (`foo.hidden`). Types from other packages and inferred types are not seen.",
    ),
    (
        "time-naming",
        "time.Duration variables have no unit suffix",
        "golint (with types): a `time.Duration` holds a duration, not a count of seconds, so `timeoutSecs` misleads. Sluice checks `var` declarations with an explicit `time.Duration` or `*time.Duration` type, or whose value shows it (`5 * time.Second`, `time.Duration(n)`, `time.Since(t)`, `flag.Duration(...)`). Confidence 0.9.",
    ),
    (
        "context-keys-type",
        "context.WithValue keys are not basic types",
        "golint (with types): keys of basic types collide across packages; define an unexported key type. Sluice flags keys written as untyped constants (string, number, rune literals, `true`, `false`) and conversions to a basic type; a variable's type is not seen.",
    ),
    (
        "context-as-argument",
        "context.Context is the first parameter",
        "golint: a `context.Context` parameter comes first. Confidence 0.9.",
    ),
];

/// The rule metadata for `describe()`.
pub fn rules() -> Vec<Rule> {
    RULES
        .iter()
        .map(|(id, summary, help)| {
            Rule::new(*id, *id, *summary, Severity::Warning)
                .help(*help)
                .confidence(default_confidence(id))
                .tag("style")
        })
        .chain([go_check::parse_error_rule()])
        .collect()
}

fn default_confidence(id: &str) -> f32 {
    match id {
        "error-naming" | "time-naming" | "context-as-argument" | "error-return" => 0.9,
        "var-naming" | "increment-decrement" | "unexported-return" => 0.8,
        "error-strings" => 0.8,
        _ => 1.0,
    }
}
