//! The renditions benchmark's inputs: photo-like pictures made from a seed, the same bytes on
//! every run and every machine (no draw depends on a library's random generator).
//!
//! A "photo" is a landscape: a sky graded from a deep to a pale colour with soft clouds, a
//! horizon that wanders, and ground whose colour and texture come from fractal value noise
//! (octaves of lattice noise from 512-pixel cells down to 2-pixel ones, each weaker than the
//! last, as in natural images), with a vignette and sensor grain. Flat colour would make JPEGs
//! a tenth of a camera's size and decode faster than real ones; this gives sizes a 12-megapixel
//! camera writes at quality 90 (a few MB). A "cut-out" is a product shot with its background
//! removed: a shaded, textured shape, opaque inside, its edge feathered to transparent, with a
//! soft half-transparent shadow, on fully transparent pixels (PNG with alpha).
//!
//! They are written once into a cache directory, under a name that holds the generator's
//! version, the seed and the size, so that later runs reuse them.

use anyhow::Context;
use std::path::{Path, PathBuf};

/// Bumped whenever the pictures change, so that a cache of older ones is not reused.
const GENERATOR: &str = "v1";

/// What a generated file is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Jpeg,
    Png,
}

impl Kind {
    pub fn extension(self) -> &'static str {
        match self {
            Kind::Jpeg => "jpg",
            Kind::Png => "png",
        }
    }
}

/// One generated input file.
#[derive(Clone, Debug)]
pub struct Input {
    pub kind: Kind,
    pub path: PathBuf,
    /// Its name in the library (`photo-000.jpg`).
    pub name: String,
    pub size: u64,
    pub width: u32,
    pub height: u32,
}

/// What to generate.
#[derive(Clone, Copy, Debug)]
pub struct Plan {
    pub seed: u64,
    pub jpegs: usize,
    pub jpeg_size: (u32, u32),
    pub jpeg_quality: u8,
    pub pngs: usize,
    pub png_size: (u32, u32),
}

/// The inputs of `plan` in `cache`, generated where missing (on every core); JPEGs first.
pub fn ensure(cache: &Path, plan: Plan) -> anyhow::Result<Vec<Input>> {
    let dir = cache.join(format!("{GENERATOR}-seed{}", plan.seed));
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let (jw, jh) = plan.jpeg_size;
    let (pw, ph) = plan.png_size;
    let mut todo: Vec<(Kind, usize, PathBuf, String)> = Vec::new();
    for i in 0..plan.jpegs {
        let file = dir.join(format!("photo-{jw}x{jh}-q{}-{i:03}.jpg", plan.jpeg_quality));
        todo.push((Kind::Jpeg, i, file, format!("photo-{i:03}.jpg")));
    }
    for i in 0..plan.pngs {
        let file = dir.join(format!("cutout-{pw}x{ph}-{i:03}.png"));
        todo.push((Kind::Png, i, file, format!("cutout-{i:03}.png")));
    }
    let missing: Vec<&(Kind, usize, PathBuf, String)> = todo.iter().filter(|(_, _, p, _)| !p.exists()).collect();
    if !missing.is_empty() {
        println!("generating {} of {} input pictures into {} ...", missing.len(), todo.len(), dir.display());
        let started = std::time::Instant::now();
        let next = std::sync::atomic::AtomicUsize::new(0);
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        std::thread::scope(|s| {
            let workers: Vec<_> = (0..threads)
                .map(|_| {
                    s.spawn(|| -> anyhow::Result<()> {
                        loop {
                            let n = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                            let Some((kind, i, path, _)) = missing.get(n) else { return Ok(()) };
                            let bytes = match kind {
                                Kind::Jpeg => photo_jpeg(plan.seed, *i as u64, plan.jpeg_size, plan.jpeg_quality)?,
                                Kind::Png => cutout_png(plan.seed, *i as u64, plan.png_size)?,
                            };
                            // Written aside and renamed, so an interrupted run leaves no half file.
                            let part = path.with_extension("part");
                            std::fs::write(&part, &bytes).with_context(|| format!("writing {}", part.display()))?;
                            std::fs::rename(&part, path)?;
                        }
                    })
                })
                .collect();
            workers.into_iter().try_for_each(|w| w.join().map_err(|_| anyhow::anyhow!("a generator panicked"))?)
        })?;
        println!("  generated in {:.0} s", started.elapsed().as_secs_f64());
    }
    todo.into_iter()
        .map(|(kind, _, path, name)| {
            let size = std::fs::metadata(&path)?.len();
            let (width, height) = if kind == Kind::Jpeg { plan.jpeg_size } else { plan.png_size };
            Ok(Input { kind, path, name, size, width, height })
        })
        .collect()
}

