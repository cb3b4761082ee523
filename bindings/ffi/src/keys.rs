//! Keys as objects: a person's secret keys ([`Identity`]), their public key ([`PublicKey`]),
//! and key slips ([`KeySlip`]); identity files.

use std::path::Path;
use std::sync::Arc;

use esmtp_core::identity_file::{self, IdentityEntry, IdentityFile};
use zeroize::Zeroizing;

use crate::error::{Error, Result};

/// Identity files are small; a larger file is not one.
const MAX_IDENTITY_FILE: u64 = 1 << 20;

/// A person's secret keys: opens envelopes sealed to their [`PublicKey`] and signs. Never printed.
pub struct Identity(pub(crate) esmtp_core::X25519Identity);

impl std::fmt::Debug for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl Identity {
    /// A new random identity.
    ///
    /// # Errors
    /// [`crate::ErrorKind::Random`].
    pub fn generate() -> Result<Arc<Identity>> {
        Ok(Arc::new(Identity(esmtp_core::X25519Identity::generate()?)))
    }

    /// Parse the secret text form (`ESMTP-SECRET-KEY-1...`).
    ///
    /// # Errors
    /// [`crate::ErrorKind::InvalidKey`].
    pub fn from_text(text: &str) -> Result<Arc<Identity>> {
        Ok(Arc::new(Identity(text.parse()?)))
    }

    /// The public key: to seal to, and to expect as a signer.
    pub fn public_key(&self) -> Arc<PublicKey> {
        Arc::new(PublicKey(self.0.to_public()))
    }

    /// The secret text form. It is the key: store it as a secret.
    pub fn secret_text(&self) -> Zeroizing<String> {
        self.0.to_secret_string()
    }

    /// An identity file holding this identity, protected by `passphrase` when given (an armored
    /// envelope, as `esmtp keygen --passphrase` writes), else plain text.
    ///
    /// # Errors
    /// When sealing under the passphrase fails.
    pub fn to_file_text(&self, passphrase: Option<&str>) -> Result<Zeroizing<String>> {
        let text = Zeroizing::new(format!(
            "# esmtp identity; public key: {}\n{}\n",
            self.0.to_public(),
            self.0.to_secret_string().as_str()
        ));
        match passphrase {
            None => Ok(text),
            Some(p) => Ok(identity_file::protect(&text, esmtp_core::Passphrase::new(p))?),
        }
    }
}

/// What an identity file holds.
#[derive(Debug, Default)]
pub struct IdentityFileContents {
    /// Its identities.
    pub identities: Vec<Arc<Identity>>,
    /// Its key slips.
    pub key_slips: Vec<Arc<KeySlip>>,
}

/// Read an identity file (plain, or protected by a passphrase) from text.
///
/// # Errors
/// [`crate::ErrorKind::InvalidKey`] for a file that is not one; for a protected file,
/// [`crate::ErrorKind::InvalidArgument`] without a passphrase and
/// [`crate::ErrorKind::NoMatchingRecipient`] with a wrong one.
pub fn parse_identity_file(data: &[u8], passphrase: Option<&str>) -> Result<IdentityFileContents> {
    let passphrase = passphrase.map(esmtp_core::Passphrase::new);
    let entries = IdentityFile::parse(data)?.unlock(passphrase.as_ref())?;
    let mut out = IdentityFileContents::default();
    for entry in entries {
        match entry {
            IdentityEntry::X25519(id) => out.identities.push(Arc::new(Identity(id))),
            IdentityEntry::KeySlip(slip) => out.key_slips.push(Arc::new(KeySlip(slip))),
        }
    }
    Ok(out)
}

/// [`parse_identity_file`] of the file at `path`.
///
/// # Errors
/// As [`parse_identity_file`], and [`crate::ErrorKind::Io`].
pub fn load_identity_file(path: &Path, passphrase: Option<&str>) -> Result<IdentityFileContents> {
    let data = Zeroizing::new(read_small(path, MAX_IDENTITY_FILE)?);
    parse_identity_file(&data, passphrase)
}

