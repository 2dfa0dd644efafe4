//! The hash in event ids: XXH3-128 with the default secret and seed 0, the same values as
//! `xxhash_rust::xxh3::xxh3_128` (tested against it at every length, natively in tests/pipeline.rs and in wasm in
//! tests/wasm_node.rs), written out for the inputs ids hash (up to 240 bytes; longer ones go to the crate).
//!
//! Written out for one reason: its 64 × 64 → 128-bit multiplies. wasm32 has no wide multiply, so Rust lowers
//! `u128` products to `__multi3`, a call that multiplies 128 × 128 bits; V8 (Node 20) does not inline wasm calls.
//! Here they are four 32-bit multiplies, inline (on wasm32; elsewhere the native `u128` product). Measured with
//! callgrind on the wasm core: the hash and `__multi3` were ~10% of its instructions per row.

use xxhash_rust::const_xxh3::const_custom_default_secret;

/// XXH3's default secret (the crate's, through its const API).
const SECRET: [u8; 192] = const_custom_default_secret(0);
const P64_1: u64 = 0x9E37_79B1_85EB_CA87;
const P64_2: u64 = 0xC2B2_AE3D_27D4_EB4F;
const P64_3: u64 = 0x1656_67B1_9E37_79F9;
const P64_4: u64 = 0x85EB_CA77_C2B2_AE63;
const P32_2: u64 = 0x85EB_CA77;

/// XXH3-128 of `input` (seed 0, default secret).
pub fn xxh3_128(input: &[u8]) -> u128 {
    let n = input.len();
    let (lo, hi) = match n {
        0 => (
            xxh64_avalanche(r64(&SECRET, 64) ^ r64(&SECRET, 72)),
            xxh64_avalanche(r64(&SECRET, 80) ^ r64(&SECRET, 88)),
        ),
        1..=3 => len_1to3(input),
        4..=8 => len_4to8(input),
        9..=16 => len_9to16(input),
        17..=128 => len_17to128(input),
        129..=240 => len_129to240(input),
        _ => return xxhash_rust::xxh3::xxh3_128(input),
    };
    u128::from(lo) | (u128::from(hi) << 64)
}

/// The full product of `a` and `b` as (low, high) 64-bit halves.
#[inline(always)]
fn mul_wide(a: u64, b: u64) -> (u64, u64) {
    #[cfg(target_arch = "wasm32")]
    {
        mul_wide_halves(a, b)
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        let p = u128::from(a) * u128::from(b);
        (p as u64, (p >> 64) as u64)
    }
}

/// The full product from 32-bit halves: four 64-bit multiplies, no carries lost (the high half cannot overflow:
/// the product fits in 128 bits).
#[inline(always)]
#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
fn mul_wide_halves(a: u64, b: u64) -> (u64, u64) {
    const LOW: u64 = 0xFFFF_FFFF;
    let (a0, a1) = (a & LOW, a >> 32);
    let (b0, b1) = (b & LOW, b >> 32);
    let (p00, p01, p10, p11) = (a0 * b0, a0 * b1, a1 * b0, a1 * b1);
    // The middle column: at most 3 * (2^32 - 1).
    let mid = (p00 >> 32) + (p01 & LOW) + (p10 & LOW);
    ((mid << 32) | (p00 & LOW), p11 + (p01 >> 32) + (p10 >> 32) + (mid >> 32))
}

#[inline(always)]
fn fold64(a: u64, b: u64) -> u64 {
    let (lo, hi) = mul_wide(a, b);
    lo ^ hi
}

#[inline(always)]
fn r64(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().expect("8 bytes"))
}

#[inline(always)]
fn r32(b: &[u8], at: usize) -> u64 {
    u64::from(u32::from_le_bytes(b[at..at + 4].try_into().expect("4 bytes")))
}

#[inline(always)]
fn xorshift(v: u64, s: u32) -> u64 {
    v ^ (v >> s)
}

/// XXH3's avalanche.
#[inline(always)]
fn avalanche(v: u64) -> u64 {
    xorshift(xorshift(v, 37).wrapping_mul(0x1656_6791_9E37_79F9), 32)
}

/// XXH64's avalanche.
#[inline(always)]
fn xxh64_avalanche(v: u64) -> u64 {
    let v = xorshift(v, 33).wrapping_mul(P64_2);
    xorshift(xorshift(v, 29).wrapping_mul(P64_3), 32)
}

fn len_1to3(input: &[u8]) -> (u64, u64) {
    let n = input.len();
    let (c1, c2, c3) = (u32::from(input[0]), u32::from(input[n >> 1]), u32::from(input[n - 1]));
    let lo = (c1 << 16) | (c2 << 24) | c3 | ((n as u32) << 8);
    let hi = lo.swap_bytes().rotate_left(13);
    let flip_lo = r32(&SECRET, 0) ^ r32(&SECRET, 4);
    let flip_hi = r32(&SECRET, 8) ^ r32(&SECRET, 12);
    (
        xxh64_avalanche(u64::from(lo) ^ flip_lo),
        xxh64_avalanche(u64::from(hi) ^ flip_hi),
    )
}

