//! The MIME tree IMAP sees, built from mail-parser's parse.
//!
//! mail-parser finds the parts (boundaries, offsets, transfer and charset decoding, Content-Type
//! parameters with RFC 2231); this module turns its flat part list into a tree of byte ranges
//! plus the MIME fields BODYSTRUCTURE reports. Invariants:
//! - every range lies inside its buffer (offsets are clamped);
//! - containers exist only above [`MAX_DEPTH`]: deeper, a part is a leaf;
//! - a multipart has at least one child (an empty one gets an empty text/plain child, as Dovecot
//!   writes it), so part numbers and BODYSTRUCTURE agree;
//! - a part declared multipart/* or message/rfc822 that is not rendered as a container (no usable
//!   boundary, unparsable, too deep) is described as `text/plain; charset=us-ascii`, the RFC 2045
//!   §5.2 default for an unusable Content-Type.

use std::ops::Range;

use mail_parser::decoders::html::html_to_text;
use mail_parser::{HeaderName, HeaderValue, Message, MessagePart, PartType};

use super::header::{first_value, unfold};

/// Containers nested deeper than this are treated as leaves (hostile-input bound).
pub const MAX_DEPTH: usize = 20;

/// One MIME part: where its header and body are, what it declares, what it contains.
#[derive(Debug, Clone)]
pub(crate) struct Node {
    /// Index of the buffer holding this part's bytes (0 is the message; base64- or
    /// quoted-printable-encoded message/rfc822 parts are parsed from their decoded bytes).
    pub(crate) buf: usize,
    /// The part's header block, with the empty line that ends it.
    pub(crate) header: Range<usize>,
    /// The body, without the line end that belongs to the next boundary (RFC 2046 §5.1.1).
    pub(crate) body: Range<usize>,
    /// Declared MIME fields, as BODYSTRUCTURE reports them.
    pub(crate) mime: Mime,
    /// Leaf, multipart or encapsulated message.
    pub(crate) kind: Kind,
}

/// What a part contains.
#[derive(Debug, Clone)]
pub(crate) enum Kind {
    /// Any non-container part.
    Leaf,
    /// multipart/*: the body parts, in order.
    Multipart(Vec<Node>),
    /// message/rfc822: the encapsulated message, whose header is the message header.
    Message(Box<Node>),
}

/// The MIME header fields of one part (RFC 2045, RFC 2183, RFC 3066, RFC 2557, RFC 1864).
#[derive(Debug, Clone, Default)]
pub(crate) struct Mime {
    /// Lower-case media type.
    pub(crate) media_type: String,
    /// Lower-case subtype.
    pub(crate) subtype: String,
    /// Parameters (names lower case, RFC 2231 already merged and decoded by mail-parser).
    pub(crate) params: Vec<(String, String)>,
    /// Content-ID, raw.
    pub(crate) id: Option<Vec<u8>>,
    /// Content-Description, raw.
    pub(crate) description: Option<Vec<u8>>,
    /// Content-Transfer-Encoding token as written, `None` when absent or invalid (7bit).
    pub(crate) encoding: Option<String>,
    /// Content-MD5, raw.
    pub(crate) md5: Option<Vec<u8>>,
    /// Content-Disposition type (lower case) and parameters.
    pub(crate) disposition: Option<(String, Vec<(String, String)>)>,
    /// Content-Language tags.
    pub(crate) language: Vec<String>,
    /// Content-Location, raw.
    pub(crate) location: Option<Vec<u8>>,
}

impl Mime {
    fn is(&self, media_type: &str, subtype: &str) -> bool {
        self.media_type == media_type && self.subtype == subtype
    }

    /// RFC 2045 §5.2: the default, also for a Content-Type that cannot be used.
    fn make_plain_text(&mut self) {
        self.media_type = "text".into();
        self.subtype = "plain".into();
        self.params = vec![("charset".into(), "us-ascii".into())];
    }
}

/// The result of [`build`]: buffers, tree, and the decoded text of every text part.
pub(crate) struct Tree {
    pub(crate) buffers: Vec<Vec<u8>>,
    pub(crate) root: Node,
    pub(crate) texts: Vec<String>,
}

/// Builds the tree of `message`, mail-parser's full parse of `raw`.
pub(crate) fn build(raw: &[u8], message: &Message<'_>) -> Tree {
    let mut builder = Builder { buffers: vec![raw.to_vec()], texts: Vec::new() };
    let root = builder.part(message, 0, 0, 0, false);
    Tree { buffers: builder.buffers, root, texts: builder.texts }
}

