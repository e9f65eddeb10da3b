//! Header and body heuristics: rules that need only the message. Also collects the domains of
//! the message's links for the URI blocklists.
//!
//! Bounded work: the message is parsed once by mail-parser; at most [`MAX_SCAN`] bytes of each
//! text part and [`MAX_LINKS`] links are examined.

use std::collections::BTreeSet;
use std::sync::OnceLock;

use aho_corasick::{AhoCorasick, MatchKind};

use mail_parser::{Message, MessageParser, PartType};

use super::Hit;

/// GTUBE, the Generic Test for Unsolicited Bulk Email: a message containing it is spam by
/// definition, so filters can be tested end to end.
pub const GTUBE: &str = "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X";

/// Bytes of one text part that are scanned.
pub const MAX_SCAN: usize = 512 * 1024;
/// Links examined per message.
pub const MAX_LINKS: usize = 200;
/// Bytes of text the phrase rules read.
pub const PHRASE_SCAN: usize = 16 * 1024;

/// Hosts whose only job is to hide where a link goes.
const SHORTENERS: &[&str] = &[
    "bit.ly",
    "tinyurl.com",
    "goo.gl",
    "ow.ly",
    "t.co",
    "is.gd",
    "buff.ly",
    "rebrand.ly",
    "cutt.ly",
    "t.ly",
];

/// What [`analyze`] found.
#[derive(Debug, Clone, Default)]
pub struct Analysis {
    /// The rules that matched.
    pub hits: Vec<Hit>,
    /// Registered domains of the links, for URI blocklists, in order of appearance.
    pub link_domains: Vec<String>,
}

/// Runs every content rule on `raw`, judging dates against `received_at` (Unix seconds).
pub fn analyze(raw: &[u8], received_at: i64) -> Analysis {
    analyze_parsed(raw, MessageParser::default().parse(raw).as_ref(), received_at)
}

/// [`analyze`] on a message the caller already parsed (`parsed` must be `raw` parsed, `None`
/// when it did not parse): one parse shared by every check of the message.
pub fn analyze_parsed(raw: &[u8], parsed: Option<&Message<'_>>, received_at: i64) -> Analysis {
    let mut out = Analysis::default();
    if gtube_finder().find(raw).is_some() {
        out.hits.push(Hit::new("GTUBE", 1000.0, "the GTUBE test string"));
    }
    let Some(message) = parsed else {
        out.hits.push(Hit::new("MIME_UNPARSABLE", 2.0, "the message has no parsable header"));
        return out;
    };
    headers(message, received_at, &mut out.hits);

    let mut has_text = false;
    let mut html_parts = Vec::new();
    let mut text_parts = Vec::new();
    for part in &message.parts {
        match &part.body {
            PartType::Text(t) => {
                has_text |= !t.trim().is_empty();
                text_parts.push(clip(t));
            }
            PartType::Html(h) => html_parts.push(HtmlPart::new(clip(h))),
            _ => {}
        }
    }
    let mut links = Vec::new();
    for html in &html_parts {
        links.extend(html_links(html));
    }
    for text in &text_parts {
        links.extend(text_urls(text).into_iter().map(|url| Link { href: url, text: None }));
    }
    links.truncate(MAX_LINKS);

    if !html_parts.is_empty() && !has_text {
        out.hits.push(Hit::new("HTML_ONLY", 0.7, "HTML without a plain-text alternative"));
        let visible: usize = html_parts.iter().map(visible_text_len).sum();
        let images = html_parts.iter().map(|h| h.lower.matches("<img").count()).sum::<usize>();
        if images > 0 && visible < 200 {
            out.hits.push(Hit::new(
                "HTML_IMAGE_ONLY",
                1.5,
                format!("{images} images and {visible} characters of text"),
            ));
        }
    }
    link_rules(&links, &mut out);
    // Phrases are looked for in the first PHRASE_SCAN bytes of text: a pitch comes early, and
    // a long message must not cost a scan of all of it per phrase.
    let mut text = String::new();
    for t in &text_parts {
        push_clipped(&mut text, t);
    }
    for h in &html_parts {
        if text.len() < PHRASE_SCAN {
            push_clipped(&mut text, &strip_tags(clip_to(h.html, PHRASE_SCAN * 4)));
        }
    }
    out.hits.extend(super::phrases::hits(&text));
    out
}

