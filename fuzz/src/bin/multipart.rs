//! Fuzz target: the streaming multipart reader (see docs/fuzzing.md).

fn main() {
    afl::fuzz!(|data: &[u8]| assetlib_server::fuzzing::multipart(data));
}
