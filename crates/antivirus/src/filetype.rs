//! What a file is: by its name, by its declared MIME type, and by its first bytes (magic
//! numbers). Pure functions, no I/O; the attachment policy ([`crate::policy`]) combines them.
//!
//! The lists are deliberately about *dangerous* types only (things a desktop runs when
//! double-clicked, or mounts, or feeds to a script host). Everything else is allowed.

use std::fmt;

/// Bytes needed for [`sniff`]: ISO 9660 puts its signature at offset 0x8001.
pub const SNIFF_LEN: usize = 0x8001 + 5;

/// A dangerous file type found in a file's content.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    /// `MZ`: a DOS/Windows executable or DLL (PE).
    WindowsExecutable,
    /// `\x7fELF`: a Linux/Unix executable or shared object.
    Elf,
    /// A Mach-O (macOS) binary, thin or fat.
    MachO,
    /// `#!`: a script for an interpreter.
    Shebang,
    /// A Windows shell link (`.lnk`, MS-SHLLINK header).
    WindowsShortcut,
    /// An ISO 9660 / UDF disk image (mounts on double-click, hides its content from scanners).
    DiskImage,
    /// A VHD/VHDX virtual disk.
    VirtualDisk,
    /// A compiled HTML help file (`ITSF`), which runs scripts.
    CompiledHelp,
    /// A zip with a Java manifest or classes: a runnable `.jar`.
    JavaArchive,
}

impl fmt::Display for FileKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::WindowsExecutable => "Windows executable (MZ/PE)",
            Self::Elf => "ELF executable",
            Self::MachO => "Mach-O executable",
            Self::Shebang => "script (#!)",
            Self::WindowsShortcut => "Windows shortcut (LNK)",
            Self::DiskImage => "disk image (ISO 9660/UDF)",
            Self::VirtualDisk => "virtual disk (VHD/VHDX)",
            Self::CompiledHelp => "compiled HTML help (CHM)",
            Self::JavaArchive => "Java archive",
        })
    }
}

/// Container formats the policy looks into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Container {
    /// `PK\x03\x04` (also OOXML documents and JARs).
    Zip,
    /// An OLE2 compound file (`.doc`, `.xls`, `.ppt`, `.msi`).
    Ole2,
}

/// The dangerous type of `head` (the first [`SNIFF_LEN`] bytes or fewer), if any.
pub fn sniff(head: &[u8]) -> Option<FileKind> {
    const MACHO: [[u8; 4]; 5] = [
        [0xFE, 0xED, 0xFA, 0xCE],
        [0xFE, 0xED, 0xFA, 0xCF],
        [0xCE, 0xFA, 0xED, 0xFE],
        [0xCF, 0xFA, 0xED, 0xFE],
        // Fat binary; Java class files share it, and are code too.
        [0xCA, 0xFE, 0xBA, 0xBE],
    ];
    const LNK: [u8; 8] = [0x4C, 0x00, 0x00, 0x00, 0x01, 0x14, 0x02, 0x00];
    if head.starts_with(b"MZ") || head.starts_with(b"ZM") {
        return Some(FileKind::WindowsExecutable);
    }
    if head.starts_with(b"\x7fELF") {
        return Some(FileKind::Elf);
    }
    if MACHO.iter().any(|m| head.starts_with(m)) {
        return Some(FileKind::MachO);
    }
    if head.starts_with(b"#!") {
        return Some(FileKind::Shebang);
    }
    if head.starts_with(&LNK) {
        return Some(FileKind::WindowsShortcut);
    }
    if head.starts_with(b"ITSF") {
        return Some(FileKind::CompiledHelp);
    }
    if head.starts_with(b"vhdxfile") || head.starts_with(b"conectix") {
        return Some(FileKind::VirtualDisk);
    }
    // ECMA-119 §8.1: the first volume descriptor is at sector 16 (0x8000), "CD001" after its
    // type byte; ECMA-167 (UDF) uses "BEA01" there.
    if let Some(id) = head.get(0x8001..0x8006)
        && (id == b"CD001" || id == b"BEA01")
    {
        return Some(FileKind::DiskImage);
    }
    None
}

/// The container format of `head`, if it is one the policy opens.
pub fn container(head: &[u8]) -> Option<Container> {
    if head.starts_with(b"PK\x03\x04") || head.starts_with(b"PK\x05\x06") {
        return Some(Container::Zip);
    }
    // [MS-CFB] §2.2: the compound file header signature.
    if head.starts_with(&[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1]) {
        return Some(Container::Ole2);
    }
    None
}

/// File name extensions that Windows, macOS or a desktop runs, mounts or installs.
const BLOCKED_EXTENSIONS: &[&str] = &[
    "ade",
    "adp",
    "app",
    "appx",
    "appxbundle",
    "application",
    "bas",
    "bat",
    "cab",
    "chm",
    "cmd",
    "com",
    "cpl",
    "dll",
    "dmg",
    "exe",
    "gadget",
    "hlp",
    "hta",
    "inf",
    "ins",
    "img",
    "iso",
    "isp",
    "jar",
    "jnlp",
    "js",
    "jse",
    "ksh",
    "lnk",
    "mde",
    "msc",
    "msi",
    "msix",
    "msp",
    "mst",
    "pif",
    "ps1",
    "ps1xml",
    "ps2",
    "psc1",
    "psd1",
    "psm1",
    "reg",
    "scf",
    "scr",
    "sct",
    "sh",
    "shb",
    "sys",
    "url",
    "vb",
    "vbe",
    "vbs",
    "vhd",
    "vhdx",
    "vxd",
    "ws",
    "wsc",
    "wsf",
    "wsh",
    "xll",
];

