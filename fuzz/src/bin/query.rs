//! Fuzz target: query strings as the dialects decode them (see docs/fuzzing.md).

fn main() {
    afl::fuzz!(|data: &[u8]| assetlib_server::fuzzing::query(data));
}
