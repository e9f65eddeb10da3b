//! FETCH and UID FETCH (RFC 9051 §6.4.5), with BINARY (RFC 3516), CONDSTORE's CHANGEDSINCE and
//! MODSEQ (RFC 7162 §3.1.4) and QRESYNC's VANISHED modifier (RFC 7162 §3.2.6).
//!
//! Message bytes are read (and parsed) only when an item needs them; FLAGS/UID/size/date come
//! from the view. A non-PEEK body fetch in a read-write mailbox sets `\Seen` first, in one
//! store write for the whole set, and then reports the new FLAGS with the data.

use std::num::{NonZeroU32, NonZeroU64};

use imap_types::command::FetchModifier;
use imap_types::core::Vec1;
use imap_types::fetch::{MacroOrMessageDataItemNames, MessageDataItem, MessageDataItemName};
use imap_types::response::{Data, Response};
use imap_types::sequence::SequenceSet;

use imap_codec::ResponseCodec;
use imap_codec::encode::Encoder;
use mailstead_store::model::{BlobId, CachedFetch, FlagOp, FlagUpdate, MessageData, MessageEntry};
use mailstead_types::{Flag, Flags};

use crate::flags::to_fetch_flags;
use crate::message::{ParsedMessage, apply_partial, binary_nstring8, body_nstring};
use crate::selected::set_text;
use crate::session::{Done, Session, State, code};

