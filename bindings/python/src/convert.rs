//! Argument conversion: Python values into esmtp-ffi's options. Nothing here decides anything
//! about mail or cryptography; it only accepts the forms Python callers have (objects or their
//! text, `bytes`/`bytearray`/`memoryview`, `str` or `bytes` passphrases).

use std::sync::Arc;

use esmtp_ffi::{OpenOptions, SealOptions, Suite};
use pyo3::prelude::*;
use pyo3::types::{PyByteArray, PyBytes, PyMemoryView, PyString};
use zeroize::Zeroizing;

use crate::errors::{err, invalid};
use crate::keys::{KeySlip, X25519Identity, X25519Recipient};

/// Data going in: `bytes` (borrowed, no copy), `bytearray` or `memoryview` (copied once, so the
/// caller may change them while the GIL is released; the copy may be plaintext, so it is wiped).
pub enum Data<'py> {
    Bytes(Bound<'py, PyBytes>),
    Owned(Zeroizing<Vec<u8>>),
}

impl Data<'_> {
    /// The bytes; take this before releasing the GIL (a slice is `Send`, the object is not).
    pub fn as_slice(&self) -> &[u8] {
        match self {
            Data::Bytes(b) => b.as_bytes(),
            Data::Owned(v) => v,
        }
    }
}

impl<'py> FromPyObject<'_, 'py> for Data<'py> {
    type Error = PyErr;

    fn extract(obj: Borrowed<'_, 'py, PyAny>) -> PyResult<Self> {
        if let Ok(b) = obj.cast::<PyBytes>() {
            return Ok(Data::Bytes(b.to_owned()));
        }
        if let Ok(b) = obj.cast::<PyByteArray>() {
            return Ok(Data::Owned(Zeroizing::new(b.to_vec())));
        }
        if obj.cast::<PyMemoryView>().is_ok() {
            // memoryview.tobytes(): the limited API has no buffer access before Python 3.11.
            let copy = obj.call_method0("tobytes")?;
            return Ok(Data::Owned(Zeroizing::new(copy.cast::<PyBytes>()?.as_bytes().to_vec())));
        }
        Err(pyo3::exceptions::PyTypeError::new_err(format!(
            "expected bytes, bytearray or memoryview, not {}",
            obj.get_type().name()?
        )))
    }
}

/// A passphrase or password: `str`, or `bytes` holding UTF-8. Zeroized when dropped (Python's
/// own copy is the caller's to manage).
pub struct Secret(pub Zeroizing<String>);

impl FromPyObject<'_, '_> for Secret {
    type Error = PyErr;

    fn extract(obj: Borrowed<'_, '_, PyAny>) -> PyResult<Self> {
        if let Ok(s) = obj.cast::<PyString>() {
            return Ok(Secret(Zeroizing::new(s.extract::<String>()?)));
        }
        let data: Data<'_> = obj.extract()?;
        match std::str::from_utf8(data.as_slice()) {
            Ok(s) => Ok(Secret(Zeroizing::new(s.to_string()))),
            Err(_) => Err(invalid("a passphrase given as bytes must be UTF-8")),
        }
    }
}

/// A public key: an `X25519Recipient` or its text (`esmtp1...`).
pub struct Recipient(pub Arc<esmtp_ffi::PublicKey>);

impl FromPyObject<'_, '_> for Recipient {
    type Error = PyErr;

    fn extract(obj: Borrowed<'_, '_, PyAny>) -> PyResult<Self> {
        if let Ok(r) = obj.cast::<X25519Recipient>() {
            return Ok(Recipient(r.get().0.clone()));
        }
        let text: String = obj.extract().map_err(|_| type_error("X25519Recipient or str", &obj))?;
        esmtp_ffi::PublicKey::from_text(&text).map(Recipient).map_err(err)
    }
}

/// A secret key: an `X25519Identity` or its secret text.
pub struct Identity(pub Arc<esmtp_ffi::Identity>);

impl FromPyObject<'_, '_> for Identity {
    type Error = PyErr;

    fn extract(obj: Borrowed<'_, '_, PyAny>) -> PyResult<Self> {
        if let Ok(i) = obj.cast::<X25519Identity>() {
            return Ok(Identity(i.get().0.clone()));
        }
        let text = obj.extract::<Secret>().map_err(|_| type_error("X25519Identity or str", &obj))?;
        esmtp_ffi::Identity::from_text(&text.0).map(Identity).map_err(err)
    }
}

/// A key slip: a `KeySlip` or its token.
pub struct Slip(pub Arc<esmtp_ffi::KeySlip>);

impl FromPyObject<'_, '_> for Slip {
    type Error = PyErr;

    fn extract(obj: Borrowed<'_, '_, PyAny>) -> PyResult<Self> {
        if let Ok(s) = obj.cast::<KeySlip>() {
            return Ok(Slip(s.get().0.clone()));
        }
        let text = obj.extract::<Secret>().map_err(|_| type_error("KeySlip or str", &obj))?;
        esmtp_ffi::KeySlip::from_text(&text.0).map(Slip).map_err(err)
    }
}

fn type_error(expected: &str, obj: &Borrowed<'_, '_, PyAny>) -> PyErr {
    let got = obj.get_type().name().map(|n| n.to_string()).unwrap_or_default();
    pyo3::exceptions::PyTypeError::new_err(format!("expected {expected}, not {got}"))
}

/// The keyword arguments every sealing call takes.
pub fn seal_options(
    recipients: Vec<Recipient>,
    passphrase: Option<Secret>,
    key_slip: bool,
    suite: &str,
    armor: bool,
    sign_with: Option<Identity>,
) -> PyResult<SealOptions> {
    Ok(SealOptions {
        recipients: recipients.into_iter().map(|r| r.0).collect(),
        passphrase: passphrase.map(|p| p.0),
        key_slip,
        suite: Suite::from_name(suite).map_err(err)?,
        armor,
        sign_with: sign_with.map(|i| i.0),
    })
}

/// The keyword arguments every opening call takes.
pub fn open_options(
    identities: Vec<Identity>,
    passphrase: Option<Secret>,
    key_slips: Vec<Slip>,
    require_signers: Vec<Recipient>,
    max_passphrase_work: Option<(u32, u32, u32)>,
) -> OpenOptions {
    OpenOptions {
        identities: identities.into_iter().map(|i| i.0).collect(),
        passphrase: passphrase.map(|p| p.0),
        key_slips: key_slips.into_iter().map(|s| s.0).collect(),
        require_signers: require_signers.into_iter().map(|r| r.0).collect(),
        max_passphrase_work,
    }
}

/// A signer as the Python object, or `None`.
pub fn signer(
    py: Python<'_>,
    key: Option<Arc<esmtp_ffi::PublicKey>>,
) -> PyResult<Option<Py<X25519Recipient>>> {
    key.map(|k| Py::new(py, X25519Recipient(k))).transpose()
}

/// Bytes going out.
pub fn bytes(py: Python<'_>, data: &[u8]) -> Py<PyBytes> {
    PyBytes::new(py, data).unbind()
}
