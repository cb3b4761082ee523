//! Sealing and opening: in memory, over binary file objects, and file to file; the hash tool.
//! Every call releases the GIL for the work itself.

use std::path::PathBuf;
use std::sync::OnceLock;

use pyo3::prelude::*;
use pyo3::types::PyBytes;

use crate::convert::{self, Data, Identity, Recipient, Secret, Slip, bytes, signer};
use crate::errors::err;
use crate::keys::{KeySlip, X25519Recipient};
use crate::pyio::{PyReader, PyWriter};

/// An opened envelope: authenticated before anything was returned.
#[pyclass(frozen, module = "esmtp")]
pub struct Opened {
    /// The message.
    #[pyo3(get)]
    plaintext: Py<PyBytes>,
    /// MD5 of the message, lower-case hex: carried by `des-cbc-md5` envelopes, computed on the
    /// first read of `md5` for the others (opening does not pay for a hash nobody reads).
    md5: OnceLock<String>,
    /// The cipher suite's name.
    #[pyo3(get)]
    suite: String,
    /// The envelope id (32 hex digits).
    #[pyo3(get)]
    envelope_id: String,
    /// Who signed it (verified), or None: unsigned, so it says nothing about its sender.
    #[pyo3(get)]
    signer: Option<Py<X25519Recipient>>,
}

#[pymethods]
impl Opened {
    /// MD5 of the message, lower-case hex (the paper's integrity hash).
    #[getter]
    fn md5(&self, py: Python<'_>) -> String {
        if let Some(known) = self.md5.get() {
            return known.clone();
        }
        let plaintext = self.plaintext.bind(py).as_bytes();
        let computed = py.detach(|| esmtp_ffi::md5_hex(plaintext));
        self.md5.get_or_init(|| computed).clone()
    }

    fn __repr__(&self) -> String {
        format!("Opened(suite='{}', envelope_id='{}')", self.suite, self.envelope_id)
    }
}

/// What opening a stream or file found (the plaintext went to the output).
#[pyclass(frozen, module = "esmtp")]
pub struct OpenReport {
    /// MD5 of the message, lower-case hex.
    #[pyo3(get)]
    md5: String,
    /// The cipher suite's name.
    #[pyo3(get)]
    suite: String,
    /// The envelope id.
    #[pyo3(get)]
    envelope_id: String,
    /// Who signed it (verified), or None.
    #[pyo3(get)]
    signer: Option<Py<X25519Recipient>>,
    /// Bytes of plaintext written.
    #[pyo3(get)]
    size: u64,
}

impl OpenReport {
    fn new(py: Python<'_>, r: esmtp_ffi::OpenReport) -> PyResult<Self> {
        Ok(OpenReport {
            md5: r.md5_hex,
            suite: r.suite.name().to_string(),
            envelope_id: r.envelope_id,
            signer: signer(py, r.signer)?,
            size: r.size,
        })
    }
}

#[pymethods]
impl OpenReport {
    fn __repr__(&self) -> String {
        format!("OpenReport(suite='{}', envelope_id='{}', size={})", self.suite, self.envelope_id, self.size)
    }
}

/// A sealed envelope with its id and, when asked for, its key slip.
#[pyclass(frozen, module = "esmtp")]
pub struct Sealed {
    /// The envelope (binary, or armored text as bytes).
    #[pyo3(get)]
    envelope: Py<PyBytes>,
    /// The envelope id.
    #[pyo3(get)]
    envelope_id: String,
    /// The key slip (`key_slip=True`), else None.
    #[pyo3(get)]
    key_slip: Option<Py<KeySlip>>,
}

#[pymethods]
impl Sealed {
    fn __repr__(&self) -> String {
        format!("Sealed(envelope_id='{}')", self.envelope_id)
    }
}

/// What sealing a stream or file wrote.
#[pyclass(frozen, module = "esmtp")]
pub struct SealReport {
    /// The envelope id.
    #[pyo3(get)]
    envelope_id: String,
    /// The key slip (`key_slip=True`), else None.
    #[pyo3(get)]
    key_slip: Option<Py<KeySlip>>,
    /// Bytes of plaintext read.
    #[pyo3(get)]
    size: u64,
}

impl SealReport {
    fn new(py: Python<'_>, r: esmtp_ffi::SealReport) -> PyResult<Self> {
        Ok(SealReport { envelope_id: r.envelope_id, key_slip: slip(py, r.key_slip)?, size: r.size })
    }
}