/// FETCH / UID FETCH.
pub async fn run(
    s: &mut Session<'_>,
    set: &SequenceSet,
    names: &MacroOrMessageDataItemNames<'_>,
    uid: bool,
    modifiers: &[FetchModifier],
) -> Done {
    let mut items: Vec<MessageDataItemName<'_>> = match names {
        MacroOrMessageDataItemNames::Macro(m) => m.expand(),
        MacroOrMessageDataItemNames::MessageDataItemNames(v) => v.clone(),
    };
    let mut changed_since = None;
    let mut vanished = false;
    for m in modifiers {
        match m {
            FetchModifier::ChangedSince(v) => changed_since = Some(v.get()),
            FetchModifier::Vanished => vanished = true,
        }
    }
    if vanished && (!uid || !s.reporting.qresync || changed_since.is_none()) {
        // RFC 7162 §3.2.6: VANISHED needs UID FETCH, QRESYNC and CHANGEDSINCE.
        return Done::bad("VANISHED needs UID FETCH with CHANGEDSINCE after ENABLE QRESYNC");
    }
    if changed_since.is_some() || items.iter().any(|i| matches!(i, MessageDataItemName::ModSeq)) {
        s.reporting.condstore = true;
    }
    let with_modseq =
        s.reporting.condstore && (changed_since.is_some() || items.contains(&MessageDataItemName::ModSeq));
    if uid && !items.contains(&MessageDataItemName::Uid) {
        items.insert(0, MessageDataItemName::Uid);
    }
    let State::Selected(_, selected) = &mut s.state else { return Done::bad("No mailbox selected") };
    if !uid && selected.seq_out_of_range(set) {
        return Done::bad("Invalid message sequence number");
    }
    let mut indices = selected.resolve(set, uid);
    if let Some(since) = changed_since {
        indices.retain(|&i| selected.messages[i].modseq > since);
    }
    if vanished && let Some(since) = changed_since {
        let (id, max) = (selected.id, selected.max_uid());
        match s.server.store.changes_since(id, since).await {
            Ok(changes) => {
                let mut gone: Vec<u32> = changes
                    .vanished
                    .into_iter()
                    .filter(|u| crate::commands::select::set_contains(set, *u, max.max(*u)))
                    .collect();
                gone.sort_unstable();
                gone.dedup();
                if !gone.is_empty() {
                    s.conn.send_line(&format!("* VANISHED (EARLIER) {}", set_text(&gone)));
                }
            }
            Err(e) => return Done::store_error(&e),
        }
    }
    let needs_bytes = items.iter().any(needs_content);
    let sets_seen = items.iter().any(|i| match i {
        MessageDataItemName::BodyExt { peek, .. } | MessageDataItemName::Binary { peek, .. } => !peek,
        MessageDataItemName::Rfc822 | MessageDataItemName::Rfc822Text => true,
        _ => false,
    });

    // Implicit \Seen first (RFC 9051 §6.4.5), so the data and the new flags go out together.
    let mut seen_now = Vec::new();
    if sets_seen && !selected_read_only(s) {
        let State::Selected(_, selected) = &s.state else { return Done::bad("No mailbox selected") };
        let unseen: Vec<u32> = indices
            .iter()
            .map(|&i| &selected.messages[i])
            .filter(|m| !m.flags.contains(Flag::Seen))
            .map(|m| m.uid)
            .collect();
        if !unseen.is_empty() {
            let update = FlagUpdate {
                op: FlagOp::Add,
                flags: Flags::EMPTY.with(Flag::Seen),
                keywords: vec![],
                unchanged_since: None,
            };
            let id = selected.id;
            match s.server.store.update_flags(id, unseen, update).await {
                Ok(result) => {
                    let State::Selected(_, selected) = &mut s.state else {
                        return Done::bad("No mailbox selected");
                    };
                    for entry in result.changed {
                        if let Some(i) = selected.index_of(entry.uid) {
                            seen_now.push(entry.uid);
                            selected.messages_mut()[i] = entry;
                        }
                    }
                }
                Err(e) => return Done::store_error(&e),
            }
        }
    }

    let wants_cache =
        items.iter().any(|i| matches!(i, MessageDataItemName::Envelope | MessageDataItemName::BodyStructure));
    // Whether the cache can stand in for the bytes (no other item needs them).
    let cache_suffices = items.iter().all(|i| {
        !needs_content(i) || matches!(i, MessageDataItemName::Envelope | MessageDataItemName::BodyStructure)
    });
    let store = s.server.store.clone();
    let mut failure = None;
    for chunk in indices.chunks(BATCH) {
        let State::Selected(_, selected) = &s.state else { break };
        let entries: Vec<(usize, MessageEntry)> =
            chunk.iter().filter_map(|&i| selected.messages.get(i).cloned().map(|e| (i, e))).collect();
        let blobs: Vec<BlobId> = entries.iter().map(|(_, e)| e.blob.clone()).collect();
        let cached = if wants_cache {
            store.fetch_cache(blobs.clone()).await.unwrap_or_else(|e| {
                tracing::warn!(error = %e, "imap: FETCH cache unreadable");
                vec![None; blobs.len()]
            })
        } else {
            vec![None; blobs.len()]
        };
        let read: Vec<bool> =
            cached.iter().map(|c| needs_bytes && !(cache_suffices && c.is_some())).collect();
        let wanted: Vec<BlobId> =
            blobs.iter().zip(&read).filter(|(_, r)| **r).map(|(b, _)| b.clone()).collect();
        let mut bytes = if wanted.is_empty() {
            Vec::new()
        } else {
            match store.read_messages(wanted).await {
                Ok(b) => b,
                Err(e) => return Done::store_error(&e),
            }
        }
        .into_iter();
        let slots: Vec<Slot> = cached
            .into_iter()
            .zip(read)
            .map(
                |(cached, read)| {
                    if read { Slot::Bytes(bytes.next(), cached) } else { Slot::Ready(None, cached, false) }
                },
            )
            .collect();
        let slots = prepare(slots, wants_cache).await;
        let mut fresh = Vec::new();
        for ((i, entry), slot) in entries.into_iter().zip(slots) {
            let (parsed, cached) = match slot {
                Slot::Ready(parsed, cached, is_new) => {
                    if is_new && let Some(c) = &cached {
                        fresh.push((entry.blob.clone(), c.clone()));
                    }
                    (parsed, cached)
                }
                Slot::Bytes(Some(Err(e)), _) => {
                    tracing::warn!(uid = entry.uid, error = %e, "imap: cannot read message");
                    failure = Some(Done::no("Some messages could not be read").with(code("UNAVAILABLE")));
                    continue;
                }
                Slot::Bytes(..) => continue,
            };
            let add_flags = seen_now.contains(&entry.uid) && !items.contains(&MessageDataItemName::Flags);
            match render(i, &entry, &items, parsed.as_deref(), cached.as_ref(), with_modseq, add_flags) {
                Ok(line) => s.conn.out.extend_from_slice(&line),
                Err(done) => failure = Some(done),
            }
            if s.conn.flush_if_large().await.is_err() {
                return Done::no("Connection failed");
            }
        }
        if !fresh.is_empty() {
            // A cache write: nobody waits for its fsync.
            let store = store.clone();
            tokio::spawn(async move {
                if let Err(e) = store.put_fetch_cache(fresh).await {
                    tracing::warn!(error = %e, "imap: FETCH cache not written");
                }
            });
        }
    }
    failure.unwrap_or_else(|| Done::ok(if uid { "UID FETCH completed" } else { "FETCH completed" }))
}

/// Messages handled per store round trip.
const BATCH: usize = 128;

