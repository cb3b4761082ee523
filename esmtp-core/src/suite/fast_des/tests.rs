//! [`FastDes`] against three references: a literal bit-by-bit DES over the FIPS 46-3 tables, the
//! published NIST SP 800-17 / FIPS 81 vectors, and the `des` crate on random keys and blocks.
//!
//! The random comparisons are bounded so `cargo test` stays quick; for the long run set
//! `ESMTP_DES_DIFF_KEYS` (random keys; each key does ECB and CBC work, see the tests), e.g.
//! `ESMTP_DES_DIFF_KEYS=2000000 cargo test --release -p esmtp-core fast_des`. The seed is fixed
//! unless `ESMTP_DES_DIFF_SEED` is set; a failure prints the seed and the sample.

use cbc::cipher::block_padding::{NoPadding, Pkcs7};
use cbc::cipher::{
    Array, BlockCipherDecrypt, BlockCipherEncrypt, BlockModeDecrypt, BlockModeEncrypt, KeyInit, KeyIvInit,
};
use des::Des;

use super::fips::{E, FP, IP, P, PC1, PC2, S, SHIFTS};
use super::tables::{ROT, SP, field_shift, sbox};
use super::{FastDes, f, final_permutation, initial_permutation};

use crate::suite::katfile;

// --- the literal reference: FIPS 46-3 read bit by bit -------------------------------------

/// `table` applied to the `width`-bit value `x`: output bit `i` is input bit `table[i]`, bits
/// numbered from 1 at the most significant end.
fn permute(x: u64, width: u32, table: &[u8]) -> u64 {
    table.iter().fold(0, |acc, &pos| (acc << 1) | ((x >> (width - u32::from(pos))) & 1))
}

fn reference_round_keys(key: u64) -> [u64; 16] {
    let cd = permute(key, 64, &PC1);
    let (mut c, mut d) = (cd >> 28, cd & 0x0FFF_FFFF);
    let rot = |x: u64, by: u8| ((x << by) | (x >> (28 - by))) & 0x0FFF_FFFF;
    std::array::from_fn(|i| {
        c = rot(c, SHIFTS[i]);
        d = rot(d, SHIFTS[i]);
        permute((c << 28) | d, 56, &PC2)
    })
}

fn reference_f(r: u32, k: u64) -> u32 {
    let x = permute(u64::from(r), 32, &E) ^ k;
    let s =
        (0..8).fold(0u64, |acc, j| (acc << 4) | u64::from(sbox(j, ((x >> (42 - 6 * j)) & 0x3F) as usize)));
    permute(s, 32, &P) as u32
}

fn reference_des(key: u64, block: u64, decrypt: bool) -> u64 {
    let keys = reference_round_keys(key);
    let ip = permute(block, 64, &IP);
    let (mut l, mut r) = ((ip >> 32) as u32, ip as u32);
    for i in 0..16 {
        let k = if decrypt { keys[15 - i] } else { keys[i] };
        (l, r) = (r, l ^ reference_f(r, k));
    }
    permute((u64::from(r) << 32) | u64::from(l), 64, &FP)
}

/// One of our round keys as the 48 bits PC-2 gives.
fn as_pc2_bits(k: &[u32; 2]) -> u64 {
    (0..8).fold(0u64, |acc, j| (acc << 6) | u64::from((k[j % 2] >> field_shift(j)) & 0x3F))
}

// --- random inputs ---------------------------------------------------------------------------

/// SplitMix64: fast and reproducible; the inputs need to be varied, not secret.
struct Rng(u64);

