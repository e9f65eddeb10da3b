//! The data directory's layout, in one place: every path Mailstead reads or writes under
//! `--data`, and the single-server lock.

use std::fs::File;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

/// A data directory.
#[derive(Debug, Clone)]
pub struct DataDir {
    root: PathBuf,
}

impl DataDir {
    /// Wraps a path (not checked).
    pub fn new(root: &Path) -> DataDir {
        DataDir { root: root.to_path_buf() }
    }

    /// The directory itself.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `mailstead.toml`.
    pub fn config(&self) -> PathBuf {
        crate::config::Config::file_path(&self.root)
    }

    /// Where `init` puts the generated certificate.
    pub fn tls_dir(&self) -> PathBuf {
        self.root.join("tls")
    }

    /// The DKIM signing keys, one directory per domain (only the signer reads them).
    pub fn dkim_dir(&self) -> PathBuf {
        self.root.join("dkim")
    }

    /// Runtime files: the lock and `ports.json`.
    pub fn run_dir(&self) -> PathBuf {
        self.root.join("run")
    }

    /// The bound addresses of the running server, for tests and tools.
    pub fn ports_file(&self) -> PathBuf {
        self.run_dir().join("ports.json")
    }

    /// Resolves a path from the config: absolute as is, else relative to the data directory.
    pub fn resolve(&self, path: &str) -> PathBuf {
        let p = Path::new(path);
        if p.is_absolute() { p.to_path_buf() } else { self.root.join(p) }
    }

    /// Takes the exclusive server lock, so two servers never share one directory. Held until
    /// the returned file is dropped (the OS releases it if the process dies).
    pub fn lock_server(&self) -> Result<File> {
        std::fs::create_dir_all(self.run_dir())
            .with_context(|| format!("creating {}", self.run_dir().display()))?;
        let path = self.run_dir().join("server.lock");
        let file = File::create(&path).with_context(|| format!("creating {}", path.display()))?;
        match file.try_lock() {
            Ok(()) => Ok(file),
            Err(std::fs::TryLockError::WouldBlock) => bail!(
                "another `mailstead serve` is already running on {} (lock {} is held)",
                self.root.display(),
                path.display()
            ),
            Err(std::fs::TryLockError::Error(e)) => {
                Err(e).with_context(|| format!("locking {}", path.display()))
            }
        }
    }
}
