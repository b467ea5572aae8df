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

    /// The directory a blob lives in: one of 256, by the id's random low byte. Creating,
    /// renaming and deleting files lock their directory, and on ext4 a directory's files
    /// share an inode group; one directory for all blobs made concurrent uploads queue on
    /// both (twice the system time per upload at 16 connections).
    fn shard(self) -> String {
        format!("{:02x}", self.0 as u8)
    }
}

/// A directory of immutable blobs, `<dir>/<shard>/<id>`. In ephemeral mode it is a private
/// temporary directory removed when the store is dropped; with a data dir it is
/// `<dir>/blobs`. A blob is written as `<shard>/<id>.<run>.tmp` and renamed within its
/// shard when finished, so a crash leaves at most `.tmp` files of an earlier run, which
/// a background sweep removes.
#[derive(Debug)]
pub struct BlobStore {
    dir: PathBuf,
    temporary: bool,
    counter: AtomicU64,
    /// Tells this process's unfinished blobs from a crashed run's.
    run: u64,
}

impl BlobStore {
    pub fn open(dir: &Path) -> Result<BlobStore, StorageError> {
        let dir = dir.join("blobs");
        std::fs::create_dir_all(&dir)?;
        let store = BlobStore {
            dir,
            temporary: false,
            counter: AtomicU64::new(0),
            run: fresh_id().0 as u64,
        };
        store.adopt_flat_layout()?;
        let (dir, run) = (store.dir.clone(), store.run);
        std::thread::Builder::new()
            .name("blob-sweep".into())
            .spawn(move || sweep_unfinished(&dir, run))?;
        Ok(store)
    }

    pub fn temporary() -> Result<BlobStore, StorageError> {
        let dir = std::env::temp_dir().join(format!(
            "nephos-blobs-{}-{}",
            std::process::id(),
            fresh_id().0
        ));
        std::fs::create_dir_all(&dir)?;
        Ok(BlobStore {
            dir,
            temporary: true,
            counter: AtomicU64::new(0),
            run: 0,
        })
    }

    /// Data dirs written before blobs were sharded keep them in `blobs/` itself, with
    /// unfinished ones in `blobs/tmp/`: move the former into their shards, drop the latter.
    fn adopt_flat_layout(&self) -> Result<(), StorageError> {
        let old_tmp = self.dir.join("tmp");
        if old_tmp.is_dir() {
            std::fs::remove_dir_all(&old_tmp)?;
        }
        for entry in std::fs::read_dir(&self.dir)? {
            let entry = entry?;
            let name = entry.file_name();
            let Some(id) = name
                .to_str()
                .filter(|n| n.len() == 32)
                .and_then(|n| u128::from_str_radix(n, 16).ok())
            else {
                continue;
            };
            let dest = self.path(BlobId(id));
            create_parent(&dest)?;
            std::fs::rename(entry.path(), dest)?;
        }
        Ok(())
    }

    /// Starts a new blob; write to it, then [`BlobWriter::finish`] makes it durable.
    pub fn create(&self) -> Result<BlobWriter, StorageError> {
        let id = fresh_id();
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        let dest = self.path(id);
        let tmp = dest.with_extension(format!("{:x}-{n}.tmp", self.run));
        let file = match std::fs::File::create(&tmp) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                create_parent(&tmp)?;
                std::fs::File::create(&tmp)?
            }
            other => other?,
        };
        Ok(BlobWriter {
            id,
            tmp: Some(tmp),
            dest,
            file,
            durable: !self.temporary,
            len: 0,
        })
    }

    pub fn path(&self, id: BlobId) -> PathBuf {
        self.dir.join(id.shard()).join(id.file_name())
    }

    pub fn delete(&self, id: BlobId) -> Result<(), StorageError> {
        match std::fs::remove_file(self.path(id)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e.into()),
            _ => Ok(()),
        }
    }
}

fn create_parent(path: &Path) -> Result<(), StorageError> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    Ok(())
}

