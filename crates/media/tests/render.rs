//! The renderer on every format it takes, on hostile input, and on the tools beside it. Cases that
//! need ffmpeg or pdftoppm skip (saying so) when the tool is missing, unless `CI=true`.

use assetlib_core::model::{Rendered, RenderedVersion, THUMBNAIL, WEB};
use assetlib_core::ports::Renderer;
use assetlib_media::render::find_on_path;
use assetlib_media::{MediaRenderer, RenderConfig};
use image::{ImageEncoder, RgbImage, RgbaImage};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

fn renderer() -> MediaRenderer {
    MediaRenderer::new(RenderConfig::detect())
}

fn render_bytes(r: &MediaRenderer, bytes: &[u8], ext: &str) -> assetlib_core::Result<Rendered> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(format!("in.{ext}"));
    std::fs::write(&path, bytes).unwrap();
    r.render(&path, ext)
}

fn version<'a>(r: &'a Rendered, name: &str) -> &'a RenderedVersion {
    r.versions.iter().find(|v| v.name == name).unwrap_or_else(|| panic!("no {name} version"))
}

/// Decodes a rendition, checking that its bytes are what its content type says.
fn decode(v: &RenderedVersion) -> RgbaImage {
    let img = match v.content_type.as_str() {
        "image/jpeg" => {
            assert_eq!(v.extension, "jpg");
            let mut d = jpeg_decoder::Decoder::new(v.bytes.as_slice());
            let data = d.decode().expect("a JPEG");
            let info = d.info().unwrap();
            let (w, h) = (u32::from(info.width), u32::from(info.height));
            let rgb: Vec<u8> = match info.pixel_format {
                jpeg_decoder::PixelFormat::L8 => data.iter().flat_map(|&l| [l, l, l]).collect(),
                jpeg_decoder::PixelFormat::RGB24 => data,
                f => panic!("unexpected {f:?}"),
            };
            image::DynamicImage::ImageRgb8(RgbImage::from_raw(w, h, rgb).unwrap()).into_rgba8()
        }
        "image/png" => {
            assert_eq!(v.extension, "png");
            image::load_from_memory_with_format(&v.bytes, image::ImageFormat::Png).expect("a PNG").into_rgba8()
        }
        t => panic!("unexpected content type {t}"),
    };
    assert_eq!((img.width(), img.height()), (v.width, v.height), "{} declares the wrong size", v.name);
    img
}

fn sizes(r: &Rendered) -> ((u32, u32), (u32, u32)) {
    let web = version(r, WEB);
    let thumb = version(r, THUMBNAIL);
    decode(web);
    decode(thumb);
    ((web.width, web.height), (thumb.width, thumb.height))
}

/// A photo-like test picture: gradients with a little texture.
fn picture(w: u32, h: u32) -> RgbImage {
    RgbImage::from_fn(w, h, |x, y| {
        let n = ((x * 7 + y * 13) % 17) as u8;
        image::Rgb([(x * 255 / w.max(1)) as u8 ^ n, (y * 255 / h.max(1)) as u8, 128 + n])
    })
}

fn jpeg(img: &RgbImage, exif: Option<&[u8]>, icc: Option<&[u8]>) -> Vec<u8> {
    let mut out = Vec::new();
    let mut e = jpeg_encoder::Encoder::new(&mut out, 95);
    if let Some(exif) = exif {
        e.add_exif_metadata(exif).unwrap();
    }
    if let Some(icc) = icc {
        e.add_icc_profile(icc).unwrap();
    }
    e.encode(img.as_raw(), img.width() as u16, img.height() as u16, jpeg_encoder::ColorType::Rgb).unwrap();
    out
}

fn encode_with(format: image::ImageFormat, img: image::DynamicImage) -> Vec<u8> {
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, format).unwrap();
    out.into_inner()
}

#[test]
fn a_large_jpeg_fits_both_boxes_and_keeps_its_aspect() {
    let r = renderer();
    let out = render_bytes(&r, &jpeg(&picture(2400, 1600), None, None), "jpg").unwrap();
    assert_eq!(out.original, Some((2400, 1600)));
    assert_eq!(sizes(&out), ((1600, 1067), (256, 171)));
    assert_eq!(version(&out, WEB).content_type, "image/jpeg");
    let portrait = render_bytes(&r, &jpeg(&picture(600, 1800), None, None), "jpeg").unwrap();
    assert_eq!(sizes(&portrait), ((533, 1600), (85, 256)));
}

