//! Where the bytes that end or quote a CSV field (and the ones that are not ASCII) are, 64 at a time, as bit masks (bit `i` for byte `i`): with
//! WebAssembly SIMD (simd128) or SSE2, 16 bytes per comparison; on other targets a byte at a time. The CSV reader's
//! fast path walks these bits instead of searching again for the end of every field.

/// The delimiters, quotes (`"`), carriage returns and bytes that are not ASCII among (at most) 64 bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Marks {
    /// Bit `i` set: byte `i` is the delimiter.
    pub delimiters: u64,
    /// Bit `i` set: byte `i` is `"`.
    pub quotes: u64,
    /// Bit `i` set: byte `i` is `\r`.
    pub returns: u64,
    /// Bit `i` set: byte `i` is not ASCII (its high bit is set).
    pub high: u64,
}

/// The marks of the first `len` bytes of `bytes` (`len` at most 64 and at most `bytes.len()`); the bits from `len`
/// on are clear. Bytes past `len` are read when there are 64 in `bytes`, which saves a copy.
#[inline]
pub(crate) fn marks(bytes: &[u8], len: usize, delimiter: u8) -> Marks {
    debug_assert!(len <= 64 && len <= bytes.len());
    let keep = if len == 64 { u64::MAX } else { (1u64 << len) - 1 };
    let m = match bytes.first_chunk::<64>() {
        Some(block) => block_marks(block, delimiter),
        None => {
            let mut pad = [0u8; 64];
            pad[..len].copy_from_slice(&bytes[..len]);
            block_marks(&pad, delimiter)
        }
    };
    Marks {
        delimiters: m.delimiters & keep,
        quotes: m.quotes & keep,
        returns: m.returns & keep,
        high: m.high & keep,
    }
}

#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
#[inline]
fn block_marks(block: &[u8; 64], delimiter: u8) -> Marks {
    use core::arch::wasm32::{u8x16_bitmask, u8x16_eq, u8x16_splat, v128, v128_load};
    let (d, q, r) = (u8x16_splat(delimiter), u8x16_splat(b'"'), u8x16_splat(b'\r'));
    let mut m = Marks::default();
    for k in 0..4 {
        // SAFETY: bytes 16k..16k + 16 are inside `block`, and v128.load has no alignment requirement.
        let v = unsafe { v128_load(block.as_ptr().add(16 * k).cast::<v128>()) };
        m.delimiters |= u64::from(u8x16_bitmask(u8x16_eq(v, d))) << (16 * k);
        m.quotes |= u64::from(u8x16_bitmask(u8x16_eq(v, q))) << (16 * k);
        m.returns |= u64::from(u8x16_bitmask(u8x16_eq(v, r))) << (16 * k);
        m.high |= u64::from(u8x16_bitmask(v)) << (16 * k);
    }
    m
}

#[cfg(target_arch = "x86_64")]
#[inline]
fn block_marks(block: &[u8; 64], delimiter: u8) -> Marks {
    use core::arch::x86_64::{__m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_set1_epi8};
    let mut m = Marks::default();
    // SAFETY: SSE2 is part of every x86_64 target; bytes 16k..16k + 16 are inside `block`, and the load is the
    // unaligned one.
    unsafe {
        let (d, q, r) = (
            _mm_set1_epi8(delimiter as i8),
            _mm_set1_epi8(b'"' as i8),
            _mm_set1_epi8(b'\r' as i8),
        );
        for k in 0..4 {
            let v = _mm_loadu_si128(block.as_ptr().add(16 * k).cast::<__m128i>());
            let bits = |c| u64::from(_mm_movemask_epi8(_mm_cmpeq_epi8(v, c)) as u16) << (16 * k);
            m.delimiters |= bits(d);
            m.quotes |= bits(q);
            m.returns |= bits(r);
            m.high |= u64::from(_mm_movemask_epi8(v) as u16) << (16 * k);
        }
    }
    m
}

#[cfg(not(any(all(target_arch = "wasm32", target_feature = "simd128"), target_arch = "x86_64")))]
#[inline]
fn block_marks(block: &[u8; 64], delimiter: u8) -> Marks {
    bytewise(block, delimiter)
}

/// The same, a byte at a time: the reference the SIMD versions are tested against, and the fallback.
#[cfg_attr(
    any(all(target_arch = "wasm32", target_feature = "simd128"), target_arch = "x86_64"),
    allow(dead_code)
)]
fn bytewise(block: &[u8; 64], delimiter: u8) -> Marks {
    let mut m = Marks::default();
    for (i, &b) in block.iter().enumerate() {
        m.delimiters |= u64::from(b == delimiter) << i;
        m.quotes |= u64::from(b == b'"') << i;
        m.returns |= u64::from(b == b'\r') << i;
        m.high |= u64::from(b >= 0x80) << i;
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A deterministic stream of bytes rich in the ones that matter.
    fn bytes(seed: u64, n: usize) -> Vec<u8> {
        let alphabet = b",;\t|\"\r\na \xc3\xa9\x00\xff";
        let mut next = crate::test_rng::stream(seed);
        (0..n)
            .map(|_| alphabet[(next() % alphabet.len() as u64) as usize])
            .collect()
    }

    #[test]
    fn simd_marks_equal_bytewise_marks() {
        for seed in 0..2000 {
            let data = bytes(seed, 64);
            let block: &[u8; 64] = data.first_chunk().unwrap();
            for d in [b',', b';', b'\t', b'|', 0] {
                assert_eq!(block_marks(block, d), bytewise(block, d), "seed {seed}, delimiter {d}");
            }
        }
    }

    #[test]
    fn marks_keep_only_the_first_len_bytes() {
        // (bytes given, len): short slices are padded, long ones read in place; bits from len on are clear.
        let data = bytes(7, 200);
        for (given, len) in [
            (0, 0),
            (1, 1),
            (5, 3),
            (63, 63),
            (64, 64),
            (64, 10),
            (100, 0),
            (100, 37),
            (200, 64),
        ] {
            let m = marks(&data[..given], len, b',');
            let mut want = [0u8; 64];
            want[..len].copy_from_slice(&data[..len]);
            let mut w = bytewise(&want, b',');
            if len < 64 {
                // the padding's zero bytes are not delimiters here, but clear them as `marks` does
                let keep = (1u64 << len) - 1;
                w = Marks {
                    delimiters: w.delimiters & keep,
                    quotes: w.quotes & keep,
                    returns: w.returns & keep,
                    high: w.high & keep,
                };
            }
            assert_eq!(m, w, "given {given}, len {len}");
        }
    }
}
