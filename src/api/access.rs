//! Who may call the API, decided per request. Pure: the peer and the headers in, a verdict out.
//!
//! - Unix socket: the peer's credentials (SO_PEERCRED) must be the daemon's user, root, or a
//!   configured uid or gid.
//! - TCP (loopback): the `Host` must be an allowed name (DNS rebinding), an `Origin`, if sent,
//!   must be a loopback one (a web page's cross-site request), and the bearer token must match,
//!   compared in constant time.

use subtle::ConstantTimeEq;

/// The other end of a connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Peer {
    /// A Unix socket peer; `None` when its credentials could not be read (refused).
    Unix(Option<PeerCred>),
    Tcp(std::net::SocketAddr),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeerCred {
    pub uid: u32,
    pub gid: u32,
    pub pid: Option<i32>,
}

impl std::fmt::Display for Peer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Peer::Unix(Some(c)) => write!(f, "uid {} gid {} pid {}", c.uid, c.gid, c.pid.map_or("?".into(), |p| p.to_string())),
            Peer::Unix(None) => f.write_str("a Unix peer with unknown credentials"),
            Peer::Tcp(a) => write!(f, "tcp {a}"),
        }
    }
}

/// Why a request is refused before routing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// 401: no or wrong bearer token.
    Unauthorized(String),
    /// 403: a peer, host or origin that is not allowed.
    Forbidden(String),
}

pub fn peer_allowed(c: &PeerCred, daemon_uid: u32, allowed_uids: &[u32], allowed_gids: &[u32]) -> bool {
    c.uid == daemon_uid || c.uid == 0 || allowed_uids.contains(&c.uid) || allowed_gids.contains(&c.gid)
}

/// The host part of a `Host` header value, lower-cased: `[::1]:8080` → `::1`, `Localhost:1` →
/// `localhost`.
fn host_part(value: &str) -> String {
    let v = value.trim();
    let host = if let Some(rest) = v.strip_prefix('[') {
        rest.split(']').next().unwrap_or("")
    } else if v.matches(':').count() == 1 {
        v.split(':').next().unwrap_or("")
    } else {
        v
    };
    host.trim_end_matches('.').to_ascii_lowercase()
}

pub fn host_allowed(host: Option<&str>, allowed: &[String]) -> bool {
    let Some(host) = host else { return false };
    let host = host_part(host);
    !host.is_empty() && allowed.iter().any(|a| host_part(a) == host)
}