/// Read a file of at most `limit` bytes.
pub(crate) fn read_small(path: &Path, limit: u64) -> Result<Vec<u8>> {
    use std::io::Read;
    let file = std::fs::File::open(path).map_err(|e| Error::io(path.display(), &e))?;
    let mut data = Vec::new();
    file.take(limit + 1).read_to_end(&mut data).map_err(|e| Error::io(path.display(), &e))?;
    if data.len() as u64 > limit {
        return Err(Error::invalid(format!("{}: larger than {limit} bytes", path.display())));
    }
    Ok(data)
}

/// A person's public key (`esmtp1...`): a recipient to seal to, and a signer to expect.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct PublicKey(pub(crate) esmtp_core::X25519Recipient);

impl std::fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl PublicKey {
    /// Parse the text form (`esmtp1...`; white space is ignored).
    ///
    /// # Errors
    /// [`crate::ErrorKind::InvalidKey`], also for a weak (low-order) or outdated key.
    pub fn from_text(text: &str) -> Result<Arc<PublicKey>> {
        Ok(Arc::new(PublicKey(text.parse()?)))
    }

    /// The text form.
    pub fn text(&self) -> String {
        self.0.to_string()
    }
}

/// The key of one envelope, delivered apart from it (the paper's flow). Whoever holds it can open
/// that envelope; never printed.
#[derive(Clone)]
pub struct KeySlip(pub(crate) esmtp_core::KeySlip);

impl std::fmt::Debug for KeySlip {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl KeySlip {
    /// Parse a token (`ESMTP-SLIP-1...`; white space and line breaks are ignored).
    ///
    /// # Errors
    /// [`crate::ErrorKind::InvalidKey`].
    pub fn from_text(text: &str) -> Result<Arc<KeySlip>> {
        Ok(Arc::new(KeySlip(text.parse()?)))
    }

    /// The token. It is the key of one envelope: deliver it as a secret.
    pub fn text(&self) -> Zeroizing<String> {
        self.0.to_token()
    }

    /// The id of the envelope it opens (32 hex digits).
    pub fn envelope_id(&self) -> String {
        self.0.envelope_id().to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    #[test]
    fn identities_round_trip_through_text_and_files() {
        let id = Identity::generate().unwrap();
        let again = Identity::from_text(&id.secret_text()).unwrap();
        assert_eq!(again.public_key(), id.public_key());
        assert_eq!(PublicKey::from_text(&id.public_key().text()).unwrap(), id.public_key());
        let plain = id.to_file_text(None).unwrap();
        assert_eq!(parse_identity_file(plain.as_bytes(), None).unwrap().identities.len(), 1);
        let protected = id.to_file_text(Some("open sesame")).unwrap();
        assert!(protected.starts_with("-----BEGIN ESMTP ENVELOPE-----"));
        let read = parse_identity_file(protected.as_bytes(), Some("open sesame")).unwrap();
        assert_eq!(read.identities[0].public_key(), id.public_key());
        let none = parse_identity_file(protected.as_bytes(), None).unwrap_err();
        assert_eq!(none.kind, ErrorKind::InvalidArgument);
        let wrong = parse_identity_file(protected.as_bytes(), Some("wrong")).unwrap_err();
        assert_eq!(wrong.kind, ErrorKind::NoMatchingRecipient);
        assert!(!format!("{id:?}").contains(&id.secret_text()[20..40]));
    }

    #[test]
    fn bad_texts_are_invalid_keys() {
        for bad in ["", "esmtp1qqqq", "ESMTP-SECRET-KEY-1QQQQ"] {
            assert_eq!(PublicKey::from_text(bad).unwrap_err().kind, ErrorKind::InvalidKey);
            assert_eq!(Identity::from_text(bad).unwrap_err().kind, ErrorKind::InvalidKey);
            assert_eq!(KeySlip::from_text(bad).unwrap_err().kind, ErrorKind::InvalidKey);
        }
    }
}
