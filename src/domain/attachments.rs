//! The rules about a file's name and type that the attachment routes apply (issue 27, being
//! built; `docs/design/attachments.md`): what a filename may be, what type a file is served as,
//! and how it is served (shown, or downloaded) — decided from its bytes, not from what the
//! uploader said.

use super::validate::FieldError;

/// Raster images a browser may show in place: everything else is served as a download.
const INLINE_TYPES: [&str; 4] = ["image/png", "image/jpeg", "image/gif", "image/webp"];

/// Types whose bytes have no signature to check, and that a browser neither runs nor renders as
/// a page: served as declared when the bytes do not say otherwise.
const PLAIN_TYPES: [&str; 5] = [
    "text/plain",
    "text/csv",
    "text/markdown",
    "application/json",
    "application/octet-stream",
];

pub const OCTET_STREAM: &str = "application/octet-stream";

/// An attachment with where its bytes are in the store: what the download routes need.
#[derive(Clone, Debug)]
pub struct StoredFile {
    pub attachment: parley_types::Attachment,
    pub storage_key: String,
    /// Once a thumbnail has been made.
    pub thumbnail_key: Option<String>,
    /// Once the image was found unfit for one: the error code it is answered with.
    pub thumbnail_refusal: Option<String>,
}

/// Whether a file of this type is shown in place (and so has a thumbnail).
pub fn is_inline_image(served_type: &str) -> bool {
    INLINE_TYPES.contains(&served_type)
}

/// A filename as the uploader gave it: 1-255 bytes, no `/` or `\`, no control characters,
/// and no bidirectional overrides or isolates (`invoice\u{202E}fdp.exe` would show as
/// `invoiceexe.pdf`).
pub fn check_filename(name: &str) -> Result<(), FieldError> {
    let bidi = |c: char| matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}');
    let fits = (1..=255).contains(&name.len())
        && !name
            .chars()
            .any(|c| c == '/' || c == '\\' || c.is_control() || bidi(c));
    if fits {
        Ok(())
    } else {
        Err(FieldError {
            field: "filename".into(),
            detail: "must be 1-255 bytes, without '/', '\\', control characters or bidirectional overrides".into(),
        })
    }
}

/// The type a file is served as: what its first bytes say it is, when that agrees with the
/// declared type (or none was declared); the declared type when the bytes have no signature and
/// it is a plain type; otherwise `application/octet-stream`, which is only ever downloaded.
pub fn served_type(declared: Option<&str>, head: &[u8]) -> String {
    // `application/octet-stream` claims nothing (it is what a missing type means): the bytes
    // decide, as when no type is declared.
    let declared = declared
        .map(essence)
        .filter(|d| !d.is_empty() && d != OCTET_STREAM);
    match (infer::get(head).map(|t| t.mime_type()), declared.as_deref()) {
        (Some(detected), None) => detected.to_owned(),
        (Some(detected), Some(declared)) if detected == declared => detected.to_owned(),
        (Some(_), Some(_)) => OCTET_STREAM.to_owned(),
        (None, Some(declared)) if PLAIN_TYPES.contains(&declared) => declared.to_owned(),
        (None, _) => OCTET_STREAM.to_owned(),
    }
}

/// `type/subtype` in lowercase, without parameters (`Text/Plain; charset=utf-8` → `text/plain`).
fn essence(content_type: &str) -> String {
    content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase()
}

/// Width and height of a raster image, read from its first bytes (its header alone).
pub fn image_dimensions(served_type: &str, head: &[u8]) -> Option<(u32, u32)> {
    if !INLINE_TYPES.contains(&served_type) {
        return None;
    }
    let size = imagesize::blob_size(head).ok()?;
    Some((
        u32::try_from(size.width).ok()?,
        u32::try_from(size.height).ok()?,
    ))
}

