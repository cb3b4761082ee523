//! Mails: a `Draft` to build an encrypted mail from, and what reading one gives back.

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyString};

use crate::convert::{self, Data, Identity, Recipient, Secret, Slip, bytes, signer};
use crate::envelope::slip;
use crate::errors::err;
use crate::keys::{KeySlip, X25519Recipient};

/// A mailbox: an address and an optional display name.
#[pyclass(frozen, eq, hash, module = "esmtp")]
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Mailbox {
    /// `local@domain`.
    #[pyo3(get)]
    address: String,
    /// The display name, or None.
    #[pyo3(get)]
    name: Option<String>,
}

#[pymethods]
impl Mailbox {
    #[new]
    #[pyo3(signature = (address, name=None))]
    fn new(address: String, name: Option<String>) -> Self {
        Mailbox { address, name }
    }

    fn __repr__(&self) -> String {
        match &self.name {
            Some(n) => format!("Mailbox({:?}, {:?})", self.address, n),
            None => format!("Mailbox({:?})", self.address),
        }
    }
}

impl From<&esmtp_ffi::Mailbox> for Mailbox {
    fn from(m: &esmtp_ffi::Mailbox) -> Self {
        Mailbox { address: m.address.clone(), name: m.name.clone() }
    }
}

/// A `Mailbox`, or a bare address as `str`.
pub struct MailboxArg(esmtp_ffi::Mailbox);

impl FromPyObject<'_, '_> for MailboxArg {
    type Error = PyErr;

    fn extract(obj: Borrowed<'_, '_, PyAny>) -> PyResult<Self> {
        if let Ok(m) = obj.cast::<Mailbox>() {
            let m = m.get();
            return Ok(MailboxArg(esmtp_ffi::Mailbox { address: m.address.clone(), name: m.name.clone() }));
        }
        if let Ok(s) = obj.cast::<PyString>() {
            return Ok(MailboxArg(esmtp_ffi::Mailbox { address: s.extract::<String>()?, name: None }));
        }
        Err(pyo3::exceptions::PyTypeError::new_err("expected a Mailbox or an address (str)"))
    }
}

fn boxes(list: Vec<MailboxArg>) -> Vec<esmtp_ffi::Mailbox> {
    list.into_iter().map(|m| m.0).collect()
}

fn mailboxes(list: &[esmtp_ffi::Mailbox]) -> Vec<Mailbox> {
    list.iter().map(Mailbox::from).collect()
}

/// An attached file.
#[pyclass(frozen, module = "esmtp")]
pub struct Attachment {
    /// Its file name.
    #[pyo3(get)]
    filename: String,
    /// Its type, `type/subtype`.
    #[pyo3(get)]
    content_type: String,
    /// Its bytes.
    #[pyo3(get)]
    data: Py<PyBytes>,
}

#[pymethods]
impl Attachment {
    #[new]
    #[pyo3(signature = (filename, data, content_type="application/octet-stream"))]
    fn new(py: Python<'_>, filename: String, data: Data<'_>, content_type: &str) -> Self {
        Attachment { filename, content_type: content_type.to_string(), data: bytes(py, data.as_slice()) }
    }

    fn __repr__(&self) -> String {
        format!("Attachment({:?}, content_type={:?})", self.filename, self.content_type)
    }
}

impl Attachment {
    fn from_ffi(py: Python<'_>, a: &esmtp_ffi::Attachment) -> Self {
        Attachment {
            filename: a.filename.clone(),
            content_type: a.content_type.clone(),
            data: bytes(py, &a.data),
        }
    }

    fn to_ffi(&self, py: Python<'_>) -> esmtp_ffi::Attachment {
        esmtp_ffi::Attachment {
            filename: self.filename.clone(),
            content_type: self.content_type.clone(),
            data: self.data.bind(py).as_bytes().to_vec(),
        }
    }
}

/// A mail as its author writes it. The subject and everything else but the addresses travel
/// only inside the envelope; `bcc` only adds delivery addresses.
#[pyclass(frozen, module = "esmtp")]
pub struct Draft(pub(crate) esmtp_ffi::Draft);

#[pymethods]
impl Draft {
    #[new]
    #[pyo3(signature = (sender, to=Vec::new(), *, subject=String::new(), text=None, html=None, attachments=Vec::new(), cc=Vec::new(), bcc=Vec::new(), reply_to=Vec::new(), in_reply_to=Vec::new(), references=Vec::new(), date=None))]
    #[allow(clippy::too_many_arguments)] // Python's keyword arguments
    fn new(
        py: Python<'_>,
        sender: MailboxArg,
        to: Vec<MailboxArg>,
        subject: String,
        text: Option<String>,
        html: Option<String>,
        attachments: Vec<PyRef<'_, Attachment>>,
        cc: Vec<MailboxArg>,
        bcc: Vec<MailboxArg>,
        reply_to: Vec<MailboxArg>,
        in_reply_to: Vec<String>,
        references: Vec<String>,
        date: Option<i64>,
    ) -> Self {
        Draft(esmtp_ffi::Draft {
            from: sender.0,
            to: boxes(to),
            cc: boxes(cc),
            bcc: boxes(bcc),
            reply_to: boxes(reply_to),
            subject,
            text,
            html,
            attachments: attachments.iter().map(|a| a.to_ffi(py)).collect(),
            in_reply_to,
            references,
            date,
        })
    }

