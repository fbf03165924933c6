//! Fuzz target: zip reading and the expansion limits (see docs/fuzzing.md).

fn main() {
    afl::fuzz!(|data: &[u8]| assetlib_media::fuzzing::zip(data));
}
