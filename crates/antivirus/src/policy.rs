//! The built-in attachment policy: no clamd needed. Walks the MIME tree of a message
//! (RFC 2045/2046, parsed by mail-parser; `message/rfc822` parts are walked too) and looks at
//! every leaf part, and into zip archives, for executables and scripts:
//!
//! 1. the declared type (`Content-Type`, RFC 2045 §5),
//! 2. the file name (`Content-Disposition` `filename` / `Content-Type` `name`, RFC 2183,
//!    RFC 2231) by extension ([`crate::filetype::blocked_extension`]),
//! 3. the real type from the first bytes ([`crate::filetype::sniff`]): MZ/PE, ELF, Mach-O,
//!    `#!`, LNK, ISO, VHD, CHM; a zip with a Java manifest is a JAR,
//! 4. zip archives (also inside zips, up to [`Limits::max_depth`]) entry by entry,
//! 5. Office macros: OOXML with a `vbaProject.bin`, OLE2 files with a `_VBA_PROJECT` stream, and
//!    the macro-enabled extensions (`.docm`, `.xlsm`, ...).
//!
//! Text body parts without a file name are only checked by declared type: a `#!` at the start
//! of a message body is a pasted script, not an attachment.
//!
//! Invariants: the work is bounded by [`Limits`]: MIME parts visited, nesting depth (messages
//! and archives), zip entries, and bytes decompressed in total. Crossing a limit is itself a
//! blocking finding (a zip bomb gets a clear "limit" reason rather than a free pass). The walk
//! stops at the first blocking finding.

use std::fmt;

use mail_parser::{Message, MessageParser, MimeHeaders, PartType};

use crate::filetype::{self, Container, FileKind, SNIFF_LEN};
use crate::zip;

/// What to do with a finding of a given kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Reject the message.
    Block,
    /// Accept it, but report the finding (log, journal, header).
    Flag,
}

/// Bounds on the work done for one message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Nesting of attached messages and archives.
    pub max_depth: usize,
    /// MIME parts visited, nested messages included.
    pub max_parts: usize,
    /// Zip entries listed, over all archives.
    pub max_entries: usize,
    /// Bytes decompressed from archives, in total.
    pub max_unpacked: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self { max_depth: 4, max_parts: 500, max_entries: 2000, max_unpacked: 64 * 1024 * 1024 }
    }
}

/// Configuration of the policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PolicyConfig {
    /// Office files with macros: flagged by default.
    pub macros: Action,
    /// Archive entries we cannot look into (encrypted, unknown compression, corrupt):
    /// flagged by default; names inside are checked all the same.
    pub unscannable: Action,
    /// Work bounds.
    pub limits: Limits,
}

impl Default for PolicyConfig {
    fn default() -> Self {
        Self { macros: Action::Flag, unscannable: Action::Flag, limits: Limits::default() }
    }
}

/// The rule a finding broke.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rule {
    /// Declared MIME type of an executable or script.
    ContentType(String),
    /// File name extension of an executable or script.
    Extension(String),
    /// Real file type from the content.
    FileType(FileKind),
    /// Office document with VBA macros.
    OfficeMacros,
    /// Content that could not be inspected.
    Unscannable(String),
    /// A work bound was crossed.
    LimitExceeded(String),
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ContentType(t) => write!(f, "content type {t}"),
            Self::Extension(e) => write!(f, "file type .{e}"),
            Self::FileType(k) => write!(f, "{k}"),
            Self::OfficeMacros => f.write_str("Office document with macros"),
            Self::Unscannable(why) => write!(f, "cannot inspect: {why}"),
            Self::LimitExceeded(what) => write!(f, "too complex to inspect: {what}"),
        }
    }
}

/// One thing the policy found, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// MIME part number in mail-parser's order, nested messages as `3.1`.
    pub part: String,
    /// The part's file name, if it has one.
    pub file: Option<String>,
    /// Path inside archives, `outer.zip/inner/evil.exe`, when inside one.
    pub entry: Option<String>,
    /// What was found.
    pub rule: Rule,
    /// What the configuration says to do about it.
    pub action: Action,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "part {}", self.part)?;
        if let Some(file) = &self.file {
            write!(f, " {file:?}")?;
        }
        if let Some(entry) = &self.entry {
            write!(f, " entry {entry:?}")?;
        }
        write!(f, ": {}", self.rule)
    }
}

