//! Test material built from real bytes at test time: the EICAR test file, zip archives
//! (written by hand per PKWARE APPNOTE, stored or deflated), a tiny DOS/PE executable header,
//! a macro-bearing `.docm`, and MIME messages carrying them. Shared by the unit tests and the
//! clamd interop test (`tests/clamd.rs` includes this file by path), so it uses no `crate::`.
#![allow(dead_code)]

use std::io::Write;

use base64::Engine;

/// The EICAR anti-virus test file (68 bytes), detected by every scanner by convention.
pub const EICAR: &[u8] = br"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*";

/// The start of a DOS/PE executable: `MZ`, a DOS header, the stub's message.
pub fn exe() -> Vec<u8> {
    let mut v = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00".to_vec();
    v.extend_from_slice(&[0u8; 48]);
    v.extend_from_slice(b"This program cannot be run in DOS mode.\r\r\n$");
    v
}

/// One file for [`zip`].
pub struct ZipFile {
    /// Path in the archive.
    pub name: String,
    /// Content.
    pub data: Vec<u8>,
    /// Deflate (method 8) or store (method 0).
    pub deflate: bool,
    /// Set general purpose bit 0 (the data is left as is).
    pub encrypted: bool,
    /// Lie about the uncompressed size in the headers.
    pub claimed_size: Option<u32>,
}

impl ZipFile {
    /// A stored entry.
    pub fn stored(name: &str, data: &[u8]) -> Self {
        Self { name: name.into(), data: data.to_vec(), deflate: false, encrypted: false, claimed_size: None }
    }
    /// A deflated entry.
    pub fn deflated(name: &str, data: &[u8]) -> Self {
        Self { deflate: true, ..Self::stored(name, data) }
    }
}

/// Writes a zip archive: local headers with data, central directory, end record.
pub fn zip(files: &[ZipFile]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut central = Vec::new();
    for f in files {
        let body = if f.deflate {
            let mut enc = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
            enc.write_all(&f.data).expect("deflate");
            enc.finish().expect("deflate")
        } else {
            f.data.clone()
        };
        let crc = crc32fast::hash(&f.data);
        let usize_ = f.claimed_size.unwrap_or(f.data.len() as u32);
        let method: u16 = if f.deflate { 8 } else { 0 };
        let flags: u16 = if f.encrypted { 1 } else { 0 };
        let offset = out.len() as u32;
        let name = f.name.as_bytes();
        let common = |v: &mut Vec<u8>| {
            v.extend_from_slice(&20u16.to_le_bytes()); // version needed
            v.extend_from_slice(&flags.to_le_bytes());
            v.extend_from_slice(&method.to_le_bytes());
            v.extend_from_slice(&[0, 0, 0x21, 0]); // time, date
            v.extend_from_slice(&crc.to_le_bytes());
            v.extend_from_slice(&(body.len() as u32).to_le_bytes());
            v.extend_from_slice(&usize_.to_le_bytes());
            v.extend_from_slice(&(name.len() as u16).to_le_bytes());
            v.extend_from_slice(&0u16.to_le_bytes()); // extra length
        };
        out.extend_from_slice(&0x0403_4b50u32.to_le_bytes());
        common(&mut out);
        out.extend_from_slice(name);
        out.extend_from_slice(&body);
        central.extend_from_slice(&0x0201_4b50u32.to_le_bytes());
        central.extend_from_slice(&20u16.to_le_bytes()); // version made by
        common(&mut central);
        central.extend_from_slice(&[0; 6]); // comment length, disk, internal attrs
        central.extend_from_slice(&[0; 4]); // external attrs
        central.extend_from_slice(&offset.to_le_bytes());
        central.extend_from_slice(name);
    }
    let cd_offset = out.len() as u32;
    out.extend_from_slice(&central);
    out.extend_from_slice(&0x0605_4b50u32.to_le_bytes());
    out.extend_from_slice(&[0; 4]); // disk numbers
    out.extend_from_slice(&(files.len() as u16).to_le_bytes());
    out.extend_from_slice(&(files.len() as u16).to_le_bytes());
    out.extend_from_slice(&(central.len() as u32).to_le_bytes());
    out.extend_from_slice(&cd_offset.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out
}

/// A Word document with macros: OOXML with `word/vbaProject.bin` (an OLE2 file holding a
/// `_VBA_PROJECT` stream).
pub fn docm() -> Vec<u8> {
    let mut vba = vec![0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1];
    vba.extend_from_slice(&[0; 504]);
    vba.extend("_VBA_PROJECT".encode_utf16().flat_map(u16::to_le_bytes));
    zip(&[
        ZipFile::deflated("[Content_Types].xml", br#"<?xml version="1.0"?><Types/>"#),
        ZipFile::deflated("word/document.xml", b"<w:document/>"),
        ZipFile::stored("word/vbaProject.bin", &vba),
    ])
}

/// An attachment for [`message`].
pub struct Attachment<'a> {
    /// `type/subtype`.
    pub content_type: &'a str,
    /// File name (`filename` parameter), if any.
    pub name: Option<&'a str>,
    /// Raw bytes, sent base64-encoded.
    pub data: &'a [u8],
}

/// A multipart/mixed message with a text body and the attachments, CRLF line ends.
pub fn message(body: &str, attachments: &[Attachment<'_>]) -> Vec<u8> {
    let mut m = String::from(
        "From: alice@example.test\r\nTo: bob@example.test\r\nSubject: test\r\n\
         Message-ID: <t1@example.test>\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\npreamble\r\n",
    );
    m.push_str("--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n");
    m.push_str(body);
    m.push_str("\r\n");
    for a in attachments {
        m.push_str(&format!("--b1\r\nContent-Type: {}\r\n", a.content_type));
        if let Some(n) = a.name {
            m.push_str(&format!("Content-Disposition: attachment; filename=\"{n}\"\r\n"));
        }
        m.push_str("Content-Transfer-Encoding: base64\r\n\r\n");
        let b64 = base64::engine::general_purpose::STANDARD.encode(a.data);
        for line in b64.as_bytes().chunks(76) {
            m.push_str(&String::from_utf8_lossy(line));
            m.push_str("\r\n");
        }
    }
    m.push_str("--b1--\r\n");
    m.into_bytes()
}

/// A plain single-part text message.
pub fn plain(body: &str) -> Vec<u8> {
    format!(
        "From: alice@example.test\r\nTo: bob@example.test\r\nSubject: hello\r\n\
         Message-ID: <t2@example.test>\r\n\r\n{body}\r\n"
    )
    .into_bytes()
}
