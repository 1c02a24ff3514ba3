//! `allow.net` entries: an origin (scheme, host, port) a step may send HTTP requests to.
//!
//! `http://127.0.0.1:5000`, `https://registry.example.com` (port 443), `https://*.example.com:8443`
//! (any subdomain, never `example.com` itself). A grant is an origin and nothing more: a path,
//! a query, user info or a bare `*` is refused with the fix.
//!
//! `unix:/run/podman/podman.sock` grants HTTP over one unix socket, named by its absolute path
//! (a container engine's API: control of the host's containers). A guest addresses it as
//! `http+unix://<hex of the path>/…` ([`socket_authority`]); the host connects to the path the
//! grant names, and nothing else.

use std::fmt;
use std::net::IpAddr;

/// The schemes a grant may name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Scheme {
    /// Plain HTTP.
    Http,
    /// HTTP over TLS.
    Https,
    /// HTTP over a unix socket (`unix:/path` grants, `http+unix://` URLs).
    Unix,
}

impl Scheme {
    /// `http` or `https`.
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Http => "http",
            Scheme::Https => "https",
            Scheme::Unix => "unix",
        }
    }

    /// The port a URL of this scheme means when it names none.
    pub fn default_port(self) -> u16 {
        match self {
            Scheme::Http => 80,
            Scheme::Https => 443,
            Scheme::Unix => 0,
        }
    }

    fn parse(s: &str) -> Option<Scheme> {
        match s.to_ascii_lowercase().as_str() {
            "http" => Some(Scheme::Http),
            "https" => Some(Scheme::Https),
            "http+unix" => Some(Scheme::Unix),
            _ => None,
        }
    }
}

/// Which hosts a grant covers.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum HostPattern {
    /// One host name, lower-case, without a trailing dot.
    Name(String),
    /// One IP address, written literally.
    Ip(IpAddr),
    /// Every name ending in `.<domain>` (`*.<domain>`), never `<domain>` itself.
    Subdomains(String),
    /// One unix socket, by absolute path.
    Socket(String),
}

/// One `allow.net` entry.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct NetGrant {
    /// The scheme.
    pub scheme: Scheme,
    /// The host or hosts.
    pub host: HostPattern,
    /// The port (the scheme's default when the grant names none).
    pub port: u16,
}

/// A request's target: what a grant is checked against.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Target {
    /// The scheme.
    pub scheme: Scheme,
    /// The host: a lower-case name without a trailing dot, or an IP address.
    pub host: TargetHost,
    /// The port.
    pub port: u16,
}

/// A target's host.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum TargetHost {
    /// A name to resolve.
    Name(String),
    /// An address.
    Ip(IpAddr),
    /// A unix socket's absolute path.
    Socket(String),
}

/// Why a grant or a URL is not an origin.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct GrantError {
    /// What is wrong.
    pub message: String,
    /// How to fix it.
    pub help: String,
}

fn bad(message: impl Into<String>, help: impl Into<String>) -> GrantError {
    GrantError {
        message: message.into(),
        help: help.into(),
    }
}

/// A host name's labels are letters, digits and `-` (and `_`, seen in real names).
fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

/// Splits `host[:port]` (IPv6 in brackets).
fn split_authority(authority: &str) -> Result<(&str, Option<&str>), ()> {
    if let Some(rest) = authority.strip_prefix('[') {
        let end = rest.find(']').ok_or(())?;
        let host = &rest[..end];
        match &rest[end + 1..] {
            "" => Ok((host, None)),
            p => p.strip_prefix(':').map(|p| (host, Some(p))).ok_or(()),
        }
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => Ok((h, Some(p))),
            None => Ok((authority, None)),
        }
    }
}

fn parse_port(p: Option<&str>, scheme: Scheme) -> Result<u16, ()> {
    match p {
        None => Ok(scheme.default_port()),
        Some(p) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => match p.parse() {
            Ok(0) | Err(_) => Err(()),
            Ok(n) => Ok(n),
        },
        Some(_) => Err(()),
    }
}

