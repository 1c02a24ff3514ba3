//! Sending one checked request: resolve, check every address, connect to a checked one,
//! TLS, HTTP/1.1, with counted and capped bodies and every wait bounded by the deadline.

use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body::{Body, Frame};
use http_body_util::BodyExt;
use tokio::io::{AsyncRead, AsyncWrite};
use wasmtime_wasi_http::{Error, RequestOptions, WasiBody};

use super::egress::LiveEntry;
use super::grant::{NetGrant, Scheme, Target, TargetHost, canonical, forbidden_range};
use super::{CONNECT_TIMEOUT, DenialSink, MAX_REQUEST_BODY, MAX_RESPONSE_BODY};

/// A request that passed the grant check.
pub(super) struct Outgoing {
    pub request: http::Request<WasiBody>,
    pub target: Target,
    pub grant: NetGrant,
    pub tls: Arc<rustls::ClientConfig>,
    pub options: Option<RequestOptions>,
    pub deadline: Instant,
    pub entry: LiveEntry,
    pub denied: DenialSink,
    pub shown: String,
    /// Replaces send-only secret references in a small JSON body, or says why not.
    pub body_filter: Option<BodyFilter>,
}

/// What [`Outgoing::body_filter`] does to the whole body.
pub(super) type BodyFilter = Box<dyn FnOnce(&str) -> Result<String, String> + Send>;

trait Stream: AsyncRead + AsyncWrite + Send + Unpin + 'static {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin + 'static> Stream for T {}

type IoFuture = Box<dyn std::future::Future<Output = Result<(), Error>> + Send>;

/// Sends the request; the response's body, when the guest reads it, is counted and capped.
pub(super) async fn send(out: Outgoing) -> Result<(http::Response<WasiBody>, IoFuture), Error> {
    let entry = out.entry.clone();
    let deadline = tokio::time::Instant::from_std(out.deadline);
    let result = match tokio::time::timeout_at(deadline, exchange(out)).await {
        Ok(r) => r,
        Err(_) => Err(Error::ConnectionTimeout),
    };
    if let Err(e) = &result {
        let mut entry = entry.lock().expect("egress entry");
        if entry.denied.is_none() {
            entry.error = Some(e.to_string());
        }
        entry.end();
    }
    result
}

/// The remaining time, at most `cap`.
fn within(deadline: Instant, cap: Duration) -> Duration {
    deadline.saturating_duration_since(Instant::now()).min(cap)
}

