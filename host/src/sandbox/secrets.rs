//! Secrets: values come from the host environment or a secrets file, reach a step only
//! through the `secret` host call and only for names in its `allow.secrets`, and are masked
//! in every sink (logs, outputs, findings, summaries, errors, the run record).

use std::collections::BTreeMap;
use std::path::Path;

mod mask_ser;

/// Where secret values come from: a secrets file (`NAME=value` lines) first, then the host
/// environment.
#[derive(Debug, Clone, Default)]
pub struct SecretSource {
    file: BTreeMap<String, String>,
}

impl SecretSource {
    /// Secrets from the host environment only.
    pub fn from_env() -> Self {
        SecretSource::default()
    }

    /// Adds a secrets file: `NAME=value` lines, `#` comments, blank lines; values may be
    /// wrapped in single or double quotes.
    pub fn with_file(mut self, path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read secrets file {}: {e}", path.display()))?;
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let Some((name, value)) = line.split_once('=') else {
                return Err(format!(
                    "{}:{}: expected `NAME=value`",
                    path.display(),
                    i + 1
                ));
            };
            let value = value.trim();
            let value = value
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .or_else(|| value.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')))
                .unwrap_or(value);
            self.file.insert(name.trim().to_string(), value.to_string());
        }
        Ok(self)
    }

    /// The value of `name`, if any.
    pub fn get(&self, name: &str) -> Option<String> {
        self.file
            .get(name)
            .cloned()
            .or_else(|| std::env::var(name).ok())
    }
}

/// What a masked value is replaced with.
pub const MASK: &str = "***";

/// Lines of a multi-line secret shorter than this are not masked on their own (a blank line
/// or a lone `}` would otherwise mask every such line of every log).
pub const MIN_LINE_NEEDLE: usize = 6;

/// Finds secret values (and the forms they commonly take in output) and replaces them with
/// `***`. One masker serves every sink: text ([`Masker::mask`]), byte streams cut into
/// arbitrary chunks ([`MaskStream`]), and JSON documents ([`Masked`], which covers map keys
/// and numbers too).
///
/// Needles: each value; each line of a multi-line value (at least [`MIN_LINE_NEEDLE`]
/// bytes); and the value's JSON-escaped, percent-encoded and base64 forms. Overlapping
/// matches are merged before replacing, so secrets `abcd` and `cdef` leave nothing of
/// `abcdef`.
#[derive(Clone, Default)]
pub struct Masker {
    finder: Option<aho_corasick::AhoCorasick>,
    longest: usize,
}

impl std::fmt::Debug for Masker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Masker")
            .field(
                "needles",
                &self.finder.as_ref().map_or(0, |a| a.patterns_len()),
            )
            .finish()
    }
}

impl Masker {
    /// A masker for these values (empty values are ignored: they cannot be found).
    pub fn new(values: impl IntoIterator<Item = String>) -> Self {
        use base64::Engine as _;
        let mut needles: Vec<String> = Vec::new();
        for v in values.into_iter().filter(|v| !v.is_empty()) {
            if v.contains('\n') {
                needles.extend(
                    v.lines()
                        .map(|l| l.trim_end_matches('\r').to_string())
                        .filter(|l| l.len() >= MIN_LINE_NEEDLE),
                );
            }
            let json = serde_json::to_string(&v).expect("a string serializes");
            needles.push(json[1..json.len() - 1].to_string());
            needles.push(percent_encode(&v, b"-._~"));
            if v.len() >= MIN_LINE_NEEDLE {
                needles.push(base64::engine::general_purpose::STANDARD_NO_PAD.encode(&v));
            }
            needles.push(v);
        }
        needles.sort();
        needles.dedup();
        if needles.is_empty() {
            return Masker::default();
        }
        let longest = needles.iter().map(String::len).max().unwrap_or(0);
        let finder = aho_corasick::AhoCorasick::new(&needles).expect("needles build an automaton");
        Masker {
            finder: Some(finder),
            longest,
        }
    }

    /// Whether there is nothing to mask.
    pub fn is_empty(&self) -> bool {
        self.finder.is_none()
    }

