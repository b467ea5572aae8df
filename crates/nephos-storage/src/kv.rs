//! The key-value store with group commit.

use crate::StorageError;
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition, TableHandle};
use std::path::Path;
use std::sync::{Arc, mpsc};
use tokio::sync::oneshot;

/// A stored key and its value.
pub type Entry = (Vec<u8>, Vec<u8>);

/// One change to one table: `Some(value)` writes the key, `None` deletes it.
#[derive(Debug, Clone)]
pub struct Mutation {
    pub table: String,
    pub key: Vec<u8>,
    pub value: Option<Vec<u8>>,
}

impl Mutation {
    pub fn put(table: &str, key: impl Into<Vec<u8>>, value: impl Into<Vec<u8>>) -> Self {
        Mutation {
            table: table.to_owned(),
            key: key.into(),
            value: Some(value.into()),
        }
    }
    pub fn delete(table: &str, key: impl Into<Vec<u8>>) -> Self {
        Mutation {
            table: table.to_owned(),
            key: key.into(),
            value: None,
        }
    }
}

struct Job {
    batch: Vec<Mutation>,
    done: oneshot::Sender<Result<(), String>>,
}

struct Durable {
    db: Arc<Database>,
    jobs: Option<mpsc::Sender<Job>>,
    writer: Option<std::thread::JoinHandle<()>>,
}

impl Drop for Durable {
    // Closing the channel stops the writer; joining it releases the database file lock
    // before anyone reopens the directory.
    fn drop(&mut self) {
        self.jobs.take();
        if let Some(w) = self.writer.take() {
            let _ = w.join();
        }
    }
}

/// Where services persist their state: nowhere (ephemeral) or a database file.
#[derive(Clone)]
pub struct Storage {
    durable: Option<Arc<Durable>>,
}

impl std::fmt::Debug for Storage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.durable.is_some() {
            "Storage(durable)"
        } else {
            "Storage(ephemeral)"
        })
    }
}

/// redb's page cache (read and write).
const CACHE_BYTES: usize = 32 << 20;

/// Most commits a writer folds into one transaction; bounds the latency of the first.
const MAX_GROUP: usize = 4096;

impl Storage {
    /// State lives only in memory and dies with the process.
    pub fn ephemeral() -> Storage {
        Storage { durable: None }
    }

    /// Opens (or creates) the database under `dir`.
    pub fn open(dir: &Path) -> Result<Storage, StorageError> {
        std::fs::create_dir_all(dir)?;
        // redb caches up to 1 GiB of pages by default, which services that keep their
        // state in memory anyway would pay twice in RSS; interior pages fit in far less.
        let path = dir.join("state.redb");
        // A process that was killed may leave a child (a function runtime forked but not
        // yet exec'd) holding the file's lock for a few milliseconds: wait that out.
        let mut waited = 0;
        let db = loop {
            match redb::Builder::new()
                .set_cache_size(CACHE_BYTES)
                .create(&path)
            {
                Err(redb::DatabaseError::DatabaseAlreadyOpen) if waited < 40 => {
                    waited += 1;
                    std::thread::sleep(std::time::Duration::from_millis(50));
                }
                other => break Arc::new(other?),
            }
        };
        let (tx, rx) = mpsc::channel::<Job>();
        let writer_db = db.clone();
        let handle = std::thread::Builder::new()
            .name("nephos-storage-writer".into())
            .spawn(move || writer(&writer_db, &rx))?;
        Ok(Storage {
            durable: Some(Arc::new(Durable {
                db,
                jobs: Some(tx),
                writer: Some(handle),
            })),
        })
    }

    pub fn is_durable(&self) -> bool {
        self.durable.is_some()
    }

    /// Makes `batch` durable (all of it or none of it) before returning.
    pub async fn commit(&self, batch: Vec<Mutation>) -> Result<(), StorageError> {
        let Some(d) = &self.durable else {
            return Ok(());
        };
        if batch.is_empty() {
            return Ok(());
        }
        let (done, wait) = oneshot::channel();
        let jobs = d.jobs.as_ref().ok_or(StorageError::WriterGone)?;
        jobs.send(Job { batch, done })
            .map_err(|_| StorageError::WriterGone)?;
        wait.await
            .map_err(|_| StorageError::WriterGone)?
            .map_err(StorageError::Db)
    }

