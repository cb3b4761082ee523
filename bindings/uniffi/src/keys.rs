//! Keys as objects: [`Identity`] (secret keys), [`PublicKey`], [`KeySlip`]; identity files;
//! [`Secret`] for passwords, tokens and passphrases.

use std::sync::Arc;

use zeroize::Zeroizing;

use crate::error::Result;

/// A password, token or passphrase. An object, not a string field, so that printing a record
/// that holds one (Kotlin's data classes print every field) shows no secret; the library wipes
/// its copy when the object is closed or collected.
#[derive(uniffi::Object)]
pub struct Secret(Zeroizing<String>);

#[uniffi::export]
impl Secret {
    /// Hold `text` as a secret.
    #[uniffi::constructor]
    pub fn new(text: String) -> Arc<Secret> {
        Arc::new(Secret(Zeroizing::new(text)))
    }
}

impl Secret {
    /// A wiped-on-drop copy for esmtp-ffi.
    pub(crate) fn copy(&self) -> Zeroizing<String> {
        Zeroizing::new(self.0.as_str().to_owned())
    }

    pub(crate) fn text(&self) -> &str {
        &self.0
    }
}

/// A person's secret keys: opens envelopes sealed to their public key, and signs.
#[derive(uniffi::Object)]
pub struct Identity(pub(crate) Arc<esmtp_ffi::Identity>);

#[uniffi::export]
impl Identity {
    /// A new random identity.
    #[uniffi::constructor]
    pub fn generate() -> Result<Arc<Identity>> {
        Ok(Arc::new(Identity(esmtp_ffi::Identity::generate()?)))
    }

    /// Parse the secret text form (`ESMTP-SECRET-KEY-1...`).
    #[uniffi::constructor]
    pub fn from_text(text: String) -> Result<Arc<Identity>> {
        let text = Zeroizing::new(text);
        Ok(Arc::new(Identity(esmtp_ffi::Identity::from_text(&text)?)))
    }

    /// The public key: to seal to, and to expect as a signer.
    pub fn public_key(&self) -> Arc<PublicKey> {
        Arc::new(PublicKey(self.0.public_key()))
    }

    /// The secret text form. It is the key: store it as a secret (Android Keystore, iOS
    /// Keychain). Kotlin and Swift strings cannot be wiped: drop it soon.
    pub fn secret_text(&self) -> String {
        self.0.secret_text().as_str().to_owned()
    }

    /// An identity file holding this identity: protected by `passphrase` when given (an armored
    /// envelope), else plain text.
    pub fn to_file_text(&self, passphrase: Option<Arc<Secret>>) -> Result<String> {
        Ok(self.0.to_file_text(passphrase.as_ref().map(|p| p.text()))?.as_str().to_owned())
    }
}

/// A person's public key (`esmtp1...`): a recipient to seal to, and a signer to expect.
/// Equal keys compare equal; its string form is the text form.
#[derive(uniffi::Object, PartialEq, Eq, Hash)]
#[uniffi::export(Eq, Hash, Display)]
pub struct PublicKey(pub(crate) Arc<esmtp_ffi::PublicKey>);

impl std::fmt::Display for PublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0.text())
    }
}

impl std::fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

#[uniffi::export]
impl PublicKey {
    /// Parse the text form (`esmtp1...`; white space is ignored).
    #[uniffi::constructor]
    pub fn from_text(text: String) -> Result<Arc<PublicKey>> {
        Ok(Arc::new(PublicKey(esmtp_ffi::PublicKey::from_text(&text)?)))
    }

    /// The text form.
    pub fn text(&self) -> String {
        self.0.text()
    }
}

/// The key of one envelope, delivered apart from it (the paper's flow). Whoever holds it can
/// open that envelope.
#[derive(uniffi::Object)]
pub struct KeySlip(pub(crate) Arc<esmtp_ffi::KeySlip>);

#[uniffi::export]
impl KeySlip {
    /// Parse a token (`ESMTP-SLIP-1...`; white space and line breaks are ignored).
    #[uniffi::constructor]
    pub fn from_text(text: String) -> Result<Arc<KeySlip>> {
        let text = Zeroizing::new(text);
        Ok(Arc::new(KeySlip(esmtp_ffi::KeySlip::from_text(&text)?)))
    }

    /// The token. It is the key of one envelope: deliver it as a secret.
    pub fn text(&self) -> String {
        self.0.text().as_str().to_owned()
    }

    /// The id of the envelope it opens (32 hex digits).
    pub fn envelope_id(&self) -> String {
        self.0.envelope_id()
    }
}

/// Wrap esmtp-ffi's objects (results and record fields).
pub(crate) fn identity(i: Arc<esmtp_ffi::Identity>) -> Arc<Identity> {
    Arc::new(Identity(i))
}
pub(crate) fn public_key(k: Arc<esmtp_ffi::PublicKey>) -> Arc<PublicKey> {
    Arc::new(PublicKey(k))
}
pub(crate) fn key_slip(s: Arc<esmtp_ffi::KeySlip>) -> Arc<KeySlip> {
    Arc::new(KeySlip(s))
}

/// What an identity file holds.
#[derive(uniffi::Record)]
pub struct IdentityFileContents {
    /// Its identities.
    pub identities: Vec<Arc<Identity>>,
    /// Its key slips.
    pub key_slips: Vec<Arc<KeySlip>>,
}

impl From<esmtp_ffi::IdentityFileContents> for IdentityFileContents {
    fn from(c: esmtp_ffi::IdentityFileContents) -> Self {
        IdentityFileContents {
            identities: c.identities.into_iter().map(identity).collect(),
            key_slips: c.key_slips.into_iter().map(key_slip).collect(),
        }
    }
}

/// Read an identity file (plain, or protected by a passphrase) from its bytes.
#[uniffi::export]
pub fn parse_identity_file(data: Vec<u8>, passphrase: Option<Arc<Secret>>) -> Result<IdentityFileContents> {
    let data = Zeroizing::new(data);
    Ok(esmtp_ffi::parse_identity_file(&data, passphrase.as_ref().map(|p| p.text()))?.into())
}

/// Read the identity file at `path`.
#[uniffi::export]
pub fn load_identity_file(path: String, passphrase: Option<Arc<Secret>>) -> Result<IdentityFileContents> {
    Ok(esmtp_ffi::load_identity_file(path.as_ref(), passphrase.as_ref().map(|p| p.text()))?.into())
}