/// One message of a batch on its way to being rendered.
enum Slot {
    /// Bytes read (or not), parse pending; the cached data if any.
    Bytes(Option<mailstead_store::Result<MessageData>>, Option<CachedFetch>),
    /// Parsed (when needed) and cached data; `true` when the cached data is new.
    Ready(Option<Box<ParsedMessage>>, Option<CachedFetch>, bool),
}

/// Parses the messages whose bytes were read, and computes their cache entries, on two
/// blocking threads (parsing is the costly part of a cold FETCH).
async fn prepare(mut slots: Vec<Slot>, wants_cache: bool) -> Vec<Slot> {
    let work = |part: Vec<Slot>| {
        tokio::task::spawn_blocking(move || {
            part.into_iter().map(|slot| parse_slot(slot, wants_cache)).collect::<Vec<_>>()
        })
    };
    let second = slots.split_off(slots.len() / 2);
    let (a, b) = tokio::join!(work(slots), work(second));
    let mut out = a.unwrap_or_default();
    out.extend(b.unwrap_or_default());
    out
}

fn parse_slot(slot: Slot, wants_cache: bool) -> Slot {
    match slot {
        Slot::Bytes(Some(Ok(data)), cached) => {
            let parsed = Box::new(ParsedMessage::parse(&data));
            match cached {
                Some(c) => Slot::Ready(Some(parsed), Some(c), false),
                None if wants_cache => {
                    let c = CachedFetch {
                        envelope: value_bytes(MessageDataItem::Envelope(parsed.envelope()), b"ENVELOPE "),
                        body_structure: value_bytes(
                            MessageDataItem::BodyStructure(parsed.body_structure()),
                            b"BODYSTRUCTURE ",
                        ),
                    };
                    Slot::Ready(Some(parsed), Some(c), true)
                }
                None => Slot::Ready(Some(parsed), None, false),
            }
        }
        other => other,
    }
}

