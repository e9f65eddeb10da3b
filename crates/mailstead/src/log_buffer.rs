//! The mail log's file writer. A log line is copied into a shared buffer under a mutex: no
//! system call and no thread to wake on the delivery path (a writer thread woken per line cost
//! two context switches per message). A background thread writes the buffer to the file every
//! [`INTERVAL`]; a line that finds the buffer over [`HIGH_WATER`] bytes (the disk is stalling)
//! writes it out itself, so memory stays bounded and no line is ever dropped. Lines keep their
//! order: the buffer is taken only while holding the file. The [`FlushGuard`] writes what is
//! left when the server stops.
//!
//! The buffer is swapped with a spare that keeps its capacity, never replaced by a new one:
//! a buffer grown afresh every interval got new memory from the system each time, and the
//! line that grew it paid for zeroing a fresh huge page (2.5% of the server's CPU at 1 KiB
//! messages, on the delivery path).

use std::fs::File;
use std::io::Write;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

/// How often buffered lines reach the file.
pub const INTERVAL: Duration = Duration::from_millis(100);

/// Buffered bytes beyond which the line that finds them writes them out at once.
pub const HIGH_WATER: usize = 1024 * 1024;

/// Appends lines to the shared buffer.
#[derive(Clone)]
pub struct BufferedFile {
    shared: Arc<Shared>,
}

struct Shared {
    pending: Mutex<Vec<u8>>,
    /// The file, and the spare buffer swapped with `pending` to write it out.
    file: Mutex<(File, Vec<u8>)>,
    stop: Mutex<bool>,
    wake: Condvar,
}

/// Stops the background writer and writes the remaining lines out when dropped.
#[must_use = "dropping the guard stops the mail log writer"]
pub struct FlushGuard {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl BufferedFile {
    /// Starts the background writer for `file` (opened for appending).
    pub fn start(file: File) -> std::io::Result<(BufferedFile, FlushGuard)> {
        let shared = Arc::new(Shared {
            pending: Mutex::new(Vec::with_capacity(64 * 1024)),
            file: Mutex::new((file, Vec::with_capacity(64 * 1024))),
            stop: Mutex::new(false),
            wake: Condvar::new(),
        });
        let background = shared.clone();
        let thread = std::thread::Builder::new().name("mail-log".into()).spawn(move || {
            loop {
                let mut stop = lock(&background.stop);
                if !*stop {
                    stop = background.wake.wait_timeout(stop, INTERVAL).unwrap_or_else(|e| e.into_inner()).0;
                }
                let stopping = *stop;
                drop(stop);
                background.write_out();
                if stopping {
                    return;
                }
            }
        })?;
        Ok((BufferedFile { shared: shared.clone() }, FlushGuard { shared, thread: Some(thread) }))
    }

    /// Appends one line (or several, whole).
    pub fn append(&self, line: &[u8]) {
        let full = {
            let mut pending = lock(&self.shared.pending);
            pending.extend_from_slice(line);
            pending.len() >= HIGH_WATER
        };
        if full {
            self.shared.write_out();
        }
    }
}

impl Shared {
    /// Writes every buffered line to the file.
    fn write_out(&self) {
        let mut held = lock(&self.file);
        // The spare is empty: it is cleared after every write-out.
        let (file, lines) = &mut *held;
        std::mem::swap(&mut *lock(&self.pending), lines);
        if lines.is_empty() {
            return;
        }
        if let Err(e) = file.write_all(lines) {
            // The logger cannot log its own failure; standard error reaches the operator.
            eprintln!("mailstead: writing the mail log failed: {e}");
        }
        // A burst may have grown it far beyond the usual interval's lines.
        lines.clear();
        lines.shrink_to(2 * HIGH_WATER);
    }
}

impl Drop for FlushGuard {
    fn drop(&mut self) {
        *lock(&self.shared.stop) = true;
        self.shared.wake.notify_all();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        self.shared.write_out();
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn open(path: &std::path::Path) -> File {
        std::fs::OpenOptions::new().create(true).append(true).open(path).expect("open")
    }

    #[test]
    fn lines_reach_the_file_in_order_within_the_interval_and_at_stop() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("mail.log");
        let (writer, guard) = BufferedFile::start(open(&path)).expect("start");
        writer.append(b"one\n");
        writer.append(b"two\n");
        let deadline = std::time::Instant::now() + INTERVAL * 50;
        while std::fs::read(&path).expect("read") != b"one\ntwo\n" {
            assert!(std::time::Instant::now() < deadline, "the background writer never wrote");
            std::thread::sleep(INTERVAL / 4);
        }
        writer.append(b"three\n");
        drop(guard);
        assert_eq!(std::fs::read(&path).expect("read"), b"one\ntwo\nthree\n");
    }

    #[test]
    fn writing_out_keeps_both_buffers_allocated() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("mail.log");
        let (writer, _guard) = BufferedFile::start(open(&path)).expect("start");
        for _ in 0..3 {
            writer.append(&[b'x'; 100_000]);
            writer.shared.write_out();
            assert!(lock(&writer.shared.pending).capacity() >= 64 * 1024, "the next lines reuse memory");
            assert!(lock(&writer.shared.file).1.capacity() >= 64 * 1024, "the spare is kept");
        }
        assert_eq!(std::fs::metadata(&path).expect("meta").len(), 300_000);
    }

    #[test]
    fn a_stalled_buffer_is_written_by_the_line_that_fills_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("mail.log");
        let (writer, _guard) = BufferedFile::start(open(&path)).expect("start");
        let line = vec![b'x'; 1000];
        let mut written = 0;
        while written < 3 * HIGH_WATER {
            writer.append(&line);
            written += line.len();
            assert!(lock(&writer.shared.pending).len() < HIGH_WATER, "the buffer is bounded");
        }
        let on_disk = std::fs::metadata(&path).expect("meta").len() as usize;
        assert_eq!(on_disk + lock(&writer.shared.pending).len(), written, "no line dropped");
    }
}
