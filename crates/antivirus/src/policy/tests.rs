//! Policy tests with real bytes: messages built from executables, scripts, zips (nested, and
//! bombs) and a macro-bearing docm, see `crate::testdata`.

use super::*;
use crate::testdata::{Attachment, EICAR, ZipFile, docm, exe, message, plain, zip};

fn att<'a>(content_type: &'a str, name: Option<&'a str>, data: &'a [u8]) -> Attachment<'a> {
    Attachment { content_type, name, data }
}

fn blocked(msg: &[u8]) -> Option<Finding> {
    check(msg, &PolicyConfig::default()).blocked().cloned()
}

#[test]
fn clean_mail_passes() {
    assert_eq!(check(&plain("Hello Bob"), &PolicyConfig::default()), PolicyDecision::default());
    let pdf = b"%PDF-1.7\n...";
    let m = message("see attached", &[att("application/pdf", Some("report.pdf"), pdf)]);
    assert_eq!(check(&m, &PolicyConfig::default()), PolicyDecision::default());
    // EICAR is clamd's business, not the policy's: it is plain text.
    let m = message("eicar", &[att("application/octet-stream", Some("eicar.txt"), EICAR)]);
    assert_eq!(blocked(&m), None);
}

#[test]
fn pasted_script_in_the_body_is_not_an_attachment() {
    assert_eq!(blocked(&plain("#!/bin/sh\necho hi")), None);
}

#[test]
fn executable_by_extension_content_type_and_magic() {
    let m = message("", &[att("application/octet-stream", Some("invoice.pdf.exe"), b"hello")]);
    let f = blocked(&m).expect("blocked");
    assert_eq!(f.rule, Rule::Extension("exe".into()));
    assert_eq!(f.file.as_deref(), Some("invoice.pdf.exe"));

    let m = message("", &[att("application/x-msdownload", None, b"hello")]);
    assert_eq!(blocked(&m).expect("blocked").rule, Rule::ContentType("application/x-msdownload".into()));

    // Real type beats a harmless name and type.
    let m = message("", &[att("image/jpeg", Some("holiday.jpg"), &exe())]);
    let f = blocked(&m).expect("blocked");
    assert_eq!(f.rule, Rule::FileType(FileKind::WindowsExecutable));
    assert_eq!(f.to_string(), "part 2 \"holiday.jpg\": Windows executable (MZ/PE)");

    let m = message("", &[att("text/plain", Some("notes.txt"), b"#!/bin/sh\nrm -rf ~\n")]);
    assert_eq!(blocked(&m).expect("blocked").rule, Rule::FileType(FileKind::Shebang));

    let m = message("", &[att("application/octet-stream", Some("x"), b"\x7fELF\x02\x01\x01")]);
    assert_eq!(blocked(&m).expect("blocked").rule, Rule::FileType(FileKind::Elf));
}

#[test]
fn windows_script_types_by_name() {
    for name in
        ["a.js", "a.vbs", "a.wsf", "a.hta", "a.ps1", "a.bat", "a.cmd", "a.scr", "a.lnk", "a.iso", "a.jar"]
    {
        let m = message("", &[att("application/octet-stream", Some(name), b"x")]);
        assert!(matches!(blocked(&m).map(|f| f.rule), Some(Rule::Extension(_))), "{name}");
    }
}

#[test]
fn executable_inside_a_zip_and_a_zip_in_a_zip() {
    let z = zip(&[ZipFile::stored("readme.txt", b"hi"), ZipFile::deflated("setup.bin", &exe())]);
    let m = message("", &[att("application/zip", Some("files.zip"), &z)]);
    let f = blocked(&m).expect("blocked");
    assert_eq!(f.rule, Rule::FileType(FileKind::WindowsExecutable));
    assert_eq!(f.entry.as_deref(), Some("setup.bin"));

    let z = zip(&[ZipFile::stored("run.vbs", b"x")]);
    let outer = zip(&[ZipFile::deflated("inner.zip", &z)]);
    let m = message("", &[att("application/zip", Some("outer.zip"), &outer)]);
    let f = blocked(&m).expect("blocked");
    assert_eq!(f.rule, Rule::Extension("vbs".into()));
    assert_eq!(f.entry.as_deref(), Some("inner.zip/run.vbs"));

    // A big nested zip (head cut at SNIFF_LEN) is still opened.
    let mut files: Vec<ZipFile> =
        (0..4).map(|i| ZipFile::stored(&format!("pad{i}"), &[b'p'; 20_000])).collect();
    files.push(ZipFile::stored("payload.exe", b"x"));
    let outer = zip(&[ZipFile::deflated("big.zip", &zip(&files))]);
    let m = message("", &[att("application/zip", Some("big.zip"), &outer)]);
    assert_eq!(blocked(&m).expect("blocked").entry.as_deref(), Some("big.zip/payload.exe"));

    let clean = zip(&[ZipFile::deflated("a.txt", b"fine"), ZipFile::stored("b.png", b"\x89PNG\r\n")]);
    let m = message("", &[att("application/zip", Some("ok.zip"), &clean)]);
    assert_eq!(check(&m, &PolicyConfig::default()), PolicyDecision::default());
}

