//! An SMTP server that stores nothing, for `bench/smtp.sh`: it measures how fast the load tool
//! (`smtp-source`) can go on this machine, so the benchmark can show what bounds its figures.
//!
//! Postfix's own `smtp-sink` is one process reading through small buffers; at 100 KiB it
//! spends about 0.6 ms of CPU per message and becomes the bottleneck itself. This sink does
//! the least a server can: a pool of threads blocked in `accept` (no spawn per connection),
//! 256 KiB reads, the end of DATA found with one scan per read, and one fixed reply per
//! command. Std only, built by the script with `rustc -O`. Usage: `null_sink ADDR THREADS`.

use std::io::{self, BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;

const READ_BUFFER: usize = 256 * 1024;
const END_OF_DATA: &[u8] = b"\r\n.\r\n";

fn main() -> io::Result<()> {
    let mut args = std::env::args().skip(1);
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:2525".into());
    let threads: usize = args.next().and_then(|t| t.parse().ok()).unwrap_or(64);
    let listener = Arc::new(TcpListener::bind(&addr)?);
    let pool: Vec<_> = (0..threads)
        .map(|_| {
            let listener = Arc::clone(&listener);
            std::thread::spawn(move || {
                loop {
                    if let Ok((stream, _)) = listener.accept() {
                        // A broken connection ends only itself.
                        let _ = serve(stream);
                    }
                }
            })
        })
        .collect();
    for thread in pool {
        let _ = thread.join();
    }
    Ok(())
}

fn serve(stream: TcpStream) -> io::Result<()> {
    stream.set_nodelay(true)?;
    let mut out = stream.try_clone()?;
    let mut input = BufReader::with_capacity(READ_BUFFER, stream);
    out.write_all(b"220 null-sink ESMTP\r\n")?;
    let mut line = Vec::new();
    loop {
        line.clear();
        if input.read_until(b'\n', &mut line)? == 0 {
            return Ok(());
        }
        let verb = line.get(..4).map(|v| v.to_ascii_uppercase()).unwrap_or_default();
        match verb.as_slice() {
            b"EHLO" | b"HELO" => out.write_all(b"250-null-sink\r\n250 PIPELINING\r\n")?,
            b"DATA" => {
                out.write_all(b"354 End data with <CR><LF>.<CR><LF>\r\n")?;
                skip_data(&mut input)?;
                out.write_all(b"250 2.0.0 Ok: discarded\r\n")?;
            }
            b"QUIT" => return out.write_all(b"221 2.0.0 Bye\r\n"),
            _ => out.write_all(b"250 2.0.0 Ok\r\n")?,
        }
    }
}

/// Consumes the message up to and including the line holding only a period. The CRLF that
/// ended the DATA command counts as the first line end, so an empty message ends at once.
fn skip_data(input: &mut BufReader<TcpStream>) -> io::Result<()> {
    // The last octets seen, with the DATA line's CRLF: a terminator may straddle two reads.
    let mut tail = b"\r\n".to_vec();
    loop {
        let buf = input.fill_buf()?;
        if buf.is_empty() {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        let head = &buf[..buf.len().min(END_OF_DATA.len())];
        let joined: Vec<u8> = tail.iter().chain(head).copied().collect();
        let straddling = joined.windows(END_OF_DATA.len()).position(|w| w == END_OF_DATA);
        let end = match straddling {
            Some(at) => Some(at + END_OF_DATA.len() - tail.len()),
            None => {
                buf.windows(END_OF_DATA.len()).position(|w| w == END_OF_DATA).map(|at| at + END_OF_DATA.len())
            }
        };
        if let Some(end) = end {
            input.consume(end);
            return Ok(());
        }
        let n = buf.len();
        tail.extend_from_slice(&buf[n.saturating_sub(END_OF_DATA.len() - 1)..]);
        tail.drain(..tail.len().saturating_sub(END_OF_DATA.len() - 1));
        input.consume(n);
    }
}
