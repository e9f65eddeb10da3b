//! A minimal, bounded zip reader: the central directory (names, sizes, flags) and the data of
//! one entry, decompressed up to a caller-given byte limit. Enough for the attachment policy to
//! see file names and first bytes inside archives; not a general unzip.
//!
//! Format: PKWARE APPNOTE.TXT 6.3.x. We read the End of Central Directory record (§4.3.16),
//! its ZIP64 form through the locator (§4.3.14, §4.3.15), central directory headers (§4.3.12)
//! with the ZIP64 extra field (§4.5.3), and local file headers (§4.3.7) only to find where an
//! entry's data begins. Methods: stored (0) and deflate (8); others are reported, not read.
//!
//! Invariants (zip bombs must not hurt): the number of entries read is capped by the caller,
//! every offset is bounds-checked against the input (no arithmetic overflow, no panics), and
//! decompression stops at the caller's limit whatever the header claims.

use std::io::Read;

/// One file in an archive, as its central directory describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Path inside the archive (`dir/file.ext`), UTF-8 or lossily decoded CP437.
    pub name: String,
    /// Compression method (APPNOTE §4.4.5).
    pub method: u16,
    /// General purpose bit 0: the data is encrypted.
    pub encrypted: bool,
    /// Size of the stored data.
    pub compressed_size: u64,
    /// Size the header claims after decompression (not trusted).
    pub uncompressed_size: u64,
    /// Offset of the local file header.
    local_offset: u64,
}

impl Entry {
    /// A directory entry (name ends with `/`).
    pub fn is_dir(&self) -> bool {
        self.name.ends_with('/')
    }

    /// Whether [`read`] can decompress this entry.
    pub fn readable(&self) -> bool {
        !self.encrypted && matches!(self.method, METHOD_STORED | METHOD_DEFLATE)
    }
}

/// Why an archive or entry cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ZipError {
    /// Structure missing or inconsistent.
    #[error("corrupt zip: {0}")]
    Corrupt(&'static str),
    /// More entries than the caller allows.
    #[error("zip has more than {0} entries")]
    TooManyEntries(usize),
    /// Encrypted or compressed with a method we do not implement.
    #[error("zip entry not readable (method {method}, encrypted {encrypted})")]
    Unreadable {
        /// The compression method.
        method: u16,
        /// Whether it is encrypted.
        encrypted: bool,
    },
}

const METHOD_STORED: u16 = 0;
const METHOD_DEFLATE: u16 = 8;
const EOCD_SIG: u32 = 0x0605_4b50;
const EOCD64_LOCATOR_SIG: u32 = 0x0706_4b50;
const EOCD64_SIG: u32 = 0x0606_4b50;
const CDH_SIG: u32 = 0x0201_4b50;
const LFH_SIG: u32 = 0x0403_4b50;

fn u16_at(d: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(d.get(at..at.checked_add(2)?)?.try_into().ok()?))
}
fn u32_at(d: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(d.get(at..at.checked_add(4)?)?.try_into().ok()?))
}
fn u64_at(d: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(d.get(at..at.checked_add(8)?)?.try_into().ok()?))
}
fn to_usize(v: u64) -> Result<usize, ZipError> {
    usize::try_from(v).map_err(|_| ZipError::Corrupt("offset out of range"))
}

/// Lists the entries of the archive in `data`, at most `max_entries` of them.
pub fn entries(data: &[u8], max_entries: usize) -> Result<Vec<Entry>, ZipError> {
    const BAD: ZipError = ZipError::Corrupt("truncated central directory");
    // §4.3.16: the EOCD is 22 bytes plus a comment of up to 65535 bytes, at the very end.
    let floor = data.len().saturating_sub(22 + 0xFFFF);
    let eocd = (floor..=data.len().saturating_sub(22))
        .rev()
        .find(|&i| u32_at(data, i) == Some(EOCD_SIG))
        .ok_or(ZipError::Corrupt("no end of central directory record"))?;
    let mut count = u64::from(u16_at(data, eocd + 10).ok_or(BAD)?);
    let mut cd_offset = u64::from(u32_at(data, eocd + 16).ok_or(BAD)?);
    if count == 0xFFFF || cd_offset == 0xFFFF_FFFF {
        // §4.3.14/15: ZIP64 locator right before the EOCD points at the ZIP64 EOCD.
        let loc = eocd.checked_sub(20).ok_or(BAD)?;
        if u32_at(data, loc) != Some(EOCD64_LOCATOR_SIG) {
            return Err(ZipError::Corrupt("ZIP64 locator missing"));
        }
        let at = to_usize(u64_at(data, loc + 8).ok_or(BAD)?)?;
        if u32_at(data, at) != Some(EOCD64_SIG) {
            return Err(ZipError::Corrupt("ZIP64 end record missing"));
        }
        count = u64_at(data, at + 32).ok_or(BAD)?;
        cd_offset = u64_at(data, at + 48).ok_or(BAD)?;
    }
    if count > max_entries as u64 {
        return Err(ZipError::TooManyEntries(max_entries));
    }
    let mut pos = to_usize(cd_offset)?;
    let mut out = Vec::with_capacity(to_usize(count)?.min(1024));
    for _ in 0..count {
        if u32_at(data, pos) != Some(CDH_SIG) {
            return Err(ZipError::Corrupt("bad central directory header"));
        }
        // §4.3.12 field offsets.
        let flags = u16_at(data, pos + 8).ok_or(BAD)?;
        let method = u16_at(data, pos + 10).ok_or(BAD)?;
        let mut csize = u64::from(u32_at(data, pos + 20).ok_or(BAD)?);
        let mut usize_ = u64::from(u32_at(data, pos + 24).ok_or(BAD)?);
        let name_len = usize::from(u16_at(data, pos + 28).ok_or(BAD)?);
        let extra_len = usize::from(u16_at(data, pos + 30).ok_or(BAD)?);
        let comment_len = usize::from(u16_at(data, pos + 32).ok_or(BAD)?);
        let mut local = u64::from(u32_at(data, pos + 42).ok_or(BAD)?);
        let name_at = pos + 46;
        let name = data.get(name_at..name_at + name_len).ok_or(BAD)?;
        let extra = data.get(name_at + name_len..name_at + name_len + extra_len).ok_or(BAD)?;
        zip64_extra(extra, &mut usize_, &mut csize, &mut local);
        out.push(Entry {
            // Bit 11 means UTF-8; CP437 otherwise, whose ASCII part is all the policy needs.
            name: String::from_utf8_lossy(name).into_owned(),
            method,
            encrypted: flags & 1 != 0,
            compressed_size: csize,
            uncompressed_size: usize_,
            local_offset: local,
        });
        pos = name_at + name_len + extra_len + comment_len;
    }
    Ok(out)
}