/// splitmix64's finaliser: a well-mixed 64-bit value from any key.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A value in [-1, 1) from a key.
fn signed(key: u64) -> f32 {
    (mix(key) >> 40) as f32 / (1u64 << 23) as f32 - 1.0
}

/// The per-picture draws (colours, proportions), in order from one key.
struct Draws(u64);

impl Draws {
    fn new(seed: u64, what: u64, index: u64) -> Self {
        Draws(mix(seed ^ mix(what) ^ mix(index.wrapping_add(0x51ED))))
    }

    /// A value in [lo, hi).
    fn range(&mut self, lo: f32, hi: f32) -> f32 {
        self.0 = self.0.wrapping_add(1);
        lo + (signed(self.0) * 0.5 + 0.5) * (hi - lo)
    }

    fn colour(&mut self, lo: [f32; 3], hi: [f32; 3]) -> [f32; 3] {
        [self.range(lo[0], hi[0]), self.range(lo[1], hi[1]), self.range(lo[2], hi[2])]
    }
}

/// One octave of 2-D lattice noise: random values on a grid of `cell`-pixel cells, smoothly
/// interpolated.
struct Octave {
    /// A power of two.
    cell: usize,
    shift: u32,
    cols: usize,
    grid: Vec<f32>,
    amp: f32,
    /// The interpolation weight of each offset inside a cell (smoothstep).
    weights: Vec<f32>,
}

/// Fractal noise: octaves from `coarsest` to `finest` pixels, each `gain` times the last.
struct Field {
    octaves: Vec<Octave>,
}

impl Field {
    fn new(key: u64, (w, h): (u32, u32), coarsest: usize, finest: usize, gain: f32) -> Self {
        let mut octaves = Vec::new();
        let (mut cell, mut amp) = (coarsest.next_power_of_two(), 1.0f32);
        while cell >= finest.max(1) {
            let cols = w as usize / cell + 2;
            let rows = h as usize / cell + 2;
            let k = mix(key ^ (cell as u64).wrapping_mul(0x1000_0000_01B3));
            let grid = (0..cols * rows).map(|i| signed(k ^ mix(i as u64))).collect();
            let weights = (0..cell)
                .map(|o| {
                    let t = o as f32 / cell as f32;
                    t * t * (3.0 - 2.0 * t)
                })
                .collect();
            octaves.push(Octave { cell, shift: cell.trailing_zeros(), cols, grid, amp, weights });
            cell /= 2;
            amp *= gain;
        }
        Field { octaves }
    }

    /// Adds row `y` of the octaves whose cells are at least `min_cell` (and less than
    /// `below_cell`) to `out`.
    fn add_row(&self, y: usize, out: &mut [f32], min_cell: usize, below_cell: usize) {
        for o in self.octaves.iter().filter(|o| o.cell >= min_cell && o.cell < below_cell) {
            let mask = o.cell - 1;
            let (gy, fy) = (y >> o.shift, o.weights[y & mask]);
            let top = &o.grid[gy * o.cols..(gy + 1) * o.cols];
            let bottom = &o.grid[(gy + 1) * o.cols..(gy + 2) * o.cols];
            for (x, v) in out.iter_mut().enumerate() {
                let (gx, fx) = (x >> o.shift, o.weights[x & mask]);
                let a = top[gx] + (top[gx + 1] - top[gx]) * fx;
                let b = bottom[gx] + (bottom[gx + 1] - bottom[gx]) * fx;
                *v += o.amp * (a + (b - a) * fy);
            }
        }
    }
}

fn to_u8(v: f32) -> u8 {
    v.round().clamp(0.0, 255.0) as u8
}