/// The `Content-Disposition` a file is served with: `inline` for raster images, else
/// `attachment` with the name as an RFC 6266 / RFC 5987 `filename*` — every byte outside the
/// attribute characters percent-encoded, so that quotes, CR/LF or any non-ASCII character in a
/// name cannot break the header.
pub fn content_disposition(served_type: &str, filename: &str) -> String {
    if INLINE_TYPES.contains(&served_type) {
        return "inline".to_owned();
    }
    let mut encoded = String::with_capacity(filename.len() * 3);
    for byte in filename.bytes() {
        if byte.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&byte) {
            encoded.push(char::from(byte));
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    format!("attachment; filename*=UTF-8''{encoded}")
}

#[cfg(test)]
mod tests {
    use super::*;

    const PNG: &[u8] = &[
        0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 13, b'I', b'H', b'D', b'R', 0, 0,
        0x01, 0x40, 0, 0, 0, 0xF0, 8, 2, 0, 0, 0,
    ];
    const PDF: &[u8] = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n";
    const HTML: &[u8] = b"<!doctype html><script>alert(1)</script>";

    #[test]
    fn filenames() {
        for good in ["report.pdf", "a", "Résumé (final).docx", &"x".repeat(255)] {
            assert!(check_filename(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "a/b",
            "a\\b",
            "a\nb",
            "a\0b",
            "tab\there",
            "invoice\u{202E}fdp.exe",
            "a\u{2066}b",
            &"x".repeat(256),
        ] {
            assert!(check_filename(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn the_bytes_decide_the_type() {
        assert_eq!(served_type(Some("image/png"), PNG), "image/png");
        assert_eq!(served_type(None, PNG), "image/png");
        // A missing type means application/octet-stream, which claims nothing either.
        assert_eq!(
            served_type(Some("application/octet-stream"), PNG),
            "image/png"
        );
        assert_eq!(
            served_type(Some("application/octet-stream"), b"hello"),
            OCTET_STREAM
        );
        assert_eq!(served_type(Some("IMAGE/PNG; x=1"), PNG), "image/png");
        // A PNG declared as something else, or HTML declared as a PNG: downloaded, never shown.
        assert_eq!(served_type(Some("text/html"), PNG), OCTET_STREAM);
        assert_eq!(served_type(Some("image/png"), HTML), OCTET_STREAM);
        // HTML that says it is HTML is HTML: served as such, but as a download, in a sandbox.
        assert_eq!(served_type(Some("text/html"), HTML), "text/html");
        assert!(content_disposition("text/html", "x.html").starts_with("attachment;"));
        assert_eq!(served_type(Some("image/svg+xml"), b"<svg/>"), OCTET_STREAM);
        // Plain types without a signature are served as declared; others are not.
        assert_eq!(served_type(Some("text/plain"), b"hello"), "text/plain");
        assert_eq!(
            served_type(Some("text/csv; charset=utf-8"), b"a,b\n"),
            "text/csv"
        );
        assert_eq!(served_type(None, b"hello"), OCTET_STREAM);
        assert_eq!(served_type(Some("application/pdf"), PDF), "application/pdf");
        assert_eq!(served_type(Some("text/plain"), PDF), OCTET_STREAM);
    }

    #[test]
    fn dimensions_of_raster_images_only() {
        assert_eq!(image_dimensions("image/png", PNG), Some((320, 240)));
        assert_eq!(image_dimensions("application/pdf", PDF), None);
        assert_eq!(image_dimensions("image/png", b"not a png"), None);
    }

    #[test]
    fn dispositions_cannot_be_broken_by_a_name() {
        assert_eq!(content_disposition("image/webp", "x.webp"), "inline");
        assert_eq!(
            content_disposition("application/pdf", "report 2026.pdf"),
            "attachment; filename*=UTF-8''report%202026.pdf"
        );
        let hostile = content_disposition(OCTET_STREAM, "a\"b\r\nSet-Cookie: x=1;é.html");
        assert_eq!(
            hostile,
            "attachment; filename*=UTF-8''a%22b%0D%0ASet-Cookie%3A%20x%3D1%3B%C3%A9.html"
        );
        assert!(hostile.bytes().all(|b| b.is_ascii_graphic() || b == b' '));
    }
}