#[test]
fn a_small_image_is_never_upscaled() {
    let r = renderer();
    let out = render_bytes(&r, &jpeg(&picture(100, 80), None, None), "jpg").unwrap();
    assert_eq!(out.original, Some((100, 80)));
    assert_eq!(sizes(&out), ((100, 80), (100, 80)));
    let one = render_bytes(&r, &encode_with(image::ImageFormat::Png, picture(1, 1).into()), "png").unwrap();
    assert_eq!(sizes(&one), ((1, 1), (1, 1)));
    let thin = render_bytes(&r, &encode_with(image::ImageFormat::Png, picture(3000, 2).into()), "png").unwrap();
    assert_eq!(sizes(&thin), ((1600, 1), (256, 1)));
}

#[test]
fn every_raster_format_renders() {
    let r = renderer();
    let img: image::DynamicImage = picture(600, 400).into();
    for (format, ext) in [
        (image::ImageFormat::Png, "png"),
        (image::ImageFormat::Gif, "gif"),
        (image::ImageFormat::WebP, "webp"),
        (image::ImageFormat::Bmp, "bmp"),
        (image::ImageFormat::Tiff, "tiff"),
        (image::ImageFormat::Tiff, "tif"),
    ] {
        assert!(r.renderable(ext));
        let out = render_bytes(&r, &encode_with(format, img.clone()), ext).unwrap_or_else(|e| panic!("{ext}: {e}"));
        assert_eq!(out.original, Some((600, 400)), "{ext}");
        assert_eq!(sizes(&out), ((600, 400), (256, 171)), "{ext}");
        assert_eq!(version(&out, THUMBNAIL).content_type, "image/jpeg", "{ext}");
    }
    // An icon keeps its largest entry (the image crate writes one).
    let ico = encode_with(image::ImageFormat::Ico, image::DynamicImage::from(picture(48, 32)).into_rgba8().into());
    let out = render_bytes(&r, &ico, "ico").unwrap();
    assert_eq!((out.original, sizes(&out)), (Some((48, 32)), ((48, 32), (48, 32))));
    // The content decides the decoder, not the extension.
    let out = render_bytes(&r, &encode_with(image::ImageFormat::Png, img), "jpg").unwrap();
    assert_eq!(out.original, Some((600, 400)));
}

#[test]
fn grayscale_and_16_bit_images_render() {
    let r = renderer();
    let gray = image::GrayImage::from_fn(300, 200, |x, _| image::Luma([x as u8]));
    let mut jpg = Vec::new();
    jpeg_encoder::Encoder::new(&mut jpg, 90).encode(gray.as_raw(), 300, 200, jpeg_encoder::ColorType::Luma).unwrap();
    let out = render_bytes(&r, &jpg, "jpg").unwrap();
    assert_eq!(sizes(&out), ((300, 200), (256, 171)));
    let png = encode_with(image::ImageFormat::Png, gray.into());
    assert_eq!(sizes(&render_bytes(&r, &png, "png").unwrap()), ((300, 200), (256, 171)));
    let deep = image::ImageBuffer::<image::Rgb<u16>, _>::from_fn(300, 200, |x, y| {
        image::Rgb([x as u16 * 200, y as u16 * 300, 40000])
    });
    let png = encode_with(image::ImageFormat::Png, image::DynamicImage::ImageRgb16(deep));
    let out = render_bytes(&r, &png, "png").unwrap();
    assert_eq!(sizes(&out), ((300, 200), (256, 171)));
    let px = decode(version(&out, WEB)).get_pixel(150, 100).0;
    assert!((i32::from(px[2]) - 40000 / 257).abs() < 6, "{px:?}");
}

#[test]
fn a_cmyk_jpeg_renders_in_rgb() {
    let r = renderer();
    // Cyan-free, magenta and yellow full, no black: red.
    let cmyk: Vec<u8> = (0..64 * 64).flat_map(|_| [0u8, 255, 255, 0]).collect();
    let mut jpg = Vec::new();
    jpeg_encoder::Encoder::new(&mut jpg, 95).encode(&cmyk, 64, 64, jpeg_encoder::ColorType::Cmyk).unwrap();
    let out = render_bytes(&r, &jpg, "jpg").unwrap();
    let px = decode(version(&out, WEB)).get_pixel(32, 32).0;
    assert!(px[0] > 230 && px[1] < 25 && px[2] < 25, "red expected, got {px:?}");
}

