//! A deterministic xorshift64 stream for the unit tests' generated inputs.

/// The stream for `seed` (any seed: it is spread and made odd first).
pub(crate) fn stream(seed: u64) -> impl FnMut() -> u64 {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    }
}
