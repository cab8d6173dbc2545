//! Where files live: a directory, or S3-compatible object storage, behind one interface (the
//! `object_store` crate). Objects are keyed by names the server makes up, never by anything a
//! client chose. A write is streamed (in parts, past the first) and counted on the way: past
//! the limit it is aborted and nothing is left behind.

use std::path::PathBuf;
use std::sync::Arc;

use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use object_store::path::Path as ObjectPath;
use object_store::prefix::PrefixStore;
use object_store::{ObjectStore, ObjectStoreExt, WriteMultipart};
use sha2::{Digest, Sha256};

/// Bytes gathered before a part is sent: S3's smallest part.
const PART_BYTES: usize = 5 * 1024 * 1024;
/// How much of the start of an object is kept for type detection and image dimensions: a
/// phone's JPEG puts its EXIF block (with a preview image, up to 64 KiB) and its colour
/// profile before the frame header that holds the size.
pub const HEAD_BYTES: usize = 256 * 1024;

/// Where the store is, as `PARLEY_STORAGE_URL` says it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StorageUrl {
    /// A directory of this machine.
    Directory(PathBuf),
    /// `s3://bucket/prefix`, reached through the standard `AWS_*` variables.
    S3 { bucket: String, prefix: String },
}

impl StorageUrl {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let raw = raw.trim();
        if let Some(rest) = raw.strip_prefix("s3://") {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            if bucket.is_empty() {
                return Err("PARLEY_STORAGE_URL s3:// needs a bucket: s3://bucket/prefix".into());
            }
            return Ok(StorageUrl::S3 {
                bucket: bucket.to_owned(),
                prefix: prefix.trim_matches('/').to_owned(),
            });
        }
        if raw.contains("://") {
            return Err(format!(
                "PARLEY_STORAGE_URL: use a directory or s3://bucket/prefix, not {raw:?}"
            ));
        }
        if raw.is_empty() {
            return Err("PARLEY_STORAGE_URL is empty".into());
        }
        Ok(StorageUrl::Directory(PathBuf::from(raw)))
    }
}

/// Why a write did not complete. Nothing of it is left in the store.
#[derive(Debug)]
pub enum PutError {
    /// More bytes came than the limit allows.
    TooLarge,
    /// The bytes stopped coming (the client went away).
    Body(String),
    /// The store failed.
    Store(object_store::Error),
}

/// What a completed write learned of its bytes on the way through.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stored {
    pub size: u64,
    /// sha256, lowercase hex.
    pub sha256: String,
    /// The first bytes (up to `HEAD_BYTES`), to tell the type and an image's dimensions.
    pub head: Bytes,
}

#[derive(Clone, Debug)]
pub struct Store {
    inner: Arc<dyn ObjectStore>,
}

impl Store {
    /// Opens the store (creating the directory if need be). S3 settings come from `AWS_*`
    /// variables; an `http://` endpoint is allowed (a local S3-compatible server).
    pub fn open(url: &StorageUrl) -> Result<Store, String> {
        let inner: Arc<dyn ObjectStore> = match url {
            StorageUrl::Directory(dir) => {
                std::fs::create_dir_all(dir)
                    .map_err(|e| format!("cannot create the storage directory {dir:?}: {e}"))?;
                Arc::new(
                    LocalFileSystem::new_with_prefix(dir)
                        .map_err(|e| format!("storage directory {dir:?}: {e}"))?,
                )
            }
            StorageUrl::S3 { bucket, prefix } => {
                // TLS for https endpoints goes through rustls with ring; installing the provider
                // twice is harmless (the second attempt is refused).
                let _ = rustls::crypto::ring::default_provider().install_default();
                let s3 = AmazonS3Builder::from_env()
                    .with_bucket_name(bucket)
                    .with_allow_http(true)
                    .build()
                    .map_err(|e| format!("S3 storage: {e}"))?;
                if prefix.is_empty() {
                    Arc::new(s3)
                } else {
                    Arc::new(PrefixStore::new(s3, prefix.as_str()))
                }
            }
        };
        Ok(Store { inner })
    }

