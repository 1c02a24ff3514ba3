//! A client of the Docker Engine API (v1.41), which podman's service and dockerd both serve,
//! over the step's `allow.net` grant of the engine's socket or TCP endpoint.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;
use serde_json::Value as Json;
use sluice_sdk::http::{Body, Request, Response, percent_encode as query, send};

use crate::config;

/// The API version every call names: dockerd 20.10 and podman 4 serve it.
const API: &str = "/v1.41";
/// How long an ordinary call may take.
const CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// The engine behind the endpoint.
pub struct Engine {
    pub endpoint: config::Engine,
    /// podman's service (its own pull endpoint takes `tlsVerify`).
    pub podman: bool,
    /// `Podman Engine 4.3.1`, `Docker Engine 20.10.24`.
    pub name: String,
}

/// A container as the engine lists it.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Container {
    pub id: String,
    #[serde(default)]
    pub names: Vec<String>,
    #[serde(default)]
    pub labels: Option<BTreeMap<String, String>>,
    #[serde(default)]
    pub state: String,
}

impl Container {
    /// Its name, without Docker's leading `/`.
    pub fn name(&self) -> &str {
        self.names
            .first()
            .map(|n| n.trim_start_matches('/'))
            .unwrap_or("")
    }

    /// A label's value.
    pub fn label(&self, key: &str) -> Option<&str> {
        self.labels.as_ref()?.get(key).map(String::as_str)
    }

    /// Whether it runs.
    pub fn running(&self) -> bool {
        self.state.eq_ignore_ascii_case("running")
    }
}