#[test]
fn jar_by_content() {
    let jar = zip(&[ZipFile::stored("META-INF/MANIFEST.MF", b"Main-Class: X\n")]);
    let m = message("", &[att("application/octet-stream", Some("update.dat"), &jar)]);
    assert_eq!(blocked(&m).expect("blocked").rule, Rule::FileType(FileKind::JavaArchive));
}

#[test]
fn macros_are_flagged_or_blocked() {
    let m = message("", &[att("application/octet-stream", Some("report.docx"), &docm())]);
    let d = check(&m, &PolicyConfig::default());
    assert_eq!(d.blocked(), None);
    let f: Vec<_> = d.flagged().collect();
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].rule, Rule::OfficeMacros);
    assert_eq!(f[0].entry.as_deref(), Some("word/vbaProject.bin"));

    let strict = PolicyConfig { macros: Action::Block, ..PolicyConfig::default() };
    let f = check(&m, &strict).blocked().cloned().expect("blocked");
    assert_eq!(f.rule, Rule::OfficeMacros);

    // OLE2 (.doc) with a VBA project; and the macro-enabled extension alone.
    let mut doc = vec![0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1];
    doc.extend("_VBA_PROJECT".encode_utf16().flat_map(u16::to_le_bytes));
    let m = message("", &[att("application/msword", Some("old.doc"), &doc)]);
    assert_eq!(check(&m, &strict).blocked().map(|f| f.rule.clone()), Some(Rule::OfficeMacros));
    let m = message("", &[att("application/octet-stream", Some("sheet.xlsm"), b"x")]);
    assert_eq!(check(&m, &PolicyConfig::default()).flagged().count(), 1);
}

#[test]
fn zip_bomb_hits_the_unpack_limit() {
    let bomb = zip(&[ZipFile::deflated("a.zip", &zip(&[ZipFile::stored("zeros", &vec![0u8; 3_000_000])]))]);
    let cfg = PolicyConfig {
        limits: Limits { max_unpacked: 1_000_000, ..Limits::default() },
        ..PolicyConfig::default()
    };
    let m = message("", &[att("application/zip", Some("bomb.zip"), &bomb)]);
    let f = check(&m, &cfg).blocked().cloned().expect("blocked");
    assert!(matches!(f.rule, Rule::LimitExceeded(_)), "{f}");
}

#[test]
fn nesting_and_entry_limits() {
    let mut z = zip(&[ZipFile::stored("x.txt", b"x")]);
    for i in 0..6 {
        z = zip(&[ZipFile::stored(&format!("level{i}.zip"), &z)]);
    }
    let m = message("", &[att("application/zip", Some("deep.zip"), &z)]);
    assert!(matches!(blocked(&m).map(|f| f.rule), Some(Rule::LimitExceeded(_))));

    let many: Vec<_> = (0..30).map(|i| ZipFile::stored(&format!("f{i}.txt"), b"x")).collect();
    let cfg =
        PolicyConfig { limits: Limits { max_entries: 20, ..Limits::default() }, ..PolicyConfig::default() };
    let m = message("", &[att("application/zip", Some("many.zip"), &zip(&many))]);
    assert!(matches!(check(&m, &cfg).blocked().map(|f| f.rule.clone()), Some(Rule::LimitExceeded(_))));
}

#[test]
fn encrypted_entries_are_unscannable_but_names_still_count() {
    let mut secret = ZipFile::stored("doc.pdf", b"xx");
    secret.encrypted = true;
    let m = message("", &[att("application/zip", Some("locked.zip"), &zip(&[secret]))]);
    let d = check(&m, &PolicyConfig::default());
    assert!(d.blocked().is_none());
    assert!(matches!(d.flagged().next().map(|f| &f.rule), Some(Rule::Unscannable(_))));

    let mut evil = ZipFile::stored("doc.exe", b"xx");
    evil.encrypted = true;
    let m = message("", &[att("application/zip", Some("locked.zip"), &zip(&[evil]))]);
    assert_eq!(blocked(&m).map(|f| f.rule), Some(Rule::Extension("exe".into())));
}

#[test]
fn attached_message_is_walked() {
    let inner = message("", &[att("application/octet-stream", Some("x.scr"), b"x")]);
    let mut outer = String::from_utf8_lossy(&message("fwd", &[])).into_owned();
    let tail = "--b1--\r\n";
    outer.truncate(outer.len() - tail.len());
    outer.push_str("--b1\r\nContent-Type: message/rfc822\r\n\r\n");
    outer.push_str(&String::from_utf8_lossy(&inner));
    outer.push_str("\r\n--b1--\r\n");
    let f = blocked(outer.as_bytes()).expect("blocked");
    assert_eq!(f.rule, Rule::Extension("scr".into()));
    assert!(f.part.contains('.'), "nested part number: {}", f.part);
}