#[test]
fn a_gif_renders_its_first_frame() {
    let r = renderer();
    let mut bytes = Vec::new();
    {
        let mut enc = image::codecs::gif::GifEncoder::new(&mut bytes);
        let red = RgbaImage::from_pixel(40, 30, image::Rgba([255, 0, 0, 255]));
        let blue = RgbaImage::from_pixel(40, 30, image::Rgba([0, 0, 255, 255]));
        enc.encode_frames([red, blue].into_iter().map(image::Frame::new)).unwrap();
    }
    let out = render_bytes(&r, &bytes, "gif").unwrap();
    let px = decode(version(&out, WEB)).get_pixel(20, 15).0;
    assert!(px[0] > 230 && px[2] < 25, "the first (red) frame expected, got {px:?}");
}

#[test]
fn used_alpha_gives_png_and_opaque_alpha_gives_jpeg() {
    let r = renderer();
    let see_through = RgbaImage::from_fn(400, 300, |x, _| image::Rgba([200, 10, 10, if x < 200 { 0 } else { 255 }]));
    let out = render_bytes(&r, &encode_with(image::ImageFormat::Png, see_through.clone().into()), "png").unwrap();
    for v in &out.versions {
        assert_eq!(v.content_type, "image/png");
    }
    let web = decode(version(&out, WEB));
    assert_eq!(web.get_pixel(10, 150).0[3], 0);
    assert_eq!(web.get_pixel(390, 150).0, [200, 10, 10, 255]);
    let webp = render_bytes(&r, &encode_with(image::ImageFormat::WebP, see_through.into()), "webp").unwrap();
    assert_eq!(version(&webp, THUMBNAIL).content_type, "image/png");
    let opaque = RgbaImage::from_pixel(400, 300, image::Rgba([1, 2, 3, 255]));
    let out = render_bytes(&r, &encode_with(image::ImageFormat::Png, opaque.into()), "png").unwrap();
    for v in &out.versions {
        assert_eq!(v.content_type, "image/jpeg");
    }
}

/// An Exif block (big-endian TIFF) holding only an orientation.
fn exif_orientation(value: u16) -> Vec<u8> {
    let mut e = b"MM\0\x2a\0\0\0\x08".to_vec();
    e.extend_from_slice(&1u16.to_be_bytes());
    e.extend_from_slice(&0x0112u16.to_be_bytes());
    e.extend_from_slice(&3u16.to_be_bytes());
    e.extend_from_slice(&1u32.to_be_bytes());
    e.extend_from_slice(&value.to_be_bytes());
    e.extend_from_slice(&[0, 0]);
    e.extend_from_slice(&0u32.to_be_bytes());
    e
}

#[test]
fn every_exif_orientation_is_applied() {
    let r = renderer();
    // Where the stored top-left corner is shown, as (right?, bottom?).
    let corner = [
        (false, false),
        (true, false),
        (true, true),
        (false, true),
        (false, false),
        (true, false),
        (true, true),
        (false, true),
    ];
    // Every orientation on a small picture; two that swap the axes on one large enough to be
    // decoded at a reduced scale and resized (the one slow case in a debug build).
    let cases = [(400, 200, &[1u16, 2, 3, 4, 5, 6, 7, 8][..], (400, 200)), (1800, 900, &[6, 7][..], (1600, 800))];
    for (sw, sh, orientations, web_size) in cases {
        // The stored picture: its top-left quarter red, the rest blue.
        let stored = RgbImage::from_fn(sw, sh, |x, y| {
            if x < sw / 2 && y < sh / 2 { image::Rgb([255, 0, 0]) } else { image::Rgb([0, 0, 255]) }
        });
        let plain = jpeg(&stored, None, None);
        for &orientation in orientations {
            // The Exif segment (APP1) spliced in after the start-of-image marker.
            let mut app1 = b"Exif\0\0".to_vec();
            app1.extend_from_slice(&exif_orientation(orientation));
            let mut bytes = plain[..2].to_vec();
            bytes.extend_from_slice(&[0xFF, 0xE1]);
            bytes.extend_from_slice(&(app1.len() as u16 + 2).to_be_bytes());
            bytes.extend_from_slice(&app1);
            bytes.extend_from_slice(&plain[2..]);
            let out = render_bytes(&r, &bytes, "jpg").unwrap();
            let swapped = orientation >= 5;
            let swap = |(w, h): (u32, u32)| if swapped { (h, w) } else { (w, h) };
            assert_eq!(out.original, Some(swap((sw, sh))), "orientation {orientation}");
            let (web, thumb) = sizes(&out);
            assert_eq!(web, swap(web_size), "orientation {orientation}");
            assert_eq!(thumb, swap((256, 128)), "orientation {orientation}");
            for name in [WEB, THUMBNAIL] {
                let img = decode(version(&out, name));
                let (w, h) = (img.width(), img.height());
                let (right, bottom) = corner[usize::from(orientation - 1)];
                let x = if right { w * 3 / 4 } else { w / 4 };
                let y = if bottom { h * 3 / 4 } else { h / 4 };
                let px = img.get_pixel(x, y).0;
                assert!(
                    px[0] > 200 && px[2] < 60,
                    "orientation {orientation} {name}: red expected at {x},{y}, got {px:?}"
                );
                let opposite = img.get_pixel(w - 1 - x, h - 1 - y).0;
                assert!(
                    opposite[2] > 200,
                    "orientation {orientation} {name}: blue expected opposite, got {opposite:?}"
                );
            }
        }
    }
}

