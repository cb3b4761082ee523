//! The rules for `des-cbc-md5`'s DES key (SPEC.md section 2), in one place: odd parity, and none of
//! the 64 weak, semi-weak and possibly weak keys listed there. Used when drawing a key and when
//! keying the cipher for opening.

use zeroize::Zeroize;

use crate::key::MessageKey;
use crate::random::{RandomError, RandomSource};

/// The 4 weak keys (FIPS 74 section 3.6): encryption is its own inverse.
const WEAK: [u64; 4] =
    [0x0101_0101_0101_0101, 0x1f1f_1f1f_0e0e_0e0e, 0xe0e0_e0e0_f1f1_f1f1, 0xfefe_fefe_fefe_fefe];
/// The 12 semi-weak keys, in pairs: encryption under one is decryption under the other.
const SEMI_WEAK: [u64; 12] = [
    0x011f_011f_010e_010e,
    0x1f01_1f01_0e01_0e01,
    0x01e0_01e0_01f1_01f1,
    0xe001_e001_f101_f101,
    0x01fe_01fe_01fe_01fe,
    0xfe01_fe01_fe01_fe01,
    0x1fe0_1fe0_0ef1_0ef1,
    0xe01f_e01f_f10e_f10e,
    0x1ffe_1ffe_0efe_0efe,
    0xfe1f_fe1f_fe0e_fe0e,
    0xe0fe_e0fe_f1fe_f1fe,
    0xfee0_fee0_fef1_fef1,
];
/// The 48 possibly weak keys: their schedules produce only four distinct round keys.
const POSSIBLY_WEAK: [u64; 48] = [
    0x0101_1f1f_0101_0e0e,
    0x0101_e0e0_0101_f1f1,
    0x0101_fefe_0101_fefe,
    0x011f_1f01_010e_0e01,
    0x011f_e0fe_010e_f1fe,
    0x011f_fee0_010e_fef1,
    0x01e0_1ffe_01f1_0efe,
    0x01e0_e001_01f1_f101,
    0x01e0_fe1f_01f1_fe0e,
    0x01fe_1fe0_01fe_0ef1,
    0x01fe_e01f_01fe_f10e,
    0x01fe_fe01_01fe_fe01,
    0x1f01_011f_0e01_010e,
    0x1f01_e0fe_0e01_f1fe,
    0x1f01_fee0_0e01_fef1,
    0x1f1f_0101_0e0e_0101,
    0x1f1f_e0e0_0e0e_f1f1,
    0x1f1f_fefe_0e0e_fefe,
    0x1fe0_01fe_0ef1_01fe,
    0x1fe0_e01f_0ef1_f10e,
    0x1fe0_fe01_0ef1_fe01,
    0x1ffe_01e0_0efe_01f1,
    0x1ffe_e001_0efe_f101,
    0x1ffe_fe1f_0efe_fe0e,
    0xe001_01e0_f101_01f1,
    0xe001_1ffe_f101_0efe,
    0xe001_fe1f_f101_fe0e,
    0xe01f_01fe_f10e_01fe,
    0xe01f_1fe0_f10e_0ef1,
    0xe01f_fe01_f10e_fe01,
    0xe0e0_0101_f1f1_0101,
    0xe0e0_1f1f_f1f1_0e0e,
    0xe0e0_fefe_f1f1_fefe,
    0xe0fe_011f_f1fe_010e,
    0xe0fe_1f01_f1fe_0e01,
    0xe0fe_fee0_f1fe_fef1,
    0xfe01_01fe_fe01_01fe,
    0xfe01_1fe0_fe01_0ef1,
    0xfe01_e01f_fe01_f10e,
    0xfe1f_01e0_fe0e_01f1,
    0xfe1f_1ffe_fe0e_0efe,
    0xfe1f_e001_fe0e_f101,
    0xfee0_011f_fef1_010e,
    0xfee0_1f01_fef1_0e01,
    0xfee0_e0fe_fef1_f1fe,
    0xfefe_0101_fefe_0101,
    0xfefe_1f1f_fefe_0e0e,
    0xfefe_e0e0_fefe_f1f1,
];

/// Sets each byte's least significant bit so that the byte has an odd number of one bits.
fn set_odd_parity(key: &mut [u8]) {
    for b in key {
        *b = (*b & 0xfe) | u8::from((*b >> 1).count_ones() % 2 == 0);
    }
}

/// Whether `key` (8 bytes) is a valid `K_des`: odd parity in every byte and not in the lists.
///
/// The list check runs over all 64 entries without an early exit, as the key is secret.
pub(crate) fn is_valid(key: &[u8; 8]) -> bool {
    let odd = key.iter().fold(true, |ok, b| ok & (b.count_ones() % 2 == 1));
    let value = u64::from_be_bytes(*key);
    let listed =
        WEAK.iter().chain(&SEMI_WEAK).chain(&POSSIBLY_WEAK).fold(false, |hit, &w| hit | (w == value));
    odd & !listed
}

