//! `FileSweeper`: brings the file store in line with the database, which is the truth about
//! it. Each sweep marks removed the uploads no message took within a day, removes the bytes
//! (original and thumbnail) of every removed attachment and then its row, and, every so often,
//! removes the objects no row knows — left by a crash between an object's write and its row's
//! (they must be older than a grace period, so that an upload in flight is never taken).
//! Every step can run twice (on two nodes, or again after a crash) without harm: deleting a
//! missing object is no error, and a row is forgotten only once its bytes are gone.

use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;

use super::db_executor::{ask, DbExecutor};
use super::db_ops::{ExpireUnsent, ForgetAttachments, KnownKeys, RemovedAttachments, StoredBytes};
use crate::config::AttachmentSettings;
use crate::domain::Timestamp;
use crate::error::AppResult;
use crate::files::{original_of_thumbnail, thumbnail_key, Files, ORIGINALS, THUMBNAILS};
use crate::metrics::Metrics;

/// Removed attachments handled per step.
const BATCH: i64 = 500;
/// Orphans are looked for on one sweep in this many (listing the store costs a request per
/// thousand objects).
const ORPHAN_SWEEP_EVERY: u64 = 10;

pub struct FileSweeper {
    db: Addr<DbExecutor>,
    files: Files,
    metrics: Arc<Metrics>,
    settings: AttachmentSettings,
    sweeping: bool,
    sweeps: u64,
}

impl FileSweeper {
    pub fn new(
        db: Addr<DbExecutor>,
        files: Files,
        metrics: Arc<Metrics>,
        settings: AttachmentSettings,
    ) -> Self {
        FileSweeper {
            db,
            files,
            metrics,
            settings,
            sweeping: false,
            sweeps: 0,
        }
    }
}

impl Actor for FileSweeper {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        ctx.run_interval(self.settings.sweep_every, |this, ctx| {
            // A sweep that outlasts the interval is not overlapped by the next.
            if this.sweeping {
                return;
            }
            this.sweeping = true;
            let with_orphans = this.sweeps % ORPHAN_SWEEP_EVERY == 0;
            this.sweeps += 1;
            let sweep = Sweep {
                db: this.db.clone(),
                files: this.files.clone(),
                metrics: this.metrics.clone(),
                settings: this.settings,
            };
            ctx.spawn(
                async move {
                    if let Err(e) = sweep.run(with_orphans).await {
                        tracing::warn!(error = %e.chain(), "file sweep failed; retried next time");
                    }
                }
                .into_actor(this)
                .map(|(), this, _| this.sweeping = false),
            );
        });
    }
}

struct Sweep {
    db: Addr<DbExecutor>,
    files: Files,
    metrics: Arc<Metrics>,
    settings: AttachmentSettings,
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

impl Sweep {
    #[tracing::instrument(name = "file_sweep", skip(self))]
    async fn run(&self, with_orphans: bool) -> AppResult<()> {
        let now = Timestamp::now().millis();
        let expired = ask(
            &self.db,
            ExpireUnsent {
                cutoff: now.saturating_sub(millis(self.settings.unsent_ttl)),
                limit: BATCH,
            },
        )
        .await?;
        if expired > 0 {
            tracing::info!(expired, "unsent uploads expired");
        }
        self.remove_removed().await?;
        if with_orphans {
            self.remove_orphans().await?;
            // A sum over the whole table: taken with the (rarer) orphan sweep.
            let bytes = ask(&self.db, StoredBytes).await?;
            self.metrics.attachment_bytes.set(bytes);
        }
        Ok(())
    }

    /// The bytes of removed attachments, then their rows.
    async fn remove_removed(&self) -> AppResult<()> {
        loop {
            let removed = ask(&self.db, RemovedAttachments { limit: BATCH }).await?;
            let full = removed.len() as i64 == BATCH;
            let mut gone = Vec::with_capacity(removed.len());
            for file in &removed {
                let original = self.files.delete(&file.storage_key).await;
                // Named after the original: removed whether or not its row recorded it.
                let thumbnail = self.files.delete(&thumbnail_key(&file.storage_key)).await;
                match (original, thumbnail) {
                    (Ok(()), Ok(())) => gone.push(file.attachment.id),
                    (Err(e), _) | (_, Err(e)) => {
                        tracing::warn!(error = %e, attachment = file.attachment.id.get(),
                            "could not remove an attachment's bytes; retried next sweep");
                    }
                }
            }
            let forgotten = ask(&self.db, ForgetAttachments { ids: gone }).await?;
            self.metrics
                .attachments_swept
                .with_label_values(&["removed"])
                .inc_by(forgotten as u64);
            // A batch with failures is retried next sweep rather than at once.
            if !full || forgotten < removed.len() {
                return Ok(());
            }
        }
    }

    /// Objects older than the grace period that no row knows.
    async fn remove_orphans(&self) -> AppResult<()> {
        let grace =
            chrono::Duration::from_std(self.settings.orphan_grace).unwrap_or(chrono::Duration::MAX);
        let before = chrono::Utc::now() - grace;
        for prefix in [ORIGINALS, THUMBNAILS] {
            let keys = match self.files.keys_older_than(prefix, before).await {
                Ok(keys) => keys,
                Err(e) => {
                    tracing::warn!(error = %e, "could not list the file store");
                    return Ok(());
                }
            };
            for chunk in keys.chunks(usize::try_from(BATCH).unwrap_or(500)) {
                // A thumbnail is known by its original's row.
                let originals: Vec<String> = chunk
                    .iter()
                    .map(|key| original_of_thumbnail(key).unwrap_or_else(|| key.clone()))
                    .collect();
                let known = ask(
                    &self.db,
                    KnownKeys {
                        keys: originals.clone(),
                    },
                )
                .await?;
                for (key, original) in chunk.iter().zip(&originals) {
                    if known.contains(original) {
                        continue;
                    }
                    match self.files.delete(key).await {
                        Ok(()) => {
                            tracing::info!(key, "orphan object removed");
                            self.metrics
                                .attachments_swept
                                .with_label_values(&["orphan"])
                                .inc();
                        }
                        Err(e) => tracing::warn!(error = %e, key, "could not remove an orphan"),
                    }
                }
            }
        }
        Ok(())
    }
}
