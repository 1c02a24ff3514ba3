//! Byte searches eight bytes at a time (SWAR). Inside a wasm guest every loop iteration also
//! pays for an interruption check, so the hot scans (comments, line starts, raw strings,
//! encoding checks) take eight bytes per iteration instead of one.

const LO: u64 = 0x0101_0101_0101_0101;
const HI: u64 = 0x8080_8080_8080_8080;

/// A word whose lowest set high bit marks the first byte of `word` equal to `b` (bits above
/// it may be spurious, the lowest is exact).
#[inline(always)]
fn matches(word: u64, b: u8) -> u64 {
    let x = word ^ (LO * u64::from(b));
    x.wrapping_sub(LO) & !x & HI
}

#[inline(always)]
fn word(chunk: &[u8]) -> u64 {
    u64::from_le_bytes(chunk.try_into().expect("8 bytes"))
}

/// The index of the first `b` in `hay`.
pub fn find(hay: &[u8], b: u8) -> Option<usize> {
    let mut i = 0;
    while i + 8 <= hay.len() {
        let m = matches(word(&hay[i..i + 8]), b);
        if m != 0 {
            return Some(i + (m.trailing_zeros() / 8) as usize);
        }
        i += 8;
    }
    hay[i..].iter().position(|&c| c == b).map(|p| i + p)
}

/// Calls `f` with the index of every `b` in `hay`, in order.
pub fn each(hay: &[u8], b: u8, mut f: impl FnMut(usize)) {
    let mut start = 0;
    while let Some(i) = find(&hay[start..], b) {
        f(start + i);
        start += i + 1;
    }
}

/// The index of the first `*/` at or after `from`.
pub fn find_comment_end(hay: &[u8], from: usize) -> Option<usize> {
    let mut i = from;
    while let Some(star) = find(&hay[i..], b'*') {
        let at = i + star;
        if hay.get(at + 1) == Some(&b'/') {
            return Some(at);
        }
        i = at + 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agrees_with_a_byte_loop() {
        let text: Vec<u8> = (0..200u32).map(|i| (i * 37 % 251) as u8).collect();
        for b in [0u8, 10, 42, 0xEF, 0xFF, 200] {
            for start in 0..20 {
                let hay = &text[start..];
                assert_eq!(
                    find(hay, b),
                    hay.iter().position(|&c| c == b),
                    "{b} {start}"
                );
                let mut all = Vec::new();
                each(hay, b, |i| all.push(i));
                let expect: Vec<usize> = hay
                    .iter()
                    .enumerate()
                    .filter(|(_, c)| **c == b)
                    .map(|(i, _)| i)
                    .collect();
                assert_eq!(all, expect);
            }
        }
        assert_eq!(find_comment_end(b"/* a * b */ x", 2), Some(9));
        assert_eq!(find_comment_end(b"/* a * b ", 2), None);
        // The high byte 0x80 next to the searched byte must not confuse the borrow trick.
        assert_eq!(find(&[0x80, 0x01, 0x00, 5, 5, 5, 5, 5, 5], 0), Some(2));
        assert_eq!(find(&[1, 1, 1, 1, 1, 1, 1, 0x81, 0x80], 0x80), Some(8));
    }
}
