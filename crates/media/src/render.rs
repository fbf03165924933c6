//! Renditions (SPEC section 6): the `thumbnail` (fits 256x256) and `web` (fits 1600x1600) versions
//! of an image, an SVG, a video's poster frame or a PDF's first page, never upscaled.
//!
//! Raster images are decoded in this process under a pixel limit checked against the declared size
//! before any pixel buffer is allocated. JPEG is decoded with DCT scaling ("shrink on load") to the
//! smallest scale still at least as large as the `web` version; the `thumbnail` is made from the
//! `web` version. EXIF orientation is applied, an embedded ICC profile other than sRGB is converted
//! to sRGB, and the output is JPEG unless the source's alpha channel is actually used (then PNG).
//!
//! Videos (ffmpeg) and PDFs (pdftoppm) are rendered by a tool run beside the process, with a time
//! limit, an address-space limit (`prlimit`), no stdin, a private working directory, and for ffmpeg
//! a whitelist of the file protocol and the real container demuxers. The tool renders one frame
//! (or page) that fits 1600x1600; both versions are made from it as from a raster image.

use assetlib_core::model::{Rendered, RenderedVersion, THUMBNAIL, WEB};
use assetlib_core::ports::Renderer;
use assetlib_core::{Code, Error, Result};
use fast_image_resize as fr;
use image::metadata::Orientation;
use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader, Limits};
use std::ffi::OsString;
use std::io::{BufReader, Read, Seek};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The box the `thumbnail` version fits in.
pub const THUMBNAIL_SIZE: u32 = 256;
/// The box the `web` version fits in.
pub const WEB_SIZE: u32 = 1600;
/// JPEG quality of both versions.
const JPEG_QUALITY: u8 = 82;

const RASTER: &[&str] = &["jpg", "jpeg", "png", "gif", "webp", "bmp", "tiff", "tif", "ico"];
const VIDEO: &[&str] = &["mp4", "mov", "webm", "mkv", "avi"];
/// The demuxers a video may be read with: its real containers, never a playlist (HLS, concat),
/// which could make ffmpeg open other files.
const VIDEO_DEMUXERS: &str = "mov,mp4,m4a,3gp,3g2,mj2,matroska,webm,avi";

/// Limits and tools of a [`MediaRenderer`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderConfig {
    /// Largest image (width x height, as declared) that is decoded; larger ones are refused.
    pub max_pixels: u64,
    /// Time a tool (ffmpeg, pdftoppm) may run before it is killed.
    pub timeout: Duration,
    /// Address space a tool may use, in bytes (through `prlimit` when it is installed).
    pub memory_limit: u64,
    /// ffmpeg, for videos; without it videos have no renditions.
    pub ffmpeg: Option<PathBuf>,
    /// pdftoppm (poppler), for PDFs; without it PDFs have no renditions.
    pub pdftoppm: Option<PathBuf>,
}

impl Default for RenderConfig {
    /// The limits' defaults, without any tool.
    fn default() -> Self {
        RenderConfig {
            max_pixels: 100_000_000,
            timeout: Duration::from_secs(60),
            memory_limit: 1 << 30,
            ffmpeg: None,
            pdftoppm: None,
        }
    }
}

impl RenderConfig {
    /// The defaults, with ffmpeg and pdftoppm wherever `PATH` has them.
    pub fn detect() -> Self {
        RenderConfig { ffmpeg: find_on_path("ffmpeg"), pdftoppm: find_on_path("pdftoppm"), ..Default::default() }
    }
}

/// An executable file named `name` in one of `PATH`'s directories.
pub fn find_on_path(name: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|p| p.metadata().is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0))
}

/// The [`Renderer`] of the product: images in process, videos and PDFs through tools.
#[derive(Debug, Clone)]
pub struct MediaRenderer {
    config: RenderConfig,
    /// util-linux's `prlimit`, which bounds a tool's address space; without it a tool runs with
    /// the time limit only.
    prlimit: Option<PathBuf>,
}

impl MediaRenderer {
    pub fn new(config: RenderConfig) -> Self {
        MediaRenderer { config, prlimit: find_on_path("prlimit") }
    }

