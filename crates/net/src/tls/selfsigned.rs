//! Self-signed certificate generation for development setups (`mailstead init --dev`).
//!
//! The certificate is ECDSA P-256, signed by its own key, valid for the given host names (an
//! entry that parses as an IP address becomes an IP SAN). The files are written atomically:
//! temp file in the same directory, fsync, rename, fsync the directory, so a crash never leaves
//! a half-written key behind. The key file is created with mode 0600 from the start.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use rcgen::{CertificateParams, DnType, KeyPair};

use super::TlsError;

/// Where [`generate_self_signed`] wrote the certificate and the private key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertPaths {
    /// `DIR/cert.pem`: the certificate, PEM.
    pub cert: PathBuf,
    /// `DIR/key.pem`: the PKCS#8 private key, PEM, mode 0600.
    pub key: PathBuf,
}

/// Generates a self-signed certificate for `hostnames` and writes `cert.pem` and `key.pem` in `dir`.
///
/// The first host name also becomes the subject common name. Whether to include `localhost` or
/// `127.0.0.1` is the caller's choice. Existing files are replaced; `dir` is created if needed.
/// Blocking file I/O: call it at setup time (or from `spawn_blocking`).
pub fn generate_self_signed(hostnames: &[String], dir: &Path) -> Result<CertPaths, TlsError> {
    let mut params = CertificateParams::new(hostnames.to_vec())?;
    if let Some(first) = hostnames.first() {
        params.distinguished_name.push(DnType::CommonName, first.as_str());
    }
    let key_pair = KeyPair::generate()?;
    let cert = params.self_signed(&key_pair)?;

    fs::create_dir_all(dir).map_err(|source| TlsError::Write { path: dir.to_path_buf(), source })?;
    let paths = CertPaths { cert: dir.join("cert.pem"), key: dir.join("key.pem") };
    // Key first: a cert.pem without its key is harmless, the reverse would be confusing.
    write_atomic(&paths.key, key_pair.serialize_pem().as_bytes(), 0o600)?;
    write_atomic(&paths.cert, cert.pem().as_bytes(), 0o644)?;
    sync_dir(dir)?;
    Ok(paths)
}

/// Writes `data` to `path` through a temp file in the same directory, fsynced, then renamed.
fn write_atomic(path: &Path, data: &[u8], mode: u32) -> Result<(), TlsError> {
    let err = |source| TlsError::Write { path: path.to_path_buf(), source };
    let file_name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = path.with_file_name(format!(".{file_name}.tmp.{}", std::process::id()));
    // A stale temp file from a crashed run must not keep looser permissions: start afresh.
    match fs::remove_file(&tmp) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(err(e)),
    }
    let result = (|| {
        let mut file = create_new_with_mode(&tmp, mode)?;
        file.write_all(data)?;
        file.sync_all()?;
        fs::rename(&tmp, path)
    })();
    if result.is_err() {
        // Best effort: the original error is the one worth reporting.
        let _ = fs::remove_file(&tmp);
    }
    result.map_err(err)
}

#[cfg(unix)]
fn create_new_with_mode(path: &Path, mode: u32) -> std::io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    OpenOptions::new().write(true).create_new(true).mode(mode).open(path)
}

#[cfg(not(unix))]
fn create_new_with_mode(path: &Path, _mode: u32) -> std::io::Result<File> {
    OpenOptions::new().write(true).create_new(true).open(path)
}

/// Makes the renames durable (POSIX needs an fsync of the directory itself).
fn sync_dir(dir: &Path) -> Result<(), TlsError> {
    #[cfg(unix)]
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|source| TlsError::Write { path: dir.to_path_buf(), source })?;
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // Tests may unwrap: a panic is a failed test.
mod tests {
    use super::*;

    #[test]
    fn writes_cert_and_private_key_file() {
        let dir = tempfile::tempdir().unwrap();
        let sub = dir.path().join("tls");
        let paths = generate_self_signed(&["mail.example.test".into(), "127.0.0.1".into()], &sub).unwrap();
        assert_eq!(paths.cert, sub.join("cert.pem"));
        assert_eq!(paths.key, sub.join("key.pem"));
        let cert = fs::read_to_string(&paths.cert).unwrap();
        let key = fs::read_to_string(&paths.key).unwrap();
        assert!(cert.starts_with("-----BEGIN CERTIFICATE-----"), "{cert}");
        assert!(key.starts_with("-----BEGIN PRIVATE KEY-----"), "{key}");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(&paths.key).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
        // No temp files left behind.
        let names: Vec<_> = fs::read_dir(&sub).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names.len(), 2, "{names:?}");
    }

    #[test]
    fn invalid_host_name_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let err = generate_self_signed(&["bäd.example".into()], dir.path()).unwrap_err();
        assert!(matches!(err, TlsError::Generate(_)), "{err}");
    }
}
