//! The egress log: every request a step made, allowed or denied.

use std::sync::{Arc, Mutex};
use std::time::Instant;

/// How many requests one step's record keeps in full; past that they are only counted
/// (with their bytes).
pub const MAX_EGRESS_ENTRIES: usize = 10_000;

/// One request.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct EgressEntry {
    /// `GET`, `PUT`, …
    pub method: String,
    /// `scheme://host[:port]` (the port only when not the scheme's default).
    pub origin: String,
    /// The path, without the query string.
    pub path: String,
    /// The response status, when one came.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// Request body bytes sent.
    pub bytes_up: u64,
    /// Response body bytes received.
    pub bytes_down: u64,
    /// From the request to the end of its response body (or its failure).
    pub duration_ms: u64,
    /// Why the host refused it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub denied: Option<String>,
    /// Why it failed after it was allowed (connection refused, timeout, …).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(skip)]
    started: Instant,
}

impl EgressEntry {
    /// A request about to be checked.
    pub fn new(method: &str, origin: &str, path: &str) -> Self {
        EgressEntry {
            method: crate::runtime::shown_name(method),
            origin: crate::runtime::shown_name(origin),
            path: cut_path(path),
            status: None,
            bytes_up: 0,
            bytes_down: 0,
            duration_ms: 0,
            denied: None,
            error: None,
            started: Instant::now(),
        }
    }

    /// Marks the end of the request (the last call wins).
    pub fn end(&mut self) {
        self.duration_ms = self.started.elapsed().as_millis() as u64;
    }
}

/// Paths are kept to 512 bytes.
fn cut_path(path: &str) -> String {
    let kept = crate::runtime::host::cut(path, 512);
    if kept.len() < path.len() {
        format!("{kept}…")
    } else {
        kept.to_string()
    }
}

/// A request in flight, shared with its bodies.
pub type LiveEntry = Arc<Mutex<EgressEntry>>;

/// One step's requests.
#[derive(Debug, Default)]
pub struct EgressLog {
    entries: Vec<LiveEntry>,
    /// Requests past [`MAX_EGRESS_ENTRIES`].
    more: u64,
}

/// Requests to one origin, summed.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct OriginTotals {
    /// The origin.
    pub origin: String,
    /// Requests made (allowed and denied).
    pub requests: u64,
    /// Requests the host refused.
    pub denied: u64,
    /// Body bytes sent.
    pub bytes_up: u64,
    /// Body bytes received.
    pub bytes_down: u64,
}

/// What a step's record holds of its requests.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct Egress {
    /// The requests, in the order they were made.
    pub requests: Vec<EgressEntry>,
    /// Requests made past the limit of kept entries (not in `totals`).
    #[serde(skip_serializing_if = "is_zero")]
    pub not_recorded: u64,
    /// Per origin, in order of first use.
    pub totals: Vec<OriginTotals>,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl EgressLog {
    /// Adds a request that is going out; its bodies update it.
    pub fn push(&mut self, entry: EgressEntry) -> LiveEntry {
        let live = Arc::new(Mutex::new(entry));
        if self.entries.len() < MAX_EGRESS_ENTRIES {
            self.entries.push(live.clone());
        } else {
            self.more += 1;
        }
        live
    }

    /// Adds a request that is over (denied).
    pub fn push_done(&mut self, mut entry: EgressEntry) {
        entry.end();
        self.push(entry);
    }

    /// The log as the record keeps it.
    pub fn finish(&self) -> Egress {
        let requests: Vec<EgressEntry> = self
            .entries
            .iter()
            .map(|e| e.lock().expect("egress entry").clone())
            .collect();
        let mut totals: Vec<OriginTotals> = Vec::new();
        for r in &requests {
            let t = match totals.iter_mut().position(|t| t.origin == r.origin) {
                Some(i) => &mut totals[i],
                None => {
                    totals.push(OriginTotals {
                        origin: r.origin.clone(),
                        ..Default::default()
                    });
                    totals.last_mut().expect("just pushed")
                }
            };
            t.requests += 1;
            t.denied += u64::from(r.denied.is_some());
            t.bytes_up += r.bytes_up;
            t.bytes_down += r.bytes_down;
        }
        Egress {
            requests,
            not_recorded: self.more,
            totals,
        }
    }
}
