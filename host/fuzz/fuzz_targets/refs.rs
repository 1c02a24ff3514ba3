//! The `${{ }}` reference parser on arbitrary strings: it must never panic, references must
//! lie inside the string on character boundaries, and interpolating them must too.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(refs) = sluice::manifest::refs::find(s) {
        let mut last = 0;
        for r in &refs {
            assert!(r.range.start >= last && r.range.end <= s.len());
            assert!(s.is_char_boundary(r.range.start) && s.is_char_boundary(r.range.end));
            last = r.range.end;
        }
        let _ = sluice::manifest::refs::whole(s, &refs);
        let _ = sluice::manifest::refs::interpolate(s, &refs, |e| e.to_string());
    }
});