/// Why a call failed: the engine's status and message, or a transport error.
#[derive(Debug)]
pub struct ApiError {
    pub status: Option<u16>,
    pub message: String,
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.status {
            Some(s) => write!(f, "the engine answered {s}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

/// At most `max` bytes of `s`, cut at a character boundary.
pub fn cut(s: &str, max: usize) -> &str {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

fn message_of(r: &Response) -> String {
    let text = r.text();
    let msg = serde_json::from_str::<Json>(&text)
        .ok()
        .and_then(|j| j.get("message").and_then(Json::as_str).map(str::to_string))
        .unwrap_or(text);
    cut(msg.trim(), 500).to_string()
}

impl Engine {
    /// Asks the endpoint what it is (`GET /version`).
    pub fn connect(endpoint: config::Engine) -> Result<Engine, ApiError> {
        let mut engine = Engine {
            endpoint,
            podman: false,
            name: String::new(),
        };
        let v = engine.json("GET", "/version", None, CALL_TIMEOUT)?;
        let component = v
            .get("Components")
            .and_then(Json::as_array)
            .and_then(|c| c.first())
            .and_then(|c| c.get("Name"))
            .and_then(Json::as_str)
            .unwrap_or("");
        engine.podman = component.contains("Podman");
        let version = v.get("Version").and_then(Json::as_str).unwrap_or("?");
        engine.name = if engine.podman {
            format!("podman {version}")
        } else {
            format!("dockerd {version}")
        };
        Ok(engine)
    }

    /// Sends one call; a transport failure names the endpoint and the grant it needs.
    pub fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<&Json>,
        timeout: Duration,
    ) -> Result<Response, ApiError> {
        // libpod's own endpoints carry their version; the rest are the Docker API's.
        let url = if path.contains("/libpod/") {
            self.endpoint.url(path)
        } else {
            self.endpoint.url(&format!("{API}{path}"))
        };
        let mut request = Request::new(method, url).timeout(timeout);
        if let Some(b) = body {
            request = request
                .header("content-type", "application/json")
                .body(Body::Bytes(b.to_string().into_bytes()));
        }
        send(&request).map_err(|e| ApiError {
            status: None,
            message: format!("{method} {path} on {}: {e}", self.endpoint.grant()),
        })
    }

    /// A call whose answer must be 2xx; the answer's JSON (or `null` when empty).
    pub fn json(
        &self,
        method: &str,
        path: &str,
        body: Option<&Json>,
        timeout: Duration,
    ) -> Result<Json, ApiError> {
        let r = self.call(method, path, body, timeout)?;
        if !(200..300).contains(&r.status) {
            return Err(ApiError {
                status: Some(r.status),
                message: message_of(&r),
            });
        }
        if r.body.is_empty() {
            return Ok(Json::Null);
        }
        serde_json::from_slice(&r.body).map_err(|e| ApiError {
            status: Some(r.status),
            message: format!("{method} {path}: the answer is not JSON: {e}"),
        })
    }

    /// Whether the engine has the image.
    pub fn has_image(&self, reference: &str) -> Result<bool, ApiError> {
        let r = self.call(
            "GET",
            &format!("/images/{reference}/json"),
            None,
            CALL_TIMEOUT,
        )?;
        match r.status {
            200 => Ok(true),
            404 => Ok(false),
            s => Err(ApiError {
                status: Some(s),
                message: message_of(&r),
            }),
        }
    }

    /// Pulls `reference` from its registry. The engines answer 200 and report failures
    /// inside the progress stream: those are read out.
    pub fn pull(&self, reference: &str, tls_verify: bool) -> Result<(), ApiError> {
        let path = if self.podman {
            format!(
                "/v4.0.0/libpod/images/pull?reference={}&tlsVerify={tls_verify}&quiet=true",
                query(reference)
            )
        } else {
            format!("/images/create?fromImage={}", query(reference))
        };
        let r = self.call("POST", &path, None, Duration::from_secs(3600))?;
        if !(200..300).contains(&r.status) {
            return Err(ApiError {
                status: Some(r.status),
                message: message_of(&r),
            });
        }
        let text = r.text();
        let stream = serde_json::Deserializer::from_str(&text).into_iter::<Json>();
        for item in stream.flatten() {
            if let Some(e) = item.get("error").and_then(Json::as_str)
                && !e.is_empty()
            {
                return Err(ApiError {
                    status: Some(r.status),
                    message: cut(e, 500).to_string(),
                });
            }
        }
        Ok(())
    }

    /// Every container of `service` (labelled `sluice.service`), stopped ones too.
    pub fn list(&self, service: &str) -> Result<Vec<Container>, ApiError> {
        let filters = serde_json::json!({ "label": [format!("sluice.service={service}")] });
        let v = self.json(
            "GET",
            &format!(
                "/containers/json?all=1&filters={}",
                query(&filters.to_string())
            ),
            None,
            CALL_TIMEOUT,
        )?;
        serde_json::from_value(v).map_err(|e| ApiError {
            status: None,
            message: format!("the container list is not what the API describes: {e}"),
        })
    }

    /// Creates a container named `name`; its id.
    pub fn create(&self, name: &str, body: &Json) -> Result<String, ApiError> {
        let v = self.json(
            "POST",
            &format!("/containers/create?name={}", query(name)),
            Some(body),
            CALL_TIMEOUT,
        )?;
        v.get("Id")
            .and_then(Json::as_str)
            .map(str::to_string)
            .ok_or_else(|| ApiError {
                status: None,
                message: "the engine created a container but sent no id".into(),
            })
    }

    /// Starts a container (already running is fine).
    pub fn start(&self, id: &str) -> Result<(), ApiError> {
        match self.json(
            "POST",
            &format!("/containers/{id}/start"),
            None,
            CALL_TIMEOUT,
        ) {
            Err(ApiError {
                status: Some(304), ..
            }) => Ok(()),
            r => r.map(drop),
        }
    }

    /// Stops a container, killing it after `grace` (already stopped is fine).
    pub fn stop(&self, id: &str, grace: Duration) -> Result<(), ApiError> {
        let t = grace.as_secs().max(1);
        match self.json(
            "POST",
            &format!("/containers/{id}/stop?t={t}"),
            None,
            CALL_TIMEOUT + grace,
        ) {
            Err(ApiError {
                status: Some(304), ..
            }) => Ok(()),
            r => r.map(drop),
        }
    }

    /// Removes a container, running or not (gone already is fine).
    pub fn remove(&self, id: &str) -> Result<(), ApiError> {
        match self.json(
            "DELETE",
            &format!("/containers/{id}?force=1"),
            None,
            CALL_TIMEOUT,
        ) {
            Err(ApiError {
                status: Some(404), ..
            }) => Ok(()),
            r => r.map(drop),
        }
    }

    /// Renames a container.
    pub fn rename(&self, id: &str, name: &str) -> Result<(), ApiError> {
        self.json(
            "POST",
            &format!("/containers/{id}/rename?name={}", query(name)),
            None,
            CALL_TIMEOUT,
        )
        .map(drop)
    }

    /// `GET /containers/{id}/json`.
    pub fn inspect(&self, id: &str) -> Result<Json, ApiError> {
        self.json("GET", &format!("/containers/{id}/json"), None, CALL_TIMEOUT)
    }

    /// The last `lines` lines of a container's output, at most 4 KiB, as text.
    pub fn logs(&self, id: &str, lines: u32) -> String {
        let r = match self.call(
            "GET",
            &format!("/containers/{id}/logs?stdout=1&stderr=1&tail={lines}"),
            None,
            CALL_TIMEOUT,
        ) {
            Ok(r) if r.status == 200 => r,
            _ => return String::new(),
        };
        let text = demux(&r.body);
        let text = text.trim_end();
        let start = text.len().saturating_sub(4096);
        let mut start = start;
        while !text.is_char_boundary(start) {
            start += 1;
        }
        text[start..].to_string()
    }
}

/// The log stream of a container without a TTY is framed: 1 byte stream, 3 zero bytes, a
/// 4-byte big-endian length, then that many bytes. Unframed text is returned as it is.
pub fn demux(bytes: &[u8]) -> String {
    let framed = bytes.len() >= 8 && bytes[0] <= 2 && bytes[1..4] == [0, 0, 0];
    if !framed {
        return String::from_utf8_lossy(bytes).into_owned();
    }
    let mut out = Vec::new();
    let mut rest = bytes;
    while rest.len() >= 8 {
        let len = u32::from_be_bytes([rest[4], rest[5], rest[6], rest[7]]) as usize;
        let end = (8 + len).min(rest.len());
        out.extend_from_slice(&rest[8..end]);
        rest = &rest[end..];
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demuxes_framed_logs() {
        let mut b = vec![1, 0, 0, 0, 0, 0, 0, 3];
        b.extend_from_slice(b"ab\n");
        b.extend_from_slice(&[2, 0, 0, 0, 0, 0, 0, 2]);
        b.extend_from_slice(b"c\n");
        assert_eq!(demux(&b), "ab\nc\n");
        assert_eq!(demux(b"plain text\n"), "plain text\n");
    }
}
