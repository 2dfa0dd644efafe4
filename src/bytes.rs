//! Short byte strings, handled the way WebAssembly runs them fast: appending without `memory.copy`, and the
//! JSON-escape test 16 bytes at a time.
//!
//! A payload item is some thirty short pieces (keys, cells, digits, the identifier). `extend_from_slice` of a
//! length not known at compile time becomes `memory.copy`, which V8 (Node 20) runs as a call into C: measured
//! with callgrind on the wasm core, ~25 such calls per row cost ~14% of its instructions. [`append`] copies up
//! to 32 bytes with fixed-size loads and stores instead.

/// Append `s` to `out`: the same as `out.extend_from_slice(s)`, without a `memory.copy` for 32 bytes or less.
#[inline(always)]
pub(crate) fn append(out: &mut Vec<u8>, s: &[u8]) {
    let n = s.len();
    if n > 32 {
        return out.extend_from_slice(s);
    }
    out.reserve(32);
    let len = out.len();
    let dst = out.spare_capacity_mut().as_mut_ptr().cast::<u8>();
    // SAFETY: `reserve(32)` left at least 32 >= n bytes of capacity past `len`, written here before `set_len`.
    unsafe {
        write_short(dst, s);
        out.set_len(len + n);
    }
}

/// Append `s` between quotes (`"s"`), as [`append`] does.
#[inline(always)]
pub(crate) fn append_quoted(out: &mut Vec<u8>, s: &[u8]) {
    let n = s.len();
    if n > 30 {
        out.reserve(n + 2);
        out.push(b'"');
        out.extend_from_slice(s);
        out.push(b'"');
        return;
    }
    out.reserve(32);
    let len = out.len();
    let dst = out.spare_capacity_mut().as_mut_ptr().cast::<u8>();
    // SAFETY: `reserve(32)` left at least 32 >= n + 2 bytes of capacity past `len`, all written here (the
    // quotes at 0 and n + 1, `s` between) before `set_len`.
    unsafe {
        dst.write(b'"');
        write_short(dst.add(1), s);
        dst.add(n + 1).write(b'"');
        out.set_len(len + n + 2);
    }
}

/// Write `s` to `dst..dst + s.len()`, every byte of it and nothing outside it: with fixed-size words when it is
/// 32 bytes or less, else with a plain copy.
///
/// # Safety
/// `dst` must be valid for writes of `s.len()` bytes (no alignment needed) and must not overlap `s`.
#[inline(always)]
unsafe fn write_short(dst: *mut u8, s: &[u8]) {
    let n = s.len();
    // Two words of `W` bytes that overlap cover any length from W to 2W: the first at 0, the last at n - W.
    macro_rules! two_words {
        ($w:literal) => {{
            let first: [u8; $w] = s[..$w].try_into().expect("length checked");
            let last: [u8; $w] = s[n - $w..].try_into().expect("length checked");
            // SAFETY: both words lie inside dst..dst + n (the caller's promise), written unaligned.
            unsafe {
                dst.cast::<[u8; $w]>().write_unaligned(first);
                dst.add(n - $w).cast::<[u8; $w]>().write_unaligned(last);
            }
        }};
    }
    match n {
        0 => {}
        1..=3 => {
            for (i, &b) in s.iter().enumerate() {
                // SAFETY: i < n.
                unsafe { dst.add(i).write(b) };
            }
        }
        4..=7 => two_words!(4),
        8..=15 => two_words!(8),
        16..=32 => two_words!(16),
        // SAFETY: the caller's promise, for all n bytes.
        _ => unsafe { core::ptr::copy_nonoverlapping(s.as_ptr(), dst, n) },
    }
}

/// Append `s` to `out`, as [`append`] does (`String::push_str` without a `memory.copy` for 32 bytes or less).
#[inline(always)]
pub(crate) fn append_str(out: &mut String, s: &str) {
    // SAFETY: the bytes appended are a whole `&str`, so `out` stays UTF-8.
    append(unsafe { out.as_mut_vec() }, s.as_bytes());
}

/// True if `b` has a byte that a JSON string escapes: a control byte (below 0x20), `"` or `\`.
#[inline]
pub(crate) fn needs_json_escape(b: &[u8]) -> bool {
    if b.len() < 16 {
        return needs_escape_short(b);
    }
    // Blocks of 16, then the last 16 bytes (overlapping the blocks: a byte tested twice changes nothing).
    let mut blocks = b.chunks_exact(16);
    for block in &mut blocks {
        if block_needs_escape(block.try_into().expect("16 bytes")) {
            return true;
        }
    }
    !blocks.remainder().is_empty() && block_needs_escape(b[b.len() - 16..].try_into().expect("16 bytes"))
}

#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
#[inline(always)]
fn block_needs_escape(block: &[u8; 16]) -> bool {
    use core::arch::wasm32::{u8x16_eq, u8x16_lt, u8x16_splat, v128, v128_any_true, v128_load, v128_or};
    // SAFETY: the 16 bytes are `block`, and v128.load has no alignment requirement.
    let v = unsafe { v128_load(block.as_ptr().cast::<v128>()) };
    let special = v128_or(
        u8x16_lt(v, u8x16_splat(0x20)),
        v128_or(u8x16_eq(v, u8x16_splat(b'"')), u8x16_eq(v, u8x16_splat(b'\\'))),
    );
    v128_any_true(special)
}

