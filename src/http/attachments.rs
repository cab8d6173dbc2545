//! Uploading files and reading them back: the upload streamed to the store under the size
//! limit, the bytes served with headers no file can turn into a page of this origin, and
//! thumbnails of images.

use actix_web::body::SizedStream;
use actix_web::http::header::{self, ByteRangeSpec, Header, Range};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse, HttpResponseBuilder};
use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use parley_types::AttachmentId;
use sha2::{Digest, Sha256};

use super::error::ApiResult;
use super::error_docs::{
    Always, Authenticated, BadRequest, Conflict, Forbidden, NotFound, RateLimited,
};
use super::extractors::{parse_query, path_id, AuthUser, IdempotencyHeader};
use super::{json, reply, AppState};
use crate::actors::db_ops::{ReadableAttachment, RecordUpload, RefuseThumbnail, SetThumbnail};
use crate::actors::messages::Reply;
use crate::domain::attachments::{self as rules, StoredFile};
use crate::domain::commands::NewUpload;
use crate::domain::Attachment;
use crate::error::{AppError, ErrorCode};
use crate::files::{self, ThumbnailFailure};
use crate::storage::PutError;
use crate::thumbnails::{ThumbnailError, THUMBNAIL_TYPE};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(super::endpoint("/attachments").post(upload))
        .service(super::endpoint("/attachments/{attachment_id}").get(get_attachment))
        .service(super::endpoint("/attachments/{attachment_id}/content").get(content))
        .service(super::endpoint("/attachments/{attachment_id}/thumbnail").get(thumbnail));
}

/// A file's bytes, as the OpenAPI document shows an upload's body (never read as a value).
#[derive(utoipa::ToSchema)]
#[schema(value_type = String, format = Binary)]
#[allow(dead_code)]
pub struct FileBytes(Vec<u8>);

#[derive(serde::Deserialize)]
struct UploadQuery {
    filename: Option<String>,
}

