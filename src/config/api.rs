//! `api:`: who may talk to the daemon and how much they may ask of it. The Unix socket is
//! always on; a loopback TCP listener is optional, for sidecars that cannot share a socket.

use super::HumanDuration;
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::PathBuf;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ApiConfig {
    /// Unix socket path; relative paths resolve against the config file's directory.
    pub socket: Option<PathBuf>,
    /// Requests whose headers take longer than this are answered 408 and dropped.
    pub header_timeout: HumanDuration,
    /// A request body that does not arrive within this is answered 408 (a client that
    /// announces a body and never sends it).
    pub body_timeout: HumanDuration,
    /// Largest request body accepted; larger ones are answered 413.
    pub max_body_bytes: u64,
    /// Connections served at once (both listeners); more are answered 503 and closed.
    pub max_connections: usize,
    /// Unix socket peers allowed besides the daemon's own user and root (SO_PEERCRED).
    /// Non-empty lists make the socket connectable by everyone (mode 0666): the peer check is
    /// then the gate, so put the socket in a directory those users can reach.
    pub allowed_uids: Vec<u32>,
    /// Groups (the peer's primary group, as SO_PEERCRED reports it) allowed on the socket.
    pub allowed_gids: Vec<u32>,
    /// Optional loopback TCP listener with a bearer token.
    pub tcp: Option<TcpConfig>,
}

impl Default for ApiConfig {
    fn default() -> Self {
        ApiConfig {
            socket: None,
            header_timeout: HumanDuration::secs(10),
            body_timeout: HumanDuration::secs(10),
            max_body_bytes: 64 * 1024,
            max_connections: 64,
            allowed_uids: Vec::new(),
            allowed_gids: Vec::new(),
            tcp: None,
        }
    }
}

impl ApiConfig {
    /// Whether the socket is opened to other users (and guarded by the peer check alone).
    pub fn shares_socket(&self) -> bool {
        !self.allowed_uids.is_empty() || !self.allowed_gids.is_empty()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TcpConfig {
    /// `IP:PORT` to listen on, e.g. `127.0.0.1:7878` (port 0: any free port, shown in
    /// `status`). Loopback only unless `force_non_loopback` is set.
    pub listen: String,
    /// File holding the bearer token (mode 0600); generated on first start when missing.
    /// Default: `STATE_DIR/api-token`.
    #[serde(default)]
    pub token_file: Option<PathBuf>,
    /// `Host` header values accepted (the host part; any port). Protects against DNS
    /// rebinding: a browser tricked into calling the listener sends the attacker's host name.
    #[serde(default = "default_allowed_hosts")]
    pub allowed_hosts: Vec<String>,
    /// Allow a non-loopback address. The token is then the only protection, sent in clear.
    #[serde(default)]
    pub force_non_loopback: bool,
}

pub fn default_allowed_hosts() -> Vec<String> {
    vec!["localhost".into(), "127.0.0.1".into(), "::1".into()]
}

impl TcpConfig {
    pub fn address(&self) -> Result<SocketAddr, String> {
        self.listen.trim().parse::<SocketAddr>().map_err(|e| {
            format!("api.tcp.listen {:?} is not an address ({e}), expected IP:PORT like 127.0.0.1:7878 or [::1]:7878", self.listen)
        })
    }
}

/// The first problem with the `api:` section: the key to point at and the message.
pub(super) fn problem(api: &ApiConfig) -> Option<(&'static [&'static str], String)> {
    if api.max_connections == 0 {
        return Some((&["api", "max_connections"], "api.max_connections is 0, expected at least 1".into()));
    }
    if api.max_body_bytes < 1024 {
        return Some((&["api", "max_body_bytes"], format!("api.max_body_bytes is {}, expected at least 1024", api.max_body_bytes)));
    }
    for (key, d) in [("header_timeout", api.header_timeout), ("body_timeout", api.body_timeout)] {
        if d.0.is_zero() {
            let keys: &'static [&'static str] = if key == "header_timeout" { &["api", "header_timeout"] } else { &["api", "body_timeout"] };
            return Some((keys, format!("api.{key} is 0, expected a duration of at least 1s")));
        }
    }
    let tcp = api.tcp.as_ref()?;
    let addr = match tcp.address() {
        Ok(a) => a,
        Err(e) => return Some((&["api", "tcp", "listen"], e)),
    };
    if !addr.ip().is_loopback() && !tcp.force_non_loopback {
        return Some((
            &["api", "tcp", "listen"],
            format!(
                "api.tcp.listen {addr} is not a loopback address, expected 127.0.0.1 or ::1 \
                 (set api.tcp.force_non_loopback: true to expose the API beyond this host)"
            ),
        ));
    }
    if tcp.allowed_hosts.iter().all(|h| h.trim().is_empty()) {
        return Some((&["api", "tcp", "allowed_hosts"], "api.tcp.allowed_hosts is empty, expected host names like localhost".into()));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tcp(listen: &str) -> ApiConfig {
        ApiConfig {
            tcp: Some(TcpConfig {
                listen: listen.into(),
                token_file: None,
                allowed_hosts: default_allowed_hosts(),
                force_non_loopback: false,
            }),
            ..Default::default()
        }
    }

    #[test]
    fn loopback_listeners_pass_and_others_need_force() {
        assert_eq!(problem(&tcp("127.0.0.1:7878")), None);
        assert_eq!(problem(&tcp("[::1]:0")), None);
        let (key, msg) = problem(&tcp("0.0.0.0:7878")).unwrap();
        assert_eq!(key, &["api", "tcp", "listen"]);
        assert!(msg.contains("force_non_loopback"), "{msg}");
        let mut forced = tcp("0.0.0.0:7878");
        forced.tcp.as_mut().unwrap().force_non_loopback = true;
        assert_eq!(problem(&forced), None);
        let (_, msg) = problem(&tcp("localhost:7878")).unwrap();
        assert!(msg.contains("expected IP:PORT"), "{msg}");
    }

    #[test]
    fn limits_must_be_usable() {
        let zero = ApiConfig { max_connections: 0, ..Default::default() };
        assert_eq!(problem(&zero).unwrap().0, &["api", "max_connections"]);
        let tiny = ApiConfig { max_body_bytes: 10, ..Default::default() };
        assert_eq!(problem(&tiny).unwrap().0, &["api", "max_body_bytes"]);
        let instant = ApiConfig { body_timeout: HumanDuration::secs(0), ..Default::default() };
        assert_eq!(problem(&instant).unwrap().0, &["api", "body_timeout"]);
    }
}