    pub fn config(&self) -> &RenderConfig {
        &self.config
    }

    /// [`Renderer::render`] without its guard against a decoder's panic (the fuzz target wants
    /// to see one).
    pub(crate) fn render_file(&self, file: &Path, extension: &str) -> Result<Rendered> {
        if extension == "svg" {
            let data = std::fs::read(file).map_err(Error::internal)?;
            return render_svg(&data);
        }
        if VIDEO.contains(&extension) {
            let ffmpeg = self.config.ffmpeg.as_deref().ok_or_else(|| not_renderable(extension))?;
            return self.render_video(ffmpeg, file);
        }
        if extension == "pdf" {
            let pdftoppm = self.config.pdftoppm.as_deref().ok_or_else(|| not_renderable(extension))?;
            return self.render_pdf(pdftoppm, file);
        }
        if !RASTER.contains(&extension) {
            return Err(not_renderable(extension));
        }
        let reader = BufReader::with_capacity(64 << 10, std::fs::File::open(file).map_err(Error::internal)?);
        let image = decode(reader, self.config.max_pixels)?;
        let original = image.oriented_size();
        Ok(Rendered { original: Some(original), versions: versions(image)? })
    }

    /// A poster frame: at 1 s, or the first frame of a shorter video.
    fn render_video(&self, ffmpeg: &Path, file: &Path) -> Result<Rendered> {
        let dir = tempfile::tempdir().map_err(Error::internal)?;
        let out = dir.path().join("frame.bmp");
        let mut input = OsString::from("file:");
        input.push(file.as_os_str());
        for seek in [Some("1"), None] {
            let mut args: Vec<OsString> = ["-nostdin", "-hide_banner", "-loglevel", "error", "-threads", "1"]
                .into_iter()
                .map(OsString::from)
                .collect();
            args.extend(["-protocol_whitelist", "file", "-format_whitelist", VIDEO_DEMUXERS].map(OsString::from));
            if let Some(seek) = seek {
                args.extend(["-ss", seek].map(OsString::from));
            }
            args.push("-i".into());
            args.push(input.clone());
            let scale = format!(
                "scale=w='min({WEB_SIZE},iw)':h='min({WEB_SIZE},ih)':force_original_aspect_ratio=decrease,format=bgr24"
            );
            args.extend(
                ["-map", "0:v:0", "-an", "-sn", "-dn", "-frames:v", "1", "-filter_threads", "1", "-vf", &scale]
                    .map(OsString::from),
            );
            args.extend(["-c:v", "bmp", "-f", "image2", "-y"].map(OsString::from));
            args.push(out.clone().into_os_string());
            self.run_tool(ffmpeg, &args, dir.path(), "ffmpeg")?;
            if out.metadata().is_ok_and(|m| m.len() > 0) {
                return self.render_frame(&out);
            }
        }
        Err(Error::invalid(Code::ContentInvalid, "The video has no frame to show."))
    }

    /// The first page, its longer side at the `web` size.
    fn render_pdf(&self, pdftoppm: &Path, file: &Path) -> Result<Rendered> {
        let dir = tempfile::tempdir().map_err(Error::internal)?;
        let prefix = dir.path().join("page");
        let mut args: Vec<OsString> = ["-f", "1", "-l", "1", "-singlefile", "-scale-to"].map(OsString::from).to_vec();
        args.push(WEB_SIZE.to_string().into());
        args.push("-png".into());
        args.push(file.as_os_str().to_owned());
        args.push(prefix.clone().into_os_string());
        self.run_tool(pdftoppm, &args, dir.path(), "pdftoppm")?;
        let page = dir.path().join("page.png");
        if !page.exists() {
            return Err(Error::invalid(Code::ContentInvalid, "The PDF has no page to show."));
        }
        self.render_frame(&page)
    }

    /// Both versions of a frame a tool wrote; no original size (it is not an image).
    fn render_frame(&self, frame: &Path) -> Result<Rendered> {
        let reader = BufReader::new(std::fs::File::open(frame).map_err(Error::internal)?);
        let image = decode(reader, self.config.max_pixels)?;
        Ok(Rendered { original: None, versions: versions(image)? })
    }

