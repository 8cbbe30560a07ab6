//! The optional loopback TCP listener and its bearer token.
//!
//! The token lives in a file only its owner can read (0600). It is generated on the first
//! start (32 random bytes, hex) and read on every later one; a token file others can read, or
//! one that is not a regular file, stops the start: the token would not be a secret.

use anyhow::{bail, Context as _, Result};
use std::io::Write;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;
use tokio::net::TcpListener;

/// The bound listener and the token requests must carry.
pub struct TcpAccess {
    pub listener: TcpListener,
    pub token: String,
}

/// Bind the configured listener (if any) and load or create its token.
pub async fn bind(config: &crate::config::Config) -> Result<Option<TcpAccess>> {
    let (Some(tcp), Some(token_path)) = (config.api.tcp.as_ref(), config.token_path()) else { return Ok(None) };
    let addr = tcp.address().map_err(anyhow::Error::msg)?;
    // Checked again here, not only by the config: the listener must never open beyond the
    // host by accident.
    if !addr.ip().is_loopback() && !tcp.force_non_loopback {
        bail!("api.tcp.listen {addr} is not a loopback address; set api.tcp.force_non_loopback to allow it");
    }
    let token = load_or_create_token(&token_path)?;
    let listener = TcpListener::bind(addr).await.with_context(|| format!("cannot listen on {addr} (api.tcp.listen)"))?;
    if !addr.ip().is_loopback() {
        tracing::warn!(address = %addr, "the API listens beyond this host (api.tcp.force_non_loopback); only the bearer token protects it, sent in clear");
    }
    Ok(Some(TcpAccess { listener, token }))
}

/// Read the token, or create the file with a new one. Refuses a file others may read.
pub fn load_or_create_token(path: &Path) -> Result<String> {
    match std::fs::symlink_metadata(path) {
        Ok(meta) => {
            if !meta.file_type().is_file() {
                bail!("token file {} is not a regular file", path.display());
            }
            if meta.mode() & 0o077 != 0 {
                bail!("token file {} is readable by others (mode {:o}); chmod 600 it", path.display(), meta.mode() & 0o777);
            }
            let text = std::fs::read_to_string(path).with_context(|| format!("cannot read token file {}", path.display()))?;
            let token = text.trim().to_string();
            if token.len() < 16 || token.chars().any(|c| c.is_whitespace() || c.is_control()) {
                bail!("token file {} holds no usable token (at least 16 characters, no spaces)", path.display());
            }
            Ok(token)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let mut bytes = [0u8; 32];
            getrandom::fill(&mut bytes).map_err(|e| anyhow::anyhow!("no randomness for the API token: {e}"))?;
            let token = hex::encode(bytes);
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
            }
            let mut f = std::fs::File::options()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .custom_flags(libc::O_NOFOLLOW)
                .open(path)
                .with_context(|| format!("cannot create token file {}", path.display()))?;
            f.set_permissions(std::fs::Permissions::from_mode(0o600))?;
            writeln!(f, "{token}")?;
            f.sync_all()?;
            tracing::info!(file = %path.display(), "generated the API token for the TCP listener");
            Ok(token)
        }
        Err(e) => Err(e).with_context(|| format!("cannot read token file {}", path.display())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_is_generated_once_private_and_then_reused() {
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("sub/api-token");
        let first = load_or_create_token(&path).unwrap();
        assert_eq!(first.len(), 64);
        assert_eq!(std::fs::metadata(&path).unwrap().mode() & 0o777, 0o600);
        assert_eq!(load_or_create_token(&path).unwrap(), first);
    }

    #[test]
    fn a_token_file_others_can_read_is_refused() {
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("api-token");
        std::fs::write(&path, "0123456789abcdef0123\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let e = load_or_create_token(&path).unwrap_err().to_string();
        assert!(e.contains("readable by others"), "{e}");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(load_or_create_token(&path).unwrap(), "0123456789abcdef0123");
    }

    #[test]
    fn a_link_or_a_short_token_is_refused() {
        let d = tempfile::tempdir().unwrap();
        let target = d.path().join("t");
        std::fs::write(&target, "0123456789abcdef0123").unwrap();
        std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o600)).unwrap();
        std::os::unix::fs::symlink(&target, d.path().join("link")).unwrap();
        assert!(load_or_create_token(&d.path().join("link")).is_err());
        let short = d.path().join("short");
        std::fs::write(&short, "abc").unwrap();
        std::fs::set_permissions(&short, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert!(load_or_create_token(&short).is_err());
    }
}