/// One `* n FETCH (...)` line: cached ENVELOPE/BODYSTRUCTURE as stored, the rest encoded.
fn render(
    index: usize,
    entry: &MessageEntry,
    items: &[MessageDataItemName<'_>],
    message: Option<&ParsedMessage>,
    cached: Option<&CachedFetch>,
    with_modseq: bool,
    add_flags: bool,
) -> Result<Vec<u8>, Done> {
    use MessageDataItemName as I;
    let mut parts: Vec<Vec<u8>> = Vec::with_capacity(items.len() + 2);
    for item in items {
        match (item, cached) {
            (I::Envelope, Some(c)) => parts.push([b"ENVELOPE ".as_slice(), &c.envelope].concat()),
            (I::BodyStructure, Some(c)) => {
                parts.push([b"BODYSTRUCTURE ".as_slice(), &c.body_structure].concat())
            }
            _ => {
                for data in build(entry, std::slice::from_ref(item), message, false, false)? {
                    parts.push(item_bytes(data));
                }
            }
        }
    }
    for data in build(entry, &[], message, with_modseq && !items.contains(&I::ModSeq), add_flags)? {
        parts.push(item_bytes(data));
    }
    let mut line = format!("* {} FETCH (", index + 1).into_bytes();
    line.extend_from_slice(&parts.join(&b' '));
    line.extend_from_slice(b")\r\n");
    Ok(line)
}

/// One data item as IMAP bytes (`FLAGS (\\Seen)`, `BODY[] {12}\r\n...`).
fn item_bytes(item: MessageDataItem<'static>) -> Vec<u8> {
    let response = Response::Data(Data::Fetch { seq: NonZeroU32::MIN, items: Vec1::from(item) });
    let bytes = ResponseCodec::default().encode(&response).dump();
    let inner = bytes.strip_prefix(b"* 1 FETCH (".as_slice()).unwrap_or(&bytes);
    inner.strip_suffix(b")\r\n".as_slice()).unwrap_or(inner).to_vec()
}

/// The FETCH cache entry of a message: its ENVELOPE and BODYSTRUCTURE values as IMAP bytes.
pub fn cache_entry(parsed: &ParsedMessage) -> CachedFetch {
    CachedFetch {
        envelope: value_bytes(MessageDataItem::Envelope(parsed.envelope()), b"ENVELOPE "),
        body_structure: value_bytes(
            MessageDataItem::BodyStructure(parsed.body_structure()),
            b"BODYSTRUCTURE ",
        ),
    }
}

/// An item's value without its name (what the cache keeps).
fn value_bytes(item: MessageDataItem<'static>, name: &[u8]) -> Vec<u8> {
    let bytes = item_bytes(item);
    bytes.strip_prefix(name).map(<[u8]>::to_vec).unwrap_or(bytes)
}

fn selected_read_only(s: &Session<'_>) -> bool {
    matches!(&s.state, State::Selected(_, sel) if sel.read_only)
}

/// Whether an item needs the message bytes.
fn needs_content(item: &MessageDataItemName<'_>) -> bool {
    use MessageDataItemName as I;
    !matches!(item, I::Flags | I::InternalDate | I::Rfc822Size | I::Uid | I::ModSeq)
}

/// The data items for one message.
fn build(
    entry: &MessageEntry,
    items: &[MessageDataItemName<'_>],
    message: Option<&ParsedMessage>,
    with_modseq: bool,
    add_flags: bool,
) -> Result<Vec<MessageDataItem<'static>>, Done> {
    use MessageDataItemName as I;
    let mut out = Vec::with_capacity(items.len() + 2);
    let missing = || Done::no("Message data unavailable").with(code("SERVERBUG"));
    for item in items {
        let data = match item {
            I::Uid => match NonZeroU32::new(entry.uid) {
                Some(uid) => MessageDataItem::Uid(uid),
                None => continue,
            },
            I::Flags => MessageDataItem::Flags(to_fetch_flags(entry.flags, &entry.keywords)),
            I::InternalDate => MessageDataItem::InternalDate(internal_date(entry.internal_date)),
            I::Rfc822Size => MessageDataItem::Rfc822Size(u32::try_from(entry.size).unwrap_or(u32::MAX)),
            I::ModSeq => match NonZeroU64::new(entry.modseq.max(1)) {
                Some(m) => MessageDataItem::ModSeq(m),
                None => continue,
            },
            I::Envelope => MessageDataItem::Envelope(message.ok_or_else(missing)?.envelope()),
            I::Body => MessageDataItem::Body(message.ok_or_else(missing)?.body()),
            I::BodyStructure => MessageDataItem::BodyStructure(message.ok_or_else(missing)?.body_structure()),
            I::Rfc822 => MessageDataItem::Rfc822(body_nstring(message.ok_or_else(missing)?.raw().to_vec())),
            I::Rfc822Header => {
                MessageDataItem::Rfc822Header(body_nstring(message.ok_or_else(missing)?.header().to_vec()))
            }
            I::Rfc822Text => {
                MessageDataItem::Rfc822Text(body_nstring(message.ok_or_else(missing)?.text().to_vec()))
            }
            I::BodyExt { section, partial, .. } => {
                let m = message.ok_or_else(missing)?;
                let bytes = m.section(section.as_ref()).unwrap_or_default();
                let data = apply_partial(&bytes, *partial).to_vec();
                MessageDataItem::BodyExt {
                    section: section.clone().map(imap_types::IntoStatic::into_static),
                    origin: partial.map(|(start, _)| start),
                    data: body_nstring(data),
                }
            }
            I::Binary { section, partial, .. } => {
                let m = message.ok_or_else(missing)?;
                let bytes = m
                    .binary(section)
                    .map_err(|e| Done::no(e.to_string()).with(imap_types::response::Code::UnknownCte))?;
                let data = apply_partial(&bytes, *partial).to_vec();
                MessageDataItem::Binary { section: section.clone(), value: binary_nstring8(data) }
            }
            I::BinarySize { section } => {
                let m = message.ok_or_else(missing)?;
                let size = m
                    .binary_size(section)
                    .map_err(|e| Done::no(e.to_string()).with(imap_types::response::Code::UnknownCte))?;
                MessageDataItem::BinarySize { section: section.clone(), size }
            }
        };
        out.push(data);
    }
    if add_flags {
        out.push(MessageDataItem::Flags(to_fetch_flags(entry.flags, &entry.keywords)));
    }
    if with_modseq
        && !items.contains(&I::ModSeq)
        && let Some(m) = NonZeroU64::new(entry.modseq.max(1))
    {
        out.push(MessageDataItem::ModSeq(m));
    }
    Ok(out)
}

/// INTERNALDATE as imap-types wants it (UTC).
pub fn internal_date(ts: i64) -> imap_types::datetime::DateTime {
    let dt = chrono::DateTime::from_timestamp(ts, 0).unwrap_or_default().fixed_offset();
    imap_types::datetime::DateTime::try_from(dt).unwrap_or_else(|_| {
        imap_types::datetime::DateTime::unvalidated(chrono::DateTime::UNIX_EPOCH.fixed_offset())
    })
}
