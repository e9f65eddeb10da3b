//! `mailstead sendmail` — and the binary itself when it is invoked as `sendmail` — the
//! command-line interface of Sendmail and Postfix that applications use to send mail:
//!
//! ```text
//! sendmail [-t] [-i | -oi] [-f sender] [-F "Full Name"] [--data DIR] [recipient ...]
//! ```
//!
//! The message is read from standard input (a line with a single `.` ends it unless `-i`/`-oi`
//! is given), line endings become CRLF, `-t` takes the recipients from `To:`, `Cc:` and `Bcc:`
//! (and removes `Bcc:`), and a `From:` is added when missing. It is handed to the running
//! server through the local submission socket, which queues it like submitted mail. The exit
//! status follows sysexits(3): 0 sent to the queue, 75 try later (server down or 4xx), 65
//! refused (5xx), 64 bad usage, 66 no input.

use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

use mailstead_smtp::headers::{first_header, remove_fields};

use crate::local_submit::{Request, SOCKET};

/// EX_USAGE, EX_DATAERR, EX_NOINPUT, EX_TEMPFAIL.
const EX_USAGE: u8 = 64;
const EX_DATAERR: u8 = 65;
const EX_NOINPUT: u8 = 66;
const EX_TEMPFAIL: u8 = 75;

/// Largest message read from standard input.
const MAX_MESSAGE: usize = 64 * 1024 * 1024;

/// A parsed command line.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Invocation {
    /// `-f`/`-r`: the envelope sender.
    pub sender: Option<String>,
    /// `-F`: the sender's full name (for an added `From:`).
    pub full_name: Option<String>,
    /// `-t`: recipients from the header.
    pub from_headers: bool,
    /// Without `-i`/`-oi`, a line with only `.` ends the message.
    pub dot_ends: bool,
    /// Recipients on the command line.
    pub recipients: Vec<String>,
    /// `--data DIR` (else `$MAILSTEAD_DATA`, else `/var/lib/mailstead`).
    pub data: Option<PathBuf>,
}

/// Parses sendmail's arguments (without the program name). Options that only tune Sendmail's
/// own behaviour (`-oem`, `-odb`, `-v`, …) are accepted and ignored, as Postfix does.
pub fn parse(args: &[String]) -> Result<Invocation, String> {
    let mut inv = Invocation { dot_ends: true, ..Invocation::default() };
    let mut i = 0;
    let value = |i: &mut usize, inline: &str, flag: &str| -> Result<String, String> {
        if !inline.is_empty() {
            return Ok(inline.to_string());
        }
        *i += 1;
        args.get(*i).cloned().ok_or_else(|| format!("{flag} needs a value"))
    };
    while i < args.len() {
        let arg = args[i].as_str();
        match arg {
            "--" => {
                inv.recipients.extend(args[i + 1..].iter().cloned());
                break;
            }
            "-t" => inv.from_headers = true,
            "-i" | "-oi" => inv.dot_ends = false,
            "--data" => inv.data = Some(PathBuf::from(value(&mut i, "", "--data")?)),
            "-bs" => {
                return Err("-bs (SMTP on standard input) is not supported: use the submission port".into());
            }
            "-bp" | "-q" => {
                return Err(format!("{arg}: use `mailstead queue list` / `mailstead queue retry --all`"));
            }
            a if a.starts_with("--data=") => inv.data = Some(PathBuf::from(&a["--data=".len()..])),
            a if a.starts_with("-f") || a.starts_with("-r") => {
                inv.sender = Some(value(&mut i, &a[2..], &a[..2])?)
            }
            a if a.starts_with("-F") => inv.full_name = Some(value(&mut i, &a[2..], "-F")?),
            a if a.starts_with("-o")
                || a.starts_with("-d")
                || a == "-v"
                || a == "-bm"
                || a == "-em"
                || a == "-U" =>
            {
                // -oX options with a separate value (e.g. `-o Opt value`) are rare; Postfix ignores them too.
            }
            a if a.starts_with('-') && a.len() > 1 => return Err(format!("unknown option {a}")),
            a => inv.recipients.push(a.to_string()),
        }
        i += 1;
    }
    Ok(inv)
}

