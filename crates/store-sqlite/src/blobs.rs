//! Where message bytes live. Every body is content-addressed by SHA-256 and stored in one of
//! three places, chosen by size:
//!
//! - up to `inline_max` bytes, inside the database, so a group commit makes many of them
//!   durable with one WAL fsync;
//! - up to `segment_blob_max`, appended to a shared segment file ([`crate::segments`]), not
//!   yet durably: the group commit whose rows refer to it syncs the segment just before it
//!   commits (one fsync for every body in the batch; see [`crate::writer`]);
//! - larger ones, as files under `DIR/blobs/xx/<hash>`, written to `blobs/tmp/`, fsynced,
//!   renamed into place and the directory fsynced, all before that transaction commits. A
//!   crash between the two leaves an unreferenced file, which [`crate::recovery`] removes on
//!   the next server start. (Data directories written before segments existed hold all their
//!   large bodies this way; they stay readable as they are.)

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

use rand::Rng;

use mailstead_store::model::{BlobId, MessageData};
use mailstead_store::{Result, StoreError};

use crate::segments::{Segments, Slot};

/// A blob ready to be referenced by a transaction.
#[derive(Debug, Clone)]
pub struct PreparedBlob {
    /// Content address.
    pub id: BlobId,
    /// The bytes.
    pub data: MessageData,
    /// Where they were stored.
    pub placement: Placement,
}

/// Where a prepared blob's bytes are.
#[derive(Debug, Clone)]
pub enum Placement {
    /// To be written into the database row.
    Inline,
    /// Written (durably) into a segment.
    Segment(Slot),
    /// Written (durably) as a file of its own.
    File,
}

impl PreparedBlob {
    /// Whether it lives in a file of its own.
    pub fn in_file(&self) -> bool {
        matches!(self.placement, Placement::File)
    }
}

/// The blob directory.
#[derive(Debug)]
pub struct BlobFiles {
    root: PathBuf,
    inline_max: usize,
    segment_blob_max: usize,
    segments: Segments,
}

impl BlobFiles {
    /// Opens (and creates) `root` with its 256 fan-out directories and its segment directory,
    /// fsyncing what it creates.
    pub fn open(root: &Path, options: &crate::SqliteOptions) -> Result<BlobFiles> {
        let io = |e: std::io::Error| StoreError::from_io(&format!("blob directory {}", root.display()), &e);
        fs::create_dir_all(root.join("tmp")).map_err(io)?;
        let mut created = false;
        for i in 0..=255u8 {
            let dir = root.join(format!("{i:02x}"));
            if !dir.is_dir() {
                fs::create_dir(&dir).map_err(io)?;
                created = true;
            }
        }
        if created {
            fsync_dir(root).map_err(io)?;
        }
        let segments = Segments::open(&root.join("segments"), options.segment_max_bytes)?;
        Ok(BlobFiles {
            root: root.to_path_buf(),
            inline_max: options.inline_blob_max,
            segment_blob_max: options.segment_blob_max,
            segments,
        })
    }

    /// Whether a body of `len` bytes is written outside the database (disk I/O, so off the
    /// async threads).
    pub fn needs_file(&self, len: usize) -> bool {
        len > self.inline_max
    }

    /// Hashes the bytes and, for large messages, writes them durably.
    pub fn prepare(&self, data: MessageData) -> Result<PreparedBlob> {
        let id = BlobId::of(&data);
        let len = data.len();
        let placement = if !self.needs_file(len) {
            Placement::Inline
        } else if len <= self.segment_blob_max {
            Placement::Segment(self.segments.write(&data)?)
        } else {
            Placement::File
        };
        let blob = PreparedBlob { id, data, placement };
        if blob.in_file() {
            self.write(&blob)?;
        }
        Ok(blob)
    }

    /// The segment files.
    pub fn segments(&self) -> &Segments {
        &self.segments
    }

    /// Writes a blob file (tmp, fsync, rename, fsync dir). Idempotent.
    pub fn write(&self, blob: &PreparedBlob) -> Result<()> {
        let target = self.path(&blob.id);
        let tmp =
            self.root.join("tmp").join(format!("{}.{:08x}", blob.id.0, rand::thread_rng().r#gen::<u32>()));
        let result = (|| {
            let mut f = File::create(&tmp)?;
            f.write_all(&blob.data)?;
            f.sync_all()?;
            fs::rename(&tmp, &target)?;
            fsync_dir(target.parent().unwrap_or(&self.root))
        })();
        if let Err(e) = result {
            let _ = fs::remove_file(&tmp);
            return Err(StoreError::from_io(&format!("writing message file {}", target.display()), &e));
        }
        Ok(())
    }

    /// Reads a blob file.
    pub fn read(&self, id: &BlobId) -> Result<MessageData> {
        let path = self.path(id);
        fs::read(&path)
            .map(MessageData::from)
            .map_err(|e| StoreError::from_io(&format!("reading message file {}", path.display()), &e))
    }

    /// Whether a blob file exists.
    pub fn exists(&self, id: &BlobId) -> bool {
        self.path(id).is_file()
    }

    /// Removes a blob file; a missing file is not an error.
    pub fn remove(&self, id: &BlobId) {
        let path = self.path(id);
        if let Err(e) = fs::remove_file(&path)
            && e.kind() != std::io::ErrorKind::NotFound
        {
            tracing::warn!(path = %path.display(), error = %e, "could not remove message file");
        }
    }

    /// Where a blob lives.
    pub fn path(&self, id: &BlobId) -> PathBuf {
        let fan = id.0.get(..2).unwrap_or("00");
        self.root.join(fan).join(&id.0)
    }

    /// The root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }
}

/// fsyncs a directory so a rename or create inside it is durable.
pub fn fsync_dir(dir: &Path) -> std::io::Result<()> {
    File::open(dir)?.sync_all()
}