/// Extensions of Office formats that may carry macros by definition.
const MACRO_EXTENSIONS: &[&str] =
    &["docm", "dotm", "xlsm", "xltm", "xlam", "pptm", "potm", "ppam", "ppsm", "sldm"];

/// The lower-cased extension of a file name as Windows sees it: trailing dots and spaces are
/// ignored there (`evil.exe.` runs as `evil.exe`), and so are NULs some clients leave.
pub fn extension(name: &str) -> Option<String> {
    let base = name.rsplit(['/', '\\']).next().unwrap_or(name);
    let base = base.trim_end_matches(['.', ' ', '\0']);
    let (_, ext) = base.rsplit_once('.')?;
    (!ext.is_empty()).then(|| ext.to_ascii_lowercase())
}

/// Whether a file name has a blocked extension; returns it.
pub fn blocked_extension(name: &str) -> Option<String> {
    extension(name).filter(|e| BLOCKED_EXTENSIONS.contains(&e.as_str()))
}

/// Whether a file name says "Office document with macros".
pub fn macro_extension(name: &str) -> Option<String> {
    extension(name).filter(|e| MACRO_EXTENSIONS.contains(&e.as_str()))
}

/// Declared MIME types (RFC 2045 §5 `type/subtype`, lower case) of executables and scripts.
const BLOCKED_TYPES: &[&str] = &[
    "application/hta",
    "application/java-archive",
    "application/vnd.microsoft.portable-executable",
    "application/vnd.ms-htmlhelp",
    "application/x-apple-diskimage",
    "application/x-bat",
    "application/x-csh",
    "application/x-dosexec",
    "application/x-elf",
    "application/x-executable",
    "application/x-iso9660-image",
    "application/x-java-archive",
    "application/x-javascript",
    "application/x-mach-binary",
    "application/x-ms-application",
    "application/x-ms-installer",
    "application/x-ms-shortcut",
    "application/x-msdos-program",
    "application/x-msdownload",
    "application/x-msi",
    "application/x-powershell",
    "application/x-sh",
    "application/x-shellscript",
    "application/x-vbscript",
    "text/javascript",
    "text/vbscript",
    "text/x-sh",
    "text/x-shellscript",
    "text/x-vbscript",
];

/// Whether a declared `type/subtype` is an executable or script type.
pub fn blocked_content_type(mime: &str) -> bool {
    BLOCKED_TYPES.contains(&mime)
}

/// Whether an OLE2 compound file holds a VBA project: Word keeps it in `Macros/VBA`, Excel
/// and PowerPoint in `_VBA_PROJECT_CUR/VBA`; both contain a `_VBA_PROJECT` stream
/// ([MS-OVBA] §2.2.1). Directory entry names are UTF-16LE ([MS-CFB] §2.6.1), so we look for
/// that name in UTF-16LE anywhere in the file: a heuristic that needs no FAT walk and errs
/// on the side of flagging.
pub fn ole2_has_macros(data: &[u8]) -> bool {
    const NAME: &[u8] = b"_\0V\0B\0A\0_\0P\0R\0O\0J\0E\0C\0T\0";
    memchr::memmem::find(data, NAME).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extensions_as_windows_sees_them() {
        assert_eq!(extension("Invoice.PDF.exe"), Some("exe".into()));
        assert_eq!(extension("evil.exe. . "), Some("exe".into()));
        assert_eq!(extension("dir/evil.js"), Some("js".into()));
        assert_eq!(extension("dir\\evil.vbs"), Some("vbs".into()));
        assert_eq!(extension("README"), None);
        assert_eq!(extension("trailing."), None);
        assert_eq!(blocked_extension("photo.jpg"), None);
        assert_eq!(blocked_extension("photo.jpg.scr"), Some("scr".into()));
        assert_eq!(macro_extension("budget.XLSM"), Some("xlsm".into()));
        assert_eq!(macro_extension("budget.xlsx"), None);
    }

    #[test]
    fn magic_numbers() {
        assert_eq!(sniff(b"MZ\x90\x00\x03"), Some(FileKind::WindowsExecutable));
        assert_eq!(sniff(b"\x7fELF\x02\x01"), Some(FileKind::Elf));
        assert_eq!(sniff(&[0xCF, 0xFA, 0xED, 0xFE, 7]), Some(FileKind::MachO));
        assert_eq!(sniff(b"#!/bin/sh\nrm -rf ~\n"), Some(FileKind::Shebang));
        assert_eq!(sniff(&[0x4C, 0, 0, 0, 1, 0x14, 2, 0, 0]), Some(FileKind::WindowsShortcut));
        let mut iso = vec![0u8; SNIFF_LEN];
        iso[0x8000] = 1;
        iso[0x8001..0x8006].copy_from_slice(b"CD001");
        assert_eq!(sniff(&iso), Some(FileKind::DiskImage));
        assert_eq!(sniff(b"%PDF-1.7"), None);
        assert_eq!(sniff(b"\x89PNG\r\n"), None);
        assert_eq!(sniff(b""), None);
        assert_eq!(container(b"PK\x03\x04rest"), Some(Container::Zip));
        assert_eq!(container(&[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1, 0]), Some(Container::Ole2));
    }

    #[test]
    fn content_types() {
        assert!(blocked_content_type("application/x-msdownload"));
        assert!(!blocked_content_type("application/pdf"));
    }

    #[test]
    fn ole2_vba_stream_name() {
        let mut doc = vec![0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1];
        doc.extend(std::iter::repeat_n(0u8, 100));
        assert!(!ole2_has_macros(&doc));
        doc.extend("_VBA_PROJECT".encode_utf16().flat_map(u16::to_le_bytes));
        assert!(ole2_has_macros(&doc));
    }
}