fn headers(message: &mail_parser::Message<'_>, received_at: i64, hits: &mut Vec<Hit>) {
    if message.message_id().is_none() {
        hits.push(Hit::new("MISSING_MID", 1.0, "no Message-ID"));
    }
    match message.date() {
        None => hits.push(Hit::new("MISSING_DATE", 1.0, "no Date")),
        Some(date) => {
            let ts = date.to_timestamp();
            if ts > received_at + 24 * 3600 {
                hits.push(Hit::new(
                    "DATE_IN_FUTURE",
                    2.0,
                    format!("Date is {} h ahead", (ts - received_at) / 3600),
                ));
            } else if ts < received_at - 7 * 24 * 3600 {
                hits.push(Hit::new(
                    "DATE_IN_PAST",
                    1.0,
                    format!("Date is {} days before arrival", (received_at - ts) / 86400),
                ));
            }
        }
    }
    match message.from().and_then(|a| a.first()) {
        None => hits.push(Hit::new("MISSING_FROM", 1.5, "no From address")),
        Some(from) => {
            let address = from.address.as_deref().unwrap_or("");
            let domain = address.rsplit_once('@').map_or("", |(_, d)| d).to_ascii_lowercase();
            if let Some(name) = from.name.as_deref()
                && let Some(shown) = embedded_address(name)
                && shown.rsplit_once('@').map(|(_, d)| d.to_ascii_lowercase()) != Some(domain.clone())
            {
                hits.push(Hit::new(
                    "FROM_DISPLAY_SPOOF",
                    2.5,
                    format!("display name shows {shown} but the address is {address}"),
                ));
            }
        }
    }
    match message.subject() {
        None => hits.push(Hit::new("MISSING_SUBJECT", 0.5, "no Subject")),
        Some(subject) => {
            let letters: Vec<char> = subject.chars().filter(|c| c.is_alphabetic()).collect();
            if letters.len() >= 10 && letters.iter().all(|c| c.is_uppercase()) {
                hits.push(Hit::new("SUBJ_ALL_CAPS", 1.0, "the subject shouts"));
            }
            if subject.as_bytes().windows(2).any(|w| w[0] == b'$' && w[1].is_ascii_digit()) {
                hits.push(Hit::new("SUBJ_MONEY", 1.0, "an amount of money in the subject"));
            }
            if subject.contains("!!!") || subject.contains("$$$") {
                hits.push(Hit::new("SUBJ_EXCESS_PUNCT", 0.5, "!!! or $$$ in the subject"));
            }
        }
    }
}

/// A link: where it goes, and for HTML anchors the text shown.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Link {
    href: String,
    text: Option<String>,
}

fn link_rules(links: &[Link], out: &mut Analysis) {
    let mut domains = BTreeSet::new();
    let (mut ip_literal, mut shortener, mut mismatch) = (None, None, None);
    for link in links {
        let Some(host) = url_host(&link.href) else { continue };
        let is_ip = host.parse::<std::net::IpAddr>().is_ok();
        let domain = registered_domain(&host);
        if let Some(text) = &link.text
            && let Some(shown) = shown_host(text)
            && (is_ip || registered_domain(&shown) != domain)
        {
            mismatch.get_or_insert_with(|| format!("shows {shown}, goes to {host}"));
        }
        if is_ip {
            ip_literal.get_or_insert_with(|| host.clone());
            continue;
        }
        if SHORTENERS.contains(&domain.as_str()) {
            shortener.get_or_insert_with(|| host.clone());
        }
        if domains.insert(domain.clone()) {
            out.link_domains.push(domain);
        }
    }
    if let Some(host) = ip_literal {
        out.hits.push(Hit::new("URI_IP_LITERAL", 1.5, format!("link to the bare address {host}")));
    }
    if let Some(host) = shortener {
        out.hits.push(Hit::new("URI_SHORTENER", 0.5, format!("link through {host}")));
    }
    if let Some(what) = mismatch {
        out.hits.push(Hit::new("URI_TEXT_MISMATCH", 2.5, what));
    }
}

/// An HTML part and its ASCII lower-case copy, made once for every scan of the part.
struct HtmlPart<'a> {
    html: &'a str,
    lower: String,
}