impl Rng {
    fn from_env() -> (Rng, u64) {
        let seed =
            std::env::var("ESMTP_DES_DIFF_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(0xDE5_2026);
        (Rng(seed), seed)
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn bytes(&mut self, len: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(len + 8);
        while out.len() < len {
            out.extend_from_slice(&self.next().to_le_bytes());
        }
        out.truncate(len);
        out
    }
}

/// Random keys of the differential tests: `ESMTP_DES_DIFF_KEYS`, or a default that keeps an
/// unoptimised `cargo test` to a few seconds.
fn diff_keys(default: u64) -> u64 {
    std::env::var("ESMTP_DES_DIFF_KEYS").ok().and_then(|s| s.parse().ok()).unwrap_or(default)
}

type DesBlock = Array<u8, cbc::cipher::consts::U8>;

fn block_list(data: &[u8]) -> Vec<DesBlock> {
    data.chunks_exact(8).map(|c| DesBlock::try_from(c).unwrap()).collect()
}

fn flat(blocks: &[DesBlock]) -> Vec<u8> {
    blocks.iter().flat_map(|b| b.0).collect()
}

// --- the tables themselves ------------------------------------------------------------------

#[test]
fn fips_tables_have_their_published_shape() {
    // Each S-box row is a permutation of 0 ..= 15 (FIPS 46-3 prints them so); a mistyped entry
    // breaks this or the vectors below.
    for (j, sbox) in S.iter().enumerate() {
        for (row, values) in sbox.iter().enumerate() {
            let mut seen = [false; 16];
            values.iter().for_each(|&v| seen[usize::from(v)] = true);
            assert!(seen.iter().all(|&s| s), "S{} row {row} is not a permutation", j + 1);
        }
    }
    let is_permutation = |table: &[u8], n: u8| {
        let mut sorted = table.to_vec();
        sorted.sort_unstable();
        sorted == (1..=n).collect::<Vec<_>>()
    };
    assert!(is_permutation(&P, 32));
    assert!(is_permutation(&IP, 64) && is_permutation(&FP, 64));
    for i in 0..64u8 {
        assert_eq!(FP[usize::from(IP[usize::from(i)] - 1)], i + 1, "FP is not IP's inverse");
    }
    // PC-1 drops exactly the parity bits 8, 16, ..., 64; PC-2 drops 8 of the 56 bits.
    let mut pc1 = PC1.to_vec();
    pc1.sort_unstable();
    assert_eq!(pc1, (1..=64).filter(|b| b % 8 != 0).collect::<Vec<u8>>());
    let mut pc2 = PC2.to_vec();
    pc2.sort_unstable();
    pc2.dedup();
    assert_eq!(pc2.len(), 48);
    assert!(pc2.iter().all(|&b| (1..=56).contains(&b)));
    assert_eq!(SHIFTS.iter().map(|&s| u32::from(s)).sum::<u32>(), 28, "C and D turn once per key");
}

#[test]
fn sp_tables_are_the_sboxes_through_p() {
    for (j, table) in SP.iter().enumerate() {
        for (x, &word) in table.iter().enumerate() {
            let placed = u64::from(sbox(j, x)) << (28 - 4 * j);
            assert_eq!(u64::from(word.rotate_right(ROT)), permute(placed, 32, &P), "SP[{j}][{x}]");
        }
    }
    // The round function combines the eight tables with `|` as well as `^`, which is only right
    // because no two tables share a bit.
    let support = |j: usize| SP[j].iter().fold(0u32, |acc, &v| acc | v);
    for j in 0..8 {
        assert_eq!(support(j).count_ones(), 4, "SP[{j}] sets four bits");
        for k in 0..j {
            assert_eq!(support(j) & support(k), 0, "SP[{j}] and SP[{k}] share bits");
        }
    }
}

#[test]
fn initial_and_final_permutations_match_the_fips_tables() {
    // Both are bit permutations built from XORs and shifts, so agreeing on the 64 unit vectors
    // proves them equal to the tables on every input; random values check it again.
    let (mut rng, _) = Rng::from_env();
    let inputs = (0..64).map(|b| 1u64 << b).chain((0..1000).map(|_| rng.next()));
    for x in inputs {
        let (l, r) = initial_permutation(x.to_be_bytes());
        let ip = permute(x, 64, &IP);
        assert_eq!(
            (l.rotate_right(ROT), r.rotate_right(ROT)),
            ((ip >> 32) as u32, ip as u32),
            "IP({x:016x})"
        );
        let fp = final_permutation(((x >> 32) as u32).rotate_left(ROT), (x as u32).rotate_left(ROT));
        assert_eq!(u64::from_be_bytes(fp), permute(x, 64, &FP), "FP({x:016x})");
    }
}

#[test]
fn key_schedule_and_round_function_match_the_reference() {
    let (mut rng, seed) = Rng::from_env();
    for _ in 0..2000 {
        let key = rng.next();
        let ours = FastDes::schedule(key);
        let reference = reference_round_keys(key);
        for (i, (k, want)) in ours.iter().zip(reference).enumerate() {
            assert_eq!(as_pc2_bits(k), want, "round {i} key of {key:016x} (seed {seed})");
            let r = rng.next() as u32;
            assert_eq!(f(r.rotate_left(ROT), k).rotate_right(ROT), reference_f(r, want), "f, round {i}");
        }
    }
}

#[test]
fn literal_reference_agrees_with_the_des_crate() {
    // Ties the two references together, so a table error could not hide in both the reference
    // and the fast code.
    let (mut rng, seed) = Rng::from_env();
    for _ in 0..300 {
        let (key, block) = (rng.next(), rng.next());
        let mut b = DesBlock::from(block.to_be_bytes());
        Des::new(&key.to_be_bytes().into()).encrypt_block(&mut b);
        assert_eq!(reference_des(key, block, false), u64::from_be_bytes(b.0), "seed {seed}");
        assert_eq!(reference_des(key, u64::from_be_bytes(b.0), true), block, "seed {seed}");
    }
}

// --- published vectors -------------------------------------------------------------------------

#[test]
fn nist_ecb_vectors() {
    for r in katfile::load("des-ecb.txt", 172) {
        let des = FastDes::new_from_slice(&r.hex("key")).unwrap_or_else(|e| panic!("{r}: {e}"));
        let (pt, ct) = (r.hex("plaintext"), r.hex("ciphertext"));
        let mut buf = block_list(&pt);
        des.encrypt_blocks(&mut buf);
        assert_eq!(hex::encode(flat(&buf)), hex::encode(&ct), "{r}: encrypt");
        let mut buf = block_list(&ct);
        des.decrypt_blocks(&mut buf);
        assert_eq!(hex::encode(flat(&buf)), hex::encode(&pt), "{r}: decrypt");
    }
}

#[test]
fn fips81_cbc_vectors() {
    for r in katfile::load("des-cbc.txt", 3) {
        let (key, iv) = (r.hex("key"), r.hex("iv"));
        let (pt, ct) = (r.hex("plaintext"), r.hex("ciphertext"));
        let mut buf = block_list(&pt);
        cbc::Encryptor::<FastDes>::new_from_slices(&key, &iv).unwrap().encrypt_blocks(&mut buf);
        assert_eq!(hex::encode(flat(&buf)), hex::encode(&ct), "{r}: encrypt");
        let mut buf = block_list(&ct);
        cbc::Decryptor::<FastDes>::new_from_slices(&key, &iv).unwrap().decrypt_blocks(&mut buf);
        assert_eq!(hex::encode(flat(&buf)), hex::encode(&pt), "{r}: decrypt");
    }
}

// --- differential against the des crate ------------------------------------------------------

#[test]
fn ecb_matches_the_des_crate_on_random_keys_and_blocks() {
    // Per key: 5 blocks encrypted and 5 decrypted, through the paired path (4) and the single
    // path (1), plus a round trip.
    let (mut rng, seed) = Rng::from_env();
    let keys = diff_keys(20_000);
    for sample in 0..keys {
        let key = rng.next().to_be_bytes();
        let (fast, reference) = (FastDes::new(&key.into()), Des::new(&key.into()));
        let data = rng.bytes(40);
        let context = || format!("sample {sample}, seed {seed}, key {}", hex::encode(key));

        let (mut a, mut b) = (block_list(&data), block_list(&data));
        fast.encrypt_blocks(&mut a);
        reference.encrypt_blocks(&mut b);
        assert_eq!(a, b, "encrypt: {}", context());
        fast.decrypt_blocks(&mut a);
        assert_eq!(flat(&a), data, "round trip: {}", context());

        let (mut a, mut b) = (block_list(&data), block_list(&data));
        fast.decrypt_blocks(&mut a);
        reference.decrypt_blocks(&mut b);
        assert_eq!(a, b, "decrypt: {}", context());
    }
}

#[test]
fn cbc_matches_the_des_crate_on_random_lengths() {
    // Per key: one message of random length (0 ..= 300 bytes, so every padding length and both
    // odd and even block counts occur), PKCS#7 as the suite uses it, both directions; and one
    // random ciphertext decrypted without padding.
    type Enc<C> = cbc::Encryptor<C>;
    type Dec<C> = cbc::Decryptor<C>;
    let (mut rng, seed) = Rng::from_env();
    let keys = diff_keys(20_000) / 4;
    for sample in 0..keys {
        let (key, iv) = (rng.next().to_be_bytes(), rng.next().to_be_bytes());
        let len = (rng.next() % 301) as usize;
        let message = rng.bytes(len);
        let context = || format!("sample {sample}, seed {seed}, key {}, length {len}", hex::encode(key));

        let fast = Enc::<FastDes>::new(&key.into(), &iv.into()).encrypt_padded_vec::<Pkcs7>(&message);
        let reference = Enc::<Des>::new(&key.into(), &iv.into()).encrypt_padded_vec::<Pkcs7>(&message);
        assert_eq!(fast, reference, "encrypt: {}", context());
        let opened = Dec::<FastDes>::new(&key.into(), &iv.into()).decrypt_padded_vec::<Pkcs7>(&fast);
        assert_eq!(opened.ok().as_deref(), Some(&message[..]), "decrypt: {}", context());

        let noise = rng.bytes(len / 8 * 8);
        let fast = Dec::<FastDes>::new(&key.into(), &iv.into()).decrypt_padded_vec::<NoPadding>(&noise).ok();
        let reference = Dec::<Des>::new(&key.into(), &iv.into()).decrypt_padded_vec::<NoPadding>(&noise).ok();
        assert!(fast.is_some(), "no padding cannot fail: {}", context());
        assert_eq!(fast, reference, "decrypt noise: {}", context());
    }
}

#[test]
fn side_by_side_cbc_chains_match_the_des_crate() {
    // Two and four chains under one key, each with its own IV, all of one block-aligned length
    // (0 ..= 40 blocks), against the `des` crate encrypting each chain alone; and chains of
    // unequal length, of which only the shortest length is encrypted.
    fn check<const N: usize>(rng: &mut Rng, seed: u64, sample: u64) {
        let key = rng.next().to_be_bytes();
        let len = (rng.next() % 41) as usize * 8;
        let ivs: [[u8; 8]; N] = std::array::from_fn(|_| rng.next().to_be_bytes());
        let messages: [Vec<u8>; N] = std::array::from_fn(|_| rng.bytes(len));
        let mut lanes = messages.clone();
        FastDes::new(&key.into()).cbc_encrypt_lanes(ivs, lanes.each_mut().map(|m| &mut m[..]));
        for n in 0..N {
            let reference = cbc::Encryptor::<Des>::new(&key.into(), &ivs[n].into())
                .encrypt_padded_vec::<NoPadding>(&messages[n]);
            assert_eq!(lanes[n], reference, "lane {n} of {N}, sample {sample}, seed {seed}, length {len}");
        }
    }
    let (mut rng, seed) = Rng::from_env();
    for sample in 0..diff_keys(2_000) / 10 {
        check::<2>(&mut rng, seed, sample);
        check::<4>(&mut rng, seed, sample);
    }
    let des = FastDes::new(&[0x13, 0x34, 0x57, 0x79, 0x9B, 0xBC, 0xDF, 0xF1].into());
    let (mut short, mut long) = (vec![1u8; 16], vec![1u8; 24]);
    des.cbc_encrypt_lanes([[0; 8]; 2], [&mut short[..], &mut long[..]]);
    assert_eq!(short[..], long[..16]);
    assert_eq!(long[16..], [1u8; 8], "past the shortest chain nothing is touched");
}

#[test]
fn parity_bits_are_ignored_and_weak_keys_behave() {
    let (mut rng, _) = Rng::from_env();
    let block = rng.next().to_be_bytes();
    let encrypt = |key: u64| {
        let mut b = DesBlock::from(block);
        FastDes::new(&key.to_be_bytes().into()).encrypt_block(&mut b);
        b
    };
    for _ in 0..100 {
        let key = rng.next();
        assert_eq!(encrypt(key), encrypt(key ^ 0x0101_0101_0101_0101));
    }
    // A weak key makes encryption an involution (FIPS 74): encrypting twice gives the block back.
    for weak in
        [0x0101_0101_0101_0101u64, 0xFEFE_FEFE_FEFE_FEFE, 0xE0E0_E0E0_F1F1_F1F1, 0x1F1F_1F1F_0E0E_0E0E]
    {
        let des = FastDes::new(&weak.to_be_bytes().into());
        let mut b = DesBlock::from(block);
        des.encrypt_block(&mut b);
        des.encrypt_block(&mut b);
        assert_eq!(b.0, block, "weak key {weak:016x}");
    }
}

#[test]
fn debug_shows_no_key_material() {
    let des = FastDes::new(&[0x13, 0x34, 0x57, 0x79, 0x9B, 0xBC, 0xDF, 0xF1].into());
    assert_eq!(format!("{des:?}"), "FastDes { .. }");
}
