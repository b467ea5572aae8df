//! Durable state for nephos services.
//!
//! Services keep their working state in memory and write every acknowledged mutation
//! through [`Storage::commit`] before they answer. In ephemeral mode (the default) that is
//! a no-op. With a data directory, mutations go to an embedded [redb] database: concurrent
//! commits are gathered by one writer thread into a single fsynced transaction (group
//! commit), so durability costs one fsync per batch, not per request. On start, a service
//! rebuilds its memory from [`Storage::load`].
//!
//! Large payloads never go into the database: [`BlobStore`] keeps them as files named by
//! internal ids, written to a temporary file, fsynced and renamed into place.

mod blob;
mod kv;

pub use blob::{BlobId, BlobStore};
pub use kv::{Mutation, Storage};

/// A storage failure. Services turn it into an `InternalFailure` for the client.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("storage i/o: {0}")]
    Io(#[from] std::io::Error),
    #[error("database: {0}")]
    Db(String),
    #[error("the storage writer has stopped")]
    WriterGone,
}

macro_rules! db_err {
    ($($t:ty),*) => {$(
        impl From<$t> for StorageError {
            fn from(e: $t) -> Self { StorageError::Db(e.to_string()) }
        }
    )*};
}
db_err!(
    redb::DatabaseError,
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError
);