/// Make the first 8 bytes of a freshly drawn key a valid `K_des`: set odd parity, and draw again
/// while the key is listed (probability 64 / 2^56 per draw).
pub(crate) fn make_valid(key: &mut MessageKey, rng: &mut dyn RandomSource) -> Result<(), RandomError> {
    loop {
        let des = &mut key.expose_mut()[..8];
        set_odd_parity(des);
        let mut candidate = [0u8; 8];
        candidate.copy_from_slice(des);
        let valid = is_valid(&candidate);
        candidate.zeroize();
        if valid {
            return Ok(());
        }
        rng.fill(&mut key.expose_mut()[..8])?;
    }
}

#[cfg(test)]
mod tests {
    use des::cipher::{BlockCipherDecrypt, BlockCipherEncrypt, KeyInit};

    use super::*;

    fn all() -> impl Iterator<Item = u64> {
        WEAK.into_iter().chain(SEMI_WEAK).chain(POSSIBLY_WEAK)
    }

    fn des(key: u64) -> des::Des {
        des::Des::new(&key.to_be_bytes().into())
    }

    #[test]
    fn parity_is_odd_after_setting() {
        for b in 0..=255u8 {
            let mut k = [b];
            set_odd_parity(&mut k);
            assert_eq!(k[0].count_ones() % 2, 1, "{b:#x}");
            assert_eq!(k[0] & 0xfe, b & 0xfe);
        }
    }

    /// SPEC.md section 2 lists the same 64 keys, as hex: one list, written twice, checked here.
    #[test]
    fn the_list_is_the_one_in_spec_md() {
        let spec = include_str!("../../SPEC.md");
        let start = spec.find("<!-- des-weak-keys -->").expect("SPEC.md marks the list");
        let end = spec[start..].find("<!-- /des-weak-keys -->").expect("SPEC.md ends the list") + start;
        let in_spec: Vec<u64> = spec[start..end]
            .split_whitespace()
            .filter(|w| w.len() == 16 && w.bytes().all(|b| b.is_ascii_hexdigit()))
            .map(|w| u64::from_str_radix(w, 16).unwrap())
            .collect();
        assert_eq!(in_spec, all().collect::<Vec<_>>());
    }

    /// The reference: the `des` crate's weak-key test rejects exactly these 64 distinct keys.
    #[test]
    fn the_list_agrees_with_the_des_crate_and_has_odd_parity() {
        let mut seen = std::collections::BTreeSet::new();
        for key in all() {
            assert!(seen.insert(key), "{key:016x} twice");
            assert!(des::weak_key_test(&key.to_be_bytes()).is_err(), "{key:016x}");
            assert!(key.to_be_bytes().iter().all(|b| b.count_ones() % 2 == 1), "{key:016x}");
            assert!(!is_valid(&key.to_be_bytes()));
        }
        assert_eq!(seen.len(), 64);
    }

    /// What makes them weak, checked on the cipher: a weak key's encryption is an involution; the
    /// two keys of a semi-weak pair undo each other.
    #[test]
    fn weak_and_semi_weak_behave_as_their_names_say() {
        let block = [0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef];
        for key in WEAK {
            let mut b = block.into();
            des(key).encrypt_block(&mut b);
            des(key).encrypt_block(&mut b);
            assert_eq!(<[u8; 8]>::from(b), block, "{key:016x}");
        }
        for pair in SEMI_WEAK.chunks(2) {
            let mut b = block.into();
            des(pair[0]).encrypt_block(&mut b);
            des(pair[1]).encrypt_block(&mut b);
            assert_eq!(<[u8; 8]>::from(b), block, "{:016x}", pair[0]);
            des(pair[1]).decrypt_block(&mut b);
            assert_ne!(<[u8; 8]>::from(b), block);
        }
    }

    #[test]
    fn drawn_keys_are_valid_and_even_parity_is_not() {
        let mut key = MessageKey::from_bytes([0x01; 32]);
        let mut rng = crate::random::OsRandom;
        make_valid(&mut key, &mut rng).unwrap();
        let mut k = [0u8; 8];
        k.copy_from_slice(&key.expose()[..8]);
        assert!(is_valid(&k));
        assert_ne!(k, [0x01; 8], "a weak key is drawn again");
        assert!(!is_valid(&[0x12, 0x34, 0x57, 0x79, 0x9b, 0xbc, 0xdf, 0xf1]));
        assert!(is_valid(&[0x13, 0x34, 0x57, 0x79, 0x9b, 0xbc, 0xdf, 0xf1]));
    }
}