/// A matrix/TRC ICC profile (version 2) with Display P3's primaries (adapted to D50) and a
/// gamma of 2.2.
fn p3_profile() -> Vec<u8> {
    fn s15(v: f64) -> [u8; 4] {
        ((v * 65536.0).round() as i32).to_be_bytes()
    }
    fn xyz(x: f64, y: f64, z: f64) -> Vec<u8> {
        let mut t = b"XYZ \0\0\0\0".to_vec();
        for v in [x, y, z] {
            t.extend_from_slice(&s15(v));
        }
        t
    }
    let curve = {
        let mut t = b"curv\0\0\0\0".to_vec();
        t.extend_from_slice(&1u32.to_be_bytes());
        t.extend_from_slice(&0x0233u16.to_be_bytes());
        t.extend_from_slice(&[0, 0]);
        t
    };
    let desc = {
        let text = b"Display P3 (test)\0";
        let mut t = b"desc\0\0\0\0".to_vec();
        t.extend_from_slice(&(text.len() as u32).to_be_bytes());
        t.extend_from_slice(text);
        t.extend_from_slice(&[0; 4 + 4 + 2 + 1 + 67]);
        t
    };
    let tags: Vec<(&[u8; 4], Vec<u8>)> = vec![
        (b"desc", desc),
        (b"wtpt", xyz(0.9642, 1.0, 0.8249)),
        (b"rXYZ", xyz(0.5151, 0.2412, -0.0011)),
        (b"gXYZ", xyz(0.2920, 0.6922, 0.0419)),
        (b"bXYZ", xyz(0.1571, 0.0666, 0.7841)),
        (b"rTRC", curve.clone()),
        (b"gTRC", curve.clone()),
        (b"bTRC", curve),
    ];
    let mut data = Vec::new();
    let mut table = Vec::new();
    let mut offset = 128 + 4 + 12 * tags.len();
    for (sig, body) in &tags {
        table.extend_from_slice(*sig);
        table.extend_from_slice(&(offset as u32).to_be_bytes());
        table.extend_from_slice(&(body.len() as u32).to_be_bytes());
        let mut body = body.clone();
        body.resize(body.len().div_ceil(4) * 4, 0);
        offset += body.len();
        data.extend_from_slice(&body);
    }
    let mut header = vec![0u8; 128];
    header[0..4].copy_from_slice(&(offset as u32).to_be_bytes());
    header[8..12].copy_from_slice(&0x0210_0000u32.to_be_bytes());
    header[12..16].copy_from_slice(b"mntr");
    header[16..20].copy_from_slice(b"RGB ");
    header[20..24].copy_from_slice(b"XYZ ");
    header[36..40].copy_from_slice(b"acsp");
    header[68..72].copy_from_slice(&s15(0.9642));
    header[72..76].copy_from_slice(&s15(1.0));
    header[76..80].copy_from_slice(&s15(0.8249));
    let mut icc = header;
    icc.extend_from_slice(&(tags.len() as u32).to_be_bytes());
    icc.extend_from_slice(&table);
    icc.extend_from_slice(&data);
    icc
}

