//! Fuzz target: rendering any bytes as an image or an SVG (see docs/fuzzing.md).

fn main() {
    afl::fuzz!(|data: &[u8]| assetlib_media::fuzzing::render(data));
}