/// Builds a one-part tree: the header block `raw[..header_end]` (parsed by mail-parser as
/// `header`, if it could) over the rest as one body. Used when the message has no header, when
/// mail-parser gave up, or when the message has too many parts to parse in full.
pub(crate) fn flat(raw: &[u8], header_end: usize, header: Option<&Message<'_>>) -> Tree {
    let header_end = header_end.min(raw.len());
    let block = &raw[..header_end];
    let mut mime = match header.and_then(|m| m.parts.first()) {
        Some(part) => mime_fields(part, block, false),
        None => Mime::default(),
    };
    if mime.media_type.is_empty() || mime.media_type == "multipart" || mime.is("message", "rfc822") {
        mime.make_plain_text();
    }
    let body = &raw[header_end..];
    Tree {
        buffers: vec![raw.to_vec()],
        root: Node { buf: 0, header: 0..header_end, body: header_end..raw.len(), mime, kind: Kind::Leaf },
        texts: vec![String::from_utf8_lossy(body).into_owned()],
    }
}

/// Drops a mail-parser message without recursion: its `Drop` recurses once per encapsulated
/// message and overflows the stack on hostile nesting (tens of thousands of message/rfc822).
pub(crate) fn dismantle(message: Message<'_>) {
    let mut stack = vec![message];
    while let Some(mut message) = stack.pop() {
        for part in &mut message.parts {
            if let PartType::Message(inner) = std::mem::take(&mut part.body) {
                stack.push(inner);
            }
        }
    }
}

/// An upper bound of the parts mail-parser would create: every part starts at a boundary line
/// (`--...`) or is an encapsulated message, which needs a Content-Type line.
pub(crate) fn part_bound(raw: &[u8]) -> usize {
    raw.split(|&b| b == b'\n')
        .filter(|line| {
            line.starts_with(b"--")
                || line.get(..13).is_some_and(|l| l.eq_ignore_ascii_case(b"content-type:"))
        })
        .count()
}

struct Builder {
    buffers: Vec<Vec<u8>>,
    texts: Vec<String>,
}

impl Builder {
    /// Converts part `id` of `message`, whose bytes are buffer `buf`.
    fn part(&mut self, message: &Message<'_>, buf: usize, id: usize, depth: usize, in_digest: bool) -> Node {
        let len = self.buffers.get(buf).map_or(0, Vec::len);
        let Some(part) = message.parts.get(id) else {
            return empty_text(buf, len);
        };
        let clamp = |offset: u32| (offset as usize).min(len);
        let header = clamp(part.offset_header)..clamp(part.offset_body);
        let body = header.end..clamp(part.offset_end).max(header.end);
        let block = self.buffers.get(buf).and_then(|b| b.get(header.clone())).unwrap_or_default();
        let mut mime = mime_fields(part, block, in_digest);
        let container = depth < MAX_DEPTH;
        let kind = match &part.body {
            PartType::Multipart(ids) if container && mime.media_type == "multipart" => {
                let digest = mime.subtype == "digest";
                let mut children: Vec<Node> = ids
                    .iter()
                    .map(|&child| self.part(message, buf, child as usize, depth + 1, digest))
                    .collect();
                if children.is_empty() {
                    children.push(empty_text(buf, body.end));
                }
                Kind::Multipart(children)
            }
            // IMAP's body-type-msg is MESSAGE/RFC822 only; message/global stays a leaf.
            PartType::Message(inner)
                if container && mime.is("message", "rfc822") && !inner.parts.is_empty() =>
            {
                let inner_buf = if std::ptr::eq(inner.raw_message.as_ptr(), message.raw_message.as_ptr()) {
                    buf
                } else {
                    // Parsed from the decoded bytes of an encoded part: keep them.
                    self.buffers.push(inner.raw_message.to_vec());
                    self.buffers.len() - 1
                };
                Kind::Message(Box::new(self.part(inner, inner_buf, 0, depth + 1, false)))
            }
            PartType::Text(text) => {
                self.texts.push(text.to_string());
                Kind::Leaf
            }
            PartType::Html(html) => {
                self.texts.push(html_to_text(html));
                Kind::Leaf
            }
            _ => Kind::Leaf,
        };
        if matches!(kind, Kind::Leaf) && (mime.media_type == "multipart" || mime.is("message", "rfc822")) {
            mime.make_plain_text();
            if !matches!(part.body, PartType::Text(_) | PartType::Html(_)) {
                let bytes = self.buffers.get(buf).and_then(|b| b.get(body.clone())).unwrap_or_default();
                self.texts.push(String::from_utf8_lossy(bytes).into_owned());
            }
        }
        Node { buf, header, body, mime, kind }
    }
}

