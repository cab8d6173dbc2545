//! Thumbnails: a raster image scaled to fit 320×320 and re-encoded as JPEG, so that nothing of
//! the original but its pixels survives (no EXIF, no GPS position, no ICC profile, no
//! comments). Decoding is bounded: an image whose header promises more pixels than
//! `MAX_PIXELS`, or whose decoding would need more than `MAX_DECODE_BYTES`, is refused before
//! its pixels are allocated — a decompression bomb is an error, not an allocation.
//! CPU-bound: callers run it on a blocking thread.

use std::io::Cursor;

use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader, Limits};

/// The largest side of a thumbnail.
pub const THUMBNAIL_SIDE: u32 = 320;
/// Most pixels an image may have to get a thumbnail (a 40-megapixel camera's photo fits).
pub const MAX_PIXELS: u64 = 40_000_000;
/// Most bytes one decode may allocate (40 megapixels of RGBA and then some).
const MAX_DECODE_BYTES: u64 = 256 * 1024 * 1024;
/// Most pixels along either side.
const MAX_SIDE: u32 = 20_000;
/// JPEG quality of a thumbnail: small, and good enough at this size.
const QUALITY: u8 = 80;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ThumbnailError {
    /// More pixels than a thumbnail is made of.
    #[error("the image is too large to make a thumbnail of ({width}×{height} pixels)")]
    TooLarge { width: u32, height: u32 },
    /// Not an image this server decodes, or a damaged one.
    #[error("the image cannot be decoded: {0}")]
    Undecodable(String),
}

/// The content type of every thumbnail.
pub const THUMBNAIL_TYPE: &str = "image/jpeg";

/// A JPEG of at most 320×320 pixels showing the image of `bytes` (PNG, JPEG, GIF or WebP; a
/// GIF's or WebP's first frame), keeping its proportions.
pub fn make(bytes: &[u8]) -> Result<Vec<u8>, ThumbnailError> {
    let undecodable = |e: &dyn std::fmt::Display| ThumbnailError::Undecodable(e.to_string());
    let reader = || {
        ImageReader::new(Cursor::new(bytes))
            .with_guessed_format()
            .map_err(|e| undecodable(&e))
    };
    let mut decoder = reader()?;
    if !matches!(
        decoder.format(),
        Some(ImageFormat::Png | ImageFormat::Jpeg | ImageFormat::Gif | ImageFormat::WebP)
    ) {
        return Err(ThumbnailError::Undecodable(
            "not a PNG, JPEG, GIF or WebP".into(),
        ));
    }
    // The header alone first: refuse a bomb by what it promises.
    let (width, height) = reader()?.into_dimensions().map_err(|e| undecodable(&e))?;
    if u64::from(width) * u64::from(height) > MAX_PIXELS {
        return Err(ThumbnailError::TooLarge { width, height });
    }
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(MAX_DECODE_BYTES);
    decoder.limits(limits);
    let failed = |e: image::ImageError| match e {
        image::ImageError::Limits(_) => ThumbnailError::TooLarge { width, height },
        e => undecodable(&e),
    };
    let mut decoder = decoder.into_decoder().map_err(failed)?;
    // A phone's photo is stored as the sensor saw it, with an EXIF tag saying how to turn it;
    // the thumbnail keeps no tag, so it is turned here.
    let orientation = decoder.orientation().map_err(failed)?;
    let mut image = DynamicImage::from_decoder(decoder).map_err(failed)?;
    image.apply_orientation(orientation);
    // Scaled down only: a small image keeps its size.
    let fits = image.width() <= THUMBNAIL_SIDE && image.height() <= THUMBNAIL_SIDE;
    let image = if fits {
        image
    } else {
        image.thumbnail(THUMBNAIL_SIDE, THUMBNAIL_SIDE)
    };
    // JPEG has no alpha: transparent pixels become their colour on black, as most viewers show.
    let small = image.into_rgb8();
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, QUALITY)
        .encode_image(&small)
        .map_err(|e| undecodable(&e))?;
    Ok(out)
}

/// A valid PNG header (signature and IHDR with its CRC) for an image of the given size, a
/// few bytes of compressed data and the end: what a decompression bomb looks like to
/// anything that reads headers (a real one's data inflates to the size it promises).
#[cfg(any(test, feature = "fault-injection"))]
pub fn bomb_png(width: u32, height: u32) -> Vec<u8> {
    let mut out = vec![0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a];
    let mut ihdr = b"IHDR".to_vec();
    ihdr.extend_from_slice(&width.to_be_bytes());
    ihdr.extend_from_slice(&height.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
    out.extend_from_slice(&13u32.to_be_bytes());
    out.extend_from_slice(&ihdr);
    out.extend_from_slice(&crc32(&ihdr).to_be_bytes());
    // An empty zlib stream.
    let mut idat = b"IDAT".to_vec();
    idat.extend_from_slice(&[0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01]);
    out.extend_from_slice(&8u32.to_be_bytes());
    out.extend_from_slice(&idat);
    out.extend_from_slice(&crc32(&idat).to_be_bytes());
    out.extend_from_slice(&0u32.to_be_bytes());
    out.extend_from_slice(b"IEND");
    out.extend_from_slice(&crc32(b"IEND").to_be_bytes());
    out
}

#[cfg(any(test, feature = "fault-injection"))]
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xffff_ffffu32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xedb8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}
#[cfg(test)]
mod tests {
    use super::*;
    use image::{ImageEncoder, RgbImage};