impl<'a> HtmlPart<'a> {
    fn new(html: &'a str) -> HtmlPart<'a> {
        HtmlPart { html, lower: html.to_ascii_lowercase() }
    }
}

/// `<a href="...">text</a>` pairs of an HTML body, found by a tolerant scan (the HTML of spam
/// is rarely well-formed, so no tree is built).
fn html_links(part: &HtmlPart<'_>) -> Vec<Link> {
    let (html, lower) = (part.html, &part.lower);
    let mut links = Vec::new();
    let mut at = 0;
    while links.len() < MAX_LINKS {
        let Some(start) = lower[at..].find("<a").map(|i| at + i) else { break };
        let Some(tag_end) = lower[start..].find('>').map(|i| start + i) else { break };
        at = tag_end + 1;
        let tag = &html[start..tag_end];
        let Some(href) = attribute(tag, "href") else { continue };
        let close = lower[at..].find("</a").map_or(lower.len(), |i| at + i);
        let text = strip_tags(&html[at..close.min(at + 2048)]);
        links.push(Link { href: decode_entities(&href), text: Some(text) });
    }
    links
}

/// The value of attribute `name` in a start tag, quoted or not.
fn attribute(tag: &str, name: &str) -> Option<String> {
    let lower = tag.to_ascii_lowercase();
    let mut from = 0;
    while let Some(i) = lower[from..].find(name).map(|i| from + i) {
        from = i + name.len();
        let before_ok = i > 0 && lower.as_bytes()[i - 1].is_ascii_whitespace();
        let rest = lower[from..].trim_start();
        if !before_ok || !rest.starts_with('=') {
            continue;
        }
        let value_start = tag.len() - rest.len() + 1;
        let value = tag[value_start..].trim_start();
        return Some(match value.chars().next() {
            Some(q @ ('"' | '\'')) => value[1..].split(q).next().unwrap_or("").trim().to_string(),
            _ => value.split(|c: char| c.is_whitespace() || c == '>').next().unwrap_or("").to_string(),
        });
    }
    None
}

fn strip_tags(html: &str) -> String {
    let mut out = String::new();
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' => in_tag = false,
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    decode_entities(out.trim())
}

fn decode_entities(s: &str) -> String {
    s.replace("&amp;", "&").replace("&#46;", ".").replace("&#x2e;", ".").replace("&nbsp;", " ")
}

/// Characters of text outside tags, `<style>` and `<script>`.
fn visible_text_len(part: &HtmlPart<'_>) -> usize {
    let (html, lower) = (part.html, &part.lower);
    let mut text = String::new();
    let mut at = 0;
    while at < html.len() {
        let next =
            ["<style", "<script"].iter().filter_map(|t| lower[at..].find(t).map(|i| (at + i, *t))).min();
        match next {
            Some((i, tag)) => {
                text.push_str(&html[at..i]);
                let close = format!("</{}", &tag[1..]);
                at = lower[i..].find(&close).map_or(html.len(), |j| i + j + close.len());
            }
            None => {
                text.push_str(&html[at..]);
                break;
            }
        }
    }
    strip_tags(&text).chars().filter(|c| !c.is_whitespace()).count()
}

/// `http://` and `https://` URLs in plain text (the scheme in any case). One case-insensitive
/// search over the text, without a lower-cased copy of it: that copy was most of this
/// function's cost for a long text part.
fn text_urls(text: &str) -> Vec<String> {
    static SCHEMES: OnceLock<Option<AhoCorasick>> = OnceLock::new();
    let Some(schemes) = SCHEMES
        .get_or_init(|| {
            AhoCorasick::builder()
                .ascii_case_insensitive(true)
                .match_kind(MatchKind::LeftmostFirst)
                .build(["http://", "https://"])
                .ok()
        })
        .as_ref()
    else {
        return Vec::new();
    };
    let mut urls = Vec::new();
    let mut at = 0;
    for found in schemes.find_iter(text) {
        if urls.len() >= MAX_LINKS {
            break;
        }
        let i = found.start();
        if i < at {
            continue; // inside the URL before
        }
        let end = text[i..]
            .find(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | '<' | '>' | ')' | ']'))
            .map_or(text.len(), |j| i + j);
        urls.push(text[i..end].to_string());
        at = end;
    }
    urls
}