#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn block_needs_escape(block: &[u8; 16]) -> bool {
    use core::arch::x86_64::{
        __m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_min_epu8, _mm_movemask_epi8, _mm_or_si128, _mm_set1_epi8,
    };
    // SAFETY: SSE2 is part of every x86_64 target; the 16 bytes are `block`, and the load is the unaligned one.
    unsafe {
        let v = _mm_loadu_si128(block.as_ptr().cast::<__m128i>());
        // v <= 0x1f exactly where min(v, 0x1f) == v.
        let control = _mm_cmpeq_epi8(_mm_min_epu8(v, _mm_set1_epi8(0x1f)), v);
        let quote = _mm_cmpeq_epi8(v, _mm_set1_epi8(b'"' as i8));
        let backslash = _mm_cmpeq_epi8(v, _mm_set1_epi8(b'\\' as i8));
        _mm_movemask_epi8(_mm_or_si128(control, _mm_or_si128(quote, backslash))) != 0
    }
}

#[cfg(not(any(all(target_arch = "wasm32", target_feature = "simd128"), target_arch = "x86_64")))]
#[inline(always)]
fn block_needs_escape(block: &[u8; 16]) -> bool {
    needs_escape_short(&block[..8]) || needs_escape_short(&block[8..])
}

/// The same test for fewer than 16 bytes: eight at a time (SWAR), the tail as the last eight (overlapping), and
/// fewer than eight byte by byte.
#[inline]
fn needs_escape_short(b: &[u8]) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    #[inline(always)]
    fn word(x: u64) -> bool {
        // Exact "some byte is zero" / "some byte is below 0x20" tests (the classic haszero / hasless).
        let zero = |v: u64| v.wrapping_sub(ONES) & !v & HIGH != 0;
        (x.wrapping_sub(ONES * 0x20) & !x & HIGH != 0) || zero(x ^ (ONES * 0x22)) || zero(x ^ (ONES * 0x5c))
    }
    if b.len() < 8 {
        return b.iter().any(|&c| escaped(c));
    }
    let mut chunks = b.chunks_exact(8);
    for c in &mut chunks {
        if word(u64::from_le_bytes(c.try_into().expect("8 bytes"))) {
            return true;
        }
    }
    !chunks.remainder().is_empty() && word(u64::from_le_bytes(b[b.len() - 8..].try_into().expect("8 bytes")))
}

/// The bytes JSON strings escape (serde_json escapes exactly these, nothing else).
#[inline(always)]
fn escaped(c: u8) -> bool {
    c < 0x20 || c == b'"' || c == b'\\'
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Deterministic bytes, mostly plain, sometimes one that is escaped.
    fn bytes(seed: u64, n: usize) -> Vec<u8> {
        let alphabet = b"abcdefghijklmnop \x7f\xc3\xa9\xff,;0123456789\"\\\x00\x1f\t\n";
        let mut next = crate::test_rng::stream(seed);
        (0..n)
            .map(|_| {
                let x = next();
                // plain letters most of the time, so that many strings have nothing to escape
                if x % 16 == 0 {
                    alphabet[(x >> 8) as usize % alphabet.len()]
                } else {
                    b'a' + (x >> 8) as u8 % 26
                }
            })
            .collect()
    }

    #[test]
    fn escape_test_is_the_bytewise_one_at_every_length_and_place() {
        for n in 0..100 {
            for seed in 0..60 {
                let b = bytes(seed * 101 + n as u64, n);
                assert_eq!(needs_json_escape(&b), b.iter().any(|&c| escaped(c)), "{b:?}");
            }
            // one escaped byte at each position of an otherwise plain string
            for at in 0..n {
                for c in [b'"', b'\\', 0x00, 0x1f, b'\n'] {
                    let mut b = vec![b'x'; n];
                    b[at] = c;
                    assert!(needs_json_escape(&b), "{c:#x} at {at} of {n}");
                }
            }
            let plain: Vec<u8> = (0..n).map(|i| [b' ', b'~', 0x7f, 0x80, 0xff, 0x20][i % 6]).collect();
            assert!(!needs_json_escape(&plain), "{plain:?}");
        }
    }

    #[test]
    fn append_is_extend_from_slice_at_every_length() {
        for n in 0..300 {
            for lead in [0, 1, 7, 33] {
                let s = bytes(n as u64 + 1, n);
                let mut want = bytes(99, lead);
                let mut got = want.clone();
                want.extend_from_slice(&s);
                append(&mut got, &s);
                assert_eq!(got, want, "{n} bytes after {lead}");
                let mut quoted = bytes(99, lead);
                append_quoted(&mut quoted, &s);
                want.truncate(lead);
                want.push(b'"');
                want.extend_from_slice(&s);
                want.push(b'"');
                assert_eq!(quoted, want, "{n} bytes quoted after {lead}");
                let mut text = String::from("é");
                let piece = "ab✓cdefghijklmnopqrstuvwxyz0123456789"
                    .chars()
                    .take(n % 37)
                    .collect::<String>();
                append_str(&mut text, &piece);
                assert_eq!(text, format!("é{piece}"));
            }
        }
    }
}
