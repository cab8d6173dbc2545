//! The file store on both of its implementations: a directory, and a real S3-compatible server
//! (`s3s-fs`). A write is streamed in parts, hashed and counted; past its limit, or when the
//! bytes stop coming, nothing is left behind.

use bytes::Bytes;
use futures_util::stream;
use parley::storage::{PutError, StorageUrl, Store};
use sha2::{Digest, Sha256};

use crate::common::process::S3Server;

/// 12 MiB and a bit, in chunks of uneven sizes: more than two of the store's 5 MiB parts.
fn body() -> (Vec<Bytes>, Vec<u8>) {
    let mut whole = Vec::new();
    let mut chunks = Vec::new();
    let mut x: u32 = 0x9e37_79b9;
    for i in 0..200usize {
        let len = 60_000 + (i * 7_919) % 10_000;
        let chunk: Vec<u8> = (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                (x & 0xff) as u8
            })
            .collect();
        whole.extend_from_slice(&chunk);
        chunks.push(Bytes::from(chunk));
    }
    (chunks, whole)
}

fn chunks_of(chunks: &[Bytes]) -> impl futures_util::Stream<Item = Result<Bytes, String>> + Unpin {
    stream::iter(chunks.iter().cloned().map(Ok).collect::<Vec<_>>())
}

async fn round_trip(store: &Store) {
    let (chunks, whole) = body();
    let stored = store
        .put_stream("attachments/a", chunks_of(&chunks), 64 * 1024 * 1024)
        .await
        .expect("stored");
    assert_eq!(stored.size, whole.len() as u64);
    let expected = format!("{:x}", Sha256::digest(&whole));
    assert_eq!(stored.sha256, expected);
    assert_eq!(&stored.head[..], &whole[..parley::storage::HEAD_BYTES]);

    let mut read = Vec::new();
    let mut got = store.get("attachments/a").await.expect("readable");
    while let Some(chunk) = futures_util::StreamExt::next(&mut got).await {
        read.extend_from_slice(&chunk.expect("chunk"));
    }
    assert!(read == whole, "the bytes read back are the bytes written");

    // Past the limit: refused, and nothing under the key.
    let refused = store
        .put_stream("attachments/b", chunks_of(&chunks), 6 * 1024 * 1024)
        .await;
    assert!(matches!(refused, Err(PutError::TooLarge)), "{refused:?}");
    assert!(!store.exists("attachments/b").await.unwrap());

    // The bytes stop coming half-way (a client that goes away): nothing either.
    let mut broken: Vec<Result<Bytes, String>> = chunks.iter().take(100).cloned().map(Ok).collect();
    broken.push(Err("connection reset".into()));
    let failed = store
        .put_stream("attachments/c", stream::iter(broken), 64 * 1024 * 1024)
        .await;
    assert!(matches!(failed, Err(PutError::Body(_))), "{failed:?}");
    assert!(!store.exists("attachments/c").await.unwrap());

    // The same before a first part is full (one PUT, not yet a multipart upload).
    let refused = store
        .put_stream("attachments/d", chunks_of(&chunks), 1024 * 1024)
        .await;
    assert!(matches!(refused, Err(PutError::TooLarge)), "{refused:?}");
    assert!(!store.exists("attachments/d").await.unwrap());
    let mut broken: Vec<Result<Bytes, String>> = chunks.iter().take(10).cloned().map(Ok).collect();
    broken.push(Err("connection reset".into()));
    let failed = store
        .put_stream("attachments/e", stream::iter(broken), 64 * 1024 * 1024)
        .await;
    assert!(matches!(failed, Err(PutError::Body(_))), "{failed:?}");
    assert!(!store.exists("attachments/e").await.unwrap());
    // A small file: one request, read back whole.
    let small: Vec<Bytes> = chunks.iter().take(3).cloned().collect();
    let expected: Vec<u8> = small.iter().flat_map(|c| c.iter().copied()).collect();
    let stored = store
        .put_stream("attachments/f", chunks_of(&small), 64 * 1024 * 1024)
        .await
        .expect("stored");
    assert_eq!(stored.size, expected.len() as u64);
    assert!(store.get_bytes("attachments/f").await.unwrap() == expected);
    store.delete("attachments/f").await.unwrap();

    store.delete("attachments/a").await.unwrap();
    assert!(!store.exists("attachments/a").await.unwrap());
    // Deleting what is gone is no error.
    store.delete("attachments/a").await.unwrap();
}

#[actix_rt::test]
async fn a_directory_store_streams_counts_and_leaves_nothing_on_failure() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&StorageUrl::Directory(dir.path().join("files"))).unwrap();
    round_trip(&store).await;
    // No stray part files either.
    let left: Vec<_> = walk(&dir.path().join("files"));
    assert!(left.is_empty(), "{left:?}");
}

#[actix_rt::test]
async fn an_s3_store_streams_counts_and_leaves_nothing_on_failure() {
    let Some(s3) = S3Server::start() else {
        eprintln!("s3s-fs is not installed; skipped");
        return;
    };
    // This test's process alone reads these (nextest runs each test in a process of its own).
    for (name, value) in s3.env() {
        std::env::set_var(name, value);
    }
    let store = Store::open(&StorageUrl::S3 {
        bucket: s3.bucket.clone(),
        prefix: "node-a".into(),
    })
    .unwrap();
    round_trip(&store).await;
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            found.extend(walk(&path));
        } else {
            found.push(path);
        }
    }
    found
}