/// The policy's decision: every finding, in the order found; at most one blocks (the walk
/// stops there).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PolicyDecision {
    /// What was found.
    pub findings: Vec<Finding>,
}

impl PolicyDecision {
    /// The finding that blocks the message, if any.
    pub fn blocked(&self) -> Option<&Finding> {
        self.findings.iter().find(|f| f.action == Action::Block)
    }

    /// Findings that only flag.
    pub fn flagged(&self) -> impl Iterator<Item = &Finding> {
        self.findings.iter().filter(|f| f.action == Action::Flag)
    }
}

/// At most this many findings are kept (flags do not stop the walk).
const MAX_FINDINGS: usize = 32;

/// Checks a message against the policy.
pub fn check(message: &[u8], config: &PolicyConfig) -> PolicyDecision {
    check_parsed(MessageParser::default().parse(message).as_ref(), config)
}

/// [`check`] on a message the caller already parsed (`None`: it did not parse, nothing to
/// walk).
pub fn check_parsed(message: Option<&Message<'_>>, config: &PolicyConfig) -> PolicyDecision {
    let mut walk = Walk { cfg: config, parts: 0, entries: 0, unpacked: 0, out: PolicyDecision::default() };
    if let Some(msg) = message {
        walk.message(msg, "", 0);
    }
    walk.out
}

/// Where the content being looked at sits.
#[derive(Clone)]
struct Place {
    part: String,
    file: Option<String>,
    entry: Option<String>,
}

struct Walk<'c> {
    cfg: &'c PolicyConfig,
    parts: usize,
    entries: usize,
    unpacked: usize,
    out: PolicyDecision,
}

