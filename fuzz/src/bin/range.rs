//! Fuzz target: Range, If-Range and the conditional headers (see docs/fuzzing.md).

fn main() {
    afl::fuzz!(|data: &[u8]| assetlib_server::fuzzing::range_and_conditionals(data));
}
