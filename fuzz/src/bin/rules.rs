//! Fuzz target: the path and key rules (see docs/fuzzing.md).

fn main() {
    afl::fuzz!(|data: &[u8]| assetlib_core::fuzzing::rules(data));
}