    /// Every match in `bytes`, overlapping ones merged, in order.
    fn spans(&self, bytes: &[u8]) -> Vec<(usize, usize)> {
        let Some(finder) = &self.finder else {
            return Vec::new();
        };
        let mut spans: Vec<(usize, usize)> = Vec::new();
        for m in finder.find_overlapping_iter(bytes) {
            match spans.last_mut() {
                Some(last) if m.start() <= last.1 => last.1 = last.1.max(m.end()),
                _ => spans.push((m.start(), m.end())),
            }
        }
        // Overlapping matches are reported by end position: merge again after sorting.
        spans.sort_unstable();
        let mut merged: Vec<(usize, usize)> = Vec::with_capacity(spans.len());
        for (s, e) in spans {
            match merged.last_mut() {
                Some(last) if s <= last.1 => last.1 = last.1.max(e),
                _ => merged.push((s, e)),
            }
        }
        merged
    }

    /// Whether `text` holds a secret.
    pub fn matches(&self, text: &str) -> bool {
        self.finder.as_ref().is_some_and(|f| f.is_match(text))
    }

    /// `text` with every secret value replaced by `***`.
    pub fn mask<'a>(&self, text: &'a str) -> std::borrow::Cow<'a, str> {
        if !self.matches(text) {
            return std::borrow::Cow::Borrowed(text);
        }
        let mut out = Vec::with_capacity(text.len());
        let mut at = 0;
        for (s, e) in self.spans(text.as_bytes()) {
            out.extend_from_slice(&text.as_bytes()[at..s]);
            out.extend_from_slice(MASK.as_bytes());
            at = e;
        }
        out.extend_from_slice(&text.as_bytes()[at..]);
        // A needle may end inside a multi-byte character (a line of a secret); the
        // replacement is ASCII, so only such a cut can leave invalid UTF-8.
        std::borrow::Cow::Owned(String::from_utf8_lossy(&out).into_owned())
    }

    /// A streaming masker over this masker's needles.
    pub fn stream(self: &std::sync::Arc<Self>) -> MaskStream {
        MaskStream {
            masker: self.clone(),
            pending: Vec::new(),
        }
    }
}

/// Percent-encodes every byte of `text` but ASCII letters, digits and those in `keep`.
pub(crate) fn percent_encode(text: &str, keep: &[u8]) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || keep.contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Masks a byte stream written in arbitrary chunks: a secret split across two writes is
/// still found. Bytes that could begin a secret are held back until the next write or
/// [`MaskStream::finish`].
#[derive(Debug)]
pub struct MaskStream {
    masker: std::sync::Arc<Masker>,
    pending: Vec<u8>,
}

impl MaskStream {
    /// Adds `bytes` and appends what is now known to be final, masked, to `out`.
    pub fn push(&mut self, bytes: &[u8], out: &mut Vec<u8>) {
        if self.masker.is_empty() {
            out.extend_from_slice(bytes);
            return;
        }
        self.pending.extend_from_slice(bytes);
        let spans = self.masker.spans(&self.pending);
        // A match not yet complete starts at or after `hold`; a merged span reaching past
        // it may still grow.
        let hold = self.pending.len().saturating_sub(self.masker.longest - 1);
        let cut = spans
            .iter()
            .find(|(_, e)| *e > hold)
            .map_or(hold, |(s, _)| (*s).min(hold));
        self.emit(&spans, cut, out);
    }

    /// Flushes everything held back, masked.
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        let spans = self.masker.spans(&self.pending);
        self.emit(&spans, self.pending.len(), out);
    }

    fn emit(&mut self, spans: &[(usize, usize)], cut: usize, out: &mut Vec<u8>) {
        let mut at = 0;
        for &(s, e) in spans.iter().take_while(|(_, e)| *e <= cut) {
            out.extend_from_slice(&self.pending[at..s]);
            out.extend_from_slice(MASK.as_bytes());
            at = e;
        }
        out.extend_from_slice(&self.pending[at..cut]);
        self.pending.drain(..cut);
    }
}

/// A writer that masks what goes through it, across writes: put it in front of a sink (a
/// log file, the console) and call [`MaskingWriter::finish`] at the end.
pub struct MaskingWriter<W: std::io::Write> {
    inner: W,
    stream: MaskStream,
    buf: Vec<u8>,
}

