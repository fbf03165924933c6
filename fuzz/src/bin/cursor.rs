//! Fuzz target: listing cursors and tokens (see docs/fuzzing.md).

fn main() {
    afl::fuzz!(|data: &[u8]| assetlib_core::fuzzing::cursor(data));
}
