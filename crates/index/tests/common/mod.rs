//! Helpers shared by the index's behaviour tests.
#![allow(dead_code, unreachable_pub)]

/// A deterministic pseudo-random vector (xorshift from `state`, which advances), with
/// components in -1..=1, so failures reproduce.
pub fn xorshift_vector(state: &mut u64, dim: usize) -> Vec<f32> {
    (0..dim)
        .map(|_| {
            *state ^= *state << 13;
            *state ^= *state >> 7;
            *state ^= *state << 17;
            (*state % 2001) as f32 / 1000.0 - 1.0
        })
        .collect()
}