async fn exchange(out: Outgoing) -> Result<(http::Response<WasiBody>, IoFuture), Error> {
    let Outgoing {
        mut request,
        target,
        grant,
        tls,
        options,
        deadline,
        entry,
        denied,
        shown,
        body_filter,
    } = out;
    if let Some(filter) = body_filter {
        // Read whole (the sender allowed it only for a small body), replaced, sent as is.
        let mut bytes = Vec::new();
        let body = request.body_mut();
        while let Some(frame) = body.frame().await {
            if let Ok(data) = frame?.into_data() {
                bytes.extend_from_slice(&data);
                if bytes.len() as u64 > super::MAX_SUBSTITUTED_BODY {
                    return Err(Error::HttpRequestBodySize(Some(
                        super::MAX_SUBSTITUTED_BODY,
                    )));
                }
            }
        }
        let replaced = match std::str::from_utf8(&bytes) {
            Ok(text) => filter(text),
            Err(_) => Err("a JSON body that is not UTF-8 cannot carry a secret".into()),
        };
        match replaced {
            Ok(text) => {
                let len = text.len();
                *request.body_mut() = http_body_util::Full::new(Bytes::from(text))
                    .map_err(|never| match never {})
                    .boxed_unsync();
                request
                    .headers_mut()
                    .insert(http::header::CONTENT_LENGTH, http::HeaderValue::from(len));
            }
            Err(why) => {
                let message = format!("denied: {shown}: the body is refused: {why}");
                denied(&message);
                entry.lock().expect("egress entry").denied = Some(message);
                return Err(Error::HttpRequestDenied);
            }
        }
    }
    let connect_timeout = within(
        deadline,
        options
            .and_then(|o| o.connect_timeout)
            .unwrap_or(CONNECT_TIMEOUT)
            .min(CONNECT_TIMEOUT),
    );
    let first_byte = within(
        deadline,
        options
            .and_then(|o| o.first_byte_timeout)
            .unwrap_or(Duration::MAX),
    );
    let between_bytes = options
        .and_then(|o| o.between_bytes_timeout)
        .unwrap_or(Duration::MAX)
        .max(Duration::from_millis(1));

    let stream: Box<dyn Stream> = match &target.host {
        TargetHost::Socket(path) => {
            match tokio::time::timeout(connect_timeout, tokio::net::UnixStream::connect(path)).await
            {
                Ok(Ok(s)) => Box::new(s),
                Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
                    return Err(Error::ConnectionRefused);
                }
                Ok(Err(e)) => return Err(Error::Connect(e)),
                Err(_) => return Err(Error::ConnectionTimeout),
            }
        }
        _ => {
            connect_tcp(
                &target,
                &grant,
                tls,
                connect_timeout,
                &entry,
                &denied,
                &shown,
            )
            .await?
        }
    };
    if matches!(target.host, TargetHost::Socket(_)) {
        // The URL's host is the socket path in hex: the engine sees a plain local name.
        request.headers_mut().insert(
            http::header::HOST,
            http::HeaderValue::from_static("localhost"),
        );
    }
    let (mut sender, conn) = tokio::time::timeout(
        connect_timeout,
        hyper::client::conn::http1::Builder::new()
            .handshake::<_, UpBody>(wasmtime_wasi_http::io::TokioIo::new(stream)),
    )
    .await
    .map_err(|_| Error::ConnectionTimeout)??;

    // The request line carries only the path: the connection is to the checked address.
    let path = request
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "/".into());
    *request.uri_mut() = http::Uri::builder()
        .path_and_query(path)
        .build()
        .map_err(|_| Error::HttpRequestUriInvalid)?;
    let request = request.map(|body| UpBody {
        inner: body,
        entry: entry.clone(),
        sent: 0,
    });

    let mut conn = Box::pin(conn);
    let mut conn_done = false;
    let response = {
        let exchange = async {
            let mut send = std::pin::pin!(sender.send_request(request));
            // The response may be read in the same poll in which the connection ends (a
            // server that closes right after answering): the request's own future says
            // whether it got one, so a connection error is not returned from here.
            loop {
                tokio::select! {
                    biased;
                    r = &mut send => break r.map_err(Error::from),
                    _ = &mut conn, if !conn_done => conn_done = true,
                }
            }
        };
        match tokio::time::timeout(first_byte, exchange).await {
            Ok(r) => r?,
            Err(_) => return Err(Error::ConnectionReadTimeout),
        }
    };
    {
        let mut e = entry.lock().expect("egress entry");
        e.status = Some(response.status().as_u16());
        e.end();
    }
    let io_deadline = tokio::time::Instant::from_std(deadline);
    let io: IoFuture = if conn_done {
        Box::new(async { Ok(()) })
    } else {
        Box::new(async move {
            match tokio::time::timeout_at(io_deadline, conn).await {
                Ok(r) => r.map_err(Error::from),
                Err(_) => Err(Error::ConnectionReadTimeout),
            }
        })
    };
    let response = response.map(|incoming| {
        let mut timer = tokio::time::interval(between_bytes.min(Duration::from_secs(86_400)));
        timer.reset();
        DownBody {
            inner: incoming,
            entry: entry.clone(),
            received: 0,
            timer,
        }
        .boxed_unsync()
    });
    Ok((response, io))
}