#[test]
fn a_wide_gamut_profile_is_converted_to_srgb() {
    let r = renderer();
    // In Display P3 this colour is a more saturated red than the same numbers in sRGB.
    let flat = RgbImage::from_pixel(64, 64, image::Rgb([200, 100, 100]));
    let plain = render_bytes(&r, &jpeg(&flat, None, None), "jpg").unwrap();
    let tagged = render_bytes(&r, &jpeg(&flat, None, Some(&p3_profile())), "jpg").unwrap();
    let before = decode(version(&plain, WEB)).get_pixel(32, 32).0;
    let after = decode(version(&tagged, WEB)).get_pixel(32, 32).0;
    assert!((i32::from(before[0]) - 200).abs() <= 2, "untagged pixels stay: {before:?}");
    assert!(after[0] >= 207, "P3 red should be redder in sRGB: {before:?} -> {after:?}");
    // The same through the image crate's decoders (PNG with an iCCP chunk).
    let mut png = Vec::new();
    let mut enc = image::codecs::png::PngEncoder::new(&mut png);
    enc.set_icc_profile(p3_profile()).unwrap();
    enc.write_image(flat.as_raw(), 64, 64, image::ExtendedColorType::Rgb8).unwrap();
    let tagged = render_bytes(&r, &png, "png").unwrap();
    let after = decode(version(&tagged, WEB)).get_pixel(32, 32).0;
    assert!(after[0] >= 207, "P3 red should be redder in sRGB: {after:?}");
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

/// A PNG of a few dozen bytes that declares `w` x `h` pixels.
pub fn png_bomb(w: u32, h: u32) -> Vec<u8> {
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut chunk = |kind: &[u8], body: &[u8]| {
        png.extend_from_slice(&(body.len() as u32).to_be_bytes());
        let mut c = kind.to_vec();
        c.extend_from_slice(body);
        png.extend_from_slice(&c);
        png.extend_from_slice(&crc32(&c).to_be_bytes());
    };
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&w.to_be_bytes());
    ihdr.extend_from_slice(&h.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
    chunk(b"IHDR", &ihdr);
    chunk(b"IDAT", &[0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01]);
    chunk(b"IEND", &[]);
    png
}

/// A small JPEG whose frame header is changed to declare `w` x `h` pixels.
pub fn jpeg_bomb(w: u16, h: u16) -> Vec<u8> {
    let mut bytes = jpeg(&picture(16, 16), None, None);
    let sof = bytes.windows(2).position(|m| m == [0xFF, 0xC0]).unwrap();
    bytes[sof + 5..sof + 7].copy_from_slice(&h.to_be_bytes());
    bytes[sof + 7..sof + 9].copy_from_slice(&w.to_be_bytes());
    bytes
}

#[test]
fn decompression_bombs_are_refused_quickly() {
    let r = renderer();
    for (bytes, ext) in [(png_bomb(50_000, 50_000), "png"), (jpeg_bomb(50_000, 50_000), "jpg")] {
        let start = Instant::now();
        let err = render_bytes(&r, &bytes, ext).unwrap_err();
        assert!(start.elapsed() < Duration::from_secs(1), "{ext} took {:?}", start.elapsed());
        assert_eq!(err.code, "content_invalid");
        assert!(err.message.contains("50000x50000"), "{}", err.message);
        assert!(err.message.contains("100000000"), "{}", err.message);
    }
    // A GIF that declares a huge screen.
    let mut gif = Vec::new();
    image::codecs::gif::GifEncoder::new(&mut gif).encode_frame(image::Frame::new(RgbaImage::new(2, 2))).unwrap();
    gif[6..10].copy_from_slice(&[0xFF, 0xFF, 0xFF, 0xFF]);
    let start = Instant::now();
    assert!(render_bytes(&r, &gif, "gif").is_err());
    assert!(start.elapsed() < Duration::from_secs(1));
    // A lower limit is the configured one.
    let small = MediaRenderer::new(RenderConfig { max_pixels: 1000, ..RenderConfig::default() });
    let err = render_bytes(&small, &jpeg(&picture(40, 30), None, None), "jpg").unwrap_err();
    assert!(err.message.contains("40x30"), "{}", err.message);
}

#[test]
fn corrupt_and_truncated_files_are_errors() {
    let r = renderer();
    let jpg = jpeg(&picture(800, 600), None, None);
    let png = encode_with(image::ImageFormat::Png, picture(800, 600).into());
    let gif = encode_with(image::ImageFormat::Gif, picture(80, 60).into());
    let webp = encode_with(image::ImageFormat::WebP, picture(80, 60).into());
    let tiff = encode_with(image::ImageFormat::Tiff, picture(80, 60).into());
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (Vec::new(), "jpg"),
        (b"not an image at all".to_vec(), "png"),
        (jpg[..jpg.len() / 3].to_vec(), "jpg"),
        (jpg[..20].to_vec(), "jpg"),
        (png[..png.len() / 2].to_vec(), "png"),
        (png[..40].to_vec(), "png"),
        (gif[..gif.len() / 2].to_vec(), "gif"),
        (webp[..webp.len() / 2].to_vec(), "webp"),
        (tiff[..tiff.len() / 2].to_vec(), "tiff"),
        (b"<svg".to_vec(), "svg"),
    ];
    for (bytes, ext) in cases {
        match render_bytes(&r, &bytes, ext) {
            Err(e) => assert_eq!(e.code, "content_invalid", "{ext} of {} bytes: {}", bytes.len(), e.message),
            Ok(out) => panic!("{ext} of {} bytes rendered: {:?}", bytes.len(), out.original),
        }
    }
    // Garbage inside a JPEG's entropy-coded data: an error or an image, never a panic.
    let mut mangled = jpg.clone();
    for i in (mangled.len() / 2..mangled.len() - 2).step_by(7) {
        mangled[i] = mangled[i].wrapping_mul(31);
    }
    let _ = render_bytes(&r, &mangled, "jpg");
}