/// The declared type, or none when the header is missing or not text.
fn declared_type(req: &HttpRequest) -> Option<&str> {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

/// "The same upload" for `Idempotency-Key`: the route, the name, the declared type and the
/// bytes (by their sha256).
fn upload_fingerprint(filename: &str, declared: Option<&str>, sha256: &str) -> String {
    let mut hasher = Sha256::new();
    for part in [
        "POST /api/v1/attachments",
        filename,
        declared.unwrap_or(""),
        sha256,
    ] {
        hasher.update(part.as_bytes());
        hasher.update(b"\n");
    }
    format!("{:x}", hasher.finalize())
}

/// The request body as a stream that ends with an error when the client stays silent longer
/// than `idle` between two chunks (a whole large file may take long; a stalled one may not).
fn body_with_idle_limit(
    payload: web::Payload,
    idle: std::time::Duration,
) -> impl Stream<Item = Result<Bytes, String>> + Unpin {
    Box::pin(futures_util::stream::unfold(
        Some(payload),
        move |payload| async move {
            let mut payload = payload?;
            match tokio::time::timeout(idle, payload.next()).await {
                Ok(Some(Ok(chunk))) => Some((Ok(chunk), Some(payload))),
                Ok(Some(Err(e))) => Some((Err(e.to_string()), None)),
                Ok(None) => None,
                Err(_) => Some((Err("the body stopped arriving".to_owned()), None)),
            }
        },
    ))
}

#[utoipa::path(
    post,
    path = "/api/v1/attachments",
    tag = "attachments",
    params(
        ("filename" = String, Query, description = "1-255 bytes, without '/', '\\', control characters or bidirectional overrides", min_length = 1, max_length = 255, pattern = "^[^/\\\\\\u0000-\\u001F\\u007F-\\u009F\\u202A-\\u202E\\u2066-\\u2069]+$"),
        ("Idempotency-Key" = Option<String>, Header, description = "1-255 printable ASCII characters; a retry with the same key and the same bytes is answered once", pattern = "^[ -~]{1,255}$"),
    ),
    request_body(content = inline(FileBytes), content_type = "*/*", description = "The file's bytes; its type in Content-Type (application/octet-stream when missing)"),
    responses(
        (status = 201, description = "Stored; visible to its uploader until a message holds it", body = Attachment, headers(("Idempotent-Replayed" = bool, description = "present (true) when the stored answer of an earlier request with the same key is returned"))),
        (status = 408, description = "The body stopped arriving for longer than PARLEY_BODY_TIMEOUT_SECS; nothing is kept", body = super::error::ErrorBody),
        (status = 413, description = "Larger than the server's limit (PARLEY_MAX_UPLOAD_BYTES); nothing is kept", body = super::error::ErrorBody),
        (status = 422, description = "Empty body, a bad filename, or an Idempotency-Key used for other bytes", body = super::error::ErrorBody),
        Always,
        Authenticated,
        BadRequest,
        Conflict,
        RateLimited
    ),
    security(("bearer" = []))
)]
pub async fn upload(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: AuthUser,
    key: IdempotencyHeader,
    payload: web::Payload,
) -> ApiResult<HttpResponse> {
    let query: UploadQuery = parse_query(req.query_string())?;
    let filename = query.filename.unwrap_or_default();
    rules::check_filename(&filename).map_err(|e| AppError::validation(vec![e]))?;
    let limit = state.max_upload_bytes;
    let announced: Option<u64> = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok());
    if announced.is_some_and(|len| len > limit) {
        return Err(AppError::UploadTooLarge { limit_bytes: limit }.into());
    }
    if announced == Some(0) {
        return Err(AppError::invalid("body", "must hold the file's bytes").into());
    }
    let declared = declared_type(&req);
    let storage_key = files::new_key(files::ORIGINALS);
    let body = body_with_idle_limit(payload, state.body_timeout);
    let stored = match state.files.put_stream(&storage_key, body, limit).await {
        Ok(stored) => stored,
        Err(PutError::TooLarge) => {
            return Err(AppError::UploadTooLarge { limit_bytes: limit }.into())
        }
        Err(PutError::Body(_)) => return Err(AppError::RequestTimeout.into()),
        Err(PutError::Store(e)) => {
            return Err(AppError::Unavailable(format!("file store: {e}")).into())
        }
    };
    // From here on the object exists: every way out that does not record it removes it.
    let recorded = async {
        if stored.size == 0 {
            return Err(AppError::invalid("body", "must hold the file's bytes"));
        }
        let content_type = rules::served_type(declared, &stored.head);
        let (width, height) = rules::image_dimensions(&content_type, &stored.head)
            .and_then(|(w, h)| Some((i32::try_from(w).ok()?, i32::try_from(h).ok()?)))
            .unzip();
        let key = key.bind(&upload_fingerprint(&filename, declared, &stored.sha256));
        let upload = NewUpload {
            uploader_id: user.user_id,
            filename,
            content_type,
            size: i64::try_from(stored.size).unwrap_or(i64::MAX),
            sha256: stored.sha256,
            width,
            height,
            storage_key: storage_key.clone(),
        };
        state
            .actors
            .write_outside_chats(RecordUpload { key, upload })
            .await
    }
    .await;
    // A replay answers with the first upload's attachment, and a refusal (a bad body, a key
    // used for other bytes) rolled back before anything was stored: this copy is not needed.
    // After any other failure the row may have committed with the answer lost, so the object
    // stays; if no row knows it, the sweeper removes it.
    let unneeded = match &recorded {
        Ok(Reply::Replayed(_)) => true,
        Ok(Reply::Fresh { .. }) => false,
        Err(e) => matches!(e, AppError::Validation { .. } | AppError::Conflict { .. }),
    };
    if unneeded {
        let _ = state.files.delete(&storage_key).await;
    }
    reply(recorded?)
}

async fn readable(state: &AppState, user: AuthUser, raw_id: &str) -> ApiResult<StoredFile> {
    let attachment_id = path_id(raw_id, AttachmentId)?;
    Ok(state
        .actors
        .ask(ReadableAttachment {
            user_id: user.user_id,
            attachment_id,
        })
        .await?)
}

#[utoipa::path(
    get,
    path = "/api/v1/attachments/{attachment_id}",
    tag = "attachments",
    params(("attachment_id" = i64, Path, minimum = 1)),
    responses(
        (status = 200, body = Attachment),
        Always,
        Authenticated,
        NotFound,
        Forbidden
    ),
    security(("bearer" = []))
)]
pub async fn get_attachment(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let file = readable(&state, user, &path).await?;
    Ok(json(StatusCode::OK, &file.attachment))
}

/// The headers every file answer carries: nothing served from here is ever run or rendered as
/// a page of this origin.
fn file_headers(builder: &mut HttpResponseBuilder, etag: &str) {
    builder
        .insert_header((header::ETAG, etag.to_owned()))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((
            header::CONTENT_SECURITY_POLICY,
            "sandbox; default-src 'none'",
        ))
        // Only its readers may see it: no shared cache keeps it.
        .insert_header((header::CACHE_CONTROL, "private, no-cache"));
}

/// Whether `If-None-Match` names this `etag` (or `*`).
fn not_modified(req: &HttpRequest, etag: &str) -> bool {
    req.headers()
        .get_all(header::IF_NONE_MATCH)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .any(|tag| tag == "*" || tag == etag || tag.strip_prefix("W/") == Some(etag))
}

