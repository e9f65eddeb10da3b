//! Turns a toml parse error or a semantic [`Finding`] into a located [`Problem`] with a fix.
//!
//! How lines are found:
//! - parse and type errors carry a byte span (`toml::de::Error::span`), converted to line and
//!   column. The key and section of a type error are read from that line and the nearest
//!   `[header]` above it, to look up the option's type and default for the fix.
//! - semantic findings are located by parsing the text a second time into
//!   section → key → `toml::Spanned<toml::Value>`: the span is the value's, so line and column
//!   point at the offending value. A value that is not in the file (a default) has no location.

use std::collections::BTreeMap;

use super::error::{Location, Problem};
use super::schema::{Finding, SectionDoc};

/// Where each `section.key` value is in the file.
type SpanMap = BTreeMap<String, BTreeMap<String, toml::Spanned<toml::Value>>>;

/// Locates semantic findings in one file's text.
pub struct Locator<'a> {
    text: &'a str,
    spans: SpanMap,
}

impl<'a> Locator<'a> {
    /// Indexes `text`, which has already parsed successfully as a configuration.
    pub fn new(text: &'a str) -> Self {
        Self { text, spans: toml::from_str(text).unwrap_or_default() }
    }

    fn location(&self, section: &str, key: &str) -> Option<Location> {
        let value = self.spans.get(section)?.get(key)?;
        Some(Location::of_span(self.text, value.span()))
    }

    /// The problem for a finding, located at its key (or its `alt_key` if only that is written).
    pub fn problem(&self, finding: &Finding) -> Problem {
        let section = finding.section;
        let at_key = self.location(section, finding.key).map(|l| (finding.key, l));
        let at_alt = || finding.alt_key.and_then(|k| self.location(section, k).map(|l| (k, l)));
        let (message, location) = match at_key.or_else(at_alt) {
            Some((key, loc)) => (format!("[{section}] {key}: {}", finding.invalid.problem), Some(loc)),
            None => (
                format!(
                    "[{section}] {}: {} (not set in the file: this is the default)",
                    finding.key, finding.invalid.problem
                ),
                None,
            ),
        };
        Problem { location, message, fix: finding.invalid.fix.clone() }
    }
}

/// The problem for a toml parse, type or unknown-key error.
pub fn toml_problem(err: &toml::de::Error, text: &str, sections: &[SectionDoc]) -> Problem {
    let location = err.span().map(|span| Location::of_span(text, span));
    let message = err.message().trim().replace('\n', "; ");
    let (section, key) = match &location {
        Some(loc) => key_at(text, loc),
        None => (String::new(), String::new()),
    };
    let doc = sections.iter().find(|s| s.name == section);
    let option = doc.and_then(|d| d.option(&key));
    let example = option.map(|o| format!("{} = {}", o.key, o.default));

    let (message, fix) = if let Some(rest) = message.strip_prefix("unknown field `") {
        unknown_key(rest, sections)
    } else if let Some(rest) = message.strip_prefix("unknown variant `") {
        let allowed = backticked(&format!("`{rest}"))
            .into_iter()
            .skip(1)
            .map(|v| format!("\"{v}\""))
            .collect::<Vec<_>>();
        let eg = example.map(|e| format!(", e.g. {e}")).unwrap_or_default();
        (format!("[{section}] {key}: {message}"), format!("use one of {}{eg}", allowed.join(", ")))
    } else if message.starts_with("invalid type") || message.starts_with("invalid value") {
        let fix = match (option, example) {
            (Some(o), Some(e)) => format!("`{}` expects {}, e.g. {e}", o.key, o.type_name),
            _ if sections.iter().any(|s| s.name == key) => {
                format!("`{key}` is a section: write it as a [{key}] table")
            }
            _ => "check the value's type against docs/config.md".to_string(),
        };
        (format!("[{section}] {key}: wrong type: {message}"), fix)
    } else if message.starts_with("missing field") {
        (
            format!("[{section}]: {message}"),
            "each [[tls.extra]] entry needs both `cert` and `key`".to_string(),
        )
    } else if message.contains("duplicate key") {
        (message, "a key or section may appear only once: delete or merge the repeated one".to_string())
    } else {
        (format!("invalid TOML: {message}"), syntax_fix(location.as_ref()))
    };
    Problem { location, message, fix }
}

