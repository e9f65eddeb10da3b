//! The mail log's lines: `2026-12-02T03:28:17.204239Z  INFO <message> key=value`, one per event
//! of target `mail`, appended to the shared buffer of [`crate::log_buffer`].
//!
//! The same layout as tracing-subscriber's text formatter, written directly: that formatter
//! escaped the message one character at a time through two layers of `fmt::Write` and built the
//! timestamp field by field, four hundredths of the server's instructions per delivery at 1 KiB
//! messages for two lines. Here the date part of the timestamp is formatted once per second
//! per thread, and a message is scanned once for control characters (none, nearly always) and
//! copied whole. A control character (a line break a client smuggled into an address, an
//! escape sequence) is written as `\u{..}`, so one event stays one line and a terminal showing
//! the log never interprets it.

use std::cell::RefCell;
use std::fmt::Write as _;
use std::time::{SystemTime, UNIX_EPOCH};

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::Layer;
use tracing_subscriber::layer::Context;

use crate::log_buffer::BufferedFile;

/// Formats `mail` events into the mail log.
pub struct MailLogLayer {
    out: BufferedFile,
}

impl MailLogLayer {
    /// A layer appending to `out`.
    pub fn new(out: BufferedFile) -> MailLogLayer {
        MailLogLayer { out }
    }
}

impl<S: Subscriber> Layer<S> for MailLogLayer {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let mut line = String::with_capacity(192);
        push_timestamp(&mut line, SystemTime::now());
        line.push_str(level_column(event.metadata().level()));
        event.record(&mut LineVisitor { line: &mut line, text: String::new() });
        line.push('\n');
        self.out.append(line.as_bytes());
    }
}

/// The level as the text formatter aligns it, between single spaces.
fn level_column(level: &Level) -> &'static str {
    match *level {
        Level::ERROR => " ERROR ",
        Level::WARN => "  WARN ",
        Level::INFO => "  INFO ",
        Level::DEBUG => " DEBUG ",
        Level::TRACE => " TRACE ",
    }
}

/// `YYYY-MM-DDTHH:MM:SS.uuuuuuZ` in UTC; the part up to the seconds is reused within a second.
fn push_timestamp(line: &mut String, now: SystemTime) {
    thread_local! {
        static SECOND: RefCell<(u64, String)> = const { RefCell::new((u64::MAX, String::new())) };
    }
    let since = now.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs();
    SECOND.with(|cached| {
        let mut cached = cached.borrow_mut();
        if cached.0 != secs {
            let (year, month, day) = mailstead_types::utc_date(secs as i64);
            let of_day = secs % 86_400;
            cached.1.clear();
            let _ = write!(
                cached.1,
                "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}",
                of_day / 3600,
                of_day % 3600 / 60,
                of_day % 60
            );
            cached.0 = secs;
        }
        line.push_str(&cached.1);
    });
    let _ = write!(line, ".{:06}Z", since.subsec_micros());
}

/// Writes the message, then each other field as ` name=value`.
struct LineVisitor<'a> {
    line: &'a mut String,
    /// Scratch for a value that is formatted before it is copied in.
    text: String,
}

impl LineVisitor<'_> {
    fn push_field(&mut self, field: &Field, value: &str) {
        if field.name() != "message" {
            self.line.push(' ');
            self.line.push_str(field.name());
            self.line.push('=');
        }
        push_escaped(self.line, value);
    }
}

impl Visit for LineVisitor<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.push_field(field, value);
        } else {
            self.record_debug(field, &value);
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        let mut text = std::mem::take(&mut self.text);
        text.clear();
        let _ = write!(text, "{value:?}");
        self.push_field(field, &text);
        self.text = text;
    }
}

/// Appends `text`, each control character other than a tab as `\u{..}`.
fn push_escaped(line: &mut String, text: &str) {
    if !text.bytes().any(|b| (b < 0x20 && b != b'\t') || b == 0x7f) {
        line.push_str(text);
        return;
    }
    for c in text.chars() {
        if c.is_control() && c != '\t' {
            let _ = write!(line, "{}", c.escape_unicode());
        } else {
            line.push(c);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;
    use tracing_subscriber::layer::SubscriberExt;

    #[test]
    fn timestamps_are_rfc3339_utc_with_microseconds() {
        let mut line = String::new();
        push_timestamp(&mut line, UNIX_EPOCH + Duration::new(1_796_181_035, 204_239_999));
        assert_eq!(line, "2026-12-02T03:10:35.204239Z");
        // The same second reuses the cached date; the next one does not.
        line.clear();
        push_timestamp(&mut line, UNIX_EPOCH + Duration::new(1_796_181_035, 7_000));
        assert_eq!(line, "2026-12-02T03:10:35.000007Z");
        line.clear();
        push_timestamp(&mut line, UNIX_EPOCH + Duration::new(1_796_256_000, 0));
        assert_eq!(line, "2026-12-03T00:00:00.000000Z");
    }

    #[test]
    fn control_characters_are_escaped_and_others_kept() {
        let mut line = String::new();
        push_escaped(&mut line, "to=<a@b>\tok");
        assert_eq!(line, "to=<a@b>\tok");
        line.clear();
        push_escaped(&mut line, "x\r\nFAKE\u{1b}[31m é");
        assert_eq!(line, "x\\u{d}\\u{a}FAKE\\u{1b}[31m é");
    }

    #[test]
    fn events_become_one_line_each_with_level_message_and_fields() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("mail.log");
        let file = std::fs::OpenOptions::new().create(true).append(true).open(&path).expect("open");
        let (out, guard) = BufferedFile::start(file).expect("start");
        let subscriber = tracing_subscriber::registry().with(MailLogLayer::new(out));
        tracing::subscriber::with_default(subscriber, || {
            tracing::info!(target: "mail", "Q1: to=<{}>, status=delivered", "u@example.test");
            tracing::warn!(target: "mail", error = %"disk full", "Q2: deferred\nnext");
        });
        drop(guard);
        let text = std::fs::read_to_string(&path).expect("read");
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2, "{text}");
        assert_eq!(&lines[0][10..11], "T");
        assert!(lines[0].ends_with("Z  INFO Q1: to=<u@example.test>, status=delivered"), "{}", lines[0]);
        assert!(lines[1].ends_with("Z  WARN Q2: deferred\\u{a}next error=disk full"), "{}", lines[1]);
    }
}
