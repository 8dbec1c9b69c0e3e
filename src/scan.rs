//! Byte scanning shared by the framer and the record walk: where a JSON string's plain text
//! stops, found 16 bytes at a time; and, for a compact ASCII record without escapes, where
//! every quote is, one bit a byte, so that each string's end is a bit look-up.

/// Where the string whose text starts at `from` stops being plain text: the index of its
/// closing quote, of a backslash, or of a raw control character (below 0x20), whichever comes
/// first; `None` if none comes before the end.
#[inline]
pub fn string_stop(b: &[u8], from: usize) -> Option<usize> {
    let mut i = from;
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{
            __m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_min_epu8, _mm_movemask_epi8, _mm_or_si128,
            _mm_set1_epi8,
        };
        // SAFETY: SSE2 is part of x86_64; each load reads 16 bytes inside `b` (i + 16 <= len).
        unsafe {
            let (quote, backslash, control) = (
                _mm_set1_epi8(b'"' as i8),
                _mm_set1_epi8(b'\\' as i8),
                _mm_set1_epi8(0x1f),
            );
            while i + 16 <= b.len() {
                let v = _mm_loadu_si128(b.as_ptr().add(i).cast::<__m128i>());
                // A byte is at most 0x1f exactly when the unsigned minimum with 0x1f is itself.
                let stops = _mm_or_si128(
                    _mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, backslash)),
                    _mm_cmpeq_epi8(_mm_min_epu8(v, control), v),
                );
                let mask = _mm_movemask_epi8(stops) as u32;
                if mask != 0 {
                    return Some(i + mask.trailing_zeros() as usize);
                }
                i += 16;
            }
        }
    }
    b[i..]
        .iter()
        .position(|&c| c == b'"' || c == b'\\' || c < 0x20)
        .map(|k| i + k)
}

/// Records up to this long are indexed by [`quote_bits`] (real events are about 1 KiB).
pub const INDEXED: usize = 4096;

/// Sets bit `i % 64` of `bits[i / 64]` for every quote of `b` (at most [`INDEXED`] bytes),
/// and says whether `b` is plain: ASCII, with no backslash and no byte below 0x20. Only then
/// does each string end at the next quote (and no whitespace but spaces lies between tokens).
/// Where the CPU has no AVX2 it says no, and strings are scanned one by one instead.
pub fn quote_bits(b: &[u8], bits: &mut [u64; INDEXED / 64]) -> bool {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU has AVX2.
        return unsafe { x86::quote_bits_avx2(b, bits) };
    }
    let _ = (b, bits);
    false
}

/// [`quote_bits`], with `block` telling the quotes and the odd bytes of 64 bytes.
#[cfg(any(test, target_arch = "x86_64"))]
#[inline(always)]
fn index(b: &[u8], bits: &mut [u64; INDEXED / 64], block: impl Fn(&[u8; 64]) -> (u64, u64)) -> bool {
    debug_assert!(b.len() <= INDEXED);
    let mut odd = 0u64;
    let mut blocks = b.chunks_exact(64);
    for (chunk, word) in blocks.by_ref().zip(bits.iter_mut()) {
        let (quotes, bad) = block(chunk.try_into().expect("64 bytes"));
        *word = quotes;
        odd |= bad;
    }
    let rest = blocks.remainder();
    if !rest.is_empty() {
        // Padded with spaces: neither quotes nor anything odd.
        let mut last = [b' '; 64];
        last[..rest.len()].copy_from_slice(rest);
        let (quotes, bad) = block(&last);
        bits[b.len() / 64] = quotes;
        odd |= bad;
    }
    odd == 0
}