    /// The author.
    #[getter]
    fn sender(&self) -> Mailbox {
        (&self.0.from).into()
    }

    /// Primary recipients.
    #[getter]
    fn to(&self) -> Vec<Mailbox> {
        mailboxes(&self.0.to)
    }

    /// The subject.
    #[getter]
    fn subject(&self) -> &str {
        &self.0.subject
    }

    fn __repr__(&self) -> String {
        format!("Draft(sender={:?}, to={})", self.0.from.address, self.0.to.len())
    }
}

/// The headers of a mail, protected (inside the envelope) or outer.
#[pyclass(frozen, module = "esmtp")]
pub struct Headers {
    /// `From`.
    #[pyo3(get)]
    sender: Option<Mailbox>,
    /// `To`.
    #[pyo3(get)]
    to: Vec<Mailbox>,
    /// `Cc`.
    #[pyo3(get)]
    cc: Vec<Mailbox>,
    /// `Reply-To`.
    #[pyo3(get)]
    reply_to: Vec<Mailbox>,
    /// `Subject`.
    #[pyo3(get)]
    subject: Option<String>,
    /// `Date`, Unix seconds.
    #[pyo3(get)]
    date: Option<i64>,
    /// `Message-ID`, without angle brackets.
    #[pyo3(get)]
    message_id: Option<String>,
    /// `In-Reply-To`.
    #[pyo3(get)]
    in_reply_to: Vec<String>,
    /// `References`.
    #[pyo3(get)]
    references: Vec<String>,
}

#[pymethods]
impl Headers {
    fn __repr__(&self) -> String {
        format!(
            "Headers(sender={:?}, subject={:?})",
            self.sender.as_ref().map(|m| m.address.as_str()),
            self.subject
        )
    }
}

pub(crate) fn headers(py: Python<'_>, h: &esmtp_ffi::Headers) -> PyResult<Py<Headers>> {
    Py::new(
        py,
        Headers {
            sender: h.from.as_ref().map(Mailbox::from),
            to: mailboxes(&h.to),
            cc: mailboxes(&h.cc),
            reply_to: mailboxes(&h.reply_to),
            subject: h.subject.clone(),
            date: h.date,
            message_id: h.message_id.clone(),
            in_reply_to: h.in_reply_to.clone(),
            references: h.references.clone(),
        },
    )
}

/// An encrypted mail, packaged for SMTP.
#[pyclass(frozen, module = "esmtp")]
pub struct BuiltMail {
    /// The whole mail (CRLF line ends), as an `.eml` holds it.
    #[pyo3(get)]
    data: Py<PyBytes>,
    /// Its Message-ID, without angle brackets.
    #[pyo3(get)]
    message_id: String,
    /// The envelope inside.
    #[pyo3(get)]
    envelope_id: String,
    /// The key slip (`key_slip=True`), else None.
    #[pyo3(get)]
    key_slip: Option<Py<KeySlip>>,
    /// Whether it needs a server with SMTPUTF8.
    #[pyo3(get)]
    smtputf8: bool,
}

#[pymethods]
impl BuiltMail {
    fn __repr__(&self) -> String {
        format!("BuiltMail(message_id={:?}, envelope_id={:?})", self.message_id, self.envelope_id)
    }
}

/// Seal `draft` as the keyword arguments say and package it as a mail.
#[pyfunction]
#[pyo3(signature = (draft, *, recipients=Vec::new(), passphrase=None, key_slip=false, suite="chacha20-poly1305", sign_with=None))]
pub fn build_mail(
    py: Python<'_>,
    draft: PyRef<'_, Draft>,
    recipients: Vec<Recipient>,
    passphrase: Option<Secret>,
    key_slip: bool,
    suite: &str,
    sign_with: Option<Identity>,
) -> PyResult<BuiltMail> {
    let options = convert::seal_options(recipients, passphrase, key_slip, suite, false, sign_with)?;
    let draft = &draft.0;
    let mail = py.detach(|| esmtp_ffi::build_mail(draft, &options)).map_err(err)?;
    Ok(BuiltMail {
        data: bytes(py, &mail.bytes),
        message_id: mail.message_id,
        envelope_id: mail.envelope_id,
        key_slip: slip(py, mail.key_slip)?,
        smtputf8: mail.smtputf8,
    })
}

