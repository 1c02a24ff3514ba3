//! Native parse speed over a corpus: `bench_parse [--passes N] < file-list`.
//! Prints the median MB/s of N passes (files already in memory), the slowest files, the
//! peak resident memory, and a JSON line for the harness.

use std::io::BufRead;
use std::time::{Duration, Instant};

fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let passes: usize = args
        .iter()
        .position(|a| a == "--passes")
        .and_then(|i| args.get(i + 1)?.parse().ok())
        .unwrap_or(5);
    let paths: Vec<String> = std::io::stdin()
        .lock()
        .lines()
        .map(|l| l.unwrap())
        .collect();
    let files: Vec<(String, Vec<u8>)> = paths
        .into_iter()
        .map(|p| {
            let b = std::fs::read(&p).unwrap();
            (p, b)
        })
        .collect();
    let bytes: usize = files.iter().map(|(_, b)| b.len()).sum();
    let mut per_file = vec![Duration::MAX; files.len()];
    let mut pass_times = Vec::new();
    let mut accepted = 0;
    for _ in 0..passes {
        accepted = 0;
        let start = Instant::now();
        for (i, (name, src)) in files.iter().enumerate() {
            let t = Instant::now();
            let ok = go_syntax::parse_file(name, src).is_ok();
            per_file[i] = per_file[i].min(t.elapsed());
            accepted += usize::from(ok);
        }
        pass_times.push(start.elapsed());
    }
    pass_times.sort();
    let median = pass_times[pass_times.len() / 2];
    let mbps = bytes as f64 / 1e6 / median.as_secs_f64();
    let mut slow: Vec<(Duration, &str, usize)> = files
        .iter()
        .zip(&per_file)
        .map(|((n, b), d)| (*d, n.as_str(), b.len()))
        .collect();
    slow.sort_by_key(|s| std::cmp::Reverse(s.0));
    println!(
        "files {} ({} accepted), {:.1} MB; median of {passes} passes: {:.3} s = {mbps:.1} MB/s; peak RSS {} MiB",
        files.len(),
        accepted,
        bytes as f64 / 1e6,
        median.as_secs_f64(),
        peak_rss_kib() / 1024
    );
    println!("slowest files (best of {passes}):");
    for (d, n, len) in slow.iter().take(5) {
        println!(
            "  {:>8.2} ms  {:>6.1} MB/s  {n}",
            d.as_secs_f64() * 1e3,
            *len as f64 / 1e6 / d.as_secs_f64()
        );
    }
    println!(
        "{{\"mbps\": {mbps:.2}, \"seconds\": {:.4}, \"bytes\": {bytes}, \"peak_rss_kib\": {}}}",
        median.as_secs_f64(),
        peak_rss_kib()
    );
}
