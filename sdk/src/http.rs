//! HTTP requests from a step, through `wasi:http` (enable the SDK's `http` feature).
//!
//! A step reaches only the origins its `allow.net` grants; the host checks every request,
//! logs it, and refuses the rest (the step's log says which `allow.net` line would allow it).
//! Credentials the step may use but not read are send-only secrets: put
//! [`secret_ref`]`(name)` or [`basic_auth_ref`] into a header and the host sends the value.
//!
//! ```no_run
//! use sluice_sdk::http::{Request, send};
//! let token = sluice_sdk::http::secret_ref("API_TOKEN")?;
//! let response = send(
//!     &Request::get("https://api.example.com/v1/status")
//!         .header("authorization", format!("Bearer {token}")),
//! )?;
//! assert_eq!(response.status, 200);
//! # Ok::<(), String>(())
//! ```

use std::io::{Read, Seek, SeekFrom};
use std::path::PathBuf;

/// The largest response body [`send`] keeps in memory.
pub const MAX_BODY: usize = 256 << 20;

/// A request body.
#[derive(Debug, Clone, Default)]
pub enum Body {
    /// None.
    #[default]
    Empty,
    /// These bytes.
    Bytes(Vec<u8>),
    /// `len` bytes of a file the step can read, from `offset`, streamed.
    File {
        /// A guest path.
        path: PathBuf,
        /// Where to start.
        offset: u64,
        /// How many bytes.
        len: u64,
    },
}

impl Body {
    /// Its length in bytes.
    pub fn len(&self) -> u64 {
        match self {
            Body::Empty => 0,
            Body::Bytes(b) => b.len() as u64,
            Body::File { len, .. } => *len,
        }
    }

    /// Whether it has no bytes.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// `s` percent-encoded for a URL's path segment or query value: everything but
/// `A-Z a-z 0-9 - _ . ~` as `%XX`.
pub fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The URL of `path` (`/v1.41/_ping`) on the HTTP server behind the unix socket `socket`
/// (`/run/podman/podman.sock`), which the step's `allow.net` must grant as
/// `"unix:/run/podman/podman.sock"`. The URL names the socket in hex: `http+unix://2f72…/path`.
pub fn unix_url(socket: &str, path: &str) -> String {
    let hex: String = socket.bytes().map(|b| format!("{b:02x}")).collect();
    format!("http+unix://{hex}{path}")
}

/// An HTTP request.
#[derive(Debug, Clone)]
pub struct Request {
    /// `GET`, `PUT`, …
    pub method: String,
    /// `scheme://host[:port]/path[?query]`.
    pub url: String,
    /// Header names and values.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Body,
    /// How long to wait for the connection and then for the response's first byte (each);
    /// `None` waits until the step's deadline.
    pub timeout: Option<std::time::Duration>,
}

impl Request {
    /// A request with a method and a URL.
    pub fn new(method: impl Into<String>, url: impl Into<String>) -> Self {
        Request {
            method: method.into(),
            url: url.into(),
            headers: Vec::new(),
            body: Body::Empty,
            timeout: None,
        }
    }

    /// A `GET`.
    pub fn get(url: impl Into<String>) -> Self {
        Self::new("GET", url)
    }