/// An encrypted mail, opened and authenticated.
#[pyclass(frozen, module = "esmtp")]
pub struct EncryptedMail {
    /// The protected headers (inside the envelope): the authoritative ones.
    #[pyo3(get)]
    headers: Py<Headers>,
    /// The outer headers, as the servers saw them (may have been altered in transit).
    #[pyo3(get)]
    outer: Py<Headers>,
    /// The text body.
    #[pyo3(get)]
    text: Option<String>,
    /// The HTML body.
    #[pyo3(get)]
    html: Option<String>,
    /// Attachments, bytes exact.
    #[pyo3(get)]
    attachments: Vec<Py<Attachment>>,
    /// The cipher suite's name.
    #[pyo3(get)]
    suite: String,
    /// MD5 of the decrypted inner entity, lower-case hex.
    #[pyo3(get)]
    md5: String,
    /// The envelope id.
    #[pyo3(get)]
    envelope_id: String,
    /// Who signed it (verified), or None: unsigned, so `From` is only a claim.
    #[pyo3(get)]
    signer: Option<Py<X25519Recipient>>,
    /// The decrypted inner entity, bytes exact (an `.eml`).
    #[pyo3(get)]
    raw: Py<PyBytes>,
}

#[pymethods]
impl EncryptedMail {
    fn __repr__(&self) -> String {
        let subject = self.headers.get().subject.clone().unwrap_or_default();
        format!("EncryptedMail(subject={subject:?}, envelope_id={:?})", self.envelope_id)
    }
}

/// By value: each large buffer (the inner entity, every attachment) is released as soon as its
/// Python copy exists, so a large mail is not held twice over.
pub(crate) fn encrypted_mail(py: Python<'_>, m: esmtp_ffi::MailContent) -> PyResult<Py<EncryptedMail>> {
    let raw = bytes(py, &m.raw);
    drop(m.raw);
    let attachments = m
        .attachments
        .into_iter()
        .map(|a| Py::new(py, Attachment::from_ffi(py, &a)))
        .collect::<PyResult<_>>()?;
    Py::new(
        py,
        EncryptedMail {
            headers: headers(py, &m.headers)?,
            outer: headers(py, &m.outer)?,
            text: m.text,
            html: m.html,
            attachments,
            suite: m.suite.name().to_string(),
            md5: m.md5_hex,
            envelope_id: m.envelope_id,
            signer: signer(py, m.signer)?,
            raw,
        },
    )
}

/// A key-slip mail: the key of one envelope, sent apart from it.
#[pyclass(frozen, module = "esmtp")]
pub struct KeySlipMail {
    /// Its own headers.
    #[pyo3(get)]
    headers: Py<Headers>,
    /// The envelope it opens.
    #[pyo3(get)]
    envelope_id: String,
    /// The slip.
    #[pyo3(get)]
    key_slip: Py<KeySlip>,
}

#[pymethods]
impl KeySlipMail {
    fn __repr__(&self) -> String {
        format!("KeySlipMail(envelope_id={:?})", self.envelope_id)
    }
}

/// A mail that is not an esmtp mail (a result, not an error).
#[pyclass(frozen, module = "esmtp")]
pub struct PlainMail {
    /// Its headers.
    #[pyo3(get)]
    headers: Py<Headers>,
}

#[pymethods]
impl PlainMail {
    fn __repr__(&self) -> String {
        "PlainMail()".to_string()
    }
}

/// Read a whole mail (an `.eml`, an IMAP `BODY[]`) and open it if it is encrypted: returns an
/// `EncryptedMail`, a `KeySlipMail` or a `PlainMail`.
#[pyfunction]
#[pyo3(signature = (data, *, identities=Vec::new(), passphrase=None, key_slips=Vec::new(), require_signers=Vec::new(), max_passphrase_work=None))]
pub fn read_mail(
    py: Python<'_>,
    data: Data<'_>,
    identities: Vec<Identity>,
    passphrase: Option<Secret>,
    key_slips: Vec<Slip>,
    require_signers: Vec<Recipient>,
    max_passphrase_work: Option<(u32, u32, u32)>,
) -> PyResult<Py<PyAny>> {
    let options =
        convert::open_options(identities, passphrase, key_slips, require_signers, max_passphrase_work);
    let data = data.as_slice();
    let read = py.detach(|| esmtp_ffi::read_mail(data, &options)).map_err(err)?;
    Ok(match read {
        esmtp_ffi::ReadMail::Encrypted { mail } => encrypted_mail(py, mail)?.into_any(),
        esmtp_ffi::ReadMail::KeySlip { headers: h, envelope_id, key_slip } => Py::new(
            py,
            KeySlipMail { headers: headers(py, &h)?, envelope_id, key_slip: Py::new(py, KeySlip(key_slip))? },
        )?
        .into_any(),
        esmtp_ffi::ReadMail::Plain { headers: h } => {
            Py::new(py, PlainMail { headers: headers(py, &h)? })?.into_any()
        }
    })
}