#[test]
fn an_svg_renders_to_fit_as_png() {
    let r = renderer();
    assert!(r.renderable("svg"));
    let svg = br#"<svg xmlns="http://www.w3.org/2000/svg" width="400" height="200"><rect x="0" y="0" width="200" height="200" fill="red"/></svg>"#;
    let out = render_bytes(&r, svg, "svg").unwrap();
    assert_eq!(out.original, Some((400, 200)));
    assert_eq!(sizes(&out), ((400, 200), (256, 128)));
    let web = decode(version(&out, WEB));
    assert_eq!(version(&out, WEB).content_type, "image/png");
    assert_eq!(web.get_pixel(100, 100).0, [255, 0, 0, 255]);
    assert_eq!(web.get_pixel(300, 100).0[3], 0);
    let big = br#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 100 50" width="100000" height="50000"><rect width="100" height="50" fill="blue"/></svg>"#;
    let out = render_bytes(&r, big, "svg").unwrap();
    assert_eq!(sizes(&out), ((1600, 800), (256, 128)));
    assert_eq!(version(&out, WEB).content_type, "image/jpeg", "an opaque SVG is a JPEG");
}

#[test]
fn an_svg_never_reads_a_file() {
    let r = renderer();
    let dir = tempfile::tempdir().unwrap();
    // An SVG, since raster images inside an SVG are not drawn at all (resvg without its
    // raster-images feature); a nested SVG is, when its resolver hands it over.
    let red = br#"<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect width="10" height="10" fill="red"/></svg>"#;
    let red_path = dir.path().join("red.svg");
    std::fs::write(&red_path, red).unwrap();
    let width_path = dir.path().join("width.txt");
    std::fs::write(&width_path, "100").unwrap();
    let p = red_path.display();
    let image = |href: &str| {
        format!(
            r#"<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" width="100" height="100"><image href="{href}" width="100" height="100"/><image xlink:href="{href}" width="100" height="100"/></svg>"#
        )
    };
    let is_red = |out: &Rendered| {
        let px = decode(version(out, WEB)).get_pixel(50, 50).0;
        px[0] > 200 && px[3] > 200
    };
    // The control: the same picture inline is drawn.
    let inline = format!("data:image/svg+xml;base64,{}", base64_encode(red));
    assert!(is_red(&render_bytes(&r, image(&inline).as_bytes(), "svg").unwrap()), "an inline image is drawn");
    for href in [
        format!("{p}"),
        format!("file://{p}"),
        "red.svg".to_owned(),
        "/etc/passwd".into(),
        "file:///etc/passwd".into(),
        "http://127.0.0.1:9/x.svg".into(),
    ] {
        match render_bytes(&r, image(&href).as_bytes(), "svg") {
            Ok(out) => assert!(!is_red(&out), "{href} was read"),
            Err(e) => assert_eq!(e.code, "content_invalid"),
        }
    }
    // An external entity is never expanded (if it were, the rectangle would be 100 wide).
    for system in
        [format!("file://{}", width_path.display()), width_path.display().to_string(), "file:///etc/passwd".into()]
    {
        let svg = format!(
            r#"<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY w SYSTEM "{system}">]><svg xmlns="http://www.w3.org/2000/svg" width="100" height="100"><rect width="&w;" height="100" fill="red"/><text>&w;</text></svg>"#
        );
        match render_bytes(&r, svg.as_bytes(), "svg") {
            Ok(out) => assert!(!is_red(&out), "{system} was read"),
            Err(e) => assert_eq!(e.code, "content_invalid"),
        }
    }
    // Entities that expand a billion times: refused or bounded, quickly.
    let laughs = r#"<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;"><!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;"><!ENTITY e "&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;"><!ENTITY f "&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;"><!ENTITY g "&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;"><!ENTITY h "&g;&g;&g;&g;&g;&g;&g;&g;&g;&g;"><!ENTITY i "&h;&h;&h;&h;&h;&h;&h;&h;&h;&h;">]><svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><text>&i;</text></svg>"#;
    let start = Instant::now();
    let _ = render_bytes(&r, laughs.as_bytes(), "svg");
    assert!(start.elapsed() < Duration::from_secs(5), "took {:?}", start.elapsed());
}