/// Message and fix for `unknown field `KEY`, expected ...`: the section is the one whose keys
/// are the expected ones (this works for `[headers]`, dotted keys and inline tables alike).
fn unknown_key(rest: &str, sections: &[SectionDoc]) -> (String, String) {
    let mut words = backticked(&format!("`{rest}"));
    let unknown = if words.is_empty() { String::new() } else { words.remove(0) };
    let same = |keys: &[&str]| keys.len() == words.len() && keys.iter().all(|k| words.iter().any(|w| w == k));
    let roots: Vec<&str> = sections.iter().map(|s| s.name).collect();
    let (message, valid, scope) = if same(&roots) {
        (format!("unknown section `{unknown}`"), roots, "Valid sections".to_string())
    } else if let Some(s) =
        sections.iter().find(|s| same(&s.options.iter().map(|o| o.key).collect::<Vec<_>>()))
    {
        let keys = s.options.iter().map(|o| o.key).collect();
        (format!("unknown key `{unknown}` in [{}]", s.name), keys, format!("Valid keys in [{}]", s.name))
    } else if same(&["cert", "key"]) {
        (format!("unknown key `{unknown}` in [[tls.extra]]"), vec!["cert", "key"], "Valid keys".to_string())
    } else {
        let valid = words.iter().map(String::as_str).collect();
        (format!("unknown key `{unknown}`"), valid, "Valid keys here".to_string())
    };
    let hint = closest(&unknown, &valid).map(|k| format!("did you mean `{k}`? ")).unwrap_or_default();
    (message, format!("{hint}{scope}: {}", valid.join(", ")))
}

/// The words between backticks in `s`.
fn backticked(s: &str) -> Vec<String> {
    s.split('`').skip(1).step_by(2).map(str::to_string).collect()
}

/// The valid name closest to a misspelt one, if close enough to be a likely typo.
fn closest<'v>(wrong: &str, valid: &[&'v str]) -> Option<&'v str> {
    valid
        .iter()
        .map(|v| (edit_distance(wrong, v), *v))
        .filter(|(d, v)| *d <= 2.max(v.len() / 4))
        .min_by_key(|(d, _)| *d)
        .map(|(_, v)| v)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

/// The (section, key) of the `key = value` line at `loc`: the key before `=`, the section from
/// the nearest `[header]` above (a dotted key adds to it).
fn key_at(text: &str, loc: &Location) -> (String, String) {
    let header = text
        .lines()
        .take(loc.line.saturating_sub(1))
        .filter_map(|l| l.trim().strip_prefix('['))
        .last()
        .map(|h| unquote(h.trim_start_matches('[').split(']').next().unwrap_or_default()))
        .unwrap_or_default();
    let key = loc.text.split_once('=').map(|(k, _)| unquote(k)).unwrap_or_default();
    let path = if header.is_empty() { key } else { format!("{header}.{key}") };
    match path.rsplit_once('.') {
        Some((section, key)) => (section.to_string(), key.to_string()),
        None => (String::new(), path),
    }
}

/// A TOML key path without quotes and spaces (`"log" . level` → `log.level`).
fn unquote(key: &str) -> String {
    key.split('.').map(|p| p.trim().trim_matches('"').trim_matches('\'')).collect::<Vec<_>>().join(".")
}

/// The fix for a syntax error; the usual one is an unquoted string.
fn syntax_fix(location: Option<&Location>) -> String {
    let unquoted = location.and_then(|l| l.text.split_once('=')).and_then(|(k, v)| {
        let v = v.trim();
        let literal = v.starts_with(['"', '\'', '[', '{', '-', '+'])
            || v.starts_with(|c: char| c.is_ascii_digit())
            || v.starts_with("true")
            || v.starts_with("false");
        (!v.is_empty() && !literal).then(|| format!("{} = \"{v}\"", k.trim()))
    });
    match unquoted {
        Some(eg) => format!("strings must be quoted: {eg}"),
        None => "fix the TOML syntax: `key = value` lines under [section] headers, strings in double \
                 quotes (see https://toml.io)"
            .to_string(),
    }
}