impl<W: std::io::Write> MaskingWriter<W> {
    /// Masks what is written to `inner`.
    pub fn new(masker: &std::sync::Arc<Masker>, inner: W) -> Self {
        MaskingWriter {
            inner,
            stream: masker.stream(),
            buf: Vec::new(),
        }
    }

    /// Writes what was held back and returns the inner writer.
    pub fn finish(mut self) -> std::io::Result<W> {
        self.buf.clear();
        self.stream.finish(&mut self.buf);
        self.inner.write_all(&self.buf)?;
        self.inner.flush()?;
        Ok(self.inner)
    }
}

impl<W: std::io::Write> std::io::Write for MaskingWriter<W> {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.buf.clear();
        self.stream.push(bytes, &mut self.buf);
        self.inner.write_all(&self.buf)?;
        Ok(bytes.len())
    }
    /// Flushes what is known to be final; bytes that may begin a secret stay held back.
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// Serializes `T` with every string, map key and number that holds a secret masked: wrap
/// whatever goes to a JSON sink (the run record, SARIF logs, `--json`) so that no field can
/// be forgotten. A number holding a secret becomes the string `"***"`.
pub struct Masked<'a, T: ?Sized>(pub &'a T, pub &'a Masker);

impl<T: serde::Serialize + ?Sized> serde::Serialize for Masked<'_, T> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if self.1.is_empty() {
            self.0.serialize(s)
        } else {
            self.0.serialize(mask_ser::MaskSer {
                inner: s,
                masker: self.1,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_overlapping_secrets_whole() {
        let m = Masker::new(["abc".to_string(), "abcdef".to_string(), String::new()]);
        assert_eq!(m.mask("x abcdef y abc"), "x *** y ***");
        let m = Masker::new(["abcd".to_string(), "cdef".to_string()]);
        assert_eq!(m.mask("-abcdef-"), "-***-");
    }

    #[test]
    fn masks_encoded_forms_and_lines_of_multiline_secrets() {
        let m = Masker::new([
            "p@ss\"word".to_string(),
            "line one!\nline two!\n}".to_string(),
        ]);
        assert_eq!(m.mask("raw p@ss\"word"), "raw ***");
        assert_eq!(m.mask(r#"json "p@ss\"word""#), r#"json "***""#);
        assert_eq!(m.mask("url p%40ss%22word"), "url ***");
        assert_eq!(m.mask("cut: line two!"), "cut: ***");
        assert_eq!(m.mask("a lone } stays"), "a lone } stays");
    }

    #[test]
    fn streams_mask_secrets_split_across_chunks() {
        let masker = std::sync::Arc::new(Masker::new([
            "hunter2".to_string(),
            "abcd".to_string(),
            "cdef".to_string(),
        ]));
        let text = b"xx hunter2 yy abcdef zz hunt";
        for chunk in 1..text.len() {
            let mut s = masker.stream();
            let mut out = Vec::new();
            for piece in text.chunks(chunk) {
                s.push(piece, &mut out);
            }
            s.finish(&mut out);
            assert_eq!(
                String::from_utf8(out).unwrap(),
                "xx *** yy *** zz hunt",
                "chunk {chunk}"
            );
        }
    }

    #[test]
    fn json_sinks_mask_values_keys_and_numbers() {
        let m = Masker::new(["s3cr3t".to_string(), "424242".to_string()]);
        let doc =
            serde_json::json!({"k-s3cr3t": ["a s3cr3t", 1, 424242, 94242421], "n": 4.5, "t": true});
        let text = serde_json::to_string(&Masked(&doc, &m)).unwrap();
        assert_eq!(
            text,
            r#"{"k-***":["a ***",1,"***","***"],"n":4.5,"t":true}"#
        );
    }

    #[test]
    fn reads_secrets_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secrets.env");
        std::fs::write(&path, "# comment\nA=1\nB = \"two words\"\n\nC='x=y'\n").unwrap();
        let s = SecretSource::from_env().with_file(&path).unwrap();
        assert_eq!(s.get("A").as_deref(), Some("1"));
        assert_eq!(s.get("B").as_deref(), Some("two words"));
        assert_eq!(s.get("C").as_deref(), Some("x=y"));
        std::fs::write(&path, "oops\n").unwrap();
        assert!(
            SecretSource::from_env()
                .with_file(&path)
                .unwrap_err()
                .ends_with(":1: expected `NAME=value`")
        );
    }
}
