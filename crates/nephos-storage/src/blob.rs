//! Large payloads as files under internal ids.

use crate::StorageError;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// The id of a stored blob; the file name is derived from it, never from user input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct BlobId(pub u128);

impl BlobId {
    fn file_name(self) -> String {
        format!("{:032x}", self.0)
    }
}

/// A directory of immutable blobs. In ephemeral mode it is a private temporary directory
/// removed when the store is dropped; with a data dir it is `<dir>/blobs`.
#[derive(Debug)]
pub struct BlobStore {
    dir: PathBuf,
    temporary: bool,
    counter: AtomicU64,
}

impl BlobStore {
    pub fn open(dir: &Path) -> Result<BlobStore, StorageError> {
        let dir = dir.join("blobs");
        std::fs::create_dir_all(dir.join("tmp"))?;
        // Leftovers of uploads that were cut off by a crash are never referenced.
        for entry in std::fs::read_dir(dir.join("tmp"))? {
            let _ = std::fs::remove_file(entry?.path());
        }
        Ok(BlobStore {
            dir,
            temporary: false,
            counter: AtomicU64::new(0),
        })
    }

    pub fn temporary() -> Result<BlobStore, StorageError> {
        let dir = std::env::temp_dir().join(format!(
            "nephos-blobs-{}-{}",
            std::process::id(),
            fresh_id().0
        ));
        std::fs::create_dir_all(dir.join("tmp"))?;
        Ok(BlobStore {
            dir,
            temporary: true,
            counter: AtomicU64::new(0),
        })
    }

    /// Starts a new blob; write to it, then [`BlobWriter::finish`] makes it durable.
    pub fn create(&self) -> Result<BlobWriter, StorageError> {
        let id = fresh_id();
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        let tmp = self.dir.join("tmp").join(format!("{}-{n}", id.file_name()));
        let file = std::fs::File::create(&tmp)?;
        Ok(BlobWriter {
            id,
            tmp,
            dest: self.path(id),
            file,
            durable: !self.temporary,
            len: 0,
        })
    }

    pub fn path(&self, id: BlobId) -> PathBuf {
        self.dir.join(id.file_name())
    }

    pub fn delete(&self, id: BlobId) -> Result<(), StorageError> {
        match std::fs::remove_file(self.path(id)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e.into()),
            _ => Ok(()),
        }
    }
}

impl Drop for BlobStore {
    fn drop(&mut self) {
        if self.temporary {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// A blob being written. Dropped unfinished, it leaves nothing behind.
#[derive(Debug)]
pub struct BlobWriter {
    id: BlobId,
    tmp: PathBuf,
    dest: PathBuf,
    file: std::fs::File,
    durable: bool,
    len: u64,
}

impl BlobWriter {
    pub fn write(&mut self, data: &[u8]) -> Result<(), StorageError> {
        self.file.write_all(data)?;
        self.len += data.len() as u64;
        Ok(())
    }

    /// Fsyncs (when durable) and moves the blob into place; returns its id and length.
    pub fn finish(self) -> Result<(BlobId, u64), StorageError> {
        if self.durable {
            self.file.sync_all()?;
        }
        std::fs::rename(&self.tmp, &self.dest)?;
        if self.durable
            && let Some(parent) = self.dest.parent()
        {
            std::fs::File::open(parent)?.sync_all()?;
        }
        let out = (self.id, self.len);
        std::mem::forget(self);
        Ok(out)
    }
}

impl Drop for BlobWriter {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.tmp);
    }
}

fn fresh_id() -> BlobId {
    use std::hash::{BuildHasher, Hasher};
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(SEQ.fetch_add(1, Ordering::Relaxed));
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos();
    BlobId((now << 64) ^ u128::from(h.finish()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blobs_appear_only_when_finished() {
        let dir = tempfile::tempdir().unwrap();
        let store = BlobStore::open(dir.path()).unwrap();
        let mut w = store.create().unwrap();
        w.write(b"hello").unwrap();
        let (id, len) = w.finish().unwrap();
        assert_eq!(len, 5);
        assert_eq!(std::fs::read(store.path(id)).unwrap(), b"hello");
        let mut abandoned = store.create().unwrap();
        abandoned.write(b"partial").unwrap();
        drop(abandoned);
        assert_eq!(
            std::fs::read_dir(dir.path().join("blobs/tmp"))
                .unwrap()
                .count(),
            0
        );
        store.delete(id).unwrap();
        store.delete(id).unwrap();
    }
}
