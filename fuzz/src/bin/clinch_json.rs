//! Fuzz target: Clinch's JSON bodies (see docs/fuzzing.md).

fn main() {
    afl::fuzz!(|data: &[u8]| assetlib_server::fuzzing::clinch_json(data));
}
