//! The file store as the server uses it: every call metered (`storage_operations_total`,
//! `storage_operation_duration_seconds`), object names made up here, and thumbnails made off
//! the async threads, a few at a time, once per attachment on this node.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, Weak};
use std::time::Instant;

use bytes::Bytes;
use futures_util::Stream;
use parley_types::AttachmentId;
use tokio::sync::{OwnedMutexGuard, Semaphore};

use crate::metrics::Metrics;
use crate::storage::{PutError, Store, Stored};
use crate::thumbnails::{self, ThumbnailError};

/// Where originals live in the store.
pub const ORIGINALS: &str = "attachments";
/// Where thumbnails live in the store.
pub const THUMBNAILS: &str = "thumbnails";

/// Thumbnails made at once: each decodes a whole image (up to a few hundred MiB for the largest
/// allowed) on a core of its own.
const THUMBNAILS_AT_ONCE: usize = 2;

#[derive(Clone)]
pub struct Files {
    store: Store,
    metrics: Arc<Metrics>,
    thumbnailing: Arc<Semaphore>,
    /// One lock per attachment whose thumbnail is being made, so that a burst of requests for
    /// a new image makes it once.
    making: Arc<Mutex<HashMap<AttachmentId, Weak<tokio::sync::Mutex<()>>>>>,
}

/// A new object name under `prefix`: random, never anything a client chose.
pub fn new_key(prefix: &str) -> String {
    format!("{prefix}/{}", uuid::Uuid::new_v4())
}

/// The thumbnail's name for an original (`attachments/<id>` → `thumbnails/<id>`): one name per
/// original, so that two nodes making it at once write the same object, and the sweeper tells
/// an orphan thumbnail by its original's row.
pub fn thumbnail_key(original: &str) -> String {
    let name = original
        .strip_prefix(ORIGINALS)
        .and_then(|rest| rest.strip_prefix('/'))
        .unwrap_or(original);
    format!("{THUMBNAILS}/{name}")
}

/// The original a thumbnail was made of (the inverse of `thumbnail_key`).
pub fn original_of_thumbnail(thumbnail: &str) -> Option<String> {
    let name = thumbnail.strip_prefix(THUMBNAILS)?.strip_prefix('/')?;
    Some(format!("{ORIGINALS}/{name}"))
}

impl Files {
    pub fn new(store: Store, metrics: Arc<Metrics>) -> Self {
        Files {
            store,
            metrics,
            thumbnailing: Arc::new(Semaphore::new(THUMBNAILS_AT_ONCE)),
            making: Arc::default(),
        }
    }

    async fn metered<T, E>(
        &self,
        operation: &'static str,
        call: impl Future<Output = Result<T, E>>,
    ) -> Result<T, E> {
        let started = Instant::now();
        let result = call.await;
        let outcome = if result.is_ok() { "ok" } else { "error" };
        self.metrics
            .storage_operations
            .with_label_values(&[operation, outcome])
            .inc();
        self.metrics
            .storage_duration
            .with_label_values(&[operation])
            .observe(started.elapsed().as_secs_f64());
        result
    }

    /// Streams an upload into the store (see `Store::put_stream`).
    pub async fn put_stream<S, E>(&self, key: &str, body: S, limit: u64) -> Result<Stored, PutError>
    where
        S: Stream<Item = Result<Bytes, E>> + Unpin,
        E: std::fmt::Display,
    {
        self.metered("put", self.store.put_stream(key, body, limit))
            .await
    }

    pub async fn get(
        &self,
        key: &str,
    ) -> Result<impl Stream<Item = Result<Bytes, object_store::Error>>, object_store::Error> {
        self.metered("get", self.store.get(key)).await
    }

    pub async fn get_range(
        &self,
        key: &str,
        range: std::ops::Range<u64>,
    ) -> Result<impl Stream<Item = Result<Bytes, object_store::Error>>, object_store::Error> {
        self.metered("get", self.store.get_range(key, range)).await
    }

    /// A small object (a thumbnail) whole.
    pub async fn get_bytes(&self, key: &str) -> Result<Bytes, object_store::Error> {
        self.metered("get", self.store.get_bytes(key)).await
    }

    pub async fn delete(&self, key: &str) -> Result<(), object_store::Error> {
        self.metered("delete", self.store.delete(key)).await
    }

    pub async fn keys_older_than(
        &self,
        prefix: &str,
        before: chrono::DateTime<chrono::Utc>,
    ) -> Result<Vec<String>, object_store::Error> {
        self.metered("list", self.store.keys_older_than(prefix, before))
            .await
    }

    /// Holds off every other caller making the thumbnail of `attachment_id` on this node
    /// until the guard is dropped.
    pub async fn thumbnail_lock(&self, attachment_id: AttachmentId) -> OwnedMutexGuard<()> {
        let lock = {
            let mut making = self
                .making
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            making.retain(|_, lock| lock.strong_count() > 0);
            match making.get(&attachment_id).and_then(Weak::upgrade) {
                Some(lock) => lock,
                None => {
                    let lock = Arc::new(tokio::sync::Mutex::new(()));
                    making.insert(attachment_id, Arc::downgrade(&lock));
                    lock
                }
            }
        };
        lock.lock_owned().await
    }

    /// Makes the thumbnail of the original under `key` and stores it; returns its key and
    /// bytes. The original is read whole: the upload limit bounds it.
    pub async fn make_thumbnail(&self, key: &str) -> Result<(String, Bytes), ThumbnailFailure> {
        let _permit = self
            .thumbnailing
            .acquire()
            .await
            .map_err(|e| ThumbnailFailure::Internal(e.to_string()))?;
        let original = self
            .metered("get", self.store.get_bytes(key))
            .await
            .map_err(ThumbnailFailure::Store)?;
        let made = tokio::task::spawn_blocking(move || thumbnails::make(&original))
            .await
            .map_err(|e| ThumbnailFailure::Internal(format!("thumbnail task failed: {e}")))?;
        // A refusal is counted (and recorded) by the caller.
        let made = Bytes::from(made.map_err(ThumbnailFailure::Image)?);
        let thumbnail_key = thumbnail_key(key);
        self.metered("put", self.store.put(&thumbnail_key, made.clone()))
            .await
            .map_err(ThumbnailFailure::Store)?;
        self.metrics.thumbnails.with_label_values(&["made"]).inc();
        Ok((thumbnail_key, made))
    }
}

/// Why no thumbnail was made.
#[derive(Debug)]
pub enum ThumbnailFailure {
    /// The image's fault: too large, or not decodable.
    Image(ThumbnailError),
    /// The store's.
    Store(object_store::Error),
    /// Ours (the blocking task failed).
    Internal(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_thumbnail_is_named_after_its_original() {
        let original = new_key(ORIGINALS);
        let thumbnail = thumbnail_key(&original);
        assert!(thumbnail.starts_with("thumbnails/"));
        assert_eq!(original_of_thumbnail(&thumbnail), Some(original));
        assert_eq!(original_of_thumbnail("attachments/x"), None);
    }
}