/// Resolves the target once, checks every address, connects only to a checked one (TLS for
/// `https`).
async fn connect_tcp(
    target: &Target,
    grant: &NetGrant,
    tls: Arc<rustls::ClientConfig>,
    connect_timeout: Duration,
    entry: &LiveEntry,
    denied: &DenialSink,
    shown: &str,
) -> Result<Box<dyn Stream>, Error> {
    // Resolve once, check every address, connect only to a checked one.
    let addrs: Vec<SocketAddr> = match &target.host {
        TargetHost::Ip(ip) => vec![SocketAddr::new(*ip, target.port)],
        TargetHost::Name(name) => {
            match tokio::time::timeout(
                connect_timeout,
                tokio::net::lookup_host((name.as_str(), target.port)),
            )
            .await
            {
                Ok(Ok(a)) => a.collect(),
                Ok(Err(e)) => {
                    return Err(Error::DnsError {
                        rcode: Some(e.to_string()),
                        info_code: None,
                    });
                }
                Err(_) => return Err(Error::DnsTimeout),
            }
        }
        TargetHost::Socket(_) => unreachable!("sockets connect without a lookup"),
    };
    let mut allowed = Vec::new();
    let mut refused = Vec::new();
    for a in addrs {
        match forbidden_range(a.ip()) {
            Some(range) if !grant.names_address(a.ip()) => refused.push((canonical(a.ip()), range)),
            _ => allowed.push(a),
        }
    }
    if allowed.is_empty() && refused.is_empty() {
        return Err(Error::DnsError {
            rcode: Some(format!("`{}` has no address", target.host_str())),
            info_code: None,
        });
    }
    if allowed.is_empty() {
        let why: Vec<String> = refused
            .iter()
            .map(|(ip, range)| format!("{ip} ({range})"))
            .collect();
        let message = format!(
            "denied: {shown}: `{}` resolves to {}, an address steps may not reach unless the grant names it; grant the address itself (e.g. `\"{}://{}:{}\"`) if this is intended",
            target.host_str(),
            why.join(", "),
            target.scheme.as_str(),
            refused
                .first()
                .map(|(ip, _)| match ip {
                    std::net::IpAddr::V6(v6) => format!("[{v6}]"),
                    v4 => v4.to_string(),
                })
                .unwrap_or_default(),
            target.port
        );
        denied(&message);
        entry.lock().expect("egress entry").denied = Some(message);
        return Err(Error::DestinationIpProhibited);
    }
    let mut tcp = None;
    let mut last_error = Error::DestinationUnavailable;
    for addr in &allowed {
        match tokio::time::timeout(connect_timeout, tokio::net::TcpStream::connect(addr)).await {
            Ok(Ok(s)) => {
                tcp = Some(s);
                break;
            }
            Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
                last_error = Error::ConnectionRefused;
            }
            Ok(Err(e)) => last_error = Error::Connect(e),
            Err(_) => last_error = Error::ConnectionTimeout,
        }
    }
    let Some(tcp) = tcp else {
        return Err(last_error);
    };
    let _ = tcp.set_nodelay(true);
    let stream: Box<dyn Stream> = match target.scheme {
        Scheme::Unix => unreachable!("sockets connect above"),
        Scheme::Http => Box::new(tcp),
        Scheme::Https => {
            let name = match &target.host {
                TargetHost::Ip(ip) => rustls::pki_types::ServerName::from(*ip),
                TargetHost::Name(n) => rustls::pki_types::ServerName::try_from(n.clone())
                    .map_err(|_| Error::HttpRequestUriInvalid)?,
                TargetHost::Socket(_) => unreachable!("sockets connect without TLS"),
            };
            let connector = tokio_rustls::TlsConnector::from(tls);
            match tokio::time::timeout(connect_timeout, connector.connect(name, tcp)).await {
                Ok(Ok(s)) => Box::new(s),
                Ok(Err(e)) => {
                    return Err(if e.to_string().contains("certificate") {
                        Error::TlsCertificateError
                    } else {
                        Error::Tls(e)
                    });
                }
                Err(_) => return Err(Error::ConnectionTimeout),
            }
        }
    };
    Ok(stream)
}

/// The guest's request body, counted and capped.
struct UpBody {
    inner: WasiBody,
    entry: LiveEntry,
    sent: u64,
}

impl Body for UpBody {
    type Data = Bytes;
    type Error = Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        if let Poll::Ready(Some(Ok(frame))) = &polled
            && let Some(data) = frame.data_ref()
        {
            self.sent += data.len() as u64;
            self.entry.lock().expect("egress entry").bytes_up = self.sent;
            if self.sent > MAX_REQUEST_BODY {
                return Poll::Ready(Some(Err(Error::HttpRequestBodySize(Some(
                    MAX_REQUEST_BODY,
                )))));
            }
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

/// The response body as the guest reads it: counted, capped, with the guest's
/// between-bytes timeout.
struct DownBody {
    inner: hyper::body::Incoming,
    entry: LiveEntry,
    received: u64,
    timer: tokio::time::Interval,
}

impl Body for DownBody {
    type Data = Bytes;
    type Error = Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Error>>> {
        match Pin::new(&mut self.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                self.timer.reset();
                if let Some(data) = frame.data_ref() {
                    self.received += data.len() as u64;
                    let mut e = self.entry.lock().expect("egress entry");
                    e.bytes_down = self.received;
                    e.end();
                    if self.received > MAX_RESPONSE_BODY {
                        e.error = Some(format!(
                            "response body larger than {} MiB: cut",
                            MAX_RESPONSE_BODY >> 20
                        ));
                        return Poll::Ready(Some(Err(Error::HttpResponseBodySize(Some(
                            MAX_RESPONSE_BODY,
                        )))));
                    }
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(e))) => {
                let mut entry = self.entry.lock().expect("egress entry");
                entry.error = Some(e.to_string());
                entry.end();
                Poll::Ready(Some(Err(Error::from(e))))
            }
            Poll::Ready(None) => {
                self.entry.lock().expect("egress entry").end();
                Poll::Ready(None)
            }
            Poll::Pending => {
                if self.timer.poll_tick(cx).is_ready() {
                    self.entry.lock().expect("egress entry").error =
                        Some("no response bytes within the request's between-bytes timeout".into());
                    return Poll::Ready(Some(Err(Error::ConnectionReadTimeout)));
                }
                Poll::Pending
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}