/// An `Origin` is allowed when absent (not a browser) or on a loopback host.
pub fn origin_allowed(origin: Option<&str>) -> bool {
    let Some(origin) = origin else { return true };
    let Ok(uri) = origin.trim().parse::<hyper::Uri>() else { return false };
    if !matches!(uri.scheme_str(), Some("http" | "https")) {
        return false;
    }
    let Some(host) = uri.host() else { return false };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost") || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// `Authorization: Bearer TOKEN`, compared in constant time.
pub fn token_matches(authorization: Option<&str>, token: &str) -> bool {
    let Some(given) = authorization.and_then(|v| v.strip_prefix("Bearer ")).map(str::trim) else { return false };
    !token.is_empty() && bool::from(given.as_bytes().ct_eq(token.as_bytes()))
}

/// The checks of a TCP request, in order: host, origin, token.
pub fn check_tcp(
    host: Option<&str>,
    origin: Option<&str>,
    authorization: Option<&str>,
    allowed_hosts: &[String],
    token: &str,
) -> Result<(), Refusal> {
    if !host_allowed(host, allowed_hosts) {
        return Err(Refusal::Forbidden(format!(
            "Host {:?} is not allowed (api.tcp.allowed_hosts: {})",
            host.unwrap_or(""),
            allowed_hosts.join(", ")
        )));
    }
    if !origin_allowed(origin) {
        return Err(Refusal::Forbidden(format!("Origin {:?} is not a loopback origin", origin.unwrap_or(""))));
    }
    if !token_matches(authorization, token) {
        let why = if authorization.is_none() { "missing" } else { "wrong" };
        return Err(Refusal::Unauthorized(format!("{why} bearer token (Authorization: Bearer TOKEN, from the api.tcp.token_file)")));
    }
    Ok(())
}

/// `application/json`, with or without parameters (`; charset=utf-8`).
pub fn is_json(content_type: Option<&str>) -> bool {
    content_type.and_then(|v| v.split(';').next()).is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cred(uid: u32, gid: u32) -> PeerCred {
        PeerCred { uid, gid, pid: Some(1) }
    }

    #[test]
    fn the_daemon_user_root_and_configured_ids_are_allowed() {
        assert!(peer_allowed(&cred(1000, 1000), 1000, &[], &[]));
        assert!(peer_allowed(&cred(0, 0), 1000, &[], &[]));
        assert!(!peer_allowed(&cred(1001, 1001), 1000, &[], &[]));
        assert!(peer_allowed(&cred(1001, 1001), 1000, &[1001], &[]));
        assert!(peer_allowed(&cred(1001, 50), 1000, &[], &[50]));
        assert!(!peer_allowed(&cred(1001, 51), 1000, &[1002], &[50]));
    }

    #[test]
    fn hosts_are_matched_without_port_and_case() {
        let allowed = vec!["localhost".to_string(), "127.0.0.1".into(), "::1".into()];
        for ok in ["localhost", "LOCALHOST:7878", "127.0.0.1:1", "[::1]:7878", "[::1]", "localhost."] {
            assert!(host_allowed(Some(ok), &allowed), "{ok}");
        }
        for bad in ["evil.example", "evil.example:7878", "127.0.0.2", "", "localhost.evil.example", "[::2]:1"] {
            assert!(!host_allowed(Some(bad), &allowed), "{bad}");
        }
        assert!(!host_allowed(None, &allowed));
    }

    #[test]
    fn only_loopback_origins_pass() {
        assert!(origin_allowed(None));
        for ok in ["http://localhost:3000", "http://127.0.0.1", "https://[::1]:8443", "http://127.1.2.3:80"] {
            assert!(origin_allowed(Some(ok)), "{ok}");
        }
        for bad in ["http://evil.example", "null", "file://", "http://localhost.evil.example", "http://10.0.0.1", "ftp://localhost"] {
            assert!(!origin_allowed(Some(bad)), "{bad}");
        }
    }

    #[test]
    fn tokens_must_be_bearer_and_equal() {
        assert!(token_matches(Some("Bearer abc"), "abc"));
        assert!(!token_matches(Some("Bearer abd"), "abc"));
        assert!(!token_matches(Some("Bearer ab"), "abc"));
        assert!(!token_matches(Some("Basic abc"), "abc"));
        assert!(!token_matches(None, "abc"));
        assert!(!token_matches(Some("Bearer "), ""), "an empty token never matches");
    }

    #[test]
    fn tcp_checks_come_in_order() {
        let hosts = vec!["localhost".to_string()];
        assert!(matches!(check_tcp(Some("evil"), None, Some("Bearer t"), &hosts, "t"), Err(Refusal::Forbidden(_))));
        assert!(matches!(check_tcp(Some("localhost"), Some("http://evil"), Some("Bearer t"), &hosts, "t"), Err(Refusal::Forbidden(_))));
        assert!(matches!(check_tcp(Some("localhost"), None, None, &hosts, "t"), Err(Refusal::Unauthorized(_))));
        assert_eq!(check_tcp(Some("localhost:1"), Some("http://localhost:1"), Some("Bearer t"), &hosts, "t"), Ok(()));
    }

    #[test]
    fn json_content_types() {
        assert!(is_json(Some("application/json")));
        assert!(is_json(Some("Application/JSON; charset=utf-8")));
        assert!(!is_json(Some("text/plain")));
        assert!(!is_json(Some("application/jsonp")));
        assert!(!is_json(None));
    }
}
