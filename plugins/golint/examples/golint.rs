//! Runs the golint checks natively over a directory and prints golint-style lines:
//! `cargo run -p sluice-plugin-golint --example golint -- <dir> [min-confidence]`.

fn main() {
    let mut args = std::env::args().skip(1);
    let dir = args.next().expect("usage: golint <dir> [min-confidence]");
    let mut config = sluice_plugin_golint::Config::default();
    if let Some(c) = args.next() {
        config.min_confidence = c.parse().expect("a number");
    }
    let started = std::time::Instant::now();
    let report = match sluice_plugin_golint::analyse(std::path::Path::new(&dir), &config) {
        Ok(r) => r,
        Err(e) => panic!("{e:?}"),
    };
    for f in &report.findings {
        let s = f.span.as_ref().expect("located");
        println!(
            "{}:{}:{}: {} [{}]",
            s.path, s.line, s.column, f.message, f.rule
        );
    }
    eprintln!(
        "{} findings, {} packages, {} files, {} bytes in {:?}",
        report.findings.len(),
        report.stats.packages,
        report.stats.files,
        report.stats.bytes,
        started.elapsed()
    );
}
