//! Fuzz target: the Hivo asset query and its paging links (see docs/fuzzing.md).

fn main() {
    afl::fuzz!(|data: &[u8]| assetlib_server::fuzzing::hivo(data));
}
