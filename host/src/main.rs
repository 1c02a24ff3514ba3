//! The `sluice` binary; everything lives in the library (`sluice::cli`).

fn main() {
    std::process::exit(sluice::cli::main());
}