    /// Writes `body` under `key`, in parts, hashing and counting it; past `limit` bytes the
    /// write is aborted.
    pub async fn put_stream<S, E>(&self, key: &str, body: S, limit: u64) -> Result<Stored, PutError>
    where
        S: Stream<Item = Result<Bytes, E>> + Unpin,
        E: std::fmt::Display,
    {
        let path = ObjectPath::from(key);
        // A file that fits in one part is written with one request (most files: an S3 store
        // answers one PUT sooner than the three requests of a multipart upload); a larger one
        // becomes a multipart upload once its first part is full.
        let mut first_part: Vec<Bytes> = Vec::new();
        let mut first_part_len = 0usize;
        let mut writer: Option<WriteMultipart> = None;
        let mut body = body;
        let mut hasher = Sha256::new();
        let mut size: u64 = 0;
        let mut head = Vec::with_capacity(HEAD_BYTES);
        while let Some(chunk) = body.next().await {
            let chunk = match chunk {
                Ok(chunk) => chunk,
                Err(e) => {
                    abort(writer).await;
                    return Err(PutError::Body(e.to_string()));
                }
            };
            size = size.saturating_add(chunk.len() as u64);
            if size > limit {
                abort(writer).await;
                return Err(PutError::TooLarge);
            }
            if head.len() < HEAD_BYTES {
                let take = chunk.len().min(HEAD_BYTES - head.len());
                head.extend_from_slice(chunk.get(..take).unwrap_or_default());
            }
            hasher.update(&chunk);
            match writer.as_mut() {
                Some(started) => {
                    // Waits while too many parts are in flight, so memory stays bounded.
                    if let Err(e) = started.wait_for_capacity(2).await {
                        abort(writer).await;
                        return Err(PutError::Store(e));
                    }
                    started.write(&chunk);
                }
                None => {
                    first_part_len += chunk.len();
                    first_part.push(chunk);
                    if first_part_len > PART_BYTES {
                        let upload = self
                            .inner
                            .put_multipart(&path)
                            .await
                            .map_err(PutError::Store)?;
                        let mut started = WriteMultipart::new_with_chunk_size(upload, PART_BYTES);
                        for part in first_part.drain(..) {
                            started.write(&part);
                        }
                        writer = Some(started);
                    }
                }
            }
        }
        match writer {
            Some(writer) => writer.finish().await.map(|_| ()),
            None => self
                .inner
                .put(&path, first_part.into_iter().collect())
                .await
                .map(|_| ()),
        }
        .map_err(PutError::Store)?;
        Ok(Stored {
            size,
            sha256: format!("{:x}", hasher.finalize()),
            head: Bytes::from(head),
        })
    }

    /// The object's bytes, as a stream.
    pub async fn get(
        &self,
        key: &str,
    ) -> Result<impl Stream<Item = Result<Bytes, object_store::Error>>, object_store::Error> {
        Ok(self.inner.get(&ObjectPath::from(key)).await?.into_stream())
    }

    /// Bytes `range` of the object (the end past the object's end is cut to it), as a stream.
    pub async fn get_range(
        &self,
        key: &str,
        range: std::ops::Range<u64>,
    ) -> Result<impl Stream<Item = Result<Bytes, object_store::Error>>, object_store::Error> {
        let options = object_store::GetOptions {
            range: Some(object_store::GetRange::Bounded(range)),
            ..Default::default()
        };
        Ok(self
            .inner
            .get_opts(&ObjectPath::from(key), options)
            .await?
            .into_stream())
    }

    /// The whole object in memory: only for objects whose size is known to be bounded.
    pub async fn get_bytes(&self, key: &str) -> Result<Bytes, object_store::Error> {
        self.inner.get(&ObjectPath::from(key)).await?.bytes().await
    }

    /// Writes a small object in one request.
    pub async fn put(&self, key: &str, bytes: Bytes) -> Result<(), object_store::Error> {
        self.inner
            .put(&ObjectPath::from(key), bytes.into())
            .await
            .map(|_| ())
    }

    /// The keys under `prefix` (`attachments`, `thumbnails`) last written before `before`.
    pub async fn keys_older_than(
        &self,
        prefix: &str,
        before: chrono::DateTime<chrono::Utc>,
    ) -> Result<Vec<String>, object_store::Error> {
        let mut listed = self.inner.list(Some(&ObjectPath::from(prefix)));
        let mut keys = Vec::new();
        while let Some(meta) = listed.next().await {
            let meta = meta?;
            if meta.last_modified < before {
                keys.push(meta.location.to_string());
            }
        }
        Ok(keys)
    }

    /// Removes the object; one already gone is no error.
    pub async fn delete(&self, key: &str) -> Result<(), object_store::Error> {
        match self.inner.delete(&ObjectPath::from(key)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Whether an object is stored under `key`.
    pub async fn exists(&self, key: &str) -> Result<bool, object_store::Error> {
        match self.inner.head(&ObjectPath::from(key)).await {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(e),
        }
    }
}

/// Gives up a multipart upload, if one was started (its parts are removed).
async fn abort(writer: Option<WriteMultipart>) {
    if let Some(writer) = writer {
        let _ = writer.abort().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn storage_urls() {
        assert_eq!(
            StorageUrl::parse("s3://files/parley/a/"),
            Ok(StorageUrl::S3 {
                bucket: "files".into(),
                prefix: "parley/a".into()
            })
        );
        assert_eq!(
            StorageUrl::parse("s3://files"),
            Ok(StorageUrl::S3 {
                bucket: "files".into(),
                prefix: String::new()
            })
        );
        assert_eq!(
            StorageUrl::parse("./data/attachments"),
            Ok(StorageUrl::Directory("./data/attachments".into()))
        );
        assert!(StorageUrl::parse("s3://").is_err());
        assert!(StorageUrl::parse("gs://bucket").is_err());
        assert!(StorageUrl::parse(" ").is_err());
    }
}