/// The host of an absolute http(s) URL, lower case, without port or trailing dot.
fn url_host(url: &str) -> Option<String> {
    let lower = url.trim().to_ascii_lowercase();
    let rest = lower.strip_prefix("http://").or_else(|| lower.strip_prefix("https://"))?;
    let authority = rest.split(['/', '?', '#']).next()?;
    let host_port = authority.rsplit('@').next()?;
    let host = if let Some(v6) = host_port.strip_prefix('[') {
        v6.split(']').next()?
    } else {
        host_port.split(':').next()?
    };
    let host = host.trim_end_matches('.');
    (!host.is_empty() && host.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':')))
        .then(|| host.to_string())
}

/// The host an anchor's text shows, when the text looks like a URL or a bare domain.
fn shown_host(text: &str) -> Option<String> {
    let t = text.trim().to_ascii_lowercase();
    if t.starts_with("http://") || t.starts_with("https://") {
        return url_host(&t);
    }
    let candidate = t.as_str();
    let looks_like_domain = !candidate.contains(char::is_whitespace)
        && candidate.contains('.')
        && candidate.split('/').next().is_some_and(|h| {
            let labels: Vec<&str> = h.split('.').collect();
            labels.len() >= 2
                && labels
                    .iter()
                    .all(|l| !l.is_empty() && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'))
                && labels
                    .last()
                    .is_some_and(|tld| tld.len() >= 2 && tld.chars().all(|c| c.is_ascii_alphabetic()))
        });
    looks_like_domain.then(|| candidate.split('/').next().unwrap_or("").to_string())
}

/// Second-level labels under which country-code registries sell names (`example.co.uk`).
const PUBLIC_SECOND_LEVELS: &[&str] =
    &["co", "com", "net", "org", "ac", "gov", "edu", "ne", "or", "go", "gob"];

/// The registered domain of `host`: the last two labels, or three under a known public
/// second level of a country-code TLD. An approximation of the Public Suffix List that is
/// right for the names blocklists care about; it errs towards the longer name.
pub fn registered_domain(host: &str) -> String {
    let labels: Vec<&str> = host.trim_end_matches('.').split('.').collect();
    let n = labels.len();
    let take = if n >= 3 && labels[n - 1].len() == 2 && PUBLIC_SECOND_LEVELS.contains(&labels[n - 2]) {
        3
    } else {
        2
    };
    labels[n.saturating_sub(take)..].join(".").to_ascii_lowercase()
}

/// An address written inside a display name (`"paypal.com <x@evil.test>"` has none, but
/// `"service@paypal.com" <x@evil.test>` has one).
fn embedded_address(name: &str) -> Option<String> {
    name.split(|c: char| c.is_whitespace() || matches!(c, '<' | '>' | '"' | '(' | ')' | '\'' | ','))
        .find(|w| w.split_once('@').is_some_and(|(local, domain)| !local.is_empty() && domain.contains('.')))
        .map(|w| w.to_ascii_lowercase())
}

fn clip(s: &str) -> &str {
    clip_to(s, MAX_SCAN)
}

/// The first `max` bytes of `s`, cut at a character boundary.
fn clip_to(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// Appends `part` and a newline to `text`, up to [`PHRASE_SCAN`] bytes in all.
fn push_clipped(text: &mut String, part: &str) {
    let room = PHRASE_SCAN.saturating_sub(text.len());
    if room > 0 {
        text.push_str(clip_to(part, room));
        text.push('\n');
    }
}

/// The GTUBE searcher, built once: building it took as long as searching a 1 KiB message.
fn gtube_finder() -> &'static memchr::memmem::Finder<'static> {
    static FINDER: OnceLock<memchr::memmem::Finder<'static>> = OnceLock::new();
    FINDER.get_or_init(|| memchr::memmem::Finder::new(GTUBE.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_urls_finds_schemes_in_any_case_and_ends_urls_at_delimiters() {
        let text = "see HTTP://Example.COM/a?b=1, or (https://x.test/p) and \"http://q.test\"\n\
                    not httpx://no.test nor http:/half.test; https://a.test/?u=http://inner.test end";
        assert_eq!(
            text_urls(text),
            [
                "HTTP://Example.COM/a?b=1,",
                "https://x.test/p",
                "http://q.test",
                "https://a.test/?u=http://inner.test",
            ]
        );
        assert!(text_urls("no links at all").is_empty());
        let many = "http://a.test ".repeat(MAX_LINKS + 10);
        assert_eq!(text_urls(&many).len(), MAX_LINKS);
    }
}
