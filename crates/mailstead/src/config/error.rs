//! [`ConfigError`]: why `mailstead.toml` could not be loaded, in words an operator can act on.
//!
//! Format of a located problem (rustc-like, so editors and people read it alike):
//!
//! ```text
//! /var/lib/mailstead/mailstead.toml:4:1: unknown key `hostnme` in [server]
//!     4 | hostnme = "mail.example.com"
//!       | ^^^^^^^
//!   fix: did you mean `hostname`? Valid keys in [server]: hostname, dev
//! ```

use std::fmt;
use std::path::{Path, PathBuf};

/// Why the configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file does not exist.
    #[error(
        "{}: not found — run `mailstead init --data {} --domain example.com` to create it",
        .path.display(),
        data_dir(.path).display()
    )]
    NotFound {
        /// The path that was tried.
        path: PathBuf,
    },
    /// The file exists but could not be read.
    #[error("{}: cannot read: {source}", .path.display())]
    Read {
        /// The path that was tried.
        path: PathBuf,
        /// The operating system's reason.
        source: std::io::Error,
    },
    /// The file is not valid: a syntax or type error (one problem; parsing stops there), or
    /// every semantic problem found.
    #[error("{}", Problems::new(.path, .problems))]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong, in file order.
        problems: Vec<Problem>,
    },
}

impl ConfigError {
    /// The problems of an [`ConfigError::Invalid`] error; empty for other errors.
    #[cfg(test)]
    pub fn problems(&self) -> &[Problem] {
        match self {
            Self::Invalid { problems, .. } => problems,
            Self::NotFound { .. } | Self::Read { .. } => &[],
        }
    }
}

/// The directory to suggest to `mailstead init`: the file's directory.
fn data_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    }
}

/// Where a problem is in the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// 1-based line number.
    pub line: usize,
    /// 1-based column, in characters.
    pub column: usize,
    /// The text of the line, without its line ending.
    pub text: String,
    /// How many characters to underline from `column` (at least 1, at most to the line's end).
    pub width: usize,
}

impl Location {
    /// The location of the byte range `span` in `text` (clamped to the text).
    pub fn of_span(text: &str, span: std::ops::Range<usize>) -> Self {
        let start = floor_char_boundary(text, span.start.min(text.len()));
        let end = floor_char_boundary(text, span.end.clamp(start, text.len()));
        let line_start = text[..start].rfind('\n').map_or(0, |i| i + 1);
        let line_end = text[start..].find('\n').map_or(text.len(), |i| start + i);
        let line_text = text[line_start..line_end].trim_end_matches('\r');
        let column = text[line_start..start].chars().count() + 1;
        let width = text[start..end.min(line_end)].chars().count().max(1);
        Self { line: text[..start].matches('\n').count() + 1, column, text: line_text.to_string(), width }
    }
}

fn floor_char_boundary(text: &str, mut i: usize) -> usize {
    while !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// One thing wrong with the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Where it is; `None` when the offending value is a default not written in the file.
    pub location: Option<Location>,
    /// What is wrong, e.g. ``unknown key `hostnme` in [server]``.
    pub message: String,
    /// How to fix it.
    pub fix: String,
}

/// Displays every problem of a file, one block each.
struct Problems<'a> {
    path: &'a Path,
    problems: &'a [Problem],
}

impl<'a> Problems<'a> {
    fn new(path: &'a Path, problems: &'a [Problem]) -> Self {
        Self { path, problems }
    }
}

impl fmt::Display for Problems<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let file = self.path.display();
        for (i, p) in self.problems.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            match &p.location {
                Some(loc) => {
                    let number = loc.line.to_string();
                    let pad = " ".repeat(number.len());
                    writeln!(f, "{file}:{}:{}: {}", loc.line, loc.column, p.message)?;
                    writeln!(f, "    {number} | {}", loc.text)?;
                    let caret = format!("{}{}", " ".repeat(loc.column - 1), "^".repeat(loc.width));
                    writeln!(f, "    {pad} | {caret}")?;
                }
                None => writeln!(f, "{file}: {}", p.message)?,
            }
            write!(f, "  fix: {}", p.fix)?;
        }
        Ok(())
    }
}