/// §4.5.3: the ZIP64 extended information field holds, in this order, exactly those of the
/// 32-bit fields that are 0xFFFFFFFF.
fn zip64_extra(mut extra: &[u8], usize_: &mut u64, csize: &mut u64, local: &mut u64) {
    while let (Some(id), Some(len)) = (u16_at(extra, 0), u16_at(extra, 2)) {
        let len = usize::from(len);
        let Some(body) = extra.get(4..4 + len) else { return };
        if id == 0x0001 {
            let mut at = 0;
            for field in [usize_, csize, local] {
                if *field == 0xFFFF_FFFF {
                    if let Some(v) = u64_at(body, at) {
                        *field = v;
                    }
                    at += 8;
                }
            }
            return;
        }
        extra = &extra[4 + len..];
    }
}

/// Decompresses `entry` from `data`, at most `limit` bytes (the output is cut there; compare
/// its length with `limit` to learn whether there was more).
pub fn read(data: &[u8], entry: &Entry, limit: usize) -> Result<Vec<u8>, ZipError> {
    const BAD: ZipError = ZipError::Corrupt("truncated local header");
    if !entry.readable() {
        return Err(ZipError::Unreadable { method: entry.method, encrypted: entry.encrypted });
    }
    let lfh = to_usize(entry.local_offset)?;
    if u32_at(data, lfh) != Some(LFH_SIG) {
        return Err(ZipError::Corrupt("bad local file header"));
    }
    // §4.3.7: name and extra lengths of the local header may differ from the central ones.
    let name_len = usize::from(u16_at(data, lfh + 26).ok_or(BAD)?);
    let extra_len = usize::from(u16_at(data, lfh + 28).ok_or(BAD)?);
    let start = lfh + 30 + name_len + extra_len;
    let end = start
        .checked_add(to_usize(entry.compressed_size)?)
        .ok_or(ZipError::Corrupt("entry size overflows"))?;
    let raw = data.get(start..end).ok_or(ZipError::Corrupt("entry data beyond the archive"))?;
    let mut out = Vec::new();
    let cap = limit as u64;
    let res = if entry.method == METHOD_STORED {
        raw.take(cap).read_to_end(&mut out)
    } else {
        flate2::read::DeflateDecoder::new(raw).take(cap).read_to_end(&mut out)
    };
    match res {
        Ok(_) => Ok(out),
        Err(_) => Err(ZipError::Corrupt("bad deflate data")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testdata::{ZipFile, zip};

    #[test]
    fn lists_and_reads_stored_and_deflated_entries() {
        let z = zip(&[ZipFile::stored("a.txt", b"hello"), ZipFile::deflated("dir/b.bin", &[7u8; 10_000])]);
        let e = entries(&z, 10).expect("entries");
        assert_eq!(e.len(), 2);
        assert_eq!(e[0].name, "a.txt");
        assert_eq!(e[1].name, "dir/b.bin");
        assert_eq!(e[1].method, 8);
        assert_eq!(read(&z, &e[0], 100).expect("read"), b"hello");
        assert_eq!(read(&z, &e[1], 100_000).expect("read"), vec![7u8; 10_000]);
        assert_eq!(read(&z, &e[1], 16).expect("read").len(), 16, "cut at the limit");
    }

    #[test]
    fn entry_cap_and_garbage() {
        let z = zip(&[ZipFile::stored("a", b"1"), ZipFile::stored("b", b"2")]);
        assert_eq!(entries(&z, 1), Err(ZipError::TooManyEntries(1)));
        assert!(entries(b"PK\x03\x04 not really", 10).is_err());
        // Every truncation is an error, never a panic.
        for cut in 0..z.len() {
            if let Ok(es) = entries(&z[..cut], 10) {
                for e in &es {
                    let _ = read(&z[..cut], e, 10);
                }
            }
        }
    }

    #[test]
    fn bomb_is_cut_at_the_limit() {
        // 50 MB of zeros deflate to ~50 KB; the header even lies about the size.
        let mut f = ZipFile::deflated("zeros", &vec![0u8; 50_000_000]);
        f.claimed_size = Some(1);
        let z = zip(&[f]);
        assert!(z.len() < 100_000);
        let e = entries(&z, 10).expect("entries");
        assert_eq!(read(&z, &e[0], 1 << 20).expect("read").len(), 1 << 20);
    }

    #[test]
    fn encrypted_entries_are_not_read() {
        let mut f = ZipFile::stored("secret.exe", b"MZ");
        f.encrypted = true;
        let z = zip(&[f]);
        let e = entries(&z, 10).expect("entries");
        assert!(e[0].encrypted);
        assert!(matches!(read(&z, &e[0], 10), Err(ZipError::Unreadable { .. })));
    }
}
