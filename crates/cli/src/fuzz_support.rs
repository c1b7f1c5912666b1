//! What the HTTP fuzz tests share (collector ingest, predict endpoint): bodies with bytes
//! flipped, inserted, removed or cut off now and then, and the number of cases
//! (`BURN_EDGE_FUZZ_CASES`, default 200 so `cargo test` stays quick).

use proptest::prelude::*;

/// `body`, with bytes flipped, inserted, removed or cut off in about a quarter of the cases.
pub fn mutated(body: impl Strategy<Value = Vec<u8>>) -> impl Strategy<Value = Vec<u8>> {
    let edits = prop::collection::vec((any::<prop::sample::Index>(), 0..4u8, any::<u8>()), 0..6);
    (body, prop_oneof![3 => Just(false), 1 => Just(true)], edits).prop_map(|(mut bytes, mutate, edits)| {
        if mutate {
            for (at, op, byte) in edits {
                if bytes.is_empty() {
                    break;
                }
                let i = at.index(bytes.len());
                match op {
                    0 => bytes[i] = byte,
                    1 => bytes.insert(i, byte),
                    2 => {
                        bytes.remove(i);
                    }
                    _ => bytes.truncate(i),
                }
            }
        }
        bytes
    })
}

/// Cases per fuzz test.
pub fn cases() -> u32 {
    std::env::var("BURN_EDGE_FUZZ_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(200)
}