    /// Runs a tool in `dir` under the time and memory limits; its error output goes to a file
    /// there, so that a chatty tool never blocks on a full pipe.
    fn run_tool(&self, program: &Path, args: &[OsString], dir: &Path, name: &str) -> Result<()> {
        let mut command = match &self.prlimit {
            Some(prlimit) => {
                let mut c = Command::new(prlimit);
                c.arg(format!("--as={}", self.config.memory_limit)).arg("--").arg(program);
                c
            }
            None => Command::new(program),
        };
        let stderr_path = dir.join("stderr.txt");
        let stderr = std::fs::File::create(&stderr_path).map_err(Error::internal)?;
        command
            .args(args)
            .current_dir(dir)
            .env_clear()
            .env("LC_ALL", "C")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr);
        let mut child = command.spawn().map_err(|e| Error::internal(format_args!("{name} did not start: {e}")))?;
        let deadline = Instant::now() + self.config.timeout;
        let mut pause = Duration::from_millis(1);
        let status = loop {
            if let Some(status) = child.try_wait().map_err(Error::internal)? {
                break status;
            }
            if Instant::now() >= deadline {
                let _ = child.kill();
                let _ = child.wait();
                return Err(Error::invalid(
                    Code::ContentInvalid,
                    format!(
                        "{name} took longer than {} s on the file and was stopped.",
                        self.config.timeout.as_secs_f64()
                    ),
                ));
            }
            std::thread::sleep(pause);
            pause = (pause * 2).min(Duration::from_millis(20));
        };
        if status.success() {
            return Ok(());
        }
        let mut said = String::new();
        if let Ok(f) = std::fs::File::open(&stderr_path) {
            let _ = f.take(400).read_to_string(&mut said);
        }
        let said = said.lines().next().unwrap_or("").trim();
        Err(Error::invalid(Code::ContentInvalid, format!("{name} could not read the file ({status}): {said}")))
    }
}

impl Default for MediaRenderer {
    /// The default limits, with the tools `PATH` has.
    fn default() -> Self {
        MediaRenderer::new(RenderConfig::detect())
    }
}

impl Renderer for MediaRenderer {
    fn renderable(&self, extension: &str) -> bool {
        let extension = extension.to_ascii_lowercase();
        let extension = extension.as_str();
        RASTER.contains(&extension)
            || extension == "svg"
            || (VIDEO.contains(&extension) && self.config.ffmpeg.is_some())
            || (extension == "pdf" && self.config.pdftoppm.is_some())
    }

    fn render(&self, file: &Path, extension: &str) -> Result<Rendered> {
        let extension = extension.to_ascii_lowercase();
        // The decoders are meant never to panic on bad input; this is the last line if one does.
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.render_file(file, &extension))) {
            Ok(result) => result,
            Err(_) => Err(Error::invalid(Code::ContentInvalid, "The file could not be decoded (its decoder failed).")),
        }
    }
}

fn not_renderable(extension: &str) -> Error {
    Error::invalid(Code::ContentInvalid, format!("Files of type '{extension}' have no renditions here."))
}

fn invalid(what: impl std::fmt::Display) -> Error {
    Error::invalid(Code::ContentInvalid, format!("The image could not be decoded: {what}."))
}

fn check_pixels(width: u64, height: u64, max_pixels: u64) -> Result<()> {
    if width == 0 || height == 0 {
        return Err(invalid("it declares no pixels"));
    }
    if width.saturating_mul(height) > max_pixels {
        return Err(Error::invalid(
            Code::ContentInvalid,
            format!("The image declares {width}x{height} pixels, more than the limit of {max_pixels}."),
        ));
    }
    Ok(())
}