/// A host as written: lower-cased, trailing dot dropped, IP literals parsed.
fn normal_host(host: &str, bracketed: bool) -> Option<TargetHost> {
    let host = host.to_ascii_lowercase();
    let host = host.strip_suffix('.').unwrap_or(&host);
    if let Ok(ip) = host.parse::<IpAddr>() {
        // IPv6 only in brackets, IPv4 never in them.
        return (ip.is_ipv6() == bracketed).then_some(TargetHost::Ip(ip));
    }
    (!bracketed && valid_name(host)
        // All-numeric last labels are IPv4 in other spellings (`2130706433`, `0x7f.1`):
        // refused, as every resolver reads them differently.
        && !host.rsplit('.').next().is_some_and(|l| l.bytes().all(|b| b.is_ascii_digit())
            || l.starts_with("0x")))
    .then(|| TargetHost::Name(host.to_string()))
}

impl NetGrant {
    /// Parses an `allow.net` entry.
    pub fn parse(s: &str) -> Result<NetGrant, GrantError> {
        let example = "write an origin: a scheme, a host and an optional port, like \"https://registry.example.com\" or \"http://127.0.0.1:5000\"";
        if s.trim() == "*" || s.contains("://*") && !s.contains("://*.") {
            return Err(bad(
                format!("`{s}` would grant every host"),
                "name each origin the step needs, like \"https://registry.example.com\"; `*.` covers the subdomains of one domain: \"https://*.example.com\"",
            ));
        }
        if let Some(path) = s.strip_prefix("unix:") {
            let path = path
                .strip_prefix("//")
                .filter(|p| p.starts_with('/'))
                .unwrap_or(path);
            return match socket_path(path) {
                Ok(()) => Ok(NetGrant {
                    scheme: Scheme::Unix,
                    host: HostPattern::Socket(path.to_string()),
                    port: 0,
                }),
                Err(why) => Err(bad(
                    format!("`{s}` is not a socket path: {why}"),
                    "name the socket by its absolute path, like \"unix:/run/podman/podman.sock\"",
                )),
            };
        }
        let Some((scheme, rest)) = s.split_once("://") else {
            return Err(bad(format!("`{s}` has no scheme"), example));
        };
        let Some(scheme_v) = Scheme::parse(scheme).filter(|s| *s != Scheme::Unix) else {
            return Err(bad(
                format!("unknown scheme `{scheme}` in `{s}`"),
                "a step reaches the network only over HTTP: use `http://` or `https://`, or `unix:/path` for a unix socket",
            ));
        };
        let (authority, tail) = match rest.find(['/', '?', '#']) {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, ""),
        };
        let origin_only = |what: &str| {
            bad(
                format!("`{s}` has {what}: a grant is an origin"),
                format!(
                    "remove it: write \"{}://{authority}\"; a grant covers every path of its origin",
                    scheme_v.as_str()
                ),
            )
        };
        if tail.starts_with('?') || tail.contains('?') {
            return Err(origin_only("a query"));
        }
        if tail.contains('#') {
            return Err(origin_only("a fragment"));
        }
        if !tail.is_empty() && tail != "/" {
            return Err(origin_only("a path"));
        }
        if authority.contains('@') {
            return Err(bad(
                format!("`{s}` has user info"),
                "remove it: credentials go in send-only secrets (`allow.send`), never in a grant",
            ));
        }
        let Ok((host, port)) = split_authority(authority) else {
            return Err(bad(format!("`{s}` has no valid host"), example));
        };
        let Ok(port) = parse_port(port, scheme_v) else {
            return Err(bad(
                format!("`{s}` has an invalid port"),
                "a port is a number from 1 to 65535",
            ));
        };
        let bracketed = authority.starts_with('[');
        let host = if let Some(domain) = host.strip_prefix("*.") {
            match normal_host(domain, false) {
                Some(TargetHost::Name(d)) if d.contains('.') || d == "localhost" => {
                    HostPattern::Subdomains(d)
                }
                Some(TargetHost::Name(d)) => {
                    return Err(bad(
                        format!("`{s}` would grant every host under the top-level domain `{d}`"),
                        "name a registrable domain, like \"https://*.example.com\"",
                    ));
                }
                _ => {
                    return Err(bad(
                        format!("`{s}` has no valid domain after `*.`"),
                        example,
                    ));
                }
            }
        } else if host.contains('*') {
            return Err(bad(
                format!("`{s}` has a `*` that is not the leftmost label"),
                "`*.` may only start the host, like \"https://*.example.com\"",
            ));
        } else {
            match normal_host(host, bracketed) {
                Some(TargetHost::Name(n)) => HostPattern::Name(n),
                Some(TargetHost::Ip(ip)) => HostPattern::Ip(ip),
                Some(TargetHost::Socket(_)) | None => {
                    return Err(bad(format!("`{s}` has no valid host"), example));
                }
            }
        };
        Ok(NetGrant {
            scheme: scheme_v,
            host,
            port,
        })
    }

    /// Whether a request to `target` is covered.
    pub fn covers(&self, target: &Target) -> bool {
        self.scheme == target.scheme
            && self.port == target.port
            && match (&self.host, &target.host) {
                (HostPattern::Name(n), TargetHost::Name(t)) => n == t,
                (HostPattern::Ip(a), TargetHost::Ip(b)) => a == b,
                (HostPattern::Socket(a), TargetHost::Socket(b)) => a == b,
                (HostPattern::Subdomains(d), TargetHost::Name(t)) => {
                    t.len() > d.len() + 1
                        && t.ends_with(d.as_str())
                        && t.as_bytes()[t.len() - d.len() - 1] == b'.'
                }
                _ => false,
            }
    }

    /// Whether this grant names `ip` literally, or is `localhost` and `ip` is loopback: then
    /// the step may reach `ip` though it is in a range steps are otherwise kept from.
    pub fn names_address(&self, ip: IpAddr) -> bool {
        match &self.host {
            HostPattern::Ip(a) => *a == canonical(ip),
            HostPattern::Name(n) => n == "localhost" && canonical(ip).is_loopback(),
            HostPattern::Subdomains(_) | HostPattern::Socket(_) => false,
        }
    }

    /// The socket's path, when this grant is a unix socket (a container engine's API,
    /// typically).
    pub fn socket(&self) -> Option<&str> {
        match &self.host {
            HostPattern::Socket(p) => Some(p),
            _ => None,
        }
    }
}