fn len_4to8(input: &[u8]) -> (u64, u64) {
    let n = input.len();
    let input64 = r32(input, 0).wrapping_add(r32(input, n - 4) << 32);
    let keyed = input64 ^ (r64(&SECRET, 16) ^ r64(&SECRET, 24));
    let (mut lo, mut hi) = mul_wide(keyed, P64_1.wrapping_add((n as u64) << 2));
    hi = hi.wrapping_add(lo << 1);
    lo ^= hi >> 3;
    lo = xorshift(lo, 35).wrapping_mul(0x9FB2_1C65_1E98_DF25);
    (xorshift(lo, 28), avalanche(hi))
}

fn len_9to16(input: &[u8]) -> (u64, u64) {
    let n = input.len();
    let flip_lo = r64(&SECRET, 32) ^ r64(&SECRET, 40);
    let flip_hi = r64(&SECRET, 48) ^ r64(&SECRET, 56);
    let input_lo = r64(input, 0);
    let mut input_hi = r64(input, n - 8);
    let (mut mul_lo, mut mul_hi) = mul_wide(input_lo ^ input_hi ^ flip_lo, P64_1);
    mul_lo = mul_lo.wrapping_add((n as u64 - 1) << 54);
    input_hi ^= flip_hi;
    mul_hi = mul_hi.wrapping_add(input_hi.wrapping_add((input_hi & 0xFFFF_FFFF).wrapping_mul(P32_2 - 1)));
    mul_lo ^= mul_hi.swap_bytes();
    let (res_lo, res_hi) = mul_wide(mul_lo, P64_2);
    (
        avalanche(res_lo),
        avalanche(res_hi.wrapping_add(mul_hi.wrapping_mul(P64_2))),
    )
}

/// XXH3's mix16B with seed 0: 16 bytes of input at `at` against 16 of the secret at `s`.
#[inline(always)]
fn mix16(input: &[u8], at: usize, s: usize) -> u64 {
    fold64(
        r64(input, at) ^ r64(&SECRET, s),
        r64(input, at + 8) ^ r64(&SECRET, s + 8),
    )
}

/// XXH3-128's mix32B with seed 0: input at `a` and `b`, 32 bytes of the secret at `s`.
#[inline(always)]
fn mix32(acc: &mut (u64, u64), input: &[u8], a: usize, b: usize, s: usize) {
    acc.0 = acc.0.wrapping_add(mix16(input, a, s));
    acc.0 ^= r64(input, b).wrapping_add(r64(input, b + 8));
    acc.1 = acc.1.wrapping_add(mix16(input, b, s + 16));
    acc.1 ^= r64(input, a).wrapping_add(r64(input, a + 8));
}

#[inline(always)]
fn finish(acc: (u64, u64), n: usize) -> (u64, u64) {
    let (lo, hi) = acc;
    let h = lo
        .wrapping_mul(P64_1)
        .wrapping_add(hi.wrapping_mul(P64_4))
        .wrapping_add((n as u64).wrapping_mul(P64_2));
    (avalanche(lo.wrapping_add(hi)), 0u64.wrapping_sub(avalanche(h)))
}

fn len_17to128(input: &[u8]) -> (u64, u64) {
    let n = input.len();
    let mut acc = ((n as u64).wrapping_mul(P64_1), 0);
    if n > 32 {
        if n > 64 {
            if n > 96 {
                mix32(&mut acc, input, 48, n - 64, 96);
            }
            mix32(&mut acc, input, 32, n - 48, 64);
        }
        mix32(&mut acc, input, 16, n - 32, 32);
    }
    mix32(&mut acc, input, 0, n - 16, 0);
    finish(acc, n)
}

fn len_129to240(input: &[u8]) -> (u64, u64) {
    let n = input.len();
    let rounds = n / 32;
    let mut acc = ((n as u64).wrapping_mul(P64_1), 0);
    for i in 0..4 {
        mix32(&mut acc, input, 32 * i, 32 * i + 16, 32 * i);
    }
    acc = (avalanche(acc.0), avalanche(acc.1));
    for i in 4..rounds {
        mix32(&mut acc, input, 32 * i, 32 * i + 16, 3 + 32 * (i - 4));
    }
    // The last 32 bytes, against the secret's bytes 103.. (its minimum size, 136, less 17, less 16).
    mix32(&mut acc, input, n - 16, n - 32, 103);
    finish(acc, n)
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        #[test]
        fn wide_product_from_halves_is_the_u128_one(a in proptest::num::u64::ANY, b in proptest::num::u64::ANY) {
            let p = u128::from(a) * u128::from(b);
            proptest::prop_assert_eq!(mul_wide_halves(a, b), (p as u64, (p >> 64) as u64));
        }
    }

    #[test]
    fn wide_product_extremes() {
        for (a, b) in [
            (u64::MAX, u64::MAX),
            (u64::MAX, 1),
            (0, u64::MAX),
            (1 << 32, 1 << 32),
            (P64_1, P64_2),
        ] {
            let p = u128::from(a) * u128::from(b);
            assert_eq!(mul_wide_halves(a, b), (p as u64, (p >> 64) as u64), "{a} * {b}");
        }
    }
}
