//! The local submission socket (`DIR/run/submit.sock`): how `mailstead sendmail` hands a
//! message to the running server, like Postfix's postdrop. The framing, shared by both ends:
//!
//! ```text
//! client: MAILSTEAD-SUBMIT 1\r\n
//!         FROM <sender>\r\n            (empty for <>)
//!         TO <recipient>\r\n           (one per recipient, at least one)
//!         SIZE <n>\r\n
//!         \r\n
//!         <n bytes of message, CRLF line endings>
//! server: <SMTP-style reply line>\r\n  (250 2.0.0 Ok: queued as <id> | 4xx | 5xx)
//! ```
//!
//! Every field is bounded; the server learns the submitting user from the socket's peer
//! credentials, not from anything the client says.

use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncReadExt};

/// The first line of a request.
pub const MAGIC: &str = "MAILSTEAD-SUBMIT 1";
/// The socket's file name inside the run directory.
pub const SOCKET: &str = "submit.sock";
/// Most recipients in one request.
pub const MAX_RECIPIENTS: usize = 1000;
/// Longest header line of a request.
const MAX_LINE: u64 = 1024;

/// One submission.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// Reverse path, `""` for `<>`.
    pub sender: String,
    /// Recipients.
    pub recipients: Vec<String>,
    /// The message.
    pub message: Vec<u8>,
}

impl Request {
    /// The bytes the client sends.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = format!("{MAGIC}\r\nFROM <{}>\r\n", self.sender);
        for r in &self.recipients {
            out.push_str(&format!("TO <{r}>\r\n"));
        }
        out.push_str(&format!("SIZE {}\r\n\r\n", self.message.len()));
        let mut out = out.into_bytes();
        out.extend_from_slice(&self.message);
        out
    }

    /// Reads a request, refusing anything malformed or over `max_size` bytes of message.
    pub async fn read<R: AsyncBufRead + Unpin>(io: &mut R, max_size: usize) -> Result<Request, String> {
        let mut line = String::new();
        let mut next = async |line: &mut String| -> Result<(), String> {
            line.clear();
            let n = (&mut *io).take(MAX_LINE).read_line(line).await.map_err(|e| e.to_string())?;
            if n == 0 || !line.ends_with('\n') {
                return Err("truncated request".into());
            }
            let trimmed = line.trim_end_matches(['\r', '\n']).to_string();
            *line = trimmed;
            Ok(())
        };
        next(&mut line).await?;
        if line != MAGIC {
            return Err("not a submission request".into());
        }
        next(&mut line).await?;
        let sender = bracketed(&line, "FROM ").ok_or("expected FROM <sender>")?;
        let mut recipients = Vec::new();
        loop {
            next(&mut line).await?;
            if let Some(r) = bracketed(&line, "TO ") {
                if r.is_empty() || recipients.len() >= MAX_RECIPIENTS {
                    return Err("empty recipient, or too many recipients".into());
                }
                recipients.push(r);
                continue;
            }
            break;
        }
        let size: usize =
            line.strip_prefix("SIZE ").and_then(|n| n.parse().ok()).ok_or("expected SIZE <bytes>")?;
        if recipients.is_empty() {
            return Err("no recipients".into());
        }
        if size > max_size {
            return Err(format!("message of {size} bytes is over the limit of {max_size}"));
        }
        next(&mut line).await?;
        if !line.is_empty() {
            return Err("expected an empty line before the message".into());
        }
        let mut message = vec![0; size];
        io.read_exact(&mut message).await.map_err(|e| format!("reading the message: {e}"))?;
        Ok(Request { sender, recipients, message })
    }
}

fn bracketed(line: &str, prefix: &str) -> Option<String> {
    let rest = line.strip_prefix(prefix)?.strip_prefix('<')?.strip_suffix('>')?;
    (!rest.contains(['<', '>', '\r', '\n', ' '])).then(|| rest.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn round_trip_and_limits() {
        let req = Request {
            sender: "app@example.test".into(),
            recipients: vec!["a@example.test".into(), "b@remote.test".into()],
            message: b"Subject: x\r\n\r\nbody\r\n".to_vec(),
        };
        let bytes = req.encode();
        let got = Request::read(&mut tokio::io::BufReader::new(&bytes[..]), 1000).await.unwrap();
        assert_eq!(got, req);
        assert!(
            Request::read(&mut tokio::io::BufReader::new(&bytes[..]), 5)
                .await
                .unwrap_err()
                .contains("over the limit")
        );
        let null = Request { sender: String::new(), ..req.clone() };
        assert_eq!(Request::read(&mut &null.encode()[..], 1000).await.unwrap().sender, "");
        for bad in [
            &b"HELLO\r\n"[..],
            b"MAILSTEAD-SUBMIT 1\r\nFROM x\r\n",
            b"MAILSTEAD-SUBMIT 1\r\nFROM <a>\r\nSIZE 1\r\n\r\nx",
        ] {
            assert!(Request::read(&mut &bad[..], 1000).await.is_err(), "{bad:?}");
        }
    }
}