    fn png(width: u32, height: u32) -> Vec<u8> {
        let image = RgbImage::from_fn(width, height, |x, y| {
            image::Rgb([(x % 256) as u8, (y % 256) as u8, 128])
        });
        let mut out = Vec::new();
        image::codecs::png::PngEncoder::new(&mut out)
            .write_image(&image, width, height, image::ExtendedColorType::Rgb8)
            .unwrap();
        out
    }

    fn dimensions(jpeg: &[u8]) -> (u32, u32) {
        let size = imagesize::blob_size(jpeg).unwrap();
        (size.width as u32, size.height as u32)
    }

    #[test]
    fn scales_down_keeping_proportions_and_never_up() {
        let thumb = make(&png(1000, 500)).unwrap();
        assert_eq!(&thumb[..2], &[0xff, 0xd8], "a JPEG");
        assert_eq!(dimensions(&thumb), (320, 160));
        assert_eq!(dimensions(&make(&png(100, 60)).unwrap()), (100, 60));
    }

    /// A JPEG carrying an EXIF segment (with a GPS tag's name in it) loses it.
    #[test]
    fn metadata_does_not_survive() {
        let mut jpeg = Vec::new();
        let image = RgbImage::from_pixel(64, 64, image::Rgb([10, 200, 30]));
        image::codecs::jpeg::JpegEncoder::new(&mut jpeg)
            .encode_image(&image)
            .unwrap();
        // APP1 "Exif" segment right after SOI.
        let payload = b"Exif\0\0GPSLatitude 48.8584 N, secret";
        let mut app1 = vec![0xff, 0xe1];
        app1.extend_from_slice(&((payload.len() + 2) as u16).to_be_bytes());
        app1.extend_from_slice(payload);
        let mut tagged = jpeg[..2].to_vec();
        tagged.extend_from_slice(&app1);
        tagged.extend_from_slice(&jpeg[2..]);
        assert!(tagged.windows(11).any(|w| w == b"GPSLatitude"));
        let thumb = make(&tagged).unwrap();
        assert!(!thumb.windows(11).any(|w| w == b"GPSLatitude"));
        assert!(!thumb.windows(4).any(|w| w == b"Exif"));
    }

    /// A photo taken sideways (EXIF orientation 6: turn 90° clockwise to show) comes out
    /// upright, with no EXIF left to say so.
    #[test]
    fn the_orientation_tag_is_applied() {
        let mut jpeg = Vec::new();
        let image = RgbImage::from_pixel(64, 32, image::Rgb([200, 10, 10]));
        image::codecs::jpeg::JpegEncoder::new(&mut jpeg)
            .encode_image(&image)
            .unwrap();
        let mut tiff = b"Exif\0\0II\x2a\0\x08\0\0\0\x01\0".to_vec();
        tiff.extend_from_slice(&[0x12, 0x01, 3, 0, 1, 0, 0, 0, 6, 0, 0, 0, 0, 0, 0, 0]);
        let mut app1 = vec![0xff, 0xe1];
        app1.extend_from_slice(&((tiff.len() + 2) as u16).to_be_bytes());
        app1.extend_from_slice(&tiff);
        let mut turned = jpeg[..2].to_vec();
        turned.extend_from_slice(&app1);
        turned.extend_from_slice(&jpeg[2..]);
        let thumb = make(&turned).unwrap();
        assert_eq!(dimensions(&thumb), (32, 64));
        assert!(!thumb.windows(4).any(|w| w == b"Exif"));
    }

    /// A PNG whose header promises 100,000 × 100,000 pixels (tens of gigabytes decoded) in a
    /// few hundred bytes: refused by its header, nothing allocated.
    #[test]
    fn a_decompression_bomb_is_refused() {
        let bomb = super::bomb_png(100_000, 100_000);
        assert!(bomb.len() < 1024);
        assert_eq!(
            make(&bomb),
            Err(ThumbnailError::TooLarge {
                width: 100_000,
                height: 100_000
            })
        );
    }

    #[test]
    fn garbage_is_undecodable() {
        assert!(matches!(
            make(b"<html>not an image</html>"),
            Err(ThumbnailError::Undecodable(_))
        ));
        let mut cut = png(50, 50);
        cut.truncate(cut.len() / 2);
        assert!(matches!(make(&cut), Err(ThumbnailError::Undecodable(_))));
    }
}
