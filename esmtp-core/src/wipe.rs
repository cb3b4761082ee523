//! Wiping byte buffers that held secrets, at memory speed.
//!
//! `zeroize`'s `Vec<T>` implementation wipes the elements one at a time with volatile stores,
//! which for a `Vec<u8>` means one byte per store: a 25 MiB plaintext took longer to wipe than to
//! decrypt. Its `[u8]` implementation fills the slice in bulk behind an optimization barrier, so
//! the wipe cannot be elided; these helpers use that one.

use zeroize::{Zeroize, Zeroizing};

/// Wipe every byte `buf` holds and its spare capacity, and empty it (the capacity stays).
pub(crate) fn wipe(buf: &mut Vec<u8>) {
    buf.as_mut_slice().zeroize();
    buf.spare_capacity_mut().zeroize();
    buf.clear();
}

/// [`wipe`] for text: wipe its bytes and spare capacity, and empty it.
pub(crate) fn wipe_string(text: &mut String) {
    let mut bytes = std::mem::take(text).into_bytes();
    wipe(&mut bytes);
    *text = String::from_utf8(bytes).unwrap_or_default();
}

/// Wipe and free a secret buffer now, leaving an empty one (whose own drop then has nothing to
/// wipe, instead of wiping byte by byte).
pub(crate) fn wipe_zeroizing(buf: &mut Zeroizing<Vec<u8>>) {
    let mut taken = std::mem::take(&mut **buf);
    wipe(&mut taken);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What safe code can observe: the buffer is empty and keeps its capacity for reuse (the
    /// bytes themselves are wiped by `zeroize`'s bulk fill, tested in that crate).
    #[test]
    fn wipe_empties_and_keeps_the_capacity() {
        let mut buf = Vec::with_capacity(64);
        buf.extend_from_slice(&[0xAA; 40]);
        wipe(&mut buf);
        assert!(buf.is_empty());
        assert!(buf.capacity() >= 64);

        let mut secret = Zeroizing::new(vec![0x55u8; 100]);
        wipe_zeroizing(&mut secret);
        assert!(secret.is_empty());
        assert_eq!(secret.capacity(), 0);
    }
}
