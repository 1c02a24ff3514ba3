//! gosec's rules: ids, severities, confidences and CWE mappings as gosec reports them.

use sluice_sdk::{Rule, Severity, confidence};

/// gosec's three levels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// LOW.
    Low,
    /// MEDIUM.
    Medium,
    /// HIGH.
    High,
}

impl Level {
    /// Parses `low`, `medium` or `high` (any case).
    pub fn parse(s: &str) -> Option<Level> {
        match s.to_ascii_lowercase().as_str() {
            "low" => Some(Level::Low),
            "medium" => Some(Level::Medium),
            "high" => Some(Level::High),
            _ => None,
        }
    }

    /// The contract's severity: HIGH is an error, MEDIUM a warning, LOW a note.
    pub fn severity(self) -> Severity {
        match self {
            Level::Low => Severity::Note,
            Level::Medium => Severity::Warning,
            Level::High => Severity::Error,
        }
    }

    /// The contract's confidence.
    pub fn confidence(self) -> f32 {
        match self {
            Level::Low => confidence::LOW,
            Level::Medium => confidence::MEDIUM,
            Level::High => confidence::HIGH,
        }
    }

    /// A CVSS-like score for code-scanning tools.
    pub fn security_severity(self) -> f32 {
        match self {
            Level::Low => 3.0,
            Level::Medium => 5.5,
            Level::High => 8.0,
        }
    }
}

/// One rule.
pub struct RuleDef {
    /// gosec's id.
    pub id: &'static str,
    /// A kebab-case name.
    pub name: &'static str,
    /// gosec's description.
    pub summary: &'static str,
    /// Severity.
    pub severity: Level,
    /// Confidence.
    pub confidence: Level,
    /// CWE id (number).
    pub cwe: u32,
    /// Notes on what Sluice decides from syntax.
    pub help: &'static str,
}

use Level::{High, Low, Medium};

macro_rules! rules {
    ($( $id:literal $name:literal $sev:ident $conf:ident $cwe:literal $summary:literal $help:literal; )*) => {
        /// Every rule, by id.
        pub const RULES: &[RuleDef] = &[$(RuleDef {
            id: $id, name: $name, summary: $summary, severity: $sev, confidence: $conf, cwe: $cwe, help: $help,
        }),*];
    };
}

