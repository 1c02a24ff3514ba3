//! The step-result cache key: what a step's result is a function of, part by part.
//!
//! `key = sha256(JSON of KeyParts)`, where each part is itself a digest (never a value):
//!
//! | part | what it covers |
//! | --- | --- |
//! | `sluice` | Sluice's version and the cache format |
//! | `plugin` | the component's digest |
//! | `config` | the resolved `with` table less inputs (references substituted) |
//! | `inputs` | each declared input as resolved; artifacts by digest |
//! | `grants` | every grant and limit: paths and modes, secret names, `exec` programs with their paths and digests, confinement, timeout, memory, artifact limit |
//! | `env` | each `env` value |
//! | `files` | the tree digest of each granted readable path (stat index: unchanged files are not re-read) |
//! | `secrets` | HMAC-SHA256 of each granted secret's value under a random per-workspace key (`.sluice/cache/secret-key`): never the value, and useless elsewhere |
//! | `upstream` | each step it depends on (`needs` and references): that step's key, or for a step that is never cached the digest of its outputs |

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Bumped whenever what an entry holds or how a key is computed changes.
pub const FORMAT: u32 = 1;

/// The parts of a step's key.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyParts {
    /// Sluice's version and the cache format.
    pub sluice: String,
    /// `sha256:<hex>` of the component.
    pub plugin: String,
    /// Digest of the configuration JSON.
    pub config: String,
    /// Input name → digest of its value.
    pub inputs: BTreeMap<String, String>,
    /// Digest of the grants.
    pub grants: String,
    /// `env` name → digest of its value.
    pub env: BTreeMap<String, String>,
    /// Granted readable path → its tree digest.
    pub files: BTreeMap<String, String>,
    /// Granted secret → keyed hash of its value (`unset` when it has none).
    pub secrets: BTreeMap<String, String>,
    /// Step it depends on → that step's key or outputs digest.
    pub upstream: BTreeMap<String, String>,
}

/// This build of Sluice, as the `sluice` part names it.
pub fn sluice_version() -> String {
    format!("sluice {} cache {FORMAT}", env!("CARGO_PKG_VERSION"))
}

/// `sha256:<hex>` of `bytes`.
pub fn digest(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

/// `sha256:<hex>` of a value's JSON.
pub fn digest_json(value: &impl Serialize) -> String {
    digest(&serde_json::to_vec(value).expect("serializes"))
}

impl KeyParts {
    /// The key: hex SHA-256 of the parts' JSON.
    pub fn key(&self) -> String {
        hex::encode(Sha256::digest(
            serde_json::to_vec(self).expect("serializes"),
        ))
    }

    /// What differs from `old`, one phrase per part, in the order a reader would check them.
    pub fn changes_since(&self, old: &KeyParts) -> Vec<String> {
        let mut out = Vec::new();
        if self.sluice != old.sluice {
            out.push(format!("sluice changed ({} → {})", old.sluice, self.sluice));
        }
        if self.plugin != old.plugin {
            out.push(format!(
                "the plugin changed ({} → {})",
                short(&old.plugin),
                short(&self.plugin)
            ));
        }
        if self.config != old.config {
            out.push("its `with` configuration changed".into());
        }
        named(&mut out, "input", &old.inputs, &self.inputs);
        if self.grants != old.grants {
            out.push("its grants or limits changed".into());
        }
        named(&mut out, "env", &old.env, &self.env);
        named(&mut out, "the content of", &old.files, &self.files);
        named(&mut out, "secret", &old.secrets, &self.secrets);
        named(&mut out, "upstream step", &old.upstream, &self.upstream);
        out
    }
}

fn short(digest: &str) -> &str {
    let hex = digest.trim_start_matches("sha256:");
    &hex[..hex.len().min(12)]
}

fn named(
    out: &mut Vec<String>,
    what: &str,
    old: &BTreeMap<String, String>,
    new: &BTreeMap<String, String>,
) {
    for (name, value) in new {
        match old.get(name) {
            None => out.push(format!("{what} `{name}` is new")),
            Some(v) if v != value => out.push(format!("{what} `{name}` changed")),
            Some(_) => {}
        }
    }
    for name in old.keys().filter(|n| !new.contains_key(*n)) {
        out.push(format!("{what} `{name}` is gone"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_part_is_in_the_key_and_named_when_it_changes() {
        let base = KeyParts {
            sluice: sluice_version(),
            plugin: "sha256:aa".into(),
            config: "sha256:c0".into(),
            inputs: [("artifact".to_string(), "sha256:01".to_string())].into(),
            grants: "sha256:g0".into(),
            env: [("GOFLAGS".to_string(), "sha256:e0".to_string())].into(),
            files: [(".".to_string(), "sha256:f0".to_string())].into(),
            secrets: [("KEY".to_string(), "h0".to_string())].into(),
            upstream: [("build".to_string(), "k0".to_string())].into(),
        };
        let variants: Vec<(KeyParts, &str)> = vec![
            (
                KeyParts {
                    sluice: "sluice 9 cache 1".into(),
                    ..base.clone()
                },
                "sluice changed",
            ),
            (
                KeyParts {
                    plugin: "sha256:bb".into(),
                    ..base.clone()
                },
                "the plugin changed (aa → bb)",
            ),
            (
                KeyParts {
                    config: "sha256:c1".into(),
                    ..base.clone()
                },
                "its `with` configuration changed",
            ),
            (
                KeyParts {
                    inputs: [("artifact".to_string(), "sha256:02".to_string())].into(),
                    ..base.clone()
                },
                "input `artifact` changed",
            ),
            (
                KeyParts {
                    grants: "sha256:g1".into(),
                    ..base.clone()
                },
                "its grants or limits changed",
            ),
            (
                KeyParts {
                    env: BTreeMap::new(),
                    ..base.clone()
                },
                "env `GOFLAGS` is gone",
            ),
            (
                KeyParts {
                    files: [(".".to_string(), "sha256:f1".to_string())].into(),
                    ..base.clone()
                },
                "the content of `.` changed",
            ),
            (
                KeyParts {
                    secrets: [("KEY".to_string(), "h1".to_string())].into(),
                    ..base.clone()
                },
                "secret `KEY` changed",
            ),
            (
                KeyParts {
                    upstream: [
                        ("build".to_string(), "k1".to_string()),
                        ("test".to_string(), "k2".to_string()),
                    ]
                    .into(),
                    ..base.clone()
                },
                "upstream step `build` changed",
            ),
        ];
        for (v, said) in variants {
            assert_ne!(v.key(), base.key(), "{said}");
            let changes = v.changes_since(&base);
            assert!(changes[0].starts_with(said), "{changes:?} vs {said}");
        }
        assert_eq!(base.clone().key(), base.key());
        assert!(base.changes_since(&base).is_empty());
    }
}
