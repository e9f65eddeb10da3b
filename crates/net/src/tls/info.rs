//! What a finished TLS handshake negotiated, for `Received:` headers and connection logs.

use std::fmt;

use rustls::{ProtocolVersion, ServerConnection};

/// The negotiated parameters of a server-side TLS connection.
///
/// Displayed as `TLSv1.3 TLS13_AES_256_GCM_SHA384 sni=mail.example.com`, ready for a log line;
/// a `Received:` header can use the fields (RFC 8314 §4.3 asks to record TLS use there).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsInfo {
    /// Protocol version in OpenSSL's spelling: `TLSv1.2` or `TLSv1.3`.
    pub version: String,
    /// IANA-style cipher suite name as rustls spells it, e.g. `TLS13_AES_256_GCM_SHA384`.
    pub cipher: String,
    /// The host name the client asked for (SNI), lowercase; `None` if it sent none.
    pub sni: Option<String>,
}

impl TlsInfo {
    /// Reads the parameters of `conn`; `None` while the handshake is still in progress.
    pub fn from_connection(conn: &ServerConnection) -> Option<Self> {
        let version = conn.protocol_version()?;
        let suite = conn.negotiated_cipher_suite()?.suite();
        let cipher = suite.as_str().map_or_else(|| format!("0x{:04x}", u16::from(suite)), str::to_owned);
        Some(Self { version: version_name(version), cipher, sni: conn.server_name().map(str::to_owned) })
    }
}

fn version_name(version: ProtocolVersion) -> String {
    match version {
        ProtocolVersion::TLSv1_3 => "TLSv1.3".to_owned(),
        ProtocolVersion::TLSv1_2 => "TLSv1.2".to_owned(),
        ProtocolVersion::TLSv1_1 => "TLSv1.1".to_owned(),
        ProtocolVersion::TLSv1_0 => "TLSv1".to_owned(),
        other => format!("0x{:04x}", u16::from(other)),
    }
}

impl fmt::Display for TlsInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.version, self.cipher)?;
        if let Some(sni) = &self.sni {
            write!(f, " sni={sni}")?;
        }
        Ok(())
    }
}