/// The size that fits `(width, height)` in a `side` x `side` box, never larger than it is.
pub fn fit(width: u32, height: u32, side: u32) -> (u32, u32) {
    if width <= side && height <= side {
        return (width.max(1), height.max(1));
    }
    let scale = f64::from(side) / f64::from(width.max(height));
    let w = (f64::from(width) * scale).round().clamp(1.0, f64::from(side)) as u32;
    let h = (f64::from(height) * scale).round().clamp(1.0, f64::from(side)) as u32;
    (w, h)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Layout {
    Gray,
    Rgb,
    Rgba,
}

impl Layout {
    fn channels(self) -> usize {
        match self {
            Layout::Gray => 1,
            Layout::Rgb => 3,
            Layout::Rgba => 4,
        }
    }
}

/// 8-bit pixels, rows top to bottom, channels interleaved.
struct Pixels {
    width: u32,
    height: u32,
    layout: Layout,
    data: Vec<u8>,
}

/// A decoded image, maybe at a reduced scale, with what is needed to finish it.
struct Decoded {
    pixels: Pixels,
    /// The full size as declared, before orientation.
    size: (u32, u32),
    orientation: Orientation,
    icc: Option<Vec<u8>>,
}

impl Decoded {
    fn swaps_axes(&self) -> bool {
        matches!(
            self.orientation,
            Orientation::Rotate90 | Orientation::Rotate270 | Orientation::Rotate90FlipH | Orientation::Rotate270FlipH
        )
    }

    fn oriented_size(&self) -> (u32, u32) {
        let (w, h) = self.size;
        if self.swaps_axes() { (h, w) } else { (w, h) }
    }
}

/// Decodes an image, sniffing its format from its content; a JPEG at the smallest DCT scale that
/// is still at least as large as the `web` version.
fn decode<R: Read + Seek + std::io::BufRead>(mut reader: R, max_pixels: u64) -> Result<Decoded> {
    let mut head = [0u8; 32];
    let n = read_up_to(&mut reader, &mut head).map_err(Error::internal)?;
    reader.rewind().map_err(Error::internal)?;
    let format = image::guess_format(&head[..n]).map_err(|_| invalid("its format is not one of the supported ones"))?;
    if format == ImageFormat::Jpeg {
        return decode_jpeg(reader, max_pixels);
    }
    if format == ImageFormat::Png {
        check_png_palette(&mut reader)?;
        reader.rewind().map_err(Error::internal)?;
    }
    let mut reader = ImageReader::with_format(reader, format);
    let mut limits = Limits::default();
    // Room for the largest allowed image at 16 bits per channel with alpha, and the decoder's own.
    limits.max_alloc = Some(max_pixels.saturating_mul(8).saturating_add(64 << 20));
    reader.limits(limits);
    let mut decoder = reader.into_decoder().map_err(image_error)?;
    let (width, height) = decoder.dimensions();
    check_pixels(width.into(), height.into(), max_pixels)?;
    let icc = decoder.icc_profile().ok().flatten();
    let orientation = decoder.orientation().unwrap_or(Orientation::NoTransforms);
    let image = DynamicImage::from_decoder(decoder).map_err(image_error)?;
    let pixels = match image {
        DynamicImage::ImageLuma8(i) => Pixels { width, height, layout: Layout::Gray, data: i.into_raw() },
        DynamicImage::ImageLuma16(_) => {
            Pixels { width, height, layout: Layout::Gray, data: image.into_luma8().into_raw() }
        }
        DynamicImage::ImageRgb8(i) => Pixels { width, height, layout: Layout::Rgb, data: i.into_raw() },
        DynamicImage::ImageRgb16(_) | DynamicImage::ImageRgb32F(_) => {
            Pixels { width, height, layout: Layout::Rgb, data: image.into_rgb8().into_raw() }
        }
        _ => Pixels { width, height, layout: Layout::Rgba, data: image.into_rgba8().into_raw() },
    };
    Ok(Decoded { pixels, size: (width, height), orientation, icc })
}

/// Refuses a PNG whose palette is not whole RGB entries (1 to 256 of them): the `png` decoder
/// (0.18) indexes such a palette past its end and panics. Walks the chunk headers up to the image
/// data; anything else wrong is left for the decoder to report.
fn check_png_palette<R: Read + Seek>(reader: &mut R) -> Result<()> {
    const SIGNATURE: u64 = 8;
    reader.seek(std::io::SeekFrom::Start(SIGNATURE)).map_err(Error::internal)?;
    let mut header = [0u8; 8];
    loop {
        if read_up_to(reader, &mut header).map_err(Error::internal)? < header.len() {
            return Ok(());
        }
        let length = u32::from_be_bytes([header[0], header[1], header[2], header[3]]);
        match &header[4..] {
            b"PLTE" if length == 0 || length % 3 != 0 || length > 256 * 3 => {
                return Err(invalid(format_args!("its palette holds {length} bytes, not whole RGB entries")));
            }
            b"IDAT" | b"IEND" => return Ok(()),
            // Chunk data and its CRC.
            _ => reader.seek(std::io::SeekFrom::Current(i64::from(length) + 4)).map_err(Error::internal)?,
        };
    }
}

fn read_up_to(reader: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match reader.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

fn image_error(e: image::ImageError) -> Error {
    match e {
        image::ImageError::Limits(_) => {
            Error::invalid(Code::ContentInvalid, "The image needs more memory to decode than the limit allows.")
        }
        e => invalid(e),
    }
}

fn decode_jpeg(reader: impl Read, max_pixels: u64) -> Result<Decoded> {
    let mut decoder = jpeg_decoder::Decoder::new(reader);
    decoder.read_info().map_err(invalid)?;
    let info = decoder.info().ok_or_else(|| invalid("it has no frame header"))?;
    let (width, height) = (u32::from(info.width), u32::from(info.height));
    check_pixels(width.into(), height.into(), max_pixels)?;
    decoder.set_max_decoding_buffer_size(usize::try_from(max_pixels.saturating_mul(4)).unwrap_or(usize::MAX));
    // The web box is square, so the fitted size is the same in either orientation.
    let (want_w, want_h) = fit(width, height, WEB_SIZE);
    let (out_w, out_h) = decoder.scale(want_w as u16, want_h as u16).map_err(invalid)?;
    let data = decoder.decode().map_err(invalid)?;
    let info = decoder.info().ok_or_else(|| invalid("it has no frame header"))?;
    let (out_w, out_h) = (u32::from(out_w), u32::from(out_h));
    let pixels = out_w as usize * out_h as usize;
    let (layout, data) = match info.pixel_format {
        jpeg_decoder::PixelFormat::L8 => (Layout::Gray, data),
        // Big-endian samples: the high byte of each.
        jpeg_decoder::PixelFormat::L16 => (Layout::Gray, data.chunks_exact(2).map(|s| s[0]).collect()),
        jpeg_decoder::PixelFormat::RGB24 => (Layout::Rgb, data),
        // The decoder gives ink amounts (0 = none); a naive conversion, without the profile.
        jpeg_decoder::PixelFormat::CMYK32 => {
            let mut rgb = Vec::with_capacity(pixels * 3);
            for p in data.chunks_exact(4) {
                let k = 255 - u32::from(p[3]);
                rgb.extend(p[..3].iter().map(|&c| ((255 - u32::from(c)) * k / 255) as u8));
            }
            (Layout::Rgb, rgb)
        }
    };
    if data.len() != pixels * layout.channels() {
        return Err(invalid("its pixel data is short"));
    }
    let orientation = decoder.exif_data().and_then(Orientation::from_exif_chunk).unwrap_or(Orientation::NoTransforms);
    // A CMYK profile does not describe the RGB pixels made above.
    let icc = if info.pixel_format == jpeg_decoder::PixelFormat::CMYK32 { None } else { decoder.icc_profile() };
    Ok(Decoded {
        pixels: Pixels { width: out_w, height: out_h, layout, data },
        size: (width, height),
        orientation,
        icc,
    })
}

/// The `web` and `thumbnail` versions of a decoded image.
fn versions(image: Decoded) -> Result<Vec<RenderedVersion>> {
    let (ow, oh) = image.oriented_size();
    let (web_w, web_h) = fit(ow, oh, WEB_SIZE);
    let (thumb_w, thumb_h) = fit(ow, oh, THUMBNAIL_SIZE);
    let unoriented = if image.swaps_axes() { (web_h, web_w) } else { (web_w, web_h) };
    let mut resizer = fr::Resizer::new();
    let pixels = drop_opaque_alpha(image.pixels);
    let mut web = resize(&mut resizer, &pixels, unoriented)?.unwrap_or(pixels);
    if let Some(icc) = &image.icc {
        to_srgb(&mut web, icc);
    }
    let web = orient(web, image.orientation)?;
    let thumbnail = resize(&mut resizer, &web, (thumb_w, thumb_h))?;
    Ok(vec![encode(WEB, &web)?, encode(THUMBNAIL, thumbnail.as_ref().unwrap_or(&web))?])
}

fn drop_opaque_alpha(pixels: Pixels) -> Pixels {
    if pixels.layout != Layout::Rgba || pixels.data.chunks_exact(4).any(|p| p[3] != 255) {
        return pixels;
    }
    let data = pixels.data.chunks_exact(4).flat_map(|p| [p[0], p[1], p[2]]).collect();
    Pixels { layout: Layout::Rgb, data, ..pixels }
}

/// `None` when the pixels already have that size.
fn resize(resizer: &mut fr::Resizer, pixels: &Pixels, (width, height): (u32, u32)) -> Result<Option<Pixels>> {
    if (pixels.width, pixels.height) == (width, height) {
        return Ok(None);
    }
    let pixel_type = match pixels.layout {
        Layout::Gray => fr::PixelType::U8,
        Layout::Rgb => fr::PixelType::U8x3,
        Layout::Rgba => fr::PixelType::U8x4,
    };
    let src = fr::images::ImageRef::new(pixels.width, pixels.height, &pixels.data, pixel_type).map_err(invalid)?;
    let mut dst = fr::images::Image::new(width, height, pixel_type);
    let options = fr::ResizeOptions::new().resize_alg(fr::ResizeAlg::Convolution(fr::FilterType::Lanczos3));
    resizer.resize(&src, &mut dst, &options).map_err(Error::internal)?;
    Ok(Some(Pixels { width, height, layout: pixels.layout, data: dst.into_vec() }))
}

/// Converts RGB pixels from their embedded profile to sRGB; a profile that does not parse, is
/// already sRGB or does not describe RGB leaves them as they are.
fn to_srgb(pixels: &mut Pixels, icc: &[u8]) {
    let data_type = match pixels.layout {
        Layout::Rgb => qcms::DataType::RGB8,
        Layout::Rgba => qcms::DataType::RGBA8,
        Layout::Gray => return,
    };
    if describes_srgb(icc) {
        return;
    }
    let Some(profile) = qcms::Profile::new_from_slice(icc, false) else { return };
    let srgb = qcms::Profile::new_sRGB();
    if let Some(transform) = qcms::Transform::new(&profile, &srgb, data_type, qcms::Intent::Perceptual) {
        transform.apply(&mut pixels.data);
    }
}

/// Whether a profile's description (tag `desc`) names sRGB: the profile most images carry, which
/// a transform would only cost time to apply.
fn describes_srgb(icc: &[u8]) -> bool {
    let be32 = |at: usize| icc.get(at..at + 4).map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize);
    let count = be32(128).unwrap_or(0).min(100);
    (0..count).any(|i| {
        let entry = 132 + i * 12;
        if icc.get(entry..entry + 4) != Some(b"desc".as_slice()) {
            return false;
        }
        let (Some(offset), Some(size)) = (be32(entry + 4), be32(entry + 8)) else { return false };
        let Some(desc) = icc.get(offset..offset.saturating_add(size).min(icc.len())) else { return false };
        // ASCII in a version 2 'desc', UTF-16BE in a version 4 'mluc'.
        desc.windows(4).any(|w| w == b"sRGB") || desc.windows(7).any(|w| w == b"s\0R\0G\0B")
    })
}

fn orient(pixels: Pixels, orientation: Orientation) -> Result<Pixels> {
    if orientation == Orientation::NoTransforms {
        return Ok(pixels);
    }
    let (w, h) = (pixels.width, pixels.height);
    let short = || Error::internal("a pixel buffer of the wrong size");
    let mut image = match pixels.layout {
        Layout::Gray => DynamicImage::ImageLuma8(image::GrayImage::from_raw(w, h, pixels.data).ok_or_else(short)?),
        Layout::Rgb => DynamicImage::ImageRgb8(image::RgbImage::from_raw(w, h, pixels.data).ok_or_else(short)?),
        Layout::Rgba => DynamicImage::ImageRgba8(image::RgbaImage::from_raw(w, h, pixels.data).ok_or_else(short)?),
    };
    image.apply_orientation(orientation);
    let (width, height) = (image.width(), image.height());
    Ok(Pixels { width, height, layout: pixels.layout, data: image.into_bytes() })
}

/// JPEG without alpha, PNG with it.
fn encode(name: &str, pixels: &Pixels) -> Result<RenderedVersion> {
    let mut bytes = Vec::new();
    let (content_type, extension) = if pixels.layout == Layout::Rgba {
        use image::ImageEncoder;
        let encoder = image::codecs::png::PngEncoder::new_with_quality(
            &mut bytes,
            image::codecs::png::CompressionType::Fast,
            image::codecs::png::FilterType::Adaptive,
        );
        encoder
            .write_image(&pixels.data, pixels.width, pixels.height, image::ExtendedColorType::Rgba8)
            .map_err(Error::internal)?;
        ("image/png", "png")
    } else {
        let color =
            if pixels.layout == Layout::Gray { jpeg_encoder::ColorType::Luma } else { jpeg_encoder::ColorType::Rgb };
        let (w, h) = (u16::try_from(pixels.width), u16::try_from(pixels.height));
        let (Ok(w), Ok(h)) = (w, h) else { return Err(Error::internal("a rendition too large for JPEG")) };
        jpeg_encoder::Encoder::new(&mut bytes, JPEG_QUALITY)
            .encode(&pixels.data, w, h, color)
            .map_err(Error::internal)?;
        ("image/jpeg", "jpg")
    };
    Ok(RenderedVersion {
        name: name.to_owned(),
        bytes,
        content_type: content_type.to_owned(),
        extension: extension.to_owned(),
        width: pixels.width,
        height: pixels.height,
    })
}

/// An SVG rasterised at each version's size. External references (`<image href>` to a file or
/// URL) are refused by the resolver; `data:` images are allowed. The parser expands no external
/// entity. Without system fonts, text is not drawn.
fn render_svg(data: &[u8]) -> Result<Rendered> {
    use resvg::{tiny_skia, usvg};
    let options = usvg::Options {
        resources_dir: None,
        image_href_resolver: usvg::ImageHrefResolver {
            resolve_data: usvg::ImageHrefResolver::default_data_resolver(),
            resolve_string: Box::new(|_, _| None),
        },
        ..Default::default()
    };
    let tree = usvg::Tree::from_data(data, &options)
        .map_err(|e| Error::invalid(Code::ContentInvalid, format!("The SVG could not be read: {e}.")))?;
    let size = tree.size();
    let side = |v: f32| v.round().clamp(1.0, u32::MAX as f32) as u32;
    let original = (side(size.width()), side(size.height()));
    let raster = |(w, h): (u32, u32)| -> Result<Pixels> {
        let mut pixmap = tiny_skia::Pixmap::new(w, h).ok_or_else(|| Error::internal("an empty SVG raster"))?;
        let transform = tiny_skia::Transform::from_scale(w as f32 / size.width(), h as f32 / size.height());
        resvg::render(&tree, transform, &mut pixmap.as_mut());
        let data = pixmap
            .pixels()
            .iter()
            .flat_map(|p| {
                let c = p.demultiply();
                [c.red(), c.green(), c.blue(), c.alpha()]
            })
            .collect();
        Ok(drop_opaque_alpha(Pixels { width: w, height: h, layout: Layout::Rgba, data }))
    };
    let web = raster(fit(original.0, original.1, WEB_SIZE))?;
    let thumbnail = raster(fit(original.0, original.1, THUMBNAIL_SIZE))?;
    Ok(Rendered { original: Some(original), versions: vec![encode(WEB, &web)?, encode(THUMBNAIL, &thumbnail)?] })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fits_without_upscaling() {
        assert_eq!(fit(100, 80, 256), (100, 80));
        assert_eq!(fit(4000, 3000, 1600), (1600, 1200));
        assert_eq!(fit(3000, 4000, 256), (192, 256));
        assert_eq!(fit(10000, 1, 256), (256, 1));
        assert_eq!(fit(257, 256, 256), (256, 255));
    }
}
