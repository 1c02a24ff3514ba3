//! The manifest parser on arbitrary text: it must never panic, and every diagnostic it
//! returns must render (spans inside the text, carets on character boundaries).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let dir = std::path::PathBuf::from("/nonexistent/sluice-fuzz");
    match sluice::manifest::parse("sluice.toml", dir, text.to_string()) {
        Ok((manifest, diags)) => {
            let _ = diags.render(&manifest.path, &manifest.source);
            for step in manifest.steps.values() {
                for entry in step.with.values() {
                    for r in &entry.refs {
                        let _ = r.to_string();
                    }
                }
            }
        }
        Err((source, diags)) => {
            let _ = diags.render("sluice.toml", &source);
        }
    }
});
