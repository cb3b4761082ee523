//! Keys: `X25519Identity` (secret), `X25519Recipient` (public), `KeySlip`, and identity files.
//! Secret texts are returned only by the methods that name them; `repr` never shows one.

use std::path::PathBuf;
use std::sync::Arc;

use pyo3::prelude::*;
use pyo3::types::PyType;

use crate::convert::{Data, Secret};
use crate::errors::err;

/// A person's secret keys: opens envelopes sealed to its public key, and signs.
#[pyclass(frozen, module = "esmtp")]
pub struct X25519Identity(pub(crate) Arc<esmtp_ffi::Identity>);

#[pymethods]
impl X25519Identity {
    /// A new random identity.
    #[classmethod]
    fn generate(_cls: &Bound<'_, PyType>) -> PyResult<Self> {
        esmtp_ffi::Identity::generate().map(X25519Identity).map_err(err)
    }

    /// Parse the secret text form (`ESMTP-SECRET-KEY-1...`).
    #[classmethod]
    fn from_text(_cls: &Bound<'_, PyType>, text: &str) -> PyResult<Self> {
        esmtp_ffi::Identity::from_text(text).map(X25519Identity).map_err(err)
    }

    /// The public key: to seal to, and to require as a signer.
    fn to_public(&self) -> X25519Recipient {
        X25519Recipient(self.0.public_key())
    }

    /// The secret text form. It is the key: store it as a secret.
    fn to_secret_text(&self) -> String {
        self.0.secret_text().to_string()
    }

    /// An identity file's text holding this identity; protected by `passphrase` when given (as
    /// `esmtp keygen --passphrase` writes it).
    #[pyo3(signature = (passphrase=None))]
    fn to_file_text(&self, py: Python<'_>, passphrase: Option<Secret>) -> PyResult<String> {
        let passphrase = passphrase.map(|p| p.0);
        py.detach(|| self.0.to_file_text(passphrase.as_deref().map(String::as_str)))
            .map(|t| t.to_string())
            .map_err(err)
    }

    fn __repr__(&self) -> String {
        format!("X25519Identity(public={})", self.0.public_key().text())
    }
}

/// A person's public key (`esmtp1...`): a recipient to seal to, and a signer to require.
#[pyclass(frozen, eq, hash, module = "esmtp")]
#[derive(PartialEq, Eq, Hash)]
pub struct X25519Recipient(pub(crate) Arc<esmtp_ffi::PublicKey>);

#[pymethods]
impl X25519Recipient {
    /// Parse the text form (`esmtp1...`).
    #[classmethod]
    fn from_text(_cls: &Bound<'_, PyType>, text: &str) -> PyResult<Self> {
        esmtp_ffi::PublicKey::from_text(text).map(X25519Recipient).map_err(err)
    }

    /// The text form (`esmtp1...`).
    fn to_text(&self) -> String {
        self.0.text()
    }

    fn __str__(&self) -> String {
        self.0.text()
    }

    fn __repr__(&self) -> String {
        format!("X25519Recipient('{}')", self.0.text())
    }
}

/// The key of one envelope, delivered apart from it (the paper's flow). Whoever holds it can
/// open that envelope.
#[pyclass(frozen, module = "esmtp")]
pub struct KeySlip(pub(crate) Arc<esmtp_ffi::KeySlip>);

#[pymethods]
impl KeySlip {
    /// Parse a token (`ESMTP-SLIP-1...`; white space and line breaks are ignored).
    #[classmethod]
    fn from_text(_cls: &Bound<'_, PyType>, text: &str) -> PyResult<Self> {
        esmtp_ffi::KeySlip::from_text(text).map(KeySlip).map_err(err)
    }

    /// The token. It is the key of one envelope: deliver it as a secret.
    fn to_text(&self) -> String {
        self.0.text().to_string()
    }

    /// The id of the envelope it opens (32 hex digits).
    #[getter]
    fn envelope_id(&self) -> String {
        self.0.envelope_id()
    }

    fn __repr__(&self) -> String {
        format!("KeySlip(envelope_id='{}')", self.0.envelope_id())
    }
}

/// What an identity file holds.
#[pyclass(frozen, module = "esmtp")]
pub struct IdentityFile {
    /// Its identities.
    #[pyo3(get)]
    identities: Vec<Py<X25519Identity>>,
    /// Its key slips.
    #[pyo3(get)]
    key_slips: Vec<Py<KeySlip>>,
}

impl IdentityFile {
    fn new(py: Python<'_>, contents: esmtp_ffi::IdentityFileContents) -> PyResult<Self> {
        Ok(IdentityFile {
            identities: contents
                .identities
                .into_iter()
                .map(|i| Py::new(py, X25519Identity(i)))
                .collect::<PyResult<_>>()?,
            key_slips: contents
                .key_slips
                .into_iter()
                .map(|s| Py::new(py, KeySlip(s)))
                .collect::<PyResult<_>>()?,
        })
    }
}

#[pymethods]
impl IdentityFile {
    fn __repr__(&self) -> String {
        format!("IdentityFile(identities={}, key_slips={})", self.identities.len(), self.key_slips.len())
    }
}

/// Read an identity file's contents (plain, or protected by `passphrase`).
#[pyfunction]
#[pyo3(signature = (data, passphrase=None))]
pub fn parse_identity_file(
    py: Python<'_>,
    data: Data<'_>,
    passphrase: Option<Secret>,
) -> PyResult<IdentityFile> {
    let (passphrase, data) = (passphrase.map(|p| p.0), data.as_slice());
    let contents = py
        .detach(|| esmtp_ffi::parse_identity_file(data, passphrase.as_deref().map(String::as_str)))
        .map_err(err)?;
    IdentityFile::new(py, contents)
}

/// Read the identity file at `path` (plain, or protected by `passphrase`).
#[pyfunction]
#[pyo3(signature = (path, passphrase=None))]
pub fn load_identity_file(
    py: Python<'_>,
    path: PathBuf,
    passphrase: Option<Secret>,
) -> PyResult<IdentityFile> {
    let passphrase = passphrase.map(|p| p.0);
    let contents = py
        .detach(|| esmtp_ffi::load_identity_file(&path, passphrase.as_deref().map(String::as_str)))
        .map_err(err)?;
    IdentityFile::new(py, contents)
}