#[pymethods]
impl SealReport {
    fn __repr__(&self) -> String {
        format!("SealReport(envelope_id='{}', size={})", self.envelope_id, self.size)
    }
}

pub(crate) fn slip(
    py: Python<'_>,
    s: Option<std::sync::Arc<esmtp_ffi::KeySlip>>,
) -> PyResult<Option<Py<KeySlip>>> {
    s.map(|s| Py::new(py, KeySlip(s))).transpose()
}

/// Seal `data` to `recipients` and/or a `passphrase`; returns the envelope.
#[pyfunction]
#[pyo3(signature = (data, *, recipients=Vec::new(), passphrase=None, suite="chacha20-poly1305", armor=false, sign_with=None))]
pub fn seal(
    py: Python<'_>,
    data: Data<'_>,
    recipients: Vec<Recipient>,
    passphrase: Option<Secret>,
    suite: &str,
    armor: bool,
    sign_with: Option<Identity>,
) -> PyResult<Py<PyBytes>> {
    let options = convert::seal_options(recipients, passphrase, false, suite, armor, sign_with)?;
    let data = data.as_slice();
    let sealed = py.detach(|| esmtp_ffi::seal(data, &options)).map_err(err)?;
    Ok(bytes(py, &sealed.envelope))
}

/// As `seal`, returning the envelope with its id and, with `key_slip=True`, its key slip.
#[pyfunction]
#[pyo3(signature = (data, *, recipients=Vec::new(), passphrase=None, key_slip=false, suite="chacha20-poly1305", armor=false, sign_with=None))]
#[allow(clippy::too_many_arguments)] // Python's keyword arguments
pub fn seal_envelope(
    py: Python<'_>,
    data: Data<'_>,
    recipients: Vec<Recipient>,
    passphrase: Option<Secret>,
    key_slip: bool,
    suite: &str,
    armor: bool,
    sign_with: Option<Identity>,
) -> PyResult<Sealed> {
    let options = convert::seal_options(recipients, passphrase, key_slip, suite, armor, sign_with)?;
    let data = data.as_slice();
    let sealed = py.detach(|| esmtp_ffi::seal(data, &options)).map_err(err)?;
    Ok(Sealed {
        envelope: bytes(py, &sealed.envelope),
        envelope_id: sealed.envelope_id,
        key_slip: slip(py, sealed.key_slip)?,
    })
}

/// Open a binary or armored envelope; nothing is returned unless all of it is authentic.
#[pyfunction]
#[pyo3(signature = (envelope, *, identities=Vec::new(), passphrase=None, key_slips=Vec::new(), require_signers=Vec::new(), max_passphrase_work=None))]
pub fn open(
    py: Python<'_>,
    envelope: Data<'_>,
    identities: Vec<Identity>,
    passphrase: Option<Secret>,
    key_slips: Vec<Slip>,
    require_signers: Vec<Recipient>,
    max_passphrase_work: Option<(u32, u32, u32)>,
) -> PyResult<Opened> {
    let options =
        convert::open_options(identities, passphrase, key_slips, require_signers, max_passphrase_work);
    let envelope = envelope.as_slice();
    let opened = py.detach(|| esmtp_ffi::open(envelope, &options)).map_err(err)?;
    let md5 = OnceLock::new();
    if let Some(known) = opened.md5_hex_if_known() {
        let _ = md5.set(known);
    }
    Ok(Opened {
        plaintext: bytes(py, opened.plaintext()),
        md5,
        suite: opened.suite().name().to_string(),
        envelope_id: opened.envelope_id(),
        signer: signer(py, opened.signer())?,
    })
}

/// Seal everything the binary file object `input` yields into `output`, in bounded memory.
#[pyfunction]
#[pyo3(signature = (input, output, *, recipients=Vec::new(), passphrase=None, key_slip=false, suite="chacha20-poly1305", armor=false, sign_with=None))]
#[allow(clippy::too_many_arguments)] // Python's keyword arguments
pub fn seal_stream(
    py: Python<'_>,
    input: Py<PyAny>,
    output: Py<PyAny>,
    recipients: Vec<Recipient>,
    passphrase: Option<Secret>,
    key_slip: bool,
    suite: &str,
    armor: bool,
    sign_with: Option<Identity>,
) -> PyResult<SealReport> {
    let options = convert::seal_options(recipients, passphrase, key_slip, suite, armor, sign_with)?;
    let (mut reader, mut writer) = (PyReader::new(input), PyWriter::new(output));
    let result = py.detach(|| esmtp_ffi::seal_stream(&mut reader, &mut writer, &options));
    match result {
        Ok(report) => SealReport::new(py, report),
        Err(e) => Err(reader.failure.or(writer.failure.or(err(e)))),
    }
}

