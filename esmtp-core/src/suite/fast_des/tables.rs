//! Lookup tables derived from the FIPS 46-3 tables in `fips.rs` by `const fn`, at compile time.
//!
//! Layout shared with `mod.rs`:
//!
//! - A 32-bit half is a `u32` with FIPS bit 1 in the most significant bit. During the rounds both
//!   halves are kept rotated left by [`ROT`] bits. In that form the six input bits of S-box `j`
//!   (the expansion E of the right half) are one byte-aligned field: S1, S3, S5, S7 at bits
//!   0..6, 24..30, 16..22, 8..14 of the rotated half `r`, and S2, S4, S6, S8 at the same places
//!   of `r.rotate_left(4)`. So E costs one rotation per round.
//! - A round key is two words in that field layout: `[S1 | S3 | S5 | S7, S2 | S4 | S6 | S8]`,
//!   each six-bit field holding the key bits of one S-box, first bit most significant. XORed
//!   onto the two views of `r`, the masked fields are the S-box indices.
//! - `SP[j][x]` is S-box `j + 1` on input `x` (bit 5 = first input bit), placed at its output
//!   position, passed through P and rotated by [`ROT`]: the combined S-box/permutation table. A
//!   round XORs eight of these into the other half.

use super::fips::{P, PC1, PC2, S};

/// Left rotation of both halves during the rounds.
pub(super) const ROT: u32 = 5;

/// Shift of S-box `j`'s six-bit field inside its round-key word (see the module docs).
pub(super) const fn field_shift(j: usize) -> u32 {
    match j / 2 {
        0 => 0,
        1 => 24,
        2 => 16,
        _ => 8,
    }
}

/// P applied to a 32-bit value in FIPS bit order.
const fn permute_p(x: u32) -> u32 {
    let mut out = 0u32;
    let mut i = 0;
    while i < 32 {
        if (x >> (32 - P[i] as u32)) & 1 == 1 {
            out |= 1 << (31 - i);
        }
        i += 1;
    }
    out
}

/// S-box `j` on six input bits: the outer bits choose the row, the inner four the column.
pub(super) const fn sbox(j: usize, x: usize) -> u8 {
    let row = ((x >> 4) & 2) | (x & 1);
    let col = (x >> 1) & 0xF;
    S[j][row][col]
}

const fn sp_tables() -> [[u32; 64]; 8] {
    let mut t = [[0u32; 64]; 8];
    let mut j = 0;
    while j < 8 {
        let mut x = 0;
        while x < 64 {
            let placed = (sbox(j, x) as u32) << (28 - 4 * j as u32);
            t[j][x] = permute_p(placed).rotate_left(ROT);
            x += 1;
        }
        j += 1;
    }
    t
}

/// The combined S-box and permutation tables (8 x 64 words, 2 KiB).
pub(super) static SP: [[u32; 64]; 8] = sp_tables();

/// Where round-key bit `b` (0-based, in PC-2 output order) goes in the round key, viewed as one
/// `u64` with the S1/S3/S5/S7 word in the high half.
const fn round_key_bit(b: usize) -> u32 {
    let j = b / 6;
    let within = 5 - (b % 6) as u32;
    let word = if j.is_multiple_of(2) { 32 } else { 0 };
    word + field_shift(j) + within
}

/// PC-2 by nibbles: `PC2_C[n][v]` is the round-key contribution of the C register's nibble `n`
/// (bits `4n .. 4n + 4` of the 28-bit value, C bit 1 at bit 27) having value `v`; likewise
/// `PC2_D` for D. A round key is the OR of fourteen lookups.
const fn pc2_nibble_tables(d_half: bool) -> [[u64; 16]; 7] {
    let mut t = [[0u64; 16]; 7];
    let mut b = 0;
    while b < 48 {
        let source = PC2[b] as usize; // 1 ..= 56
        let in_d = source > 28;
        if in_d == d_half {
            let k = if in_d { source - 28 } else { source }; // 1 ..= 28
            let pos = 28 - k; // bit position in the 28-bit register
            let (n, bit) = (pos / 4, pos % 4);
            let mut v = 0;
            while v < 16 {
                if (v >> bit) & 1 == 1 {
                    t[n][v] |= 1 << round_key_bit(b);
                }
                v += 1;
            }
        }
        b += 1;
    }
    t
}

pub(super) static PC2_C: [[u64; 16]; 7] = pc2_nibble_tables(false);
pub(super) static PC2_D: [[u64; 16]; 7] = pc2_nibble_tables(true);

/// PC-1 as shifts: for C then D, the position (from the least significant bit) in the key read
/// as a big-endian `u64` of each of their 28 bits, first bit first.
const fn pc1_sources() -> [u8; 56] {
    let mut t = [0u8; 56];
    let mut i = 0;
    while i < 56 {
        t[i] = 64 - PC1[i];
        i += 1;
    }
    t
}

pub(super) const PC1_SOURCES: [u8; 56] = pc1_sources();