fn base64_encode(bytes: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut s = String::new();
    for c in bytes.chunks(3) {
        let n =
            (u32::from(c[0]) << 16) | (u32::from(*c.get(1).unwrap_or(&0)) << 8) | u32::from(*c.get(2).unwrap_or(&0));
        for i in 0..4 {
            if i <= c.len() {
                s.push(char::from(A[(n >> (18 - 6 * i)) as usize & 63]));
            } else {
                s.push('=');
            }
        }
    }
    s
}

#[test]
fn without_tools_videos_and_pdfs_are_not_renderable() {
    let r = MediaRenderer::new(RenderConfig::default());
    for ext in ["mp4", "mov", "webm", "mkv", "avi", "pdf", "MP4"] {
        assert!(!r.renderable(ext), "{ext}");
    }
    for ext in ["jpg", "JPEG", "png", "gif", "webp", "bmp", "tiff", "tif", "ico", "svg"] {
        assert!(r.renderable(ext), "{ext}");
    }
    for ext in ["txt", "zip", "psd", "heic", ""] {
        assert!(!r.renderable(ext), "{ext}");
    }
    assert!(render_bytes(&r, b"whatever", "mp4").is_err());
    assert!(render_bytes(&r, b"whatever", "txt").is_err());
}

/// The tool, or `None` after saying why the test skips; in CI a missing tool fails the test.
fn tool(name: &str) -> Option<PathBuf> {
    let found = find_on_path(name);
    if found.is_none() {
        assert_ne!(std::env::var("CI").as_deref(), Ok("true"), "{name} is missing (Debian: ffmpeg, poppler-utils)");
        println!("SKIPPED: {name} is not installed");
    }
    found
}

fn make_video(ffmpeg: &Path, dir: &Path, name: &str, size: &str, seconds: &str, codec: &[&str]) -> PathBuf {
    let out = dir.join(name);
    let status = Command::new(ffmpeg)
        .args(["-v", "error", "-nostdin", "-f", "lavfi", "-i"])
        .arg(format!("testsrc=size={size}:rate=10:duration={seconds}"))
        .args(codec)
        .arg("-y")
        .arg(&out)
        .status()
        .unwrap();
    assert!(status.success(), "ffmpeg made no {name}");
    out
}

#[test]
fn a_video_gets_a_poster_frame() {
    let Some(ffmpeg) = tool("ffmpeg") else { return };
    let r = renderer();
    assert!(r.renderable("mp4"));
    let dir = tempfile::tempdir().unwrap();
    let h264 = ["-pix_fmt", "yuv420p"];
    let cases = [
        ("a.mp4", "640x360", "2", &h264[..], (640, 360), (256, 144)),
        ("b.mov", "320x240", "0.5", &h264[..], (320, 240), (256, 192)),
        ("c.mkv", "2000x1000", "1.5", &h264[..], (1600, 800), (256, 128)),
        ("d.webm", "160x120", "1", &["-c:v", "libvpx", "-b:v", "200k"][..], (160, 120), (160, 120)),
        ("e.avi", "352x288", "2", &["-c:v", "mpeg4"][..], (352, 288), (256, 209)),
    ];
    for (name, size, seconds, codec, web, thumb) in cases {
        let file = make_video(&ffmpeg, dir.path(), name, size, seconds, codec);
        let ext = name.rsplit('.').next().unwrap();
        let out = r.render(&file, ext).unwrap_or_else(|e| panic!("{name}: {}", e.message));
        assert_eq!(out.original, None, "{name}");
        assert_eq!(sizes(&out), (web, thumb), "{name}");
        assert_eq!(version(&out, THUMBNAIL).content_type, "image/jpeg");
    }
    // Not a video.
    let not = dir.path().join("x.mp4");
    std::fs::write(&not, b"definitely not a video").unwrap();
    assert_eq!(r.render(&not, "mp4").unwrap_err().code, "content_invalid");
}