/// Why `path` cannot name a granted socket: it must be absolute and plain (no `.` or `..`
/// component, no empty one, no NUL), and fit a socket address (107 bytes).
fn socket_path(path: &str) -> Result<(), &'static str> {
    if !path.starts_with('/') {
        return Err("it is not absolute");
    }
    if path.len() > 107 {
        return Err("it is longer than a socket address holds (107 bytes)");
    }
    if path.contains('\0') {
        return Err("it holds a NUL byte");
    }
    if path[1..]
        .split('/')
        .any(|c| c.is_empty() || c == "." || c == "..")
    {
        return Err("it has an empty, `.` or `..` component");
    }
    Ok(())
}

/// The authority a guest puts in an `http+unix://` URL for the socket at `path`: the path's
/// bytes in lower-case hex (a URL's host cannot hold `/`).
pub fn socket_authority(path: &str) -> String {
    hex::encode(path.as_bytes())
}

impl fmt::Display for NetGrant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let HostPattern::Socket(path) = &self.host {
            return write!(f, "unix:{path}");
        }
        write!(f, "{}://", self.scheme.as_str())?;
        match &self.host {
            HostPattern::Name(n) => f.write_str(n)?,
            HostPattern::Ip(IpAddr::V6(ip)) => write!(f, "[{ip}]")?,
            HostPattern::Ip(ip) => write!(f, "{ip}")?,
            HostPattern::Subdomains(d) => write!(f, "*.{d}")?,
            HostPattern::Socket(_) => unreachable!("written above"),
        }
        if self.port != self.scheme.default_port() {
            write!(f, ":{}", self.port)?;
        }
        Ok(())
    }
}

impl Target {
    /// The target of a request URL's scheme and authority; an error (why) for what sluice
    /// never sends: another scheme, user info, a host that is neither a name nor an IP literal.
    pub fn new(scheme: &str, authority: &str) -> Result<Target, String> {
        let scheme = Scheme::parse(scheme)
            .ok_or_else(|| format!("scheme `{scheme}` is not HTTP or HTTPS"))?;
        if scheme == Scheme::Unix {
            let path = hex::decode(authority)
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .ok_or_else(|| {
                    "an `http+unix://` URL's host is the socket path in hex".to_string()
                })?;
            socket_path(&path)
                .map_err(|why| format!("the socket path `{path}` is refused: {why}"))?;
            return Ok(Target {
                scheme,
                host: TargetHost::Socket(path),
                port: 0,
            });
        }
        if authority.contains('@') {
            return Err("the URL holds user info".into());
        }
        let (host, port) =
            split_authority(authority).map_err(|()| "the URL's host is invalid".to_string())?;
        let port =
            parse_port(port, scheme).map_err(|()| "the URL's port is invalid".to_string())?;
        let host = normal_host(host, authority.starts_with('['))
            .ok_or_else(|| "the URL's host is not a name or an IP address".to_string())?;
        Ok(Target { scheme, host, port })
    }