/// The one range to serve, if the request asks for one this answer honours: a single byte
/// range, and no `If-Range` naming another version. `Err` when it lies outside the file.
fn wanted_range(req: &HttpRequest, etag: &str, size: u64) -> Result<Option<(u64, u64)>, AppError> {
    if req
        .headers()
        .get(header::IF_RANGE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim() != etag)
    {
        return Ok(None);
    }
    // A malformed Range, or several ranges (which would need multipart/byteranges), is served
    // as the whole file, as RFC 9110 allows.
    let Ok(Range::Bytes(specs)) = Range::parse(req) else {
        return Ok(None);
    };
    let [spec]: [ByteRangeSpec; 1] = match specs.try_into() {
        Ok(one) => one,
        Err(_) => return Ok(None),
    };
    spec.to_satisfiable_range(size)
        .map(Some)
        .ok_or(AppError::RangeNotSatisfiable { size })
}

#[utoipa::path(
    get,
    path = "/api/v1/attachments/{attachment_id}/content",
    tag = "attachments",
    params(
        ("attachment_id" = i64, Path, minimum = 1),
        ("Range" = Option<String>, Header, description = "one byte range, e.g. bytes=0-1023"),
        ("If-None-Match" = Option<String>, Header, description = "the ETag a client holds"),
    ),
    responses(
        (status = 200, description = "The bytes, streamed, as their detected type", content_type = "*/*", headers(
            ("ETag" = String, description = "the sha256, quoted"),
            ("Content-Disposition" = String, description = "inline for PNG, JPEG, GIF and WebP; attachment with the filename otherwise"),
            ("X-Content-Type-Options" = String, description = "nosniff"),
            ("Content-Security-Policy" = String, description = "sandbox; default-src 'none'"),
        )),
        (status = 206, description = "The bytes of the range", content_type = "*/*"),
        (status = 304, description = "The client's copy is current"),
        (status = 416, description = "The range lies outside the file", body = super::error::ErrorBody),
        Always,
        Authenticated,
        NotFound,
        Forbidden
    ),
    security(("bearer" = []))
)]
pub async fn content(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let file = readable(&state, user, &path).await?;
    let attachment = &file.attachment;
    let etag = format!("\"{}\"", attachment.sha256);
    if not_modified(&req, &etag) {
        let mut answer = HttpResponse::NotModified();
        file_headers(&mut answer, &etag);
        return Ok(answer.finish());
    }
    let size = u64::try_from(attachment.size).unwrap_or(0);
    let range = wanted_range(&req, &etag, size)?;
    let unavailable = store_error;
    let mut answer = match range {
        Some(_) => HttpResponse::PartialContent(),
        None => HttpResponse::Ok(),
    };
    file_headers(&mut answer, &etag);
    answer
        .insert_header((header::CONTENT_TYPE, attachment.content_type.clone()))
        .insert_header((
            header::CONTENT_DISPOSITION,
            rules::content_disposition(&attachment.content_type, &attachment.filename),
        ))
        .insert_header((header::ACCEPT_RANGES, "bytes"));
    let body = match range {
        Some((first, last)) => {
            answer.insert_header((
                header::CONTENT_RANGE,
                format!("bytes {first}-{last}/{size}"),
            ));
            let bytes = state
                .files
                .get_range(&file.storage_key, first..last + 1)
                .await
                .map_err(unavailable)?;
            SizedStream::new(last + 1 - first, boxed(bytes))
        }
        None => {
            let bytes = state
                .files
                .get(&file.storage_key)
                .await
                .map_err(unavailable)?;
            SizedStream::new(size, boxed(bytes))
        }
    };
    Ok(answer.body(body))
}

type StoreStream =
    std::pin::Pin<Box<dyn Stream<Item = Result<Bytes, object_store::Error>> + 'static>>;

fn boxed(stream: impl Stream<Item = Result<Bytes, object_store::Error>> + 'static) -> StoreStream {
    Box::pin(stream)
}

