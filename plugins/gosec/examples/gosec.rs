//! Runs the gosec checks natively over a directory and prints golint-style lines:
//! `cargo run -p sluice-plugin-golint --example gosec -- <dir> [min-confidence: low|medium|high]`.

fn main() {
    let mut args = std::env::args().skip(1);
    let dir = args
        .next()
        .expect("usage: gosec <dir> [min-confidence: low|medium|high]");
    let config = sluice_plugin_gosec::Config {
        min_confidence: args.next(),
        ..Default::default()
    };
    let settings = sluice_plugin_gosec::Settings::new(config).unwrap_or_else(|e| panic!("{e:?}"));
    let started = std::time::Instant::now();
    let report = match sluice_plugin_gosec::analyse(std::path::Path::new(&dir), &settings) {
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