    /// Every entry of `table`, in key order. Used to rebuild memory at start-up.
    pub fn load(&self, table: &str) -> Result<Vec<Entry>, StorageError> {
        let Some(d) = &self.durable else {
            return Ok(Vec::new());
        };
        let read = d.db.begin_read()?;
        let def: TableDefinition<&[u8], &[u8]> = TableDefinition::new(table);
        let t = match read.open_table(def) {
            Ok(t) => t,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(Vec::new()),
            Err(e) => return Err(e.into()),
        };
        let mut out = Vec::new();
        for entry in t.iter()? {
            let (k, v) = entry?;
            out.push((k.value().to_vec(), v.value().to_vec()));
        }
        Ok(out)
    }

    /// Calls `f` with every entry of `table`, in key order, without copying them into one
    /// big list first (large tables load with less memory and time).
    pub fn for_each(
        &self,
        table: &str,
        mut f: impl FnMut(&[u8], &[u8]),
    ) -> Result<(), StorageError> {
        let Some(d) = &self.durable else {
            return Ok(());
        };
        let read = d.db.begin_read()?;
        let def: TableDefinition<&[u8], &[u8]> = TableDefinition::new(table);
        let t = match read.open_table(def) {
            Ok(t) => t,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(()),
            Err(e) => return Err(e.into()),
        };
        for entry in t.iter()? {
            let (k, v) = entry?;
            f(k.value(), v.value());
        }
        Ok(())
    }

    /// Deletes every table (`POST /_nephos/reset`).
    pub fn clear(&self) -> Result<(), StorageError> {
        let Some(d) = &self.durable else {
            return Ok(());
        };
        let txn = d.db.begin_write()?;
        let names: Vec<String> = txn.list_tables()?.map(|h| h.name().to_owned()).collect();
        for name in names {
            let def: TableDefinition<&[u8], &[u8]> = TableDefinition::new(&name);
            txn.delete_table(def)?;
        }
        txn.commit()?;
        Ok(())
    }
}

/// The single writer: takes every job waiting, writes them in one transaction, commits
/// (redb fsyncs on commit), then acknowledges them all.
fn writer(db: &Database, jobs: &mpsc::Receiver<Job>) {
    while let Ok(first) = jobs.recv() {
        let mut group = vec![first];
        while group.len() < MAX_GROUP {
            match jobs.try_recv() {
                Ok(job) => group.push(job),
                Err(_) => break,
            }
        }
        let result = write_group(db, &group).map_err(|e| e.to_string());
        if let Err(e) = &result {
            tracing::error!(error = %e, "storage commit failed");
        }
        for job in group {
            let _ = job.done.send(result.clone());
        }
    }
}

fn write_group(db: &Database, group: &[Job]) -> Result<(), StorageError> {
    let txn = db.begin_write()?;
    for job in group {
        for m in &job.batch {
            let def: TableDefinition<&[u8], &[u8]> = TableDefinition::new(&m.table);
            let mut table = txn.open_table(def)?;
            match &m.value {
                Some(v) => {
                    table.insert(m.key.as_slice(), v.as_slice())?;
                }
                None => {
                    table.remove(m.key.as_slice())?;
                }
            }
        }
    }
    txn.commit()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn commits_survive_reopen() {
        let dir = tempfile::tempdir().unwrap();
        {
            let s = Storage::open(dir.path()).unwrap();
            let mut waits = Vec::new();
            for i in 0..100u32 {
                let s = s.clone();
                waits.push(tokio::spawn(async move {
                    s.commit(vec![Mutation::put("t", i.to_be_bytes(), b"v".to_vec())])
                        .await
                }));
            }
            for w in waits {
                w.await.unwrap().unwrap();
            }
            s.commit(vec![Mutation::delete("t", 7u32.to_be_bytes())])
                .await
                .unwrap();
        }
        let s = Storage::open(dir.path()).unwrap();
        let rows = s.load("t").unwrap();
        assert_eq!(rows.len(), 99);
        let mut seen = 0;
        s.for_each("t", |_, v| {
            assert_eq!(v, b"v");
            seen += 1;
        })
        .unwrap();
        assert_eq!(seen, 99);
        assert!(s.load("missing").unwrap().is_empty());
        s.clear().unwrap();
        assert!(s.load("t").unwrap().is_empty());
    }

    #[tokio::test]
    async fn ephemeral_is_a_no_op() {
        let s = Storage::ephemeral();
        s.commit(vec![Mutation::put("t", b"k".to_vec(), b"v".to_vec())])
            .await
            .unwrap();
        assert!(s.load("t").unwrap().is_empty());
    }
}
