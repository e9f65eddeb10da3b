//! BODY and BODYSTRUCTURE (RFC 9051 §7.5.2, RFC 3501 §7.4.2) from the MIME tree.
//!
//! Sizes are body octets as stored; line counts count LF, as Dovecot does (a last line without
//! a line end is not counted). BODYSTRUCTURE carries every extension field (NIL where absent),
//! BODY none.

use imap_types::body::{
    BasicFields, Body, BodyStructure, Disposition, Language, Location, MultiPartExtensionData,
    SinglePartExtensionData, SpecificFields,
};
use imap_types::core::{IString, Vec1};

use super::envelope::envelope;
use super::strings::{istring, nstring};
use super::tree::{Kind, Mime, Node, empty_text};

/// BODY (`Extensions::Without`) or BODYSTRUCTURE (`Extensions::With`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Extensions {
    /// BODYSTRUCTURE: with extension data.
    With,
    /// BODY: without.
    Without,
}

/// Renders `node` (bytes in `buffers`) as a body structure.
pub(crate) fn render(node: &Node, buffers: &[Vec<u8>], ext: Extensions) -> BodyStructure<'static> {
    let bytes = |range: &std::ops::Range<usize>| -> &[u8] {
        buffers.get(node.buf).and_then(|b| b.get(range.clone())).unwrap_or_default()
    };
    let mime = &node.mime;
    match &node.kind {
        Kind::Multipart(children) => {
            let bodies: Vec<BodyStructure<'static>> =
                children.iter().map(|child| render(child, buffers, ext)).collect();
            // The tree gives every multipart a child; should it not, stand in Dovecot's way.
            let bodies = Vec1::try_from(bodies)
                .unwrap_or_else(|_| Vec1::from(render(&empty_text(node.buf, node.body.end), buffers, ext)));
            BodyStructure::Multi {
                bodies,
                subtype: istring(mime.subtype.clone()),
                extension_data: (ext == Extensions::With).then(|| MultiPartExtensionData {
                    parameter_list: params(&mime.params),
                    tail: Some(disposition_tail(mime)),
                }),
            }
        }
        kind => {
            let body = bytes(&node.body);
            let lines = count_lines(body);
            let specific = match kind {
                Kind::Message(inner) => {
                    let inner_header =
                        buffers.get(inner.buf).and_then(|b| b.get(inner.header.clone())).unwrap_or_default();
                    SpecificFields::Message {
                        envelope: Box::new(envelope(inner_header)),
                        body_structure: Box::new(render(inner, buffers, ext)),
                        number_of_lines: lines,
                    }
                }
                _ if mime.media_type == "text" => {
                    SpecificFields::Text { subtype: istring(mime.subtype.clone()), number_of_lines: lines }
                }
                _ => SpecificFields::Basic {
                    r#type: istring(mime.media_type.clone()),
                    subtype: istring(mime.subtype.clone()),
                },
            };
            BodyStructure::Single {
                body: Body { basic: basic_fields(mime, body.len()), specific },
                extension_data: (ext == Extensions::With).then(|| SinglePartExtensionData {
                    md5: nstring(mime.md5.clone()),
                    tail: Some(disposition_tail(mime)),
                }),
            }
        }
    }
}

fn basic_fields(mime: &Mime, size: usize) -> BasicFields<'static> {
    BasicFields {
        parameter_list: params(&mime.params),
        id: nstring(mime.id.clone()),
        description: nstring(mime.description.clone()),
        // RFC 2045 §6.1: absent means 7bit.
        content_transfer_encoding: istring(mime.encoding.clone().unwrap_or_else(|| "7bit".into())),
        size: u32::try_from(size).unwrap_or(u32::MAX),
    }
}

/// body-ext-1part / body-ext-mpart after MD5 or parameters: disposition, language, location.
fn disposition_tail(mime: &Mime) -> Disposition<'static> {
    Disposition {
        disposition: mime.disposition.as_ref().map(|(kind, list)| (istring(kind.clone()), params(list))),
        tail: Some(Language {
            language: mime.language.iter().map(|tag| istring(tag.clone())).collect(),
            tail: Some(Location { location: nstring(mime.location.clone()), extensions: Vec::new() }),
        }),
    }
}

fn params(list: &[(String, String)]) -> Vec<(IString<'static>, IString<'static>)> {
    list.iter().map(|(name, value)| (istring(name.clone()), istring(value.clone()))).collect()
}

fn count_lines(body: &[u8]) -> u32 {
    let lines = body.iter().filter(|&&b| b == b'\n').count();
    u32::try_from(lines).unwrap_or(u32::MAX)
}
