//! `des-cbc-md5` chunks (SPEC.md section 5.2): the paper's DES key and random number, DES-CBC with
//! PKCS#7, encrypt-then-MAC with HMAC-MD5. Legacy strength; see [`crate::Suite::LegacyDesCbcMd5`].

use super::fast_des::FastDes as Des;
use cbc::cipher::block_padding::Pkcs7;
use cbc::cipher::{BlockCipherEncrypt, BlockModeDecrypt, BlockModeEncrypt, KeyInit, KeyIvInit};
use hmac::{Hmac, Mac};
use md5::Md5;
use zeroize::Zeroizing;

use super::{TAG_LEN, des_key};
use crate::error::OpenError;
use crate::key::MessageKey;

const BLOCK: usize = 8;

pub(crate) struct DesChunks {
    des_key: Zeroizing<[u8; 8]>,
    random_number: Zeroizing<[u8; 8]>,
    mac: Hmac<Md5>,
    des: Des,
}

impl DesChunks {
    /// `None` when `K_des` breaks SPEC.md section 2's rules (parity, the listed weak keys).
    pub(crate) fn new(key: &MessageKey) -> Option<Self> {
        let k = key.expose();
        let mut des_key = Zeroizing::new([0u8; 8]);
        des_key.copy_from_slice(&k[..8]);
        if !des_key::is_valid(&des_key) {
            return None;
        }
        let mut random_number = Zeroizing::new([0u8; 8]);
        random_number.copy_from_slice(&k[8..16]);
        // Invariant: HMAC takes keys of any length.
        #[allow(clippy::expect_used)]
        let mac = <Hmac<Md5> as KeyInit>::new_from_slice(&k[16..32]).expect("HMAC accepts a 16-byte key");
        let des = Des::new(&(*des_key).into());
        Some(DesChunks { des_key, random_number, mac, des })
    }

    /// `IV_i = DES-E(K_des, R XOR BE64(i))`: NIST SP 800-38A appendix C's way to make unpredictable
    /// IVs from a counter, so chunks need no IV on the wire and stay independent of each other.
    fn chunk_iv(&self, index: u64) -> Zeroizing<[u8; 8]> {
        let mut iv = Zeroizing::new(*self.random_number);
        for (b, i) in iv.iter_mut().zip(index.to_be_bytes()) {
            *b ^= i;
        }
        let mut block = (*iv).into();
        self.des.encrypt_block(&mut block);
        iv.copy_from_slice(&block);
        iv
    }

    /// `HMAC-MD5(K_mac, BE64(i) || flag || c_i)`
    fn chunk_mac(&self, index: u64, last: bool, ciphertext: &[u8]) -> Hmac<Md5> {
        let mut mac = self.mac.clone();
        mac.update(&index.to_be_bytes());
        mac.update(&[u8::from(last)]);
        mac.update(ciphertext);
        mac
    }

    pub(crate) fn seal(&self, index: u64, last: bool, plaintext: &[u8], out: &mut Vec<u8>) {
        let start = out.len();
        let padded_len = (plaintext.len() / BLOCK + 1) * BLOCK;
        out.extend_from_slice(plaintext);
        out.resize(start + padded_len, 0);
        let iv = self.chunk_iv(index);
        let encryptor = cbc::Encryptor::<Des>::new(&(*self.des_key).into(), &(*iv).into());
        // Invariant: the buffer holds exactly the padded length, padding's only failure.
        #[allow(clippy::expect_used)]
        encryptor
            .encrypt_padded::<Pkcs7>(&mut out[start..], plaintext.len())
            .expect("buffer sized for PKCS#7 padding");
        let tag = self.chunk_mac(index, last, &out[start..]).finalize().into_bytes();
        out.extend_from_slice(&tag);
    }

    pub(crate) fn open(
        &self,
        index: u64,
        last: bool,
        wire: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<(), OpenError> {
        let ct_len = wire.len().checked_sub(TAG_LEN).ok_or(OpenError::DecryptionFailed)?;
        if ct_len == 0 || ct_len % BLOCK != 0 {
            return Err(OpenError::DecryptionFailed);
        }
        let (ct, tag) = wire.split_at(ct_len);
        // Encrypt-then-MAC: the MAC is checked (in constant time, by `verify_slice`) before any
        // decryption, so padding errors are only ever seen on authentic ciphertext.
        self.chunk_mac(index, last, ct).verify_slice(tag).map_err(|_| OpenError::DecryptionFailed)?;
        let start = out.len();
        out.extend_from_slice(ct);
        let iv = self.chunk_iv(index);
        let decryptor = cbc::Decryptor::<Des>::new(&(*self.des_key).into(), &(*iv).into());
        let plain_len = decryptor
            .decrypt_padded::<Pkcs7>(&mut out[start..])
            .map_err(|_| OpenError::DecryptionFailed)?
            .len();
        out.truncate(start + plain_len);
        Ok(())
    }
}