    /// The `allow.net` entry that would cover this target.
    pub fn grant(&self) -> NetGrant {
        NetGrant {
            scheme: self.scheme,
            host: match &self.host {
                TargetHost::Name(n) => HostPattern::Name(n.clone()),
                TargetHost::Ip(ip) => HostPattern::Ip(*ip),
                TargetHost::Socket(p) => HostPattern::Socket(p.clone()),
            },
            port: self.port,
        }
    }

    /// `scheme://host[:port]`.
    pub fn origin(&self) -> String {
        self.grant().to_string()
    }

    /// The host as TLS and the `Host` header name it (`localhost` for a unix socket).
    pub fn host_str(&self) -> String {
        match &self.host {
            TargetHost::Name(n) => n.clone(),
            TargetHost::Ip(ip) => ip.to_string(),
            TargetHost::Socket(_) => "localhost".into(),
        }
    }
}

/// An IPv4-mapped IPv6 address as the IPv4 address it is.
pub fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => ip,
        },
        v4 => v4,
    }
}

/// Why an address is kept from steps unless a grant names it: `None` for a public address.
pub fn forbidden_range(ip: IpAddr) -> Option<&'static str> {
    match canonical(ip) {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            if v4.is_loopback() {
                Some("loopback")
            } else if v4.is_link_local() {
                Some("link-local (cloud metadata lives at 169.254.169.254)")
            } else if v4.is_private() {
                Some("private")
            } else if v4.is_unspecified() || o[0] == 0 {
                Some("unspecified")
            } else if o[0] == 100 && (o[1] & 0xc0) == 64 {
                Some("shared (carrier-grade NAT)")
            } else if v4.is_broadcast() || v4.is_multicast() || o[0] >= 240 {
                Some("reserved")
            } else {
                None
            }
        }
        IpAddr::V6(v6) => {
            let s = v6.segments();
            if v6.is_loopback() {
                Some("loopback")
            } else if v6.is_unspecified() {
                Some("unspecified")
            } else if (s[0] & 0xffc0) == 0xfe80 {
                Some("link-local")
            } else if (s[0] & 0xfe00) == 0xfc00 {
                Some("unique-local")
            } else if v6.is_multicast() {
                Some("reserved")
            } else if s[0] == 0x64 && s[1] == 0xff9b {
                // NAT64 carries an IPv4 address: judge that one.
                let v4 = std::net::Ipv4Addr::new(
                    (s[6] >> 8) as u8,
                    s[6] as u8,
                    (s[7] >> 8) as u8,
                    s[7] as u8,
                );
                forbidden_range(IpAddr::V4(v4))
            } else {
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(url: &str) -> Target {
        let (scheme, rest) = url.split_once("://").unwrap();
        Target::new(scheme, rest).unwrap()
    }

    #[test]
    fn parses_origins_with_default_ports() {
        let g = NetGrant::parse("https://Registry.Example.com.").unwrap();
        assert_eq!(g.to_string(), "https://registry.example.com");
        assert_eq!(g.port, 443);
        assert_eq!(NetGrant::parse("http://127.0.0.1:5000").unwrap().port, 5000);
        assert_eq!(
            NetGrant::parse("http://[::1]:8080/").unwrap().to_string(),
            "http://[::1]:8080"
        );
        assert_eq!(
            NetGrant::parse("https://*.example.com:8443")
                .unwrap()
                .to_string(),
            "https://*.example.com:8443"
        );
        assert!(NetGrant::parse("http://localhost:5000").is_ok());
    }

    #[test]
    fn refuses_what_is_not_an_origin() {
        for (bad, says) in [
            ("*", "every host"),
            ("https://*", "every host"),
            ("https://*:443", "every host"),
            ("registry.example.com", "no scheme"),
            ("ftp://example.com", "unknown scheme"),
            ("https://example.com/v2/", "a path"),
            ("https://example.com?x=1", "a query"),
            ("https://example.com/#x", "a fragment"),
            ("https://user:pw@example.com", "user info"),
            ("https://example.com:0", "invalid port"),
            ("https://example.com:99999", "invalid port"),
            ("https://example.com:", "invalid port"),
            ("https://a.*.example.com", "not the leftmost"),
            ("https://*.com", "top-level domain"),
            ("https://exa mple.com", "no valid host"),
            ("http://2130706433", "no valid host"),
            ("http://0x7f.1", "no valid host"),
            ("http://::1", "no valid host"),
            ("http://[127.0.0.1]", "no valid host"),
        ] {
            let e = NetGrant::parse(bad).expect_err(bad);
            assert!(e.message.contains(says), "{bad}: {}", e.message);
            assert!(!e.help.is_empty());
        }
    }

    #[test]
    fn covers_scheme_host_and_port_exactly() {
        let g = NetGrant::parse("http://127.0.0.1:5000").unwrap();
        assert!(g.covers(&target("http://127.0.0.1:5000")));
        assert!(!g.covers(&target("http://127.0.0.1:5001")));
        assert!(!g.covers(&target("https://127.0.0.1:5000")));
        assert!(!g.covers(&target("http://127.0.0.2:5000")));
        let g = NetGrant::parse("https://registry.example.com").unwrap();
        assert!(g.covers(&target("https://REGISTRY.example.com.:443")));
        assert!(!g.covers(&target("https://registry.example.com:8443")));
        assert!(!g.covers(&target("https://evil-registry.example.com")));
    }

    #[test]
    fn wildcards_cover_subdomains_only() {
        let g = NetGrant::parse("https://*.example.com").unwrap();
        assert!(g.covers(&target("https://a.example.com")));
        assert!(g.covers(&target("https://a.b.example.com")));
        assert!(!g.covers(&target("https://example.com")));
        assert!(!g.covers(&target("https://badexample.com")));
        assert!(!g.covers(&target("https://a.example.com.evil.net")));
    }

    #[test]
    fn unix_socket_grants() {
        let g = NetGrant::parse("unix:/run/podman/podman.sock").unwrap();
        assert_eq!(g.socket(), Some("/run/podman/podman.sock"));
        assert_eq!(g.to_string(), "unix:/run/podman/podman.sock");
        assert_eq!(
            NetGrant::parse("unix:///run/podman/podman.sock").unwrap(),
            g
        );
        let authority = socket_authority("/run/podman/podman.sock");
        let t = Target::new("http+unix", &authority).unwrap();
        assert!(g.covers(&t));
        assert_eq!(t.origin(), "unix:/run/podman/podman.sock");
        let other = Target::new("http+unix", &socket_authority("/var/run/docker.sock")).unwrap();
        assert!(!g.covers(&other));
        assert!(!g.covers(&target("http://localhost")));
        for (bad, says) in [
            ("unix:run/podman.sock", "not absolute"),
            ("unix:/run/../etc/podman.sock", "`..`"),
            ("unix:/run//podman.sock", "empty"),
            ("unix:/run/./podman.sock", "`.`"),
            ("http+unix://2f72756e", "unknown scheme"),
        ] {
            let e = NetGrant::parse(bad).expect_err(bad);
            assert!(e.message.contains(says), "{bad}: {}", e.message);
        }
        assert!(Target::new("http+unix", "zz").is_err());
        assert!(Target::new("http+unix", &socket_authority("/a/../b")).is_err());
    }

    #[test]
    fn forbidden_ranges() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "::1",
            "fe80::1",
            "fd00::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "64:ff9b::a9fe:a9fe",
        ] {
            assert!(forbidden_range(ip.parse().unwrap()).is_some(), "{ip}");
        }
        for ip in ["93.184.216.34", "2606:2800:220:1::1", "1.1.1.1"] {
            assert_eq!(forbidden_range(ip.parse().unwrap()), None, "{ip}");
        }
        let g = NetGrant::parse("http://localhost:5000").unwrap();
        assert!(g.names_address("127.0.0.1".parse().unwrap()));
        assert!(g.names_address("::1".parse().unwrap()));
        assert!(!g.names_address("10.0.0.1".parse().unwrap()));
        let g = NetGrant::parse("http://127.0.0.1:5000").unwrap();
        assert!(g.names_address("::ffff:127.0.0.1".parse().unwrap()));
        assert!(!g.names_address("127.0.0.2".parse().unwrap()));
    }
}