impl Walk<'_> {
    fn done(&self) -> bool {
        self.out.blocked().is_some() || self.out.findings.len() >= MAX_FINDINGS
    }

    fn found(&mut self, at: &Place, rule: Rule, action: Action) {
        if self.out.findings.len() < MAX_FINDINGS {
            self.out.findings.push(Finding {
                part: at.part.clone(),
                file: at.file.clone(),
                entry: at.entry.clone(),
                rule,
                action,
            });
        }
    }

    fn limit(&mut self, at: &Place, what: String) {
        self.found(at, Rule::LimitExceeded(what), Action::Block);
    }

    fn message(&mut self, msg: &mail_parser::Message<'_>, prefix: &str, depth: usize) {
        for (i, part) in msg.parts.iter().enumerate() {
            if self.done() {
                return;
            }
            let at = Place {
                part: if prefix.is_empty() { i.to_string() } else { format!("{prefix}.{i}") },
                file: part.attachment_name().map(str::to_string),
                entry: None,
            };
            self.parts += 1;
            if self.parts > self.cfg.limits.max_parts {
                return self.limit(&at, format!("more than {} MIME parts", self.cfg.limits.max_parts));
            }
            if let Some(ct) = part.content_type() {
                let mime = match &ct.c_subtype {
                    Some(sub) => format!("{}/{}", ct.c_type, sub),
                    None => ct.c_type.to_string(),
                }
                .to_ascii_lowercase();
                if filetype::blocked_content_type(&mime) {
                    return self.found(&at, Rule::ContentType(mime), Action::Block);
                }
            }
            if let Some(name) = &at.file {
                self.name(&at, name);
            }
            match &part.body {
                PartType::Multipart(_) => {}
                PartType::Message(inner) => {
                    if depth + 1 > self.cfg.limits.max_depth {
                        return self.limit(&at, format!("nested deeper than {}", self.cfg.limits.max_depth));
                    }
                    self.message(inner, &at.part, depth + 1);
                }
                PartType::Text(_) | PartType::Html(_) if at.file.is_none() => {}
                PartType::Text(_) | PartType::Html(_) | PartType::Binary(_) | PartType::InlineBinary(_) => {
                    self.content(&at, part.contents(), depth);
                }
            }
        }
    }

    /// Rules on a file name.
    fn name(&mut self, at: &Place, name: &str) {
        if let Some(ext) = filetype::blocked_extension(name) {
            self.found(at, Rule::Extension(ext), Action::Block);
        } else if filetype::macro_extension(name).is_some() {
            self.found(at, Rule::OfficeMacros, self.cfg.macros);
        }
    }

    /// Rules on content: real type, then containers.
    fn content(&mut self, at: &Place, data: &[u8], depth: usize) {
        if self.done() {
            return;
        }
        if let Some(kind) = filetype::sniff(data) {
            return self.found(at, Rule::FileType(kind), Action::Block);
        }
        match filetype::container(data) {
            Some(Container::Zip) => self.archive(at, data, depth + 1),
            Some(Container::Ole2) if filetype::ole2_has_macros(data) => {
                self.found(at, Rule::OfficeMacros, self.cfg.macros);
            }
            Some(Container::Ole2) | None => {}
        }
    }

    fn archive(&mut self, at: &Place, data: &[u8], depth: usize) {
        let limits = self.cfg.limits;
        if depth > limits.max_depth {
            return self.limit(at, format!("archives nested deeper than {}", limits.max_depth));
        }
        let room = limits.max_entries.saturating_sub(self.entries);
        let entries = match zip::entries(data, room) {
            Ok(e) => e,
            Err(zip::ZipError::TooManyEntries(_)) => {
                return self.limit(at, format!("more than {} archive entries", limits.max_entries));
            }
            Err(e) => return self.found(at, Rule::Unscannable(e.to_string()), self.cfg.unscannable),
        };
        self.entries += entries.len();
        // A JAR is a zip with a manifest or classes; Java runs it on double-click.
        if entries.iter().any(|e| {
            e.name.eq_ignore_ascii_case("META-INF/MANIFEST.MF")
                || e.name.to_ascii_lowercase().ends_with(".class")
        }) {
            return self.found(at, Rule::FileType(FileKind::JavaArchive), Action::Block);
        }
        for entry in entries.iter().filter(|e| !e.is_dir()) {
            if self.done() {
                return;
            }
            let inner = Place {
                entry: Some(match &at.entry {
                    Some(outer) => format!("{outer}/{}", entry.name),
                    None => entry.name.clone(),
                }),
                ..at.clone()
            };
            self.name(&inner, &entry.name);
            let base = entry.name.rsplit('/').next().unwrap_or(&entry.name);
            // OOXML keeps VBA in word/vbaProject.bin, xl/vbaProject.bin, ppt/vbaProject.bin
            // (ECMA-376 and [MS-OFFMACRO2]).
            if base.eq_ignore_ascii_case("vbaProject.bin") {
                self.found(&inner, Rule::OfficeMacros, self.cfg.macros);
                continue;
            }
            if !entry.readable() {
                let why = if entry.encrypted {
                    "encrypted".to_string()
                } else {
                    format!("compression method {}", entry.method)
                };
                self.found(&inner, Rule::Unscannable(why), self.cfg.unscannable);
                continue;
            }
            // First the head, to learn the type; the whole entry only for containers.
            let Some(head) = self.unpack(&inner, data, entry, SNIFF_LEN) else { return };
            if filetype::container(&head).is_some() && head.len() == SNIFF_LEN {
                let Some(all) = self.unpack(&inner, data, entry, usize::MAX) else { return };
                self.content(&inner, &all, depth);
            } else {
                self.content(&inner, &head, depth);
            }
        }
    }

    /// Decompresses up to `want` bytes of an entry, charging them to the budget. `None` when
    /// the budget is spent (a limit finding is recorded).
    fn unpack(&mut self, at: &Place, data: &[u8], entry: &zip::Entry, want: usize) -> Option<Vec<u8>> {
        let room = self.cfg.limits.max_unpacked.saturating_sub(self.unpacked);
        // One byte more than the room tells "exactly full" from "more to come".
        let cap = want.min(room.saturating_add(1));
        match zip::read(data, entry, cap) {
            Ok(bytes) => {
                self.unpacked += bytes.len();
                if bytes.len() > room {
                    self.limit(at, format!("more than {} bytes unpacked", self.cfg.limits.max_unpacked));
                    return None;
                }
                Some(bytes)
            }
            Err(e) => {
                self.found(at, Rule::Unscannable(e.to_string()), self.cfg.unscannable);
                Some(Vec::new())
            }
        }
    }
}

#[cfg(test)]
mod tests;
