//! File-driven tests of `mailstead_imap::message` over `testdata/*.eml`: ENVELOPE and
//! BODYSTRUCTURE as a client sees them (encoded by imap-codec), exact section octets, BINARY,
//! and the search/sort helpers.
#![allow(clippy::unwrap_used)]

use std::num::NonZeroU32;

use imap_codec::ResponseCodec;
use imap_codec::encode::Encoder;
use imap_codec::imap_types::core::{AString, Vec1};
use imap_codec::imap_types::fetch::{MessageDataItem, Part, Section};
use imap_codec::imap_types::response::{Data, Response};
use mailstead_imap::message::{BinaryError, ParsedMessage, apply_partial};

fn load(name: &str) -> ParsedMessage {
    ParsedMessage::parse(&raw(name))
}

fn raw(name: &str) -> Vec<u8> {
    let path = format!("{}/testdata/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap()
}

/// The item as it appears inside `* 1 FETCH (...)`.
fn wire(item: MessageDataItem<'static>) -> String {
    let response = Response::Data(Data::Fetch { seq: NonZeroU32::MIN, items: Vec1::from(item) });
    let line = String::from_utf8_lossy(&ResponseCodec::default().encode(&response).dump()).into_owned();
    line.strip_prefix("* 1 FETCH (").unwrap().strip_suffix(")\r\n").unwrap().to_string()
}

fn envelope(m: &ParsedMessage) -> String {
    wire(MessageDataItem::Envelope(m.envelope()))
}

fn bodystructure(m: &ParsedMessage) -> String {
    wire(MessageDataItem::BodyStructure(m.body_structure()))
}

fn body(m: &ParsedMessage) -> String {
    wire(MessageDataItem::Body(m.body()))
}

fn path(numbers: &[u32]) -> Vec<NonZeroU32> {
    numbers.iter().map(|&n| NonZeroU32::new(n).unwrap()).collect()
}

fn part(numbers: &[u32]) -> Part {
    Part(Vec1::try_from(path(numbers)).unwrap())
}

fn names(list: &[&'static str]) -> Vec1<AString<'static>> {
    Vec1::try_from(list.iter().map(|n| AString::try_from(*n).unwrap()).collect::<Vec<_>>()).unwrap()
}

fn section(m: &ParsedMessage, spec: Section<'_>) -> Option<String> {
    m.section(Some(&spec)).map(|b| String::from_utf8(b).unwrap())
}

#[test]
fn simple_text() {
    let m = load("simple.eml");
    assert_eq!(
        envelope(&m),
        "ENVELOPE (\"Tue, 4 Mar 2025 10:15:00 +0100\" \"Lunch on Friday?\" \
         ((\"Alice Example\" NIL \"alice\" \"example.org\")) ((\"Alice Example\" NIL \"alice\" \"example.org\")) \
         ((\"Alice Example\" NIL \"alice\" \"example.org\")) ((\"Bob\" NIL \"bob\" \"example.com\")) \
         NIL NIL NIL \"<lunch-1@example.org>\")"
    );
    assert_eq!(
        bodystructure(&m),
        "BODYSTRUCTURE (\"TEXT\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 55 5 NIL NIL NIL NIL)"
    );
    assert_eq!(body(&m), "BODY (\"TEXT\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 55 5)");

    let text = "Hi Bob,\r\n\r\nare you free for lunch on Friday?\r\n\r\nAlice\r\n";
    let all = String::from_utf8(raw("simple.eml")).unwrap();
    let header = all.strip_suffix(text).unwrap();
    assert!(header.ends_with("charset=us-ascii\r\n\r\n"));
    assert_eq!(m.section(None).unwrap(), all.as_bytes());
    assert_eq!(m.size() as usize, all.len());
    assert_eq!(section(&m, Section::Header(None)).unwrap(), header);
    assert_eq!(section(&m, Section::Text(None)).unwrap(), text);
    // RFC 9051 §6.4.5: a non-multipart message has one part, its body.
    assert_eq!(section(&m, Section::Part(part(&[1]))).unwrap(), text);
    assert_eq!(section(&m, Section::Mime(part(&[1]))).unwrap(), header);
    assert_eq!(section(&m, Section::Part(part(&[2]))), None);
    assert_eq!(section(&m, Section::Part(part(&[1, 1]))), None);
    assert_eq!(section(&m, Section::Header(Some(part(&[1])))), None);
    assert_eq!(
        section(&m, Section::HeaderFields(None, names(&["subject", "FROM", "X-None"]))).unwrap(),
        "From: Alice Example <alice@example.org>\r\nSubject: Lunch on Friday?\r\n\r\n"
    );
    assert_eq!(
        section(&m, Section::HeaderFieldsNot(None, names(&["Return-Path", "Date", "To", "MIME-Version"])))
            .unwrap(),
        "From: Alice Example <alice@example.org>\r\nSubject: Lunch on Friday?\r\n\
         Message-ID: <lunch-1@example.org>\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n"
    );
    let whole = m.section(None).unwrap();
    let n = |v| NonZeroU32::new(v).unwrap();
    assert_eq!(apply_partial(&whole, Some((0, n(4)))), b"Retu");
    assert_eq!(apply_partial(text.as_bytes(), Some((11, n(3)))), b"are");
    assert_eq!(apply_partial(&whole, Some((10_000, n(3)))), b"");

    assert_eq!(m.sent_date(), Some(1_741_079_700));
    assert_eq!(m.message_id(), Some("lunch-1@example.org"));
    assert_eq!(m.first_to().unwrap().display(), "Bob");
    assert_eq!(m.first_from().unwrap().mailbox.as_deref(), Some("alice"));
    assert!(m.body_contains("LUNCH on friday"));
    assert!(!m.body_contains("dinner"));
    assert!(m.header_contains("subject", "friday"));
    assert!(m.header_contains("Return-Path", ""));
    assert!(!m.header_contains("Cc", ""));
    assert!(m.text_contains("example.org"));
    assert!(m.text_contains("are you free"));
}

#[test]
fn multipart_alternative() {
    let m = load("alternative.eml");
    assert_eq!(
        bodystructure(&m),
        "BODYSTRUCTURE ((\"TEXT\" \"plain\" (\"charset\" \"utf-8\") NIL NIL \"7bit\" 14 0 NIL NIL NIL NIL)\
         (\"TEXT\" \"html\" (\"charset\" \"utf-8\") NIL NIL \"7bit\" 53 0 NIL NIL NIL NIL) \
         \"alternative\" (\"boundary\" \"alt-1\") NIL NIL NIL)"
    );
    assert_eq!(section(&m, Section::Part(part(&[1]))).unwrap(), "Plain version.");
    assert_eq!(
        section(&m, Section::Mime(part(&[2]))).unwrap(),
        "Content-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: 7bit\r\n\r\n"
    );
    assert!(section(&m, Section::Text(None)).unwrap().starts_with("This is a multi-part message"));
    assert_eq!(section(&m, Section::Part(part(&[3]))), None);
    assert_eq!(m.subject_base(), "Weekly digest");
    assert_eq!(m.references(), ["digest-40@example.net", "digest-41@example.net"]);
    assert_eq!(m.in_reply_to(), ["digest-41@example.net"]);
    // HTML is searched as text: the markup is not.
    assert!(m.body_contains("html version"));
    assert!(!m.body_contains("<b>"));
}

#[test]
fn multipart_mixed_with_base64_attachment() {
    let m = load("mixed-attachment.eml");
    assert_eq!(
        bodystructure(&m),
        "BODYSTRUCTURE ((\"TEXT\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 26 1 NIL NIL NIL NIL)\
         (\"application\" \"pdf\" (\"name\" \"report.pdf\") \"<part2@example.org>\" \"Quarterly report\" \
         \"base64\" 372 \"Q2hlY2sgSW50ZWdyaXR5IQ==\" (\"attachment\" (\"filename\" \"report.pdf\")) \
         (\"en\" \"de\") \"http://example.org/report.pdf\") \"mixed\" (\"boundary\" \"mix\") NIL NIL NIL)"
    );
    let mut pdf = b"%PDF-1.4\n".to_vec();
    pdf.extend(0..=255u8);
    pdf.extend_from_slice(b"\n%%EOF\n");
    assert_eq!(m.binary(&path(&[2])).unwrap(), pdf);
    assert_eq!(m.binary_size(&path(&[2])).unwrap() as usize, pdf.len());
    assert_eq!(m.binary(&path(&[1])).unwrap(), b"See the attached report.\r\n");
    assert_eq!(m.binary(&path(&[3])), Err(BinaryError::NoSuchPart));
    assert_eq!(m.binary(&[]).unwrap(), raw("mixed-attachment.eml"));
    assert!(m.body_contains("attached report"));
    assert!(!m.body_contains("PDF-1.4"));
}

#[test]
fn same_bodystructure_as_dovecot() {
    // Expected strings from Dovecot's src/lib-imap/test-imap-bodystructure.c for this message;
    // imap-codec spells the fixed "TEXT", "MESSAGE" "RFC822" atoms in capitals.
    let dovecot_bodystructure = r#"("text" "x-myown" ("charset" "us-ascii" "foo" "quoted\"string") "<foo@example.com>" "hellodescription" "7bit" 7 1 "Q2hlY2sgSW50ZWdyaXR5IQ==" ("inline" ("foo" "bar")) ("en" "fi" "se") "http://example.com/test.txt")("message" "rfc822" NIL NIL NIL "7bit" 412 ("Sun, 12 Aug 2012 12:34:56 +0300" "submsg" ((NIL NIL "sub" "domain.org")) ((NIL NIL "sub" "domain.org")) ((NIL NIL "sub" "domain.org")) ((NIL NIL "sub-to1" "domain.org")(NIL NIL "sub-to2" "domain.org")) NIL NIL NIL NIL) (("text" "html" ("charset" "us-ascii") NIL NIL "8bit" 20 1 NIL NIL NIL NIL)("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 21 1 NIL NIL NIL NIL) "alternative" ("boundary" "sub1") NIL NIL NIL) 21 NIL NIL NIL NIL) "mixed" ("boundary" "foo bar") NIL NIL NIL"#;
    let dovecot_body = r#"("text" "x-myown" ("charset" "us-ascii" "foo" "quoted\"string") "<foo@example.com>" "hellodescription" "7bit" 7 1)("message" "rfc822" NIL NIL NIL "7bit" 412 ("Sun, 12 Aug 2012 12:34:56 +0300" "submsg" ((NIL NIL "sub" "domain.org")) ((NIL NIL "sub" "domain.org")) ((NIL NIL "sub" "domain.org")) ((NIL NIL "sub-to1" "domain.org")(NIL NIL "sub-to2" "domain.org")) NIL NIL NIL NIL) (("text" "html" ("charset" "us-ascii") NIL NIL "8bit" 20 1)("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 21 1) "alternative") 21) "mixed""#;
    let m = load("dovecot-bodystructure.eml");
    let ours = bodystructure(&m);
    let ours = ours.strip_prefix("BODYSTRUCTURE (").unwrap().strip_suffix(')').unwrap();
    assert_eq!(ours.to_lowercase(), dovecot_bodystructure.to_lowercase());
    let ours = body(&m);
    let ours = ours.strip_prefix("BODY (").unwrap().strip_suffix(')').unwrap();
    assert_eq!(ours.to_lowercase(), dovecot_body.to_lowercase());
}

#[test]
fn nested_message_rfc822_sections() {
    let m = load("nested-rfc822.eml");
    let bs = bodystructure(&m);
    assert!(
        bs.contains("(\"MESSAGE\" \"RFC822\" NIL NIL \"forwarded message\" \"7bit\" 411 (\"Thu, 6 Mar 2025")
    );
    assert!(bs.contains("\"<orig@example.net>\") ((\"TEXT\" \"plain\""));

    let inner_header = "From: Original Sender <orig@example.net>\r\nTo: forwarder@example.org\r\n\
        Subject: Original\r\nDate: Thu, 6 Mar 2025 17:00:00 +0000\r\nMessage-ID: <orig@example.net>\r\n\
        MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"inner\"\r\n\r\n";
    let inner_text = "--inner\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\nOriginal text.\r\n\
        --inner\r\nContent-Type: message/rfc822\r\n\r\nFrom: deepest@example.com\r\nSubject: Deepest\r\n\r\n\
        Deepest body.\r\n--inner--";
    assert_eq!(section(&m, Section::Part(part(&[2]))).unwrap(), format!("{inner_header}{inner_text}"));
    assert_eq!(section(&m, Section::Header(Some(part(&[2])))).unwrap(), inner_header);
    assert_eq!(section(&m, Section::Text(Some(part(&[2])))).unwrap(), inner_text);
    assert_eq!(
        section(&m, Section::Mime(part(&[2]))).unwrap(),
        "Content-Type: message/rfc822\r\nContent-Description: forwarded message\r\n\r\n"
    );
    assert_eq!(
        section(&m, Section::HeaderFields(Some(part(&[2])), names(&["Subject"]))).unwrap(),
        "Subject: Original\r\n\r\n"
    );
    assert_eq!(section(&m, Section::Part(part(&[2, 1]))).unwrap(), "Original text.");
    assert_eq!(
        section(&m, Section::Mime(part(&[2, 1]))).unwrap(),
        "Content-Type: text/plain; charset=us-ascii\r\n\r\n"
    );
    assert_eq!(
        section(&m, Section::Part(part(&[2, 2]))).unwrap(),
        // The line end before "--inner--" belongs to the boundary (RFC 2046 §5.1.1).
        "From: deepest@example.com\r\nSubject: Deepest\r\n\r\nDeepest body."
    );
    assert_eq!(
        section(&m, Section::Header(Some(part(&[2, 2])))).unwrap(),
        "From: deepest@example.com\r\nSubject: Deepest\r\n\r\n"
    );
    assert_eq!(section(&m, Section::Text(Some(part(&[2, 2])))).unwrap(), "Deepest body.");
    // The encapsulated message is not multipart: its part 1 is its body.
    assert_eq!(section(&m, Section::Part(part(&[2, 2, 1]))).unwrap(), "Deepest body.");
    assert_eq!(section(&m, Section::Part(part(&[2, 2, 2]))), None);
    assert_eq!(section(&m, Section::Part(part(&[2, 3]))), None);
    assert_eq!(section(&m, Section::Header(Some(part(&[1])))), None);
    assert_eq!(section(&m, Section::Part(part(&[3]))), None);
    assert!(m.body_contains("deepest body"));
}

#[test]
fn quoted_printable_utf8() {
    let m = load("qp-utf8.eml");
    // ENVELOPE keeps encoded words as they are in the message.
    assert_eq!(
        envelope(&m),
        "ENVELOPE (\"Sat, 8 Mar 2025 14:30:00 +0100\" \"=?UTF-8?Q?Gr=C3=BC=C3=9Fe_aus_K=C3=B6ln?=\" \
         ((\"=?UTF-8?Q?J=C3=B6rg_M=C3=BCller?=\" NIL \"joerg\" \"example.de\")) \
         ((\"=?UTF-8?Q?J=C3=B6rg_M=C3=BCller?=\" NIL \"joerg\" \"example.de\")) \
         ((\"=?UTF-8?Q?J=C3=B6rg_M=C3=BCller?=\" NIL \"joerg\" \"example.de\")) \
         ((\"=?ISO-8859-1?Q?Andr=E9?=\" NIL \"andre\" \"example.fr\")) NIL NIL NIL NIL)"
    );
    assert_eq!(m.subject(), Some("Grüße aus Köln"));
    assert_eq!(m.first_from().unwrap().display(), "Jörg Müller");
    assert_eq!(m.first_to().unwrap().name.as_deref(), Some("André"));
    assert!(m.header_contains("SUBJECT", "GRÜSSE") || m.header_contains("subject", "grüße"));
    assert!(m.header_contains("from", "müller"));
    assert!(m.body_contains("SCHÖNE grüße"));
    assert!(m.body_contains("der umbrochen wird"));
    assert!(m.text_contains("köln"));
    assert_eq!(
        String::from_utf8(m.binary(&path(&[1])).unwrap()).unwrap(),
        "Schöne Grüße aus Köln, und ein sehr langer Satz, der umbrochen wird.\r\n"
    );
}

#[test]
fn group_syntax_and_routes() {
    let m = load("groups.eml");
    assert_eq!(
        envelope(&m),
        "ENVELOPE (\"Sun, 9 Mar 2025 10:00:00 +0000\" \"Groups\" ((\"Doe, John\" NIL \"john.doe\" \"example.com\")) \
         ((NIL NIL \"secretary\" \"example.com\")) ((NIL NIL \"replies\" \"example.com\")) \
         ((NIL NIL \"Team\" NIL)(NIL NIL \"ann\" \"example.com\")(\"Bob B.\" NIL \"bob\" \"example.com\")\
         (NIL NIL NIL NIL)(NIL NIL \"carol\" \"example.com\")) \
         ((NIL NIL \"undisclosed-recipients\" NIL)(NIL NIL NIL NIL)) \
         ((NIL \"@relay.example.net\" \"hidden\" \"example.com\")) NIL NIL)"
    );
    assert_eq!(m.first_to().unwrap().mailbox.as_deref(), Some("ann"));
}

#[test]
fn missing_headers() {
    let m = load("missing-headers.eml");
    assert_eq!(envelope(&m), "ENVELOPE (NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)");
    assert_eq!(section(&m, Section::Header(None)).unwrap(), "X-Mailer: nothing\r\n\r\n");
    assert_eq!(m.sent_date(), None);
    assert_eq!(m.subject_base(), "");
    assert!(m.first_from().is_none());
    let empty = ParsedMessage::parse(b"");
    assert_eq!(envelope(&empty), "ENVELOPE (NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)");
    assert_eq!(
        bodystructure(&empty),
        "BODYSTRUCTURE (\"TEXT\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0 NIL NIL NIL NIL)"
    );
    assert_eq!(empty.section(None).unwrap(), b"");
    assert_eq!(empty.section(Some(&Section::Part(part(&[1])))).unwrap(), b"");
}

#[test]
fn missing_end_boundary() {
    let m = load("missing-end-boundary.eml");
    assert_eq!(
        body(&m),
        "BODY ((\"TEXT\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 10 0)\
         (\"TEXT\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 27 1) \"mixed\")"
    );
    assert_eq!(section(&m, Section::Part(part(&[1]))).unwrap(), "first part");
    assert_eq!(section(&m, Section::Part(part(&[2]))).unwrap(), "second part, never closed\r\n");
}

#[test]
fn bad_base64() {
    let m = load("bad-base64.eml");
    assert!(bodystructure(&m).contains("(\"application\" \"octet-stream\" NIL NIL NIL \"base64\" 28 NIL"));
    assert_eq!(section(&m, Section::Part(part(&[2]))).unwrap(), "!!!! this is not base64 ****");
    assert_eq!(m.binary(&path(&[2])), Err(BinaryError::Corrupt("base64".into())));
    assert_eq!(m.binary(&path(&[1])).unwrap(), b"ok");
}

#[test]
fn nesting_beyond_the_limit_is_a_leaf() {
    let m = load("deep-nesting.eml");
    let mut depth = 0;
    let mut node = m.body_structure();
    while let imap_codec::imap_types::body::BodyStructure::Multi { bodies, .. } = node {
        depth += 1;
        node = bodies.into_inner().pop().unwrap();
    }
    assert_eq!(depth, mailstead_imap::message::MAX_DEPTH);
    let deepest = path(&[2; 20]);
    let leaf = m.section(Some(&Section::Part(Part(Vec1::try_from(deepest).unwrap())))).unwrap();
    let leaf = String::from_utf8(leaf).unwrap();
    assert!(leaf.starts_with("--b20\r\nContent-Type: text/plain\r\n\r\nlevel 20\r\n"));
    assert!(leaf.ends_with("--b20--"));
    assert_eq!(section(&m, Section::Part(part(&[2; 21]))), None);
    assert_eq!(section(&m, Section::Part(part(&[2, 2, 1]))).unwrap(), "level 2");
    assert!(m.body_contains("level 29"));
}

#[test]
fn nul_bytes() {
    let m = load("nul-bytes.eml");
    assert_eq!(m.section(None).unwrap(), raw("nul-bytes.eml"));
    assert_eq!(m.binary(&path(&[1])).unwrap(), b"before\0after\r\n");
    // In an IMAP string NUL becomes 0x80; BINARY uses literal8 and keeps it.
    assert!(envelope(&m).contains(" {8}\r\nNul\u{FFFD}here "));
    let data = mailstead_imap::message::body_nstring(m.section(None).unwrap());
    assert!(!data.into_option().unwrap().contains(&0));
}

#[test]
fn bare_lf_line_ends() {
    let m = load("bare-lf.eml");
    assert_eq!(
        body(&m),
        "BODY ((\"TEXT\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 14 0) \"mixed\")"
    );
    assert_eq!(section(&m, Section::Part(part(&[1]))).unwrap(), "unix line ends");
    assert_eq!(
        section(&m, Section::HeaderFields(None, names(&["subject"]))).unwrap(),
        "Subject: Bare LF\n\r\n"
    );
    assert_eq!(
        section(&m, Section::Header(None)).unwrap(),
        "From: a@example.com\nSubject: Bare LF\nContent-Type: multipart/mixed; boundary=lf\n\n"
    );
}

#[test]
fn encoded_message_rfc822() {
    let m = load("encoded-rfc822.eml");
    assert!(bodystructure(&m).starts_with(
        "BODYSTRUCTURE ((\"MESSAGE\" \"RFC822\" NIL NIL NIL \"base64\" 88 (NIL \"Encoded inner\""
    ));
    let inner = "From: inner@example.com\r\nSubject: Encoded inner\r\n\r\nInner body.\r\n";
    assert_eq!(String::from_utf8(m.binary(&path(&[1])).unwrap()).unwrap(), inner);
    assert_eq!(
        section(&m, Section::Header(Some(part(&[1])))).unwrap(),
        "From: inner@example.com\r\nSubject: Encoded inner\r\n\r\n"
    );
    assert_eq!(section(&m, Section::Part(part(&[1, 1]))).unwrap(), "Inner body.\r\n");
    assert!(section(&m, Section::Part(part(&[1]))).unwrap().starts_with("RnJvbTog"));
}

#[test]
fn binary_transfer_decoding() {
    let m = load("binary-parts.eml");
    assert_eq!(String::from_utf8(m.binary(&path(&[1])).unwrap()).unwrap(), "café = 1");
    assert_eq!(m.binary(&path(&[2])).unwrap(), [0, 1, 2, 3, 0, 255]);
    assert_eq!(m.binary_size(&path(&[2])).unwrap(), 6);
    let unknown = load("unknown-cte.eml");
    assert_eq!(unknown.binary(&path(&[1])), Err(BinaryError::UnknownEncoding("x-uuencode".into())));
    assert_eq!(unknown.binary(&[]).unwrap(), raw("unknown-cte.eml"));
}

#[test]
fn same_envelopes_as_dovecot() {
    // Cases of Dovecot's src/lib-imap/test-imap-envelope.c (taken from imaptest), with CRLF.
    let cases: [(&str, &str); 5] = [
        (
            "Message-ID: <msg@id>\nIn-Reply-To: <reply@to.id>\nDate: Thu, 15 Feb 2007 01:02:03 +0200\n\
             Subject: subject header\nFrom: From Real <fromuser@fromdomain.org>\n\
             To: To Real <touser@todomain.org>\nCc: Cc Real <ccuser@ccdomain.org>\n\
             Bcc: Bcc Real <bccuser@bccdomain.org>\nSender: Sender Real <senderuser@senderdomain.org>\n\
             Reply-To: ReplyTo Real <replytouser@replytodomain.org>\n\nbody\n",
            r#""Thu, 15 Feb 2007 01:02:03 +0200" "subject header" (("From Real" NIL "fromuser" "fromdomain.org")) (("Sender Real" NIL "senderuser" "senderdomain.org")) (("ReplyTo Real" NIL "replytouser" "replytodomain.org")) (("To Real" NIL "touser" "todomain.org")) (("Cc Real" NIL "ccuser" "ccdomain.org")) (("Bcc Real" NIL "bccuser" "bccdomain.org")) "<reply@to.id>" "<msg@id>""#,
        ),
        (
            "Date: Thu, 15 Feb 2007 01:02:03 +0200\nFrom: user@domain\n\nbody\n",
            r#""Thu, 15 Feb 2007 01:02:03 +0200" NIL ((NIL NIL "user" "domain")) ((NIL NIL "user" "domain")) ((NIL NIL "user" "domain")) NIL NIL NIL NIL NIL"#,
        ),
        (
            "Date: Thu, 15 Feb 2007 01:02:03 +0200\nFrom: user@domain (Real Name)\n\
             To: group: g1@d1.org, g2@d2.org;, group2: g3@d3.org;\nCc: group:;, group2: (foo) ;\n\nbody\n",
            r#""Thu, 15 Feb 2007 01:02:03 +0200" NIL (("Real Name" NIL "user" "domain")) (("Real Name" NIL "user" "domain")) (("Real Name" NIL "user" "domain")) ((NIL NIL "group" NIL)(NIL NIL "g1" "d1.org")(NIL NIL "g2" "d2.org")(NIL NIL NIL NIL)(NIL NIL "group2" NIL)(NIL NIL "g3" "d3.org")(NIL NIL NIL NIL)) ((NIL NIL "group" NIL)(NIL NIL NIL NIL)(NIL NIL "group2" NIL)(NIL NIL NIL NIL)) NIL NIL NIL"#,
        ),
        (
            "Date: Thu, 15 Feb 2007 01:02:03 +0200\nFrom: user@domain (Real Name)\nSender: \nReply-To: \n\nbody\n",
            r#""Thu, 15 Feb 2007 01:02:03 +0200" NIL (("Real Name" NIL "user" "domain")) (("Real Name" NIL "user" "domain")) (("Real Name" NIL "user" "domain")) NIL NIL NIL NIL NIL"#,
        ),
        (
            "Date: Thu, 15 Feb 2007 01:02:03 +0200\nFrom: <@route:user@domain>\n\nbody\n",
            r#""Thu, 15 Feb 2007 01:02:03 +0200" NIL ((NIL "@route" "user" "domain")) ((NIL "@route" "user" "domain")) ((NIL "@route" "user" "domain")) NIL NIL NIL NIL NIL"#,
        ),
    ];
    for (message, expected) in cases {
        let m = ParsedMessage::parse(message.replace('\n', "\r\n").as_bytes());
        assert_eq!(envelope(&m), format!("ENVELOPE ({expected})"), "for {message:?}");
    }
}