#[test]
fn a_playlist_disguised_as_a_video_reads_nothing() {
    let Some(ffmpeg) = tool("ffmpeg") else { return };
    let r = renderer();
    let dir = tempfile::tempdir().unwrap();
    let real = make_video(&ffmpeg, dir.path(), "real.mp4", "320x240", "2", &["-pix_fmt", "yuv420p"]);
    let real = real.display();
    let playlists = [
        format!("#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2,\n{real}\n#EXT-X-ENDLIST\n"),
        format!("#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2,\nfile://{real}\n#EXT-X-ENDLIST\n"),
        format!("ffconcat version 1.0\nfile '{real}'\n"),
        "#EXTM3U\n#EXTINF:1,\nfile:///etc/passwd\n#EXT-X-ENDLIST\n".to_owned(),
    ];
    for (i, text) in playlists.iter().enumerate() {
        let file = dir.path().join(format!("p{i}.mp4"));
        std::fs::write(&file, text).unwrap();
        let err = r.render(&file, "mp4").expect_err("a playlist must not render");
        assert_eq!(err.code, "content_invalid", "{text}");
    }
}

#[test]
fn a_tool_that_hangs_is_stopped() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("slow-ffmpeg");
    std::fs::write(&script, "#!/bin/sh\nsleep 30\n").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let r = MediaRenderer::new(RenderConfig {
        timeout: Duration::from_millis(300),
        ffmpeg: Some(script.clone()),
        pdftoppm: Some(script),
        ..RenderConfig::default()
    });
    let video = dir.path().join("v.mp4");
    std::fs::write(&video, b"x").unwrap();
    for ext in ["mp4", "pdf"] {
        let start = Instant::now();
        let err = r.render(&video, ext).unwrap_err();
        assert!(start.elapsed() < Duration::from_secs(5), "{:?}", start.elapsed());
        assert!(err.message.contains("longer than"), "{}", err.message);
    }
}

#[test]
fn a_tool_is_held_to_the_memory_limit() {
    if find_on_path("prlimit").is_none() {
        println!("SKIPPED: prlimit is not installed");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    // A "tool" that reports its own address-space limit back through its exit status.
    let script = dir.path().join("tool");
    std::fs::write(&script, "#!/bin/sh\n[ \"$(ulimit -v)\" = 65536 ] && exit 3\nexit 4\n").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let r =
        MediaRenderer::new(RenderConfig { memory_limit: 64 << 20, pdftoppm: Some(script), ..RenderConfig::default() });
    let pdf = dir.path().join("d.pdf");
    std::fs::write(&pdf, b"x").unwrap();
    let err = r.render(&pdf, "pdf").unwrap_err();
    assert!(err.message.contains("exit status: 3"), "{}", err.message);
}

/// A one-page PDF, 200 x 100 points, with its left half red.
fn tiny_pdf() -> Vec<u8> {
    let content = "1 0 0 rg 0 0 100 100 re f";
    let objects = [
        "<< /Type /Catalog /Pages 2 0 R >>".to_owned(),
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_owned(),
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 100] /Contents 4 0 R >>".to_owned(),
        format!("<< /Length {} >>\nstream\n{content}\nendstream", content.len()),
    ];
    let mut pdf = b"%PDF-1.4\n".to_vec();
    let mut offsets = Vec::new();
    for (i, o) in objects.iter().enumerate() {
        offsets.push(pdf.len());
        pdf.extend_from_slice(format!("{} 0 obj\n{o}\nendobj\n", i + 1).as_bytes());
    }
    let xref = pdf.len();
    pdf.extend_from_slice(format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes());
    for o in offsets {
        pdf.extend_from_slice(format!("{o:010} 00000 n \n").as_bytes());
    }
    pdf.extend_from_slice(
        format!("trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n", objects.len() + 1).as_bytes(),
    );
    pdf
}

#[test]
fn a_pdf_gets_its_first_page() {
    let Some(_) = tool("pdftoppm") else { return };
    let r = renderer();
    assert!(r.renderable("pdf"));
    let out = render_bytes(&r, &tiny_pdf(), "pdf").unwrap();
    assert_eq!(out.original, None);
    assert_eq!(sizes(&out), ((1600, 800), (256, 128)));
    let web = decode(version(&out, WEB));
    let left = web.get_pixel(400, 400).0;
    let right = web.get_pixel(1200, 400).0;
    assert!(left[0] > 230 && left[1] < 30, "{left:?}");
    assert!(right[0] > 230 && right[1] > 230, "{right:?}");
    let err = render_bytes(&r, b"%PDF-1.4 nothing else", "pdf").unwrap_err();
    assert_eq!(err.code, "content_invalid");
}
