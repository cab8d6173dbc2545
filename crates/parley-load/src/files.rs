//! Files: many clients uploading images (each followed by its thumbnail), and one large file
//! up and down while the server's memory is watched.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use clap::Args;
use futures_util::StreamExt;
use image::ImageEncoder;
use serde_json::Value;

use crate::client::{run_id, Api, User};
use crate::report::{Report, Tally};
use crate::Common;

#[derive(Args, Debug, Clone)]
pub struct UploadArgs {
    /// Concurrent uploaders.
    #[arg(long, default_value_t = 16)]
    pub clients: usize,
    /// Side of the square PNG uploaded, in pixels (random pixels: 296 makes 256 KiB).
    #[arg(long, default_value_t = 296)]
    pub side: u32,
    /// Uploads at most.
    #[arg(long, default_value_t = 100_000)]
    pub count: usize,
}

#[derive(Args, Debug, Clone)]
pub struct TransferArgs {
    /// Size of the file, in MiB (the server's PARLEY_MAX_UPLOAD_BYTES must allow it).
    #[arg(long, default_value_t = 100)]
    pub mib: usize,
}

/// A PNG of random pixels (which do not compress, so its size is about side² × 3 bytes).
fn noise_png(side: u32) -> Result<Vec<u8>, String> {
    use rand::RngCore;
    let mut pixels = vec![0u8; (side as usize) * (side as usize) * 3];
    rand::thread_rng().fill_bytes(&mut pixels);
    let mut out = Vec::new();
    image::codecs::png::PngEncoder::new(&mut out)
        .write_image(&pixels, side, side, image::ExtendedColorType::Rgb8)
        .map_err(|e| format!("making the image: {e}"))?;
    Ok(out)
}

/// Uploads `body` as `name`; the attachment's id, or the status it was refused with.
async fn upload(api: &Api, user: &User, name: &str, kind: &str, body: Bytes) -> Result<i64, u16> {
    let sent = api
        .client
        .post(format!("{}/api/v1/attachments?filename={name}", api.base))
        .bearer_auth(&user.token)
        .insert_header(("Content-Type", kind))
        .timeout(Duration::from_secs(600))
        .send_body(body)
        .await;
    let mut answer = sent.map_err(|_| 0u16)?;
    let status = answer.status().as_u16();
    let body: Value = answer.json().await.map_err(|_| status)?;
    match (status, body.get("id").and_then(Value::as_i64)) {
        (201, Some(id)) => Ok(id),
        _ => Err(status),
    }
}

/// GETs `path` and counts its bytes without keeping them; the status and the count.
async fn fetch_counting(api: &Api, user: &User, path: &str) -> (u16, u64) {
    let Ok(mut answer) = api
        .client
        .get(format!("{}{path}", api.base))
        .bearer_auth(&user.token)
        .timeout(Duration::from_secs(600))
        .send()
        .await
    else {
        return (0, 0);
    };
    let status = answer.status().as_u16();
    let mut bytes = 0u64;
    while let Some(chunk) = answer.next().await {
        match chunk {
            Ok(chunk) => bytes += chunk.len() as u64,
            Err(_) => return (0, bytes),
        }
    }
    (status, bytes)
}