/// The RGB pixels of landscape `index`.
pub fn photo_pixels(seed: u64, index: u64, (w, h): (u32, u32)) -> Vec<u8> {
    let mut d = Draws::new(seed, 1, index);
    let key = mix(seed ^ mix(index ^ 0xF00D));
    let scale = w.max(h) as f32 / 4000.0;
    let cells = |c: f32| ((c * scale) as usize).max(2).next_power_of_two();
    let texture = Field::new(key ^ 1, (w, h), cells(512.0), 2, 0.72);
    let tint = Field::new(key ^ 2, (w, h), cells(1024.0), cells(64.0), 0.5);
    let horizon_noise = Field::new(key ^ 3, (w, 1), cells(1024.0), cells(16.0), 0.5);
    let mut horizon = vec![0f32; w as usize];
    horizon_noise.add_row(0, &mut horizon, 0, usize::MAX);
    let level = d.range(0.35, 0.6) * h as f32;
    let relief = d.range(0.04, 0.14) * h as f32;
    for v in &mut horizon {
        *v = level + *v * relief;
    }
    let sky_top = d.colour([20.0, 50.0, 110.0], [70.0, 110.0, 190.0]);
    let sky_low = d.colour([170.0, 180.0, 190.0], [230.0, 225.0, 240.0]);
    let ground = d.colour([50.0, 60.0, 20.0], [150.0, 130.0, 90.0]);
    let far = d.colour([90.0, 100.0, 110.0], [150.0, 150.0, 160.0]);
    let clouds = d.range(0.0, 90.0);
    let roughness = d.range(0.35, 0.6);
    let grain = d.range(4.0, 8.0);
    let (cx, cy) = (w as f32 / 2.0, h as f32 / 2.0);
    let diagonal = (cx * cx + cy * cy).sqrt();
    let mut out = Vec::with_capacity(w as usize * h as usize * 3);
    let (mut low, mut high, mut hue) = (vec![0f32; w as usize], vec![0f32; w as usize], vec![0f32; w as usize]);
    for y in 0..h as usize {
        for row in [&mut low, &mut high, &mut hue] {
            row.fill(0.0);
        }
        texture.add_row(y, &mut low, cells(64.0), usize::MAX);
        texture.add_row(y, &mut high, 0, cells(64.0));
        tint.add_row(y, &mut hue, 0, usize::MAX);
        let yf = y as f32;
        for x in 0..w as usize {
            let edge = horizon[x];
            let sky = {
                let t = (yf / edge.max(1.0)).clamp(0.0, 1.0).powf(0.8);
                let cloud = (low[x] * 1.6 - 0.2).max(0.0) * clouds;
                [0, 1, 2].map(|c| sky_top[c] + (sky_low[c] - sky_top[c]) * t + cloud + high[x] * 3.0)
            };
            let land = {
                // Nearer ground is darker and more textured; far ground fades to the haze.
                let depth = ((yf - edge) / (h as f32 - edge).max(1.0)).clamp(0.0, 1.0);
                let haze = (1.0 - depth).powi(6) * 0.6;
                let shade = 1.0 + roughness * (low[x] * 0.8 + high[x] * 1.4 * (0.4 + depth));
                [0, 1, 2].map(|c| {
                    let base = ground[c] * (1.1 - 0.35 * depth) * shade + hue[x] * 30.0 * (c as f32 - 1.0);
                    base * (1.0 - haze) + far[c] * haze
                })
            };
            // A soft horizon: two pixels of blend.
            let a = ((yf - edge) / 2.0 + 0.5).clamp(0.0, 1.0);
            let (dx, dy) = (x as f32 - cx, yf - cy);
            let vignette = 1.0 - 0.25 * ((dx * dx + dy * dy).sqrt() / diagonal).powi(2);
            let n = mix(key ^ ((y as u64) << 32 | x as u64));
            for c in 0..3 {
                let noise = ((n >> (c * 16)) & 0xFFFF) as f32 / 65535.0 - 0.5;
                out.push(to_u8((sky[c] * (1.0 - a) + land[c] * a) * vignette + noise * 2.0 * grain));
            }
        }
    }
    out
}

fn photo_jpeg(seed: u64, index: u64, size: (u32, u32), quality: u8) -> anyhow::Result<Vec<u8>> {
    let pixels = photo_pixels(seed, index, size);
    let mut bytes = Vec::new();
    let (w, h) = (u16::try_from(size.0)?, u16::try_from(size.1)?);
    jpeg_encoder::Encoder::new(&mut bytes, quality).encode(&pixels, w, h, jpeg_encoder::ColorType::Rgb)?;
    Ok(bytes)
}

