//! Secrets: values come from the host environment or a secrets file, reach a step only
//! through the `secret` host call and only for names in its `allow.secrets`, and are masked
//! in every sink (logs, outputs, findings, summaries, errors, the run record).

use std::collections::BTreeMap;
use std::path::Path;

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

/// Replaces secret values with `***` in text.
#[derive(Debug, Clone, Default)]
pub struct Masker {
    values: Vec<String>,
}

/// What a masked value is replaced with.
pub const MASK: &str = "***";

impl Masker {
    /// A masker for these values (empty values are ignored: they cannot be found).
    pub fn new(values: impl IntoIterator<Item = String>) -> Self {
        let mut values: Vec<String> = values.into_iter().filter(|v| !v.is_empty()).collect();
        // Longest first, so a secret containing another is masked whole.
        values.sort_by_key(|v| std::cmp::Reverse(v.len()));
        values.dedup();
        Masker { values }
    }

    /// Whether there is nothing to mask.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// `text` with every secret value replaced by `***`.
    pub fn mask(&self, text: &str) -> String {
        let mut out = text.to_string();
        for v in &self.values {
            if out.contains(v.as_str()) {
                out = out.replace(v.as_str(), MASK);
            }
        }
        out
    }

    /// Masks every string inside a JSON value.
    pub fn mask_json(&self, value: &mut serde_json::Value) {
        match value {
            serde_json::Value::String(s) => *s = self.mask(s),
            serde_json::Value::Array(items) => items.iter_mut().for_each(|v| self.mask_json(v)),
            serde_json::Value::Object(map) => map.values_mut().for_each(|v| self.mask_json(v)),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_longest_first() {
        let m = Masker::new(["abc".to_string(), "abcdef".to_string(), String::new()]);
        assert_eq!(m.mask("x abcdef y abc"), "x *** y ***");
        let mut j = serde_json::json!({"a": ["abc", 1], "b": "zabcz"});
        m.mask_json(&mut j);
        assert_eq!(j, serde_json::json!({"a": ["***", 1], "b": "z***z"}));
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
