//! DES (FIPS 46-3) with combined S-box/permutation tables, for the `des-cbc-md5` suite.
//!
//! The `des` crate computes every round bit by bit; here each round is two XORs with the round
//! key, one rotation and eight lookups in 64-entry tables that fold the S-boxes, the permutation
//! P and the layout of the halves into one word each (see `tables.rs`). The initial and final
//! permutations are an 8x8 bit-matrix transposition done with three delta swaps, so they need no
//! table. All tables are derived from the FIPS 46-3 tables at compile time.
//!
//! [`FastDes`] implements the same RustCrypto `cipher` traits as `des::Des` (`KeyInit`,
//! `BlockSizeUser`, `BlockCipherEncrypt`, `BlockCipherDecrypt`), so it is used as
//! `cbc::Encryptor<FastDes>` / `cbc::Decryptor<FastDes>`. CBC decryption hands it blocks in
//! fours, which it runs interleaved so the four dependency chains overlap; CBC encryption of one
//! chain is sequential by
//! construction, so [`FastDes::cbc_encrypt_lanes`] runs several chains (chunks) side by side.
//!
//! The `des` crate stays the reference: the tests compare both on millions of random keys and
//! blocks, in ECB and in CBC over random lengths, and run the NIST SP 800-17 / FIPS 81 vectors.
//!
//! **Timing.** The table lookups are indexed by key- and data-dependent values, so the memory
//! access pattern depends on secrets and a cache-timing attacker on the same machine may learn
//! about the key. The `des` crate has the same property, as its README says. DES with its 56-bit
//! key is of legacy strength in any case (SPEC.md section 6); the suite exists for the paper's
//! scheme, not for new secrets.

mod fips;
mod tables;
#[cfg(test)]
mod tests;

use std::fmt;

use cbc::cipher::consts::{U4, U8};
use cbc::cipher::{
    Block, BlockCipherDecBackend, BlockCipherDecClosure, BlockCipherDecrypt, BlockCipherEncBackend,
    BlockCipherEncClosure, BlockCipherEncrypt, BlockSizeUser, InOut, Key, KeyInit, KeySizeUser, ParBlocks,
    ParBlocksSizeUser,
};
use zeroize::{Zeroize, ZeroizeOnDrop};

use tables::{PC1_SOURCES, PC2_C, PC2_D, ROT, SP};

/// Blocks processed together by the interleaved path (CBC decryption, ECB).
const LANES: usize = 4;

/// Sixteen round keys, each as the two words described in `tables.rs`.
type Schedule = [[u32; 2]; 16];

/// DES keyed for encryption and decryption. Round keys are wiped on drop and never printed.
pub struct FastDes {
    encrypt: Schedule,
    /// The same round keys in reverse order.
    decrypt: Schedule,
}

impl FastDes {
    /// The key schedule: PC-1, then per round the rotations of C and D and PC-2 by nibbles.
    /// Parity bits (the last bit of each key byte) are ignored, as FIPS 46-3 says.
    fn schedule(key: u64) -> Schedule {
        let (mut c, mut d) = (0u32, 0u32);
        for (i, &source) in PC1_SOURCES.iter().enumerate() {
            let bit = ((key >> source) & 1) as u32;
            if i < 28 {
                c |= bit << (27 - i);
            } else {
                d |= bit << (55 - i);
            }
        }
        let mut schedule = [[0u32; 2]; 16];
        for (round_key, &shift) in schedule.iter_mut().zip(fips::SHIFTS.iter()) {
            c = rotate28(c, shift.into());
            d = rotate28(d, shift.into());
            let mut k = 0u64;
            for n in 0..7 {
                k |= PC2_C[n][((c >> (4 * n)) & 0xF) as usize] | PC2_D[n][((d >> (4 * n)) & 0xF) as usize];
            }
            *round_key = [(k >> 32) as u32, k as u32];
        }
        c.zeroize();
        d.zeroize();
        schedule
    }

    fn from_key(key: [u8; 8]) -> Self {
        let mut encrypt = Self::schedule(u64::from_be_bytes(key));
        let mut decrypt = encrypt;
        decrypt.reverse();
        let des = FastDes { encrypt, decrypt };
        encrypt.zeroize();
        decrypt.zeroize();
        des
    }
}

/// Rotate a 28-bit register left.
fn rotate28(x: u32, by: u32) -> u32 {
    ((x << by) | (x >> (28 - by))) & 0x0FFF_FFFF
}