    /// Adds a header.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Gives up when connecting, or the response's first byte, takes longer than `timeout`.
    pub fn timeout(mut self, timeout: std::time::Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Sets the body (and `content-length`).
    pub fn body(mut self, body: Body) -> Self {
        self.body = body;
        self
    }
}

/// An HTTP response, its body read whole.
#[derive(Debug, Clone)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// Header names (lower-case) and values.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl Response {
    /// The first value of a header (names compare without case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body as text (lossy).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// A reference to the send-only secret `name`, for a request header (see the module docs).
pub fn secret_ref(name: &str) -> Result<String, String> {
    #[cfg(target_arch = "wasm32")]
    return crate::bindings::sluice::step::host::secret_ref(name);
    #[cfg(not(target_arch = "wasm32"))]
    Err(format!("no host: `{name}` has no reference outside a step"))
}

/// A reference for `Authorization: Basic <ref>`: the host sends `base64(user:password)`.
/// `user` is text or a [`secret_ref`]; `password` names a send-only secret.
pub fn basic_auth_ref(user: &str, password: &str) -> Result<String, String> {
    #[cfg(target_arch = "wasm32")]
    return crate::bindings::sluice::step::host::basic_auth_ref(user, password);
    #[cfg(not(target_arch = "wasm32"))]
    Err(format!(
        "no host: `{user}`/`{password}` have no reference outside a step"
    ))
}

/// Splits `scheme://authority/path?query`.
pub fn split_url(url: &str) -> Result<(&str, &str, &str), String> {
    let (scheme, rest) = url
        .split_once("://")
        .ok_or_else(|| format!("`{url}` is not a URL (no scheme)"))?;
    let (authority, path) = match rest.find(['/', '?']) {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    if authority.is_empty() {
        return Err(format!("`{url}` has no host"));
    }
    Ok((scheme, authority, if path.is_empty() { "/" } else { path }))
}

/// Sends a request and reads the whole response (at most [`MAX_BODY`] bytes).
///
/// Errors name what went wrong; a refusal by the host reads "the host refused the request"
/// and the step's log says why.
pub fn send(request: &Request) -> Result<Response, String> {
    #[cfg(target_arch = "wasm32")]
    return wasi::send(request);
    #[cfg(not(target_arch = "wasm32"))]
    Err(format!(
        "no host: cannot send {} {}",
        request.method, request.url
    ))
}

/// Reads `len` bytes of a file from `offset` in chunks, passing each to `f`.
#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
pub(crate) fn read_chunks(
    path: &std::path::Path,
    offset: u64,
    len: u64,
    mut f: impl FnMut(&[u8]) -> Result<(), String>,
) -> Result<(), String> {
    let mut file = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    file.seek(SeekFrom::Start(offset))
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let mut left = len;
    let mut buf = vec![0u8; 256 << 10];
    while left > 0 {
        let want = buf.len().min(left as usize);
        let n = file
            .read(&mut buf[..want])
            .map_err(|e| format!("{}: {e}", path.display()))?;
        if n == 0 {
            return Err(format!("{}: ended {left} bytes early", path.display()));
        }
        f(&buf[..n])?;
        left -= n as u64;
    }
    Ok(())
}

#[cfg(target_arch = "wasm32")]
mod wasi {
    use super::{Body, MAX_BODY, Request, Response, read_chunks, split_url};
    use wasip2::http::outgoing_handler;
    use wasip2::http::types::{
        ErrorCode, Fields, IncomingBody, Method, OutgoingBody, OutgoingRequest, RequestOptions,
        Scheme,
    };
    use wasip2::io::streams::{OutputStream, StreamError};

    fn describe(e: &ErrorCode) -> String {
        match e {
            ErrorCode::HttpRequestDenied => {
                "the host refused the request (the step's log says why and which grant would allow it)".into()
            }
            ErrorCode::DestinationIpProhibited => {
                "the host refused the address the name resolves to (see the step's log)".into()
            }
            ErrorCode::ConnectionRefused => "connection refused".into(),
            ErrorCode::ConnectionTimeout => "connection timed out".into(),
            ErrorCode::DnsError(p) => format!(
                "name lookup failed: {}",
                p.rcode.clone().unwrap_or_default()
            ),
            other => format!("{other:?}"),
        }
    }

    fn write_all(out: &OutputStream, mut bytes: &[u8]) -> Result<(), String> {
        while !bytes.is_empty() {
            let n = match out.check_write() {
                Ok(0) => {
                    out.subscribe().block();
                    continue;
                }
                Ok(n) => (n as usize).min(bytes.len()),
                Err(e) => return Err(stream_error(e)),
            };
            out.write(&bytes[..n]).map_err(stream_error)?;
            bytes = &bytes[n..];
        }
        Ok(())
    }

    fn stream_error(e: StreamError) -> String {
        match e {
            StreamError::Closed => "the connection closed".into(),
            StreamError::LastOperationFailed(e) => match wasip2::http::types::http_error_code(&e) {
                Some(code) => describe(&code),
                None => e.to_debug_string(),
            },
        }
    }

    pub(super) fn send(request: &Request) -> Result<Response, String> {
        let (scheme, authority, path) = split_url(&request.url)?;
        let mut list: Vec<(String, Vec<u8>)> = request
            .headers
            .iter()
            .map(|(k, v)| (k.to_ascii_lowercase(), v.as_bytes().to_vec()))
            .collect();
        if !request.body.is_empty() || !matches!(request.method.as_str(), "GET" | "HEAD") {
            list.push((
                "content-length".into(),
                request.body.len().to_string().into_bytes(),
            ));
        }
        let headers = Fields::from_list(&list).map_err(|e| format!("invalid header: {e:?}"))?;
        let req = OutgoingRequest::new(headers);
        let method = match request.method.as_str() {
            "GET" => Method::Get,
            "HEAD" => Method::Head,
            "POST" => Method::Post,
            "PUT" => Method::Put,
            "DELETE" => Method::Delete,
            "PATCH" => Method::Patch,
            other => Method::Other(other.to_string()),
        };
        let scheme = match scheme {
            "http" => Scheme::Http,
            "https" => Scheme::Https,
            other => Scheme::Other(other.to_string()),
        };
        req.set_method(&method)
            .map_err(|()| "invalid method".to_string())?;
        req.set_scheme(Some(&scheme))
            .map_err(|()| "invalid scheme".to_string())?;
        req.set_authority(Some(authority))
            .map_err(|()| format!("invalid host `{authority}`"))?;
        req.set_path_with_query(Some(path))
            .map_err(|()| format!("invalid path `{path}`"))?;
        let body = req.body().map_err(|()| "no request body".to_string())?;
        let options = match request.timeout {
            Some(t) => {
                let o = RequestOptions::new();
                let ns = u64::try_from(t.as_nanos()).unwrap_or(u64::MAX);
                o.set_connect_timeout(Some(ns))
                    .and_then(|()| o.set_first_byte_timeout(Some(ns)))
                    .map_err(|()| "the host refused a request timeout".to_string())?;
                Some(o)
            }
            None => None,
        };
        let future = outgoing_handler::handle(req, options).map_err(|e| describe(&e))?;
        let sent = (|| {
            let out = body
                .write()
                .map_err(|()| "no request body stream".to_string())?;
            match &request.body {
                Body::Empty => {}
                Body::Bytes(b) => write_all(&out, b)?,
                Body::File { path, offset, len } => {
                    read_chunks(path, *offset, *len, |chunk| write_all(&out, chunk))?
                }
            }
            out.flush().map_err(stream_error)?;
            let _ = out.check_write();
            drop(out);
            OutgoingBody::finish(body, None).map_err(|e| describe(&e))
        })();
        let response = loop {
            match future.get() {
                Some(r) => break r,
                None => future.subscribe().block(),
            }
        };
        // A body cut short is an error unless the server answered anyway (it may answer
        // before reading all of it, or stop reading once it has Content-Length bytes).
        let response = match (sent, response) {
            (_, Ok(Err(code))) => return Err(describe(&code)),
            (Err(e), Err(())) => return Err(e),
            (_, r) => r,
        };
        let response = response
            .map_err(|()| "response taken twice".to_string())?
            .map_err(|e| describe(&e))?;
        let status = response.status();
        let headers = response
            .headers()
            .entries()
            .into_iter()
            .map(|(k, v)| (k, String::from_utf8_lossy(&v).into_owned()))
            .collect();
        let incoming = response
            .consume()
            .map_err(|()| "no response body".to_string())?;
        let mut bytes = Vec::new();
        {
            let stream = incoming
                .stream()
                .map_err(|()| "no response body".to_string())?;
            loop {
                match stream.blocking_read(256 << 10) {
                    Ok(chunk) => {
                        if bytes.len() + chunk.len() > MAX_BODY {
                            return Err(format!(
                                "response body larger than {} MiB",
                                MAX_BODY >> 20
                            ));
                        }
                        bytes.extend_from_slice(&chunk);
                    }
                    Err(StreamError::Closed) => break,
                    Err(e) => return Err(stream_error(e)),
                }
            }
        }
        let _ = IncomingBody::finish(incoming);
        Ok(Response {
            status,
            headers,
            body: bytes,
        })
    }
}
