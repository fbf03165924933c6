//! Fuzz target: the native API's search query, If-Match and PATCH body parsers (see
//! docs/fuzzing.md).

fn main() {
    afl::fuzz!(|data: &[u8]| assetlib_server::fuzzing::native(data));
}