rules! {
    "G101" "hardcoded-credentials" High Low 798 "Look for hard coded credentials"
        "Variables, constants, struct fields, map keys and comparisons whose name looks like a credential (`password`, `secret`, `token`, `apiKey`, `cred`, ...) given a high-entropy string, and any high-entropy string in a known secret format (AWS, GitHub, Google, Slack, Stripe keys, private keys, passwords in URLs, ...), once a statement or literal as gosec. gosec estimates entropy with zxcvbn; Sluice splits the first 16 characters into words and counts a pronounceable word as a dictionary guess (11 bits) and anything else by brute force over its character classes.";
    "G102" "bind-all-interfaces" Medium High 200 "Bind to all interfaces"
        "`net.Listen` or `tls.Listen` on `0.0.0.0` or an address with no host (`:8080`), written as a literal or held by a constant or variable declared with one, or among the arguments of the call that makes the address (`Listen(split(addr))`).";
    "G103" "unsafe" Low High 242 "Audit the use of unsafe block"
        "Calls of `unsafe.Pointer`, `unsafe.Add`, `unsafe.Slice`, `unsafe.SliceData`, `unsafe.String` and `unsafe.StringData`.";
    "G104" "unchecked-errors" Low High 703 "Audit errors not checked"
        "A call whose error result is dropped as a statement; in `audit` mode also an error assigned to `_`. Standard-library functions from a table and the package's own functions with an `error` result; method calls need types and are not checked. gosec's allow-list (`fmt.Print*`, `os.Unsetenv`, `rand.Read`, ...) and `g104-allow` are respected.";
    "G106" "ssh-insecure-ignore-host-key" Medium High 322 "Audit the use of ssh.InsecureIgnoreHostKey"
        "`golang.org/x/crypto/ssh.InsecureIgnoreHostKey` accepts any host key.";
    "G107" "http-request-variable-url" Medium Medium 88 "Url provided to HTTP request as taint input"
        "`http.Get`, `Head`, `Post` and `PostForm` with a URL variable declared at package level or with a value not made of constants (gosec's rule; a local declared with a constant is safe).";
    "G108" "pprof-exposed" High High 200 "Profiling endpoint automatically exposed on /debug/pprof"
        "Importing `net/http/pprof` registers its handlers on the default mux.";
    "G109" "atoi-overflow" High Medium 190 "Potential Integer overflow made by strconv.Atoi result conversion to int16/32"
        "A variable assigned from `strconv.Atoi` and converted to `int16` or `int32` in the same function.";
    "G110" "decompression-bomb" Medium Medium 409 "Potential DoS vulnerability via decompression bomb"
        "`io.Copy` or `io.CopyBuffer` from a reader made by a `compress/*` or `archive/*` constructor, or opened from a zip archive's entry, in the same function; use `io.CopyN` with a limit.";
    "G111" "http-dir-root" High Medium 22 "Potential directory traversal"
        "`http.Dir(\"/\")` serves the whole file system.";
    "G112" "slowloris" Medium Low 400 "Potential slowloris attack"
        "An `http.Server` literal with neither `ReadHeaderTimeout` nor `ReadTimeout`.";
    "G114" "http-serve-no-timeouts" Medium High 676 "Use of net/http serve function that has no support for setting timeouts"
        "`http.ListenAndServe`, `ListenAndServeTLS`, `Serve` and `ServeTLS` use a server with no timeouts.";
    "G116" "trojan-source" High Medium 838 "Detect Trojan Source attacks using bidirectional Unicode characters"
        "Bidirectional control characters (U+202A to U+202E, U+2066 to U+2069, U+200E, U+200F): one finding a file, at the first.";
    "G201" "sql-format-string" Medium High 89 "SQL query construction using format string"
        "At a `database/sql` query call (`Exec`, `Query`, `QueryRow`, `Prepare` and their `Context` forms), a query declared with `fmt.Sprint*`/`Fprintf` whose format looks like SQL, has a text verb (`%s`, `%v`, ...) and takes a value not made of constants (`pq.QuoteIdentifier` is safe).";
    "G202" "sql-string-concat" Medium High 89 "SQL query construction using string concatenation"
        "At a `database/sql` query call, a query concatenated from a SQL-looking literal and a value not made of constants: in place, in its declaration, or appended later (`q += x`, `q = q + x`). A local `strings.Builder` written only with constants is a constant.";
    "G203" "html-template-unescaped" Medium Low 79 "Use of unescaped data in HTML templates"
        "Conversions to `html/template`'s `HTML`, `HTMLAttr`, `JS` and `URL` of values that are not literals.";
    "G204" "subprocess-variable" Medium High 78 "Audit use of command execution"
        "`exec.Command`, `exec.CommandContext` (and `execabs`'), `syscall.Exec`, `ForkExec` and `StartProcess` with an argument not made of constants (the program itself may be a parameter, as gosec allows).";
    "G301" "mkdir-permissions" Medium High 276 "Poor file permissions used when creating a directory"
        "`os.Mkdir` and `os.MkdirAll` with a mode above 0750 (`g301-mode`).";
    "G302" "chmod-permissions" Medium High 276 "Poor file permissions used with chmod"
        "`os.OpenFile` and `os.Chmod` with a mode above 0600 (`g302-mode`).";
    "G303" "predictable-temp-file" Medium High 377 "Creating tempfile using a predictable path"
        "`os.Create`, `os.WriteFile` and `ioutil.WriteFile` on a path in `/tmp`, `/var/tmp` or `/usr/tmp`, or built from `os.TempDir()` (by `+` or a join); use `os.CreateTemp`.";
    "G304" "file-inclusion" Medium High 22 "File path provided as taint input"
        "`os.Open`, `os.OpenFile`, `os.Create`, `os.ReadFile` and `ioutil.ReadFile` with a path variable not made of constants and not cleaned (`filepath.Clean`, `Rel`, `EvalSymlinks`), a join with such a variable (unless a constant base joined with a cleaned path), or a concatenation with one.";
    "G305" "archive-traversal" Medium High 22 "File traversal when extracting zip/tar archive"
        "In a file importing `archive/zip` or `archive/tar`, `filepath.Join` or `path.Join` with an entry's `.Name`, directly or through a variable declared with it.";
    "G306" "write-file-permissions" Medium High 276 "Poor file permissions used when writing to a new file"
        "`os.WriteFile` and `ioutil.WriteFile` with a mode above 0600 (`g306-mode`); `os.ModePerm` is 0777.";
    "G307" "create-permissions" Medium High 276 "Poor file permissions used when creating a file with os.Create"
        "`os.Create` makes files with mode 0666; reported when `g307-mode` is below that (gosec's default, 0666, reports nothing).";
    "G401" "weak-hash" Medium High 328 "Use of weak cryptographic primitive (MD5, SHA1)"
        "`crypto/md5` and `crypto/sha1` `New` and `Sum` functions.";
    "G402" "bad-tls-settings" High High 295 "Look for bad TLS connection settings"
        "In `tls.Config` literals (and fields assigned on a `tls.Config` variable), once each as gosec: `InsecureSkipVerify` true (or not known: low confidence), `PreferServerCipherSuites` false, a cipher suite outside Mozilla's intermediate list, `MinVersion` below TLS 1.2 or `MaxVersion` below TLS 1.3 (0 is Go's safe default). Constants and variables declared with a value are followed.";
    "G403" "weak-rsa-key" Medium High 310 "Ensure minimum RSA key length of 2048 bits"
        "`rsa.GenerateKey` with a literal size below 2048.";
    "G404" "weak-random" High Medium 338 "Insecure random number source (rand)"
        "gosec's lists of `math/rand` and `math/rand/v2` functions (`Intn`, `Int`, `New`, ...); sources such as `NewSource` and `NewPCG` are not reported on their own. Use `crypto/rand` for anything secret.";
    "G405" "weak-cipher" Medium High 327 "Use of weak cryptographic primitive (DES, RC4)"
        "`crypto/des` and `crypto/rc4` cipher constructors.";
    "G406" "deprecated-hash" Medium High 328 "Use of deprecated weak cryptographic primitive (MD4, RIPEMD160)"
        "`golang.org/x/crypto/md4` and `golang.org/x/crypto/ripemd160` `New`.";
    "G501" "import-md5" Medium High 327 "Import blocklist: crypto/md5"
        "Importing `crypto/md5`.";
    "G502" "import-des" Medium High 327 "Import blocklist: crypto/des"
        "Importing `crypto/des`.";
    "G503" "import-rc4" Medium High 327 "Import blocklist: crypto/rc4"
        "Importing `crypto/rc4`.";
    "G504" "import-cgi" Medium High 327 "Import blocklist: net/http/cgi"
        "Importing `net/http/cgi`.";
    "G505" "import-sha1" Medium High 327 "Import blocklist: crypto/sha1"
        "Importing `crypto/sha1`.";
    "G506" "import-md4" Medium High 327 "Import blocklist: golang.org/x/crypto/md4"
        "Importing `golang.org/x/crypto/md4`.";
    "G507" "import-ripemd160" Medium High 327 "Import blocklist: golang.org/x/crypto/ripemd160"
        "Importing `golang.org/x/crypto/ripemd160`.";
    "G601" "range-aliasing" Medium Medium 118 "Implicit memory aliasing of items from a range statement"
        "`&v` (not returned at once) or `&v.field` (when the ranged-over elements are not pointers) of a range value variable inside its loop, in modules whose `go` directive is below 1.22 (or that have no go.mod); from 1.22 each iteration has its own variable.";
}

/// The rule called `id`.
pub fn rule(id: &str) -> Option<&'static RuleDef> {
    RULES.iter().find(|r| r.id == id)
}

/// The rule metadata for `describe()`.
pub fn rules() -> Vec<Rule> {
    RULES
        .iter()
        .map(|r| {
            Rule::new(r.id, r.name, r.summary, r.severity.severity())
                .help(r.help)
                .confidence(r.confidence.confidence())
                .tag("security")
                .tag(format!("CWE-{}", r.cwe))
                .security_severity(r.severity.security_severity())
        })
        .chain([go_check::parse_error_rule()])
        .collect()
}