/// The RGBA pixels of cut-out `index`.
pub fn cutout_pixels(seed: u64, index: u64, (w, h): (u32, u32)) -> Vec<u8> {
    let mut d = Draws::new(seed, 2, index);
    let key = mix(seed ^ mix(index ^ 0xCAFE));
    let scale = w.max(h) as f32 / 2000.0;
    let cells = |c: f32| ((c * scale) as usize).max(2).next_power_of_two();
    let texture = Field::new(key ^ 1, (w, h), cells(256.0), 4, 0.55);
    let (wf, hf) = (w as f32, h as f32);
    let (cx, cy) = (wf * d.range(0.42, 0.58), hf * d.range(0.4, 0.5));
    let (rx, ry) = (wf * d.range(0.22, 0.34), hf * d.range(0.28, 0.38));
    // A superellipse: 2 is an ellipse, higher is a rounded box.
    let power = d.range(2.0, 5.0);
    let feather = d.range(8.0, 30.0) * scale;
    let colour = d.colour([40.0, 40.0, 40.0], [230.0, 200.0, 200.0]);
    let shadow_y = cy + ry * 0.95;
    let mut out = Vec::with_capacity(w as usize * h as usize * 4);
    let mut tex = vec![0f32; w as usize];
    for y in 0..h as usize {
        tex.fill(0.0);
        texture.add_row(y, &mut tex, 0, usize::MAX);
        let yf = y as f32;
        for (x, t) in tex.iter().enumerate() {
            let (u, v) = ((x as f32 - cx) / rx, (yf - cy) / ry);
            let r = (u.abs().powf(power) + v.abs().powf(power)).powf(1.0 / power);
            // Signed distance to the edge in pixels, roughly.
            let inside = (1.0 - r) * rx.min(ry);
            let alpha = (inside / feather + 0.5).clamp(0.0, 1.0);
            if alpha > 0.0 {
                // Lit from the top left, a little texture, a faint grain.
                let light = 1.05 - 0.35 * (u * 0.6 + v * 0.8) + 0.12 * t;
                let n = mix(key ^ ((y as u64) << 32 | x as u64));
                let grain = ((n & 0xFF) as f32 / 255.0 - 0.5) * 2.0;
                out.extend([0, 1, 2].map(|c| to_u8(colour[c] * light + grain)));
                out.push(to_u8(alpha * 255.0));
            } else {
                // The shadow: black, at most 40% opaque, fading over a wide band.
                let (su, sv) = ((x as f32 - cx) / (rx * 1.1), (yf - shadow_y) / (ry * 0.12));
                let s = (1.0 - (su * su + sv * sv).sqrt()).clamp(0.0, 1.0);
                out.extend([0, 0, 0, to_u8(s * s * 0.4 * 255.0)]);
            }
        }
    }
    out
}

fn cutout_png(seed: u64, index: u64, size: (u32, u32)) -> anyhow::Result<Vec<u8>> {
    use image::ImageEncoder;
    let pixels = cutout_pixels(seed, index, size);
    let mut bytes = Vec::new();
    image::codecs::png::PngEncoder::new(&mut bytes).write_image(
        &pixels,
        size.0,
        size.1,
        image::ExtendedColorType::Rgba8,
    )?;
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_makes_the_same_pictures() {
        assert_eq!(photo_pixels(7, 3, (96, 64)), photo_pixels(7, 3, (96, 64)));
        assert_ne!(photo_pixels(7, 3, (96, 64)), photo_pixels(7, 4, (96, 64)));
        assert_eq!(cutout_pixels(7, 1, (80, 60)), cutout_pixels(7, 1, (80, 60)));
    }

    #[test]
    fn a_cutout_has_opaque_and_transparent_pixels() {
        let px = cutout_pixels(1, 0, (200, 150));
        let alphas: Vec<u8> = px.chunks_exact(4).map(|p| p[3]).collect();
        assert!(alphas.contains(&255) && alphas.contains(&0));
        assert!(alphas.iter().any(|&a| a > 0 && a < 255), "no soft edge");
    }
}