#[utoipa::path(
    get,
    path = "/api/v1/attachments/{attachment_id}/thumbnail",
    tag = "attachments",
    params(("attachment_id" = i64, Path, minimum = 1)),
    responses(
        (status = 200, description = "A JPEG of at most 320×320, without the original's metadata", content_type = "image/jpeg"),
        (status = 304, description = "The client's copy is current"),
        (status = 422, description = "The image is too large to decode (image_too_large) or cannot be decoded (image_undecodable)", body = super::error::ErrorBody),
        Always,
        Authenticated,
        NotFound,
        Forbidden
    ),
    security(("bearer" = []))
)]
pub async fn thumbnail(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let mut file = readable(&state, user, &path).await?;
    if !rules::is_inline_image(&file.attachment.content_type) {
        return Err(AppError::NotFound("thumbnail").into());
    }
    let etag = format!("\"{}-thumbnail\"", file.attachment.sha256);
    if not_modified(&req, &etag) {
        let mut answer = HttpResponse::NotModified();
        file_headers(&mut answer, &etag);
        return Ok(answer.finish());
    }
    if let Some(refusal) = &file.thumbnail_refusal {
        return Err(thumbnail_refused(refusal, &file.attachment).into());
    }
    let unavailable = store_error;
    let bytes = match file.thumbnail_key.clone() {
        Some(key) => state.files.get_bytes(&key).await.map_err(unavailable)?,
        None => {
            let _making = state.files.thumbnail_lock(file.attachment.id).await;
            // Another request may have made it while this one waited.
            file = readable(&state, user, &path).await?;
            match (&file.thumbnail_key, &file.thumbnail_refusal) {
                (Some(key), _) => state.files.get_bytes(key).await.map_err(unavailable)?,
                (None, Some(refusal)) => {
                    return Err(thumbnail_refused(refusal, &file.attachment).into())
                }
                (None, None) => make_thumbnail(&state, &file).await?,
            }
        }
    };
    let mut answer = HttpResponse::Ok();
    file_headers(&mut answer, &etag);
    Ok(answer
        .insert_header((header::CONTENT_TYPE, THUMBNAIL_TYPE))
        .insert_header((header::CONTENT_DISPOSITION, "inline"))
        .body(bytes))
}

/// A store failure as an answer: an object that is gone was removed with its attachment
/// (the message was deleted meanwhile), anything else is the store being unavailable.
fn store_error(e: object_store::Error) -> AppError {
    match e {
        object_store::Error::NotFound { .. } => AppError::NotFound("attachment"),
        e => AppError::Unavailable(format!("file store: {e}")),
    }
}

/// The answer for an image found unfit for a thumbnail (`refusal` is the recorded code).
fn thumbnail_refused(refusal: &str, attachment: &Attachment) -> AppError {
    if refusal == ErrorCode::ImageTooLarge.as_str() {
        AppError::Validation {
            code: ErrorCode::ImageTooLarge,
            detail: format!(
                "The image is too large to make a thumbnail of ({}×{} pixels; at most {} megapixels).",
                attachment.width.unwrap_or(0),
                attachment.height.unwrap_or(0),
                crate::thumbnails::MAX_PIXELS / 1_000_000
            ),
            errors: Vec::new(),
        }
    } else {
        AppError::Validation {
            code: ErrorCode::ImageUndecodable,
            detail: "The image cannot be decoded, so it has no thumbnail.".into(),
            errors: Vec::new(),
        }
    }
}

/// Makes the thumbnail, or records why it cannot be made (so that a refused image is not read
/// and decoded again on every request).
async fn make_thumbnail(state: &AppState, file: &StoredFile) -> Result<Bytes, AppError> {
    let attachment_id = file.attachment.id;
    let refuse = |code: ErrorCode| async move {
        state
            .actors
            .metrics
            .thumbnails
            .with_label_values(&["refused"])
            .inc();
        state
            .actors
            .ask(RefuseThumbnail {
                attachment_id,
                refusal: code,
            })
            .await?;
        Err(thumbnail_refused(code.as_str(), &file.attachment))
    };
    // The header read at upload already tells a bomb: refused without reading the file.
    if let (Some(w), Some(h)) = (file.attachment.width, file.attachment.height) {
        let (w, h) = (u64::try_from(w).unwrap_or(0), u64::try_from(h).unwrap_or(0));
        if w * h > crate::thumbnails::MAX_PIXELS {
            return refuse(ErrorCode::ImageTooLarge).await;
        }
    }
    match state.files.make_thumbnail(&file.storage_key).await {
        Ok((thumbnail_key, bytes)) => {
            state
                .actors
                .ask(SetThumbnail {
                    attachment_id,
                    thumbnail_key,
                })
                .await?;
            Ok(bytes)
        }
        Err(ThumbnailFailure::Image(ThumbnailError::TooLarge { .. })) => {
            refuse(ErrorCode::ImageTooLarge).await
        }
        Err(ThumbnailFailure::Image(ThumbnailError::Undecodable(_))) => {
            refuse(ErrorCode::ImageUndecodable).await
        }
        Err(ThumbnailFailure::Store(e)) => Err(store_error(e)),
        Err(ThumbnailFailure::Internal(e)) => Err(AppError::internal(e)),
    }
}