/// An empty text/plain part at `at` (Dovecot's stand-in for a multipart without parts).
pub(crate) fn empty_text(buf: usize, at: usize) -> Node {
    let mut mime = Mime::default();
    mime.make_plain_text();
    Node { buf, header: at..at, body: at..at, mime, kind: Kind::Leaf }
}

/// Reads the MIME fields of `part`; `block` is its raw header block.
fn mime_fields(part: &MessagePart<'_>, block: &[u8], in_digest: bool) -> Mime {
    let parsed = |name: HeaderName<'static>| part.headers.iter().find(|h| h.name == name).map(|h| &h.value);
    let raw = |name: &str| first_value(block, name).map(unfold).filter(|v| !v.is_empty());
    let mut mime = Mime {
        id: raw("Content-ID"),
        description: raw("Content-Description"),
        encoding: raw("Content-Transfer-Encoding")
            .filter(|v| is_token(v))
            .and_then(|v| String::from_utf8(v).ok()),
        md5: raw("Content-MD5"),
        location: raw("Content-Location"),
        ..Mime::default()
    };
    match parsed(HeaderName::ContentType) {
        Some(HeaderValue::ContentType(ct)) if !ct.c_type.is_empty() => {
            mime.media_type = ct.c_type.to_ascii_lowercase();
            mime.subtype = ct.c_subtype.as_deref().unwrap_or_default().to_ascii_lowercase();
            mime.params = params(ct.attributes());
            if mime.subtype.is_empty() {
                // RFC 2045 §5.1: the subtype is mandatory; without it the field is unusable.
                mime.make_plain_text();
            }
        }
        // RFC 2046 §5.1.5: in a digest the default is message/rfc822.
        _ if in_digest => {
            mime.media_type = "message".into();
            mime.subtype = "rfc822".into();
        }
        _ => mime.make_plain_text(),
    }
    if mime.media_type == "text" && !mime.params.iter().any(|(name, _)| name == "charset") {
        // RFC 2045 §5.2 default charset, written out as Dovecot does.
        mime.params.insert(0, ("charset".into(), "us-ascii".into()));
    }
    if let Some(HeaderValue::ContentType(cd)) = parsed(HeaderName::ContentDisposition) {
        mime.disposition = Some((cd.c_type.to_ascii_lowercase(), params(cd.attributes())));
    }
    mime.language = match parsed(HeaderName::ContentLanguage) {
        Some(HeaderValue::Text(tag)) => vec![tag.to_string()],
        Some(HeaderValue::TextList(tags)) => tags.iter().map(|t| t.to_string()).collect(),
        _ => Vec::new(),
    };
    mime
}

/// Parameters in the form BODYSTRUCTURE carries: ASCII values as they are, others in RFC 2231
/// extended form (`name*` = `utf-8''%XX..`), which is what clients decode (and what Dovecot
/// returns for RFC 2231 parameters).
fn params(attributes: Option<&[mail_parser::Attribute<'_>]>) -> Vec<(String, String)> {
    attributes
        .unwrap_or_default()
        .iter()
        .map(|a| {
            let name = a.name.to_ascii_lowercase();
            if a.value.is_ascii() {
                (name, a.value.to_string())
            } else {
                (format!("{name}*"), rfc2231_encode(&a.value))
            }
        })
        .collect()
}

/// RFC 2231 §4 extended value: `utf-8''` then the octets, attribute-chars kept, others `%XX`.
fn rfc2231_encode(value: &str) -> String {
    let mut out = String::from("utf-8''");
    for &b in value.as_bytes() {
        if b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// RFC 2045 §5.1 token: printable ASCII without space and tspecials.
fn is_token(value: &[u8]) -> bool {
    !value.is_empty() && value.iter().all(|&b| b.is_ascii_graphic() && !b"()<>@,;:\\\"/[]?=".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameter_forms() {
        assert_eq!(rfc2231_encode("aé b"), "utf-8''a%C3%A9%20b");
        assert!(is_token(b"base64") && is_token(b"x-uuencode"));
        assert!(!is_token(b"?invalid") && !is_token(b""));
    }
}