/// The DES round function on a rotated half, as the word to XOR into the other rotated half.
#[inline(always)]
fn f(r: u32, k: &[u32; 2]) -> u32 {
    let u = r ^ k[0];
    let t = r.rotate_left(4) ^ k[1];
    let i = |x: u32, shift: u32| ((x >> shift) & 0x3F) as usize;
    // The eight words have disjoint bits (each S-box owns four inputs of the permutation P), so
    // `|` and `^` agree on them. Mixing the two keeps the compiler from re-associating the
    // balanced tree into a chain of eight dependent XORs: that chain would be the critical path
    // of CBC encryption, where each block waits for the one before.
    let even = (SP[0][i(u, 0)] ^ SP[2][i(u, 24)]) | (SP[4][i(u, 16)] ^ SP[6][i(u, 8)]);
    let odd = (SP[1][i(t, 0)] ^ SP[3][i(t, 24)]) | (SP[5][i(t, 16)] ^ SP[7][i(t, 8)]);
    even ^ odd
}

/// Swap the bits of `x` selected by `mask` with those `shift` places to their left.
#[inline(always)]
fn delta_swap(x: u64, mask: u64, shift: u32) -> u64 {
    let t = ((x >> shift) ^ x) & mask;
    x ^ t ^ (t << shift)
}

/// Transpose an 8x8 bit matrix (row `i` = byte `i` from the most significant end, column `j` =
/// bit `j` from the most significant end): 2x2, then 4x4, then 8x8 blocks swap across the diagonal.
#[inline(always)]
fn transpose8x8(x: u64) -> u64 {
    let x = delta_swap(x, 0x00AA_00AA_00AA_00AA, 7);
    let x = delta_swap(x, 0x0000_CCCC_0000_CCCC, 14);
    delta_swap(x, 0x0000_0000_F0F0_F0F0, 28)
}

/// Bytes 1, 3, 5, 7 (from the most significant end) of `x`, in that order.
#[inline(always)]
fn odd_bytes(x: u64) -> u32 {
    let x = x & 0x00FF_00FF_00FF_00FF;
    let x = (x | (x >> 8)) & 0x0000_FFFF_0000_FFFF;
    (x | (x >> 16)) as u32
}

/// The inverse of [`odd_bytes`]: `x`'s bytes placed at bytes 1, 3, 5, 7, the others zero.
#[inline(always)]
fn spread_bytes(x: u32) -> u64 {
    let x = u64::from(x);
    let x = (x | (x << 16)) & 0x0000_FFFF_0000_FFFF;
    (x | (x << 8)) & 0x00FF_00FF_00FF_00FF
}

/// IP. Its table sends input bit `8b + i + 1` (byte `b`, bit `i` from the top) to column `7 - b`
/// of output row `ρ(i)`, where rows 0 ..= 3 (L) take `i` = 1, 3, 5, 7 and rows 4 ..= 7 (R) take
/// `i` = 0, 2, 4, 6. So: reverse the bytes (reading the block little-endian), transpose, and L is
/// rows 1, 3, 5, 7 of the result, R rows 0, 2, 4, 6. Returns `(L, R)` rotated by [`ROT`].
#[inline(always)]
fn initial_permutation(block: [u8; 8]) -> (u32, u32) {
    let t = transpose8x8(u64::from_le_bytes(block));
    (odd_bytes(t).rotate_left(ROT), odd_bytes(t >> 8).rotate_left(ROT))
}

/// IP^-1 of the preoutput `left || right` (both rotated by [`ROT`]): [`initial_permutation`]
/// undone step by step.
#[inline(always)]
fn final_permutation(left: u32, right: u32) -> [u8; 8] {
    let t = spread_bytes(left.rotate_right(ROT)) | (spread_bytes(right.rotate_right(ROT)) << 8);
    transpose8x8(t).to_le_bytes()
}