/// Reads the message: LF or CRLF lines to CRLF; a lone `.` line ends it when `dot_ends`.
pub fn read_message(input: &[u8], dot_ends: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len() + input.len() / 40);
    for line in input.split_inclusive(|b| *b == b'\n') {
        let content = line.strip_suffix(b"\n").unwrap_or(line);
        let content = content.strip_suffix(b"\r").unwrap_or(content);
        if dot_ends && content == b"." {
            break;
        }
        out.extend_from_slice(content);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// With `-t`: the addresses of `To:`, `Cc:` and `Bcc:` (parsed by mail-parser: quoted names,
/// groups, several fields), and the message without `Bcc:`.
pub fn header_recipients(message: &[u8]) -> (Vec<String>, Vec<u8>) {
    let mut recipients = Vec::new();
    if let Some(parsed) = mail_parser::MessageParser::default().parse_headers(message) {
        let lists = parsed.all_to().chain(parsed.all_cc()).chain(parsed.all_bcc());
        for address in lists.flat_map(|list| list.iter()).filter_map(|a| a.address()) {
            recipients.push(address.to_string());
        }
    }
    let kept = remove_fields(message, |name, _| name.eq_ignore_ascii_case("bcc"))
        .unwrap_or_else(|| message.to_vec());
    (recipients, kept)
}

/// Adds `From:` (from the sender and `-F`) when the message has none.
fn with_from(message: Vec<u8>, sender: &str, full_name: Option<&str>) -> Vec<u8> {
    let head_len = message.windows(4).position(|w| w == b"\r\n\r\n").map_or(0, |i| i + 2);
    if (head_len > 0 && first_header(&message, "from").is_some()) || sender.is_empty() {
        return message;
    }
    let from = match full_name {
        Some(name) => format!("From: \"{}\" <{sender}>\r\n", name.replace(['"', '\r', '\n'], "")),
        None => format!("From: {sender}\r\n"),
    };
    let mut out = from.into_bytes();
    if head_len == 0 {
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(&message);
    out
}

/// Runs sendmail with `args` (without the program name).
pub fn main(args: &[String]) -> ExitCode {
    let fail = |code: u8, msg: &str| {
        eprintln!("sendmail: {msg}");
        ExitCode::from(code)
    };
    let inv = match parse(args) {
        Ok(inv) => inv,
        Err(e) => return fail(EX_USAGE, &e),
    };
    let mut input = Vec::new();
    if let Err(e) = std::io::stdin().take(MAX_MESSAGE as u64 + 1).read_to_end(&mut input) {
        return fail(EX_NOINPUT, &format!("cannot read the message: {e}"));
    }
    if input.len() > MAX_MESSAGE {
        return fail(EX_DATAERR, "the message is larger than 64 MiB");
    }
    let mut message = read_message(&input, inv.dot_ends);
    let mut recipients = inv.recipients.clone();
    if inv.from_headers {
        let (found, kept) = header_recipients(&message);
        recipients.extend(found);
        message = kept;
    }
    if recipients.is_empty() {
        return fail(EX_USAGE, "no recipients (give them as arguments, or use -t)");
    }
    let user = std::env::var("USER").or_else(|_| std::env::var("LOGNAME")).unwrap_or_else(|_| "root".into());
    let data = inv
        .data
        .clone()
        .or_else(|| std::env::var_os("MAILSTEAD_DATA").map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from("/var/lib/mailstead"));
    let hostname = crate::config::Config::load(&crate::config::Config::file_path(&data))
        .map(|c| c.server.hostname)
        .unwrap_or_else(|_| "localhost".into());
    let sender = inv.sender.clone().unwrap_or_else(|| format!("{user}@{hostname}"));
    let sender = if sender == "<>" { String::new() } else { sender };
    let message = with_from(message, &sender, inv.full_name.as_deref());
    let request = Request { sender, recipients, message };
    let socket = data.join("run").join(SOCKET);
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => return fail(EX_TEMPFAIL, &format!("cannot start: {e}")),
    };
    let reply = runtime.block_on(async {
        let stream = tokio::net::UnixStream::connect(&socket).await.map_err(|e| {
            format!(
                "cannot reach the mail server at {}: {e} (is `mailstead serve` running?)",
                socket.display()
            )
        })?;
        let (r, mut w) = stream.into_split();
        w.write_all(&request.encode()).await.map_err(|e| format!("sending the message: {e}"))?;
        let mut reply = String::new();
        BufReader::new(r).read_line(&mut reply).await.map_err(|e| format!("reading the reply: {e}"))?;
        Ok::<String, String>(reply.trim_end().to_string())
    });
    match reply {
        Ok(r) if r.starts_with('2') => ExitCode::SUCCESS,
        Ok(r) if r.starts_with('5') => fail(EX_DATAERR, &format!("refused: {r}")),
        Ok(r) if r.is_empty() => fail(EX_TEMPFAIL, "the server closed the connection without a reply"),
        Ok(r) => fail(EX_TEMPFAIL, &format!("not accepted now, try later: {r}")),
        Err(e) => fail(EX_TEMPFAIL, &e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &[&str]) -> Vec<String> {
        s.iter().map(|a| a.to_string()).collect()
    }

    #[test]
    fn parses_the_usual_command_lines() {
        let inv = parse(&args(&["-t", "-i", "-f", "app@example.test", "-F", "The App", "x@y.test"])).unwrap();
        assert!(inv.from_headers && !inv.dot_ends);
        assert_eq!(inv.sender.as_deref(), Some("app@example.test"));
        assert_eq!(inv.full_name.as_deref(), Some("The App"));
        assert_eq!(inv.recipients, ["x@y.test"]);
        let inv =
            parse(&args(&["-oi", "-fapp@example.test", "-oem", "-odb", "--", "-weird@y.test"])).unwrap();
        assert_eq!((inv.sender.as_deref(), inv.dot_ends), (Some("app@example.test"), false));
        assert_eq!(inv.recipients, ["-weird@y.test"]);
        assert!(parse(&args(&["-bs"])).is_err());
        assert!(parse(&args(&["-Z"])).is_err());
        assert!(parse(&args(&["-f"])).is_err());
    }

    #[test]
    fn message_lines_dots_and_headers() {
        assert_eq!(read_message(b"Subject: a\n\nline\n.\nafter\n", true), b"Subject: a\r\n\r\nline\r\n");
        assert_eq!(read_message(b"a\r\n.\r\nb", false), b"a\r\n.\r\nb\r\n");
        let m = read_message(b"To: A <a@x.test>, b@y.test\nCc: \"C\" <c@z.test>\nBcc: hidden@w.test,\n  also@w.test\nSubject: s\n\nbody\nBcc: not@header.test\n", false);
        let (rcpts, kept) = header_recipients(&m);
        assert_eq!(rcpts, ["a@x.test", "b@y.test", "c@z.test", "hidden@w.test", "also@w.test"]);
        let (rcpts, _) =
            header_recipients(b"To: \"Doe, John\" <john@x.test>, Team: a@y.test, b@y.test;\r\n\r\n");
        assert_eq!(rcpts, ["john@x.test", "a@y.test", "b@y.test"]);
        let kept = String::from_utf8(kept).unwrap();
        assert!(!kept.contains("hidden") && !kept.contains("also@w.test"), "{kept}");
        assert!(kept.contains("Subject: s\r\n\r\nbody\r\nBcc: not@header.test\r\n"), "{kept}");
        let with = String::from_utf8(with_from(
            b"Subject: s\r\n\r\nb\r\n".to_vec(),
            "app@example.test",
            Some("The App"),
        ))
        .unwrap();
        assert!(with.starts_with("From: \"The App\" <app@example.test>\r\nSubject: s"), "{with}");
        let kept = with_from(b"From: me@x.test\r\n\r\nb\r\n".to_vec(), "app@example.test", None);
        assert_eq!(kept, b"From: me@x.test\r\n\r\nb\r\n");
    }
}