/// Open the envelope the binary file object `input` yields into `output`, chunk by chunk, each
/// written once authenticated. On an error the output holds part of the message and must be
/// discarded; `open_file` writes all or nothing.
#[pyfunction]
#[pyo3(signature = (input, output, *, identities=Vec::new(), passphrase=None, key_slips=Vec::new(), require_signers=Vec::new(), max_passphrase_work=None))]
#[allow(clippy::too_many_arguments)] // Python's keyword arguments
pub fn open_stream(
    py: Python<'_>,
    input: Py<PyAny>,
    output: Py<PyAny>,
    identities: Vec<Identity>,
    passphrase: Option<Secret>,
    key_slips: Vec<Slip>,
    require_signers: Vec<Recipient>,
    max_passphrase_work: Option<(u32, u32, u32)>,
) -> PyResult<OpenReport> {
    let options =
        convert::open_options(identities, passphrase, key_slips, require_signers, max_passphrase_work);
    let (mut reader, mut writer) = (PyReader::new(input), PyWriter::new(output));
    let result = py.detach(|| esmtp_ffi::open_stream(&mut reader, &mut writer, &options));
    match result {
        Ok(report) => OpenReport::new(py, report),
        Err(e) => Err(reader.failure.or(writer.failure.or(err(e)))),
    }
}

/// Seal the file `input` into the file `output`, which appears only when complete.
#[pyfunction]
#[pyo3(signature = (input, output, *, recipients=Vec::new(), passphrase=None, key_slip=false, suite="chacha20-poly1305", armor=false, sign_with=None, overwrite=false))]
#[allow(clippy::too_many_arguments)] // Python's keyword arguments
pub fn seal_file(
    py: Python<'_>,
    input: PathBuf,
    output: PathBuf,
    recipients: Vec<Recipient>,
    passphrase: Option<Secret>,
    key_slip: bool,
    suite: &str,
    armor: bool,
    sign_with: Option<Identity>,
    overwrite: bool,
) -> PyResult<SealReport> {
    let options = convert::seal_options(recipients, passphrase, key_slip, suite, armor, sign_with)?;
    let report = py.detach(|| esmtp_ffi::seal_file(&input, &output, &options, overwrite)).map_err(err)?;
    SealReport::new(py, report)
}

/// Open the envelope in the file `input` into the file `output`, which appears only once the
/// whole envelope was authenticated.
#[pyfunction]
#[pyo3(signature = (input, output, *, identities=Vec::new(), passphrase=None, key_slips=Vec::new(), require_signers=Vec::new(), max_passphrase_work=None, overwrite=false))]
#[allow(clippy::too_many_arguments)] // Python's keyword arguments
pub fn open_file(
    py: Python<'_>,
    input: PathBuf,
    output: PathBuf,
    identities: Vec<Identity>,
    passphrase: Option<Secret>,
    key_slips: Vec<Slip>,
    require_signers: Vec<Recipient>,
    max_passphrase_work: Option<(u32, u32, u32)>,
    overwrite: bool,
) -> PyResult<OpenReport> {
    let options =
        convert::open_options(identities, passphrase, key_slips, require_signers, max_passphrase_work);
    let report = py.detach(|| esmtp_ffi::open_file(&input, &output, &options, overwrite)).map_err(err)?;
    OpenReport::new(py, report)
}

/// MD5 of `data`, lower-case hex (the paper's hash tool).
#[pyfunction]
pub fn md5_hex(py: Python<'_>, data: Data<'_>) -> String {
    let data = data.as_slice();
    py.detach(|| esmtp_ffi::md5_hex(data))
}

/// SHA-256 of `data`, lower-case hex.
#[pyfunction]
pub fn sha256_hex(py: Python<'_>, data: Data<'_>) -> String {
    let data = data.as_slice();
    py.detach(|| esmtp_ffi::sha256_hex(data))
}

/// The hash of the file at `path` (`algorithm` is "md5" or "sha256"), in bounded memory.
#[pyfunction]
#[pyo3(signature = (path, algorithm="sha256"))]
pub fn hash_file_hex(py: Python<'_>, path: PathBuf, algorithm: &str) -> PyResult<String> {
    py.detach(|| esmtp_ffi::hash_file_hex(&path, algorithm)).map_err(err)
}