/// Removes the `.tmp` files a crashed run left in the shards (never this run's).
fn sweep_unfinished(dir: &Path, run: u64) {
    let ours = format!(".{run:x}-");
    let Ok(shards) = std::fs::read_dir(dir) else {
        return;
    };
    for shard in shards.flatten() {
        let Ok(entries) = std::fs::read_dir(shard.path()) else {
            continue;
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if name.ends_with(".tmp") && !name.contains(&ours) {
                let _ = std::fs::remove_file(entry.path());
            }
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
    /// The unfinished file's name, until `finish` has moved it into place.
    tmp: Option<PathBuf>,
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

    /// Writes all of `parts`, in order, with as few system calls as the kernel allows.
    pub fn write_all_of<B: AsRef<[u8]>>(&mut self, parts: &[B]) -> Result<(), StorageError> {
        let mut slices: Vec<std::io::IoSlice<'_>> = parts
            .iter()
            .map(|p| std::io::IoSlice::new(p.as_ref()))
            .filter(|s| !s.is_empty())
            .collect();
        let mut rest = &mut slices[..];
        while !rest.is_empty() {
            let n = match self.file.write_vectored(rest) {
                Ok(0) => return Err(std::io::Error::from(std::io::ErrorKind::WriteZero).into()),
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e.into()),
            };
            self.len += n as u64;
            std::io::IoSlice::advance_slices(&mut rest, n);
        }
        Ok(())
    }

    /// Fsyncs (when durable) and moves the blob into place; returns its id and length.
    /// The file is closed when the writer drops, at the end of this call.
    pub fn finish(mut self) -> Result<(BlobId, u64), StorageError> {
        if self.durable {
            self.file.sync_all()?;
        }
        if let Some(tmp) = &self.tmp {
            // Same directory: no cross-directory rename lock.
            std::fs::rename(tmp, &self.dest)?;
            self.tmp = None;
        }
        if self.durable
            && let Some(parent) = self.dest.parent()
        {
            std::fs::File::open(parent)?.sync_all()?;
        }
        Ok((self.id, self.len))
    }
}

impl Drop for BlobWriter {
    fn drop(&mut self) {
        if let Some(tmp) = &self.tmp {
            let _ = std::fs::remove_file(tmp);
        }
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
        assert_eq!(unfinished(&dir.path().join("blobs")), 0);
        store.delete(id).unwrap();
        store.delete(id).unwrap();
    }

    #[test]
    fn vectored_writes_keep_order_and_length() {
        let store = BlobStore::temporary().unwrap();
        let mut w = store.create().unwrap();
        // More parts than one writev takes (IOV_MAX is 1024), some of them empty.
        let parts: Vec<Vec<u8>> = (0..3000u32)
            .map(|i| vec![(i % 256) as u8; (i % 3) as usize])
            .collect();
        w.write_all_of(&parts).unwrap();
        let (id, len) = w.finish().unwrap();
        let expected = parts.concat();
        assert_eq!(len, expected.len() as u64);
        assert_eq!(std::fs::read(store.path(id)).unwrap(), expected);
    }

    fn unfinished(dir: &Path) -> usize {
        std::fs::read_dir(dir)
            .unwrap()
            .flatten()
            .filter(|e| e.path().is_dir())
            .flat_map(|shard| std::fs::read_dir(shard.path()).unwrap().flatten())
            .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
            .count()
    }

    #[test]
    fn a_crashed_runs_leftovers_are_swept_and_flat_blobs_adopted() {
        let dir = tempfile::tempdir().unwrap();
        let blobs = dir.path().join("blobs");
        // An older layout: a finished blob at the top, an unfinished one in tmp/.
        std::fs::create_dir_all(blobs.join("tmp")).unwrap();
        let old = BlobId(0xabcdef);
        std::fs::write(blobs.join(old.file_name()), b"old").unwrap();
        std::fs::write(blobs.join("tmp/partial"), b"p").unwrap();
        // A run that crashed mid-write under the sharded layout.
        let crashed = BlobStore::open(dir.path()).unwrap();
        let mut w = crashed.create().unwrap();
        w.write(b"cut off").unwrap();
        std::mem::forget(w);
        std::mem::forget(crashed);
        std::thread::sleep(std::time::Duration::from_millis(100));
        assert_eq!(unfinished(&blobs), 1);

        let store = BlobStore::open(dir.path()).unwrap();
        let mut mine = store.create().unwrap();
        mine.write(b"in flight").unwrap();
        assert_eq!(std::fs::read(store.path(old)).unwrap(), b"old");
        assert!(!blobs.join("tmp").exists());
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while unfinished(&blobs) > 1 && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        // Only this run's blob in flight is left, and it still finishes.
        assert_eq!(unfinished(&blobs), 1);
        let (id, _) = mine.finish().unwrap();
        assert_eq!(std::fs::read(store.path(id)).unwrap(), b"in flight");
        assert_eq!(unfinished(&blobs), 0);
    }
}
