//! `des-cbc-md5` chunks (SPEC.md section 5.2): the paper's DES key and random number, DES-CBC with
//! PKCS#7, encrypt-then-MAC with HMAC-MD5. Legacy strength; see [`crate::Suite::LegacyDesCbcMd5`].

use super::fast_des::FastDes as Des;
use cbc::cipher::block_padding::Pkcs7;
use cbc::cipher::{Block, BlockCipherEncrypt, BlockModeDecrypt, BlockModeEncrypt, KeyInit, KeyIvInit};
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

    /// Seal `plaintext` into `out`, which holds exactly its padded length plus the MAC
    /// ([`padded_len`] `+ 16`): padded and encrypted there, the MAC after it.
    pub(crate) fn seal_into(&self, index: u64, last: bool, plaintext: &[u8], out: &mut [u8]) {
        let (body, tag_out) = out.split_at_mut(padded_len(plaintext.len()));
        let iv = self.chunk_iv(index);
        let encryptor = cbc::Encryptor::<Des>::new(&(*self.des_key).into(), &(*iv).into());
        // Invariant: `body` holds exactly the padded length, padding's only failure.
        #[allow(clippy::expect_used)]
        encryptor.encrypt_padded_b2b::<Pkcs7>(plaintext, body).expect("buffer sized for PKCS#7 padding");
        let tag = self.chunk_mac(index, last, body).finalize().into_bytes();
        tag_out.copy_from_slice(&tag);
    }

    /// Authenticate and decrypt `wire` into the start of `out`; the plaintext length. `out` needs
    /// room for the plaintext only (a full chunk's 65536 bytes take exactly 65536): the padding
    /// block is decrypted aside. On failure the caller wipes `out`.
    pub(crate) fn open_into(
        &self,
        index: u64,
        last: bool,
        wire: &[u8],
        out: &mut [u8],
    ) -> Result<usize, OpenError> {
        let ct_len = wire.len().checked_sub(TAG_LEN).ok_or(OpenError::DecryptionFailed)?;
        if ct_len == 0 || ct_len % BLOCK != 0 {
            return Err(OpenError::DecryptionFailed);
        }
        let (ct, tag) = wire.split_at(ct_len);
        // Encrypt-then-MAC: the MAC is checked (in constant time, by `verify_slice`) before any
        // decryption, so padding errors are only ever seen on authentic ciphertext.
        self.chunk_mac(index, last, ct).verify_slice(tag).map_err(|_| OpenError::DecryptionFailed)?;
        let iv = self.chunk_iv(index);
        let mut decryptor = cbc::Decryptor::<Des>::new(&(*self.des_key).into(), &(*iv).into());
        let (body, final_block) = ct.split_at(ct_len - BLOCK);
        let body_out = out.get_mut(..body.len()).ok_or(OpenError::DecryptionFailed)?;
        let (blocks_in, _) = Block::<Des>::slice_as_chunks(body);
        let (blocks_out, _) = Block::<Des>::slice_as_chunks_mut(body_out);
        decryptor.decrypt_blocks_b2b(blocks_in, blocks_out).map_err(|_| OpenError::DecryptionFailed)?;
        let mut last_block = Block::<Des>::default();
        last_block.copy_from_slice(final_block);
        decryptor.decrypt_block(&mut last_block);
        let result = unpad_into(&last_block, out.get_mut(body.len()..).unwrap_or_default());
        zeroize::Zeroize::zeroize(last_block.as_mut_slice());
        result.map(|n| body.len() + n)
    }
}

/// Check PKCS#7 padding (1 to 8 bytes, each holding the padding's length) of the decrypted final
/// block and put its data bytes at the start of `out`; their number.
fn unpad_into(block: &[u8], out: &mut [u8]) -> Result<usize, OpenError> {
    let pad = usize::from(block[BLOCK - 1]);
    if !(1..=BLOCK).contains(&pad) || block[BLOCK - pad..].iter().any(|&b| usize::from(b) != pad) {
        return Err(OpenError::DecryptionFailed);
    }
    let data = &block[..BLOCK - pad];
    out.get_mut(..data.len()).ok_or(OpenError::DecryptionFailed)?.copy_from_slice(data);
    Ok(data.len())
}

/// The length of `len` bytes padded with PKCS#7 (always at least one byte of padding).
pub(crate) fn padded_len(len: usize) -> usize {
    (len / BLOCK + 1) * BLOCK
}