/// The quotes of 64 bytes, and the bytes that are not plain (non-ASCII, a backslash, below
/// 0x20), one at a time: what the SIMD reading must give.
#[cfg(test)]
fn block_portable(block: &[u8; 64]) -> (u64, u64) {
    let (mut quotes, mut bad) = (0u64, 0u64);
    for (i, &c) in block.iter().enumerate() {
        quotes |= u64::from(c == b'"') << i;
        bad |= u64::from(c >= 0x80 || c == b'\\' || c < 0x20);
    }
    (quotes, bad)
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::*;

    /// [`super::block_portable`], 32 bytes at a time. A byte is odd when its top bit is set,
    /// when it is a backslash, or when its unsigned minimum with 0x1f is itself.
    #[target_feature(enable = "avx2")]
    fn block_avx2(block: &[u8; 64]) -> (u64, u64) {
        // SAFETY: each load reads 32 bytes of the 64.
        unsafe {
            let (quote, backslash, control) = (
                _mm256_set1_epi8(b'"' as i8),
                _mm256_set1_epi8(b'\\' as i8),
                _mm256_set1_epi8(0x1f),
            );
            let (mut quotes, mut bad) = (0u64, 0u64);
            for k in 0..2 {
                let v = _mm256_loadu_si256(block.as_ptr().add(32 * k).cast::<__m256i>());
                let odd = _mm256_or_si256(
                    _mm256_or_si256(v, _mm256_cmpeq_epi8(v, backslash)),
                    _mm256_cmpeq_epi8(_mm256_min_epu8(v, control), v),
                );
                quotes |= u64::from(_mm256_movemask_epi8(_mm256_cmpeq_epi8(v, quote)) as u32) << (32 * k);
                bad |= u64::from(_mm256_movemask_epi8(odd) as u32);
            }
            (quotes, bad)
        }
    }

    /// [`super::quote_bits`] on a CPU with AVX2.
    #[target_feature(enable = "avx2")]
    pub fn quote_bits_avx2(b: &[u8], bits: &mut [u64; super::INDEXED / 64]) -> bool {
        super::index(b, bits, |block| block_avx2(block))
    }
}

/// The first quote at or after `from`, from [`quote_bits`]' index.
#[inline]
pub fn next_quote(bits: &[u64], from: usize) -> Option<usize> {
    let mut w = from / 64;
    let mut m = *bits.get(w)? & (u64::MAX << (from % 64));
    while m == 0 {
        w += 1;
        m = *bits.get(w)?;
    }
    Some(w * 64 + m.trailing_zeros() as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn avx2() -> bool {
        #[cfg(target_arch = "x86_64")]
        return std::arch::is_x86_feature_detected!("avx2");
        #[cfg(not(target_arch = "x86_64"))]
        false
    }

    #[test]
    fn quote_bits_mark_every_quote_and_tell_plain_records() {
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        for len in 0..=300 {
            for round in 0..40 {
                // Mostly letters and quotes; now and then a byte that is not plain.
                let b: Vec<u8> = (0..len)
                    .map(|_| {
                        x ^= x << 13;
                        x ^= x >> 7;
                        x ^= x << 17;
                        match x % 23 {
                            0..=4 => b'"',
                            5 if round % 4 == 0 => [b'\\', 0x0a, 0x85, 0x1f][(x >> 8) as usize % 4],
                            _ => b'a' + (x >> 16) as u8 % 26,
                        }
                    })
                    .collect();
                let mut bits = [0u64; INDEXED / 64];
                let plain = index(&b, &mut bits, block_portable);
                // The CPU's reading agrees, where it has one; elsewhere it declines.
                let mut fast = [0u64; INDEXED / 64];
                assert_eq!(quote_bits(&b, &mut fast), plain && avx2());
                if plain && avx2() {
                    assert_eq!(bits, fast);
                }
                assert_eq!(plain, b.iter().all(|&c| c.is_ascii() && c != b'\\' && c >= 0x20));
                for from in 0..=len {
                    let want = b[from..].iter().position(|&c| c == b'"').map(|k| from + k);
                    assert_eq!(next_quote(&bits[..len.div_ceil(64)], from), want);
                }
            }
        }
    }
}