pub async fn uploads(common: &Common, args: UploadArgs) -> Result<Report, String> {
    let api = Api::new(common.url());
    let run = run_id();
    let mut users = Vec::with_capacity(args.clients.max(1));
    for n in 0..args.clients.max(1) {
        users.push(api.register(&run, n).await?);
    }
    let image = Bytes::from(noise_png(args.side)?);
    let issued = Arc::new(AtomicUsize::new(0));
    let deadline = Instant::now() + common.time_limit();
    let started = Instant::now();
    let meter = crate::cpu::Meter::start(common.server_pid);
    let lanes = users.into_iter().map(|user| {
        let (api, issued, image) = (api.clone(), issued.clone(), image.clone());
        async move {
            let mut tally = Tally::default();
            let mut no_thumbnail = 0u64;
            while Instant::now() < deadline && issued.fetch_add(1, Ordering::Relaxed) < args.count {
                let t = Instant::now();
                let up = upload(&api, &user, "photo.png", "image/png", image.clone()).await;
                let ok = match up {
                    Ok(id) => {
                        let path = format!("/api/v1/attachments/{id}/thumbnail");
                        let (status, bytes) = fetch_counting(&api, &user, &path).await;
                        if status != 200 || bytes == 0 {
                            no_thumbnail += 1;
                        }
                        status == 200
                    }
                    Err(_) => false,
                };
                let status = match up {
                    Ok(_) => 201,
                    Err(status) => status,
                };
                tally.record(status, ok, t.elapsed());
            }
            (tally, no_thumbnail)
        }
    });
    let results = futures_util::future::join_all(lanes).await;
    let elapsed = started.elapsed();
    let mut report = Report::new("upload");
    report.cpu(meter.finish());
    report.param("clients", args.clients);
    report.param("image (PNG bytes)", image.len());
    report.param("each", "upload, then its thumbnail");
    let mut tally = Tally::default();
    let mut missing = 0;
    for (lane, no_thumbnail) in results {
        tally.merge(lane);
        missing += no_thumbnail;
    }
    let done = report.absorb(tally);
    report.figure("uploads with thumbnail", done as f64);
    report.figure("per second", done as f64 / elapsed.as_secs_f64());
    report.figure(
        "MiB/s uploaded",
        done as f64 * image.len() as f64 / 1_048_576.0 / elapsed.as_secs_f64(),
    );
    if missing > 0 {
        report.problem(format!("{missing} uploads got no thumbnail"));
    }
    Ok(report)
}

/// The server's resident memory (KiB) sampled every 20 ms while `work` runs: (before, peak).
async fn peak_rss<T>(
    pid: Option<u32>,
    work: impl std::future::Future<Output = T>,
) -> (T, Option<(u64, u64)>) {
    let Some(pid) = pid else {
        return (work.await, None);
    };
    let before = crate::scenarios::resident_kib(pid);
    let peak = Arc::new(AtomicUsize::new(0));
    let watching = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let watcher = {
        let (peak, watching) = (peak.clone(), watching.clone());
        actix_rt::spawn(async move {
            while watching.load(Ordering::Relaxed) {
                if let Some(kib) = crate::scenarios::resident_kib(pid) {
                    peak.fetch_max(kib as usize, Ordering::Relaxed);
                }
                actix_rt::time::sleep(Duration::from_millis(20)).await;
            }
        })
    };
    let out = work.await;
    watching.store(false, Ordering::Relaxed);
    let _ = watcher.await;
    (
        out,
        before.map(|b| (b, peak.load(Ordering::Relaxed) as u64)),
    )
}

pub async fn transfer(common: &Common, args: TransferArgs) -> Result<Report, String> {
    let api = Api::new(common.url());
    let user = api.register(&run_id(), 0).await?;
    let size = args.mib.max(1) * 1_048_576;
    let mut body = vec![0u8; size];
    {
        use rand::RngCore;
        rand::thread_rng().fill_bytes(&mut body);
    }
    let body = Bytes::from(body);
    let mut report = Report::new("transfer");
    report.param("file (MiB)", args.mib);

    let t = Instant::now();
    let (uploaded, up_rss) = peak_rss(
        common.server_pid,
        upload(
            &api,
            &user,
            "big.bin",
            "application/octet-stream",
            body.clone(),
        ),
    )
    .await;
    let up_secs = t.elapsed().as_secs_f64();
    let id = uploaded.map_err(|status| format!("the upload answered {status}"))?;
    report.figure("upload MiB/s", args.mib as f64 / up_secs);

    let path = format!("/api/v1/attachments/{id}/content");
    let t = Instant::now();
    let ((status, bytes), down_rss) =
        peak_rss(common.server_pid, fetch_counting(&api, &user, &path)).await;
    let down_secs = t.elapsed().as_secs_f64();
    if status != 200 || bytes != size as u64 {
        report.problem(format!("the download answered {status} with {bytes} bytes"));
    }
    report.figure("download MiB/s", args.mib as f64 / down_secs);
    for (what, rss) in [("upload", up_rss), ("download", down_rss)] {
        if let Some((before, peak)) = rss {
            report.figure(
                &format!("server RSS before {what} (MiB)"),
                before as f64 / 1024.0,
            );
            report.figure(
                &format!("server RSS growth during {what} (MiB)"),
                peak.saturating_sub(before) as f64 / 1024.0,
            );
        }
    }
    Ok(report)
}