impl FastDes {
    /// CBC-encrypt `N` independent chains in place, one block of each at a time: a single chain
    /// is serial (each block waits for the one before it), so sealing several chunks side by
    /// side gives the CPU independent work to overlap, as CBC decryption's pairs do. Every chain
    /// is encrypted up to the shortest one's length in whole blocks; callers pass equal,
    /// block-aligned lengths (`des-cbc-md5`'s full chunks).
    pub fn cbc_encrypt_lanes<const N: usize>(&self, ivs: [[u8; 8]; N], chains: [&mut [u8]; N]) {
        let blocks = chains.iter().map(|c| c.len() / 8).min().unwrap_or(0);
        let mut prev = ivs.map(u64::from_ne_bytes);
        for b in 0..blocks {
            let at = b * 8;
            let mut input = [[0u8; 8]; N];
            for n in 0..N {
                let mut block = [0u8; 8];
                block.copy_from_slice(&chains[n][at..at + 8]);
                input[n] = (u64::from_ne_bytes(block) ^ prev[n]).to_ne_bytes();
            }
            let output = crypt(&self.encrypt, input);
            for n in 0..N {
                chains[n][at..at + 8].copy_from_slice(&output[n]);
                prev[n] = u64::from_ne_bytes(output[n]);
            }
        }
    }
}

/// The sixteen rounds on `N` blocks at once, interleaved round by round.
#[inline(always)]
fn crypt<const N: usize>(schedule: &Schedule, blocks: [[u8; 8]; N]) -> [[u8; 8]; N] {
    let mut l = [0u32; N];
    let mut r = [0u32; N];
    for n in 0..N {
        (l[n], r[n]) = initial_permutation(blocks[n]);
    }
    // Two rounds per step, so the halves never need swapping: after the last step `r` holds
    // R16 and `l` holds L16, and the preoutput is R16 || L16.
    for keys in schedule.chunks_exact(2) {
        for n in 0..N {
            l[n] ^= f(r[n], &keys[0]);
        }
        for n in 0..N {
            r[n] ^= f(l[n], &keys[1]);
        }
    }
    let mut out = [[0u8; 8]; N];
    for n in 0..N {
        out[n] = final_permutation(r[n], l[n]);
    }
    out
}

impl KeySizeUser for FastDes {
    type KeySize = U8;
}

impl KeyInit for FastDes {
    fn new(key: &Key<Self>) -> Self {
        FastDes::from_key(key.0)
    }
}

impl BlockSizeUser for FastDes {
    type BlockSize = U8;
}

impl ParBlocksSizeUser for FastDes {
    type ParBlocksSize = U4;
}

/// `N` blocks out of `blocks`, in order.
#[inline(always)]
fn par_in(blocks: &ParBlocks<FastDes>) -> [[u8; 8]; LANES] {
    std::array::from_fn(|n| blocks[n].0)
}

impl BlockCipherEncrypt for FastDes {
    fn encrypt_with_backend(&self, f: impl BlockCipherEncClosure<BlockSize = Self::BlockSize>) {
        f.call(self)
    }
}

impl BlockCipherEncBackend for FastDes {
    #[inline]
    fn encrypt_block(&self, mut block: InOut<'_, '_, Block<Self>>) {
        let [out] = crypt(&self.encrypt, [block.clone_in().0]);
        block.get_out().0 = out;
    }

    #[inline]
    fn encrypt_par_blocks(&self, mut blocks: InOut<'_, '_, ParBlocks<Self>>) {
        let out = crypt(&self.encrypt, par_in(&blocks.clone_in()));
        for (dst, src) in blocks.get_out().iter_mut().zip(out) {
            dst.0 = src;
        }
    }
}

impl BlockCipherDecrypt for FastDes {
    fn decrypt_with_backend(&self, f: impl BlockCipherDecClosure<BlockSize = Self::BlockSize>) {
        f.call(self)
    }
}

impl BlockCipherDecBackend for FastDes {
    #[inline]
    fn decrypt_block(&self, mut block: InOut<'_, '_, Block<Self>>) {
        let [out] = crypt(&self.decrypt, [block.clone_in().0]);
        block.get_out().0 = out;
    }

    #[inline]
    fn decrypt_par_blocks(&self, mut blocks: InOut<'_, '_, ParBlocks<Self>>) {
        let out = crypt(&self.decrypt, par_in(&blocks.clone_in()));
        for (dst, src) in blocks.get_out().iter_mut().zip(out) {
            dst.0 = src;
        }
    }
}

impl Drop for FastDes {
    fn drop(&mut self) {
        self.encrypt.zeroize();
        self.decrypt.zeroize();
    }
}

impl ZeroizeOnDrop for FastDes {}

impl fmt::Debug for FastDes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("FastDes { .. }")
    }
}
