//! Accounts and sending: `Server`, `Account` (values, Gmail, account file), an OAuth2 token
//! provider given as a Python callable, and the `Mailer` (a context manager).

use std::path::PathBuf;
use std::sync::Arc;

use esmtp_ffi::{AccountConfig, Credential, TlsMode};
use pyo3::prelude::*;
use pyo3::types::{PyString, PyType};
use zeroize::Zeroizing;

use crate::convert::{self, Identity, Recipient, Secret, signer};
use crate::errors::{err, exception, invalid};
use crate::keys::X25519Recipient;
use crate::mail::Draft;

/// One server: host, port and how TLS starts ("implicit" or "starttls"; there is no plaintext).
#[pyclass(frozen, eq, hash, module = "esmtp")]
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Server(esmtp_ffi::Server);

#[pymethods]
impl Server {
    #[new]
    #[pyo3(signature = (host, port, tls="implicit"))]
    fn new(host: String, port: u16, tls: &str) -> PyResult<Self> {
        let tls = match tls {
            "implicit" => TlsMode::Implicit,
            "starttls" => TlsMode::StartTls,
            other => return Err(invalid(format!("tls must be 'implicit' or 'starttls', not {other:?}"))),
        };
        Ok(Server(esmtp_ffi::Server { host, port, tls }))
    }

    /// The host name (checked against its certificate).
    #[getter]
    fn host(&self) -> &str {
        &self.0.host
    }

    /// The port.
    #[getter]
    fn port(&self) -> u16 {
        self.0.port
    }

    /// "implicit" or "starttls".
    #[getter]
    fn tls(&self) -> &'static str {
        match self.0.tls {
            TlsMode::Implicit => "implicit",
            TlsMode::StartTls => "starttls",
        }
    }

    fn __repr__(&self) -> String {
        format!("Server({:?}, {}, tls={:?})", self.0.host, self.0.port, self.tls())
    }
}

/// A Python callable returning a fresh OAuth2 access token, asked at every new session. Its
/// exception becomes the reason of an `AuthenticationFailed` (type and message only).
struct PyTokenProvider(Py<PyAny>);

impl esmtp_ffi::TokenProvider for PyTokenProvider {
    fn access_token(&self) -> Result<String, String> {
        Python::attach(|py| {
            self.0.bind(py).call0().and_then(|t| t.extract::<String>()).map_err(|e| {
                let kind = e.get_type(py).name().map(|n| n.to_string()).unwrap_or_default();
                format!("the token provider raised {kind}: {}", e.value(py))
            })
        })
    }
}

/// `password`, or `oauth2_token` as a `str` or a callable returning one.
fn credential(password: Option<Secret>, oauth2_token: Option<&Bound<'_, PyAny>>) -> PyResult<Credential> {
    match (password, oauth2_token) {
        (Some(_), Some(_)) => Err(invalid("give a password or an OAuth2 token, not both")),
        (Some(p), None) => Ok(Credential::Password(p.0)),
        (None, Some(t)) if t.is_instance_of::<PyString>() => {
            Ok(Credential::OAuth2Token(Zeroizing::new(t.extract::<String>()?)))
        }
        (None, Some(t)) if t.is_callable() => {
            Ok(Credential::OAuth2Provider(Arc::new(PyTokenProvider(t.clone().unbind()))))
        }
        (None, Some(_)) => Err(pyo3::exceptions::PyTypeError::new_err(
            "oauth2_token must be a str or a callable returning one",
        )),
        (None, None) => Ok(Credential::None),
    }
}

/// An account: a mail address with its servers and credentials.
#[pyclass(frozen, module = "esmtp")]
pub struct Account(pub(crate) Arc<esmtp_ffi::Account>);

#[pymethods]
impl Account {
    #[new]
    #[pyo3(signature = (address, *, password=None, oauth2_token=None, username=None, smtp=None, imap=None, pop3=None, ca_file=None, ca_pem=None, timeout=None, deadline=None, aliases=Vec::new(), identity=None, encrypt_to_self=None, contacts=Vec::new()))]
    #[allow(clippy::too_many_arguments)] // Python's keyword arguments
    fn new(
        address: String,
        password: Option<Secret>,
        oauth2_token: Option<&Bound<'_, PyAny>>,
        username: Option<String>,
        smtp: Option<PyRef<'_, Server>>,
        imap: Option<PyRef<'_, Server>>,
        pop3: Option<PyRef<'_, Server>>,
        ca_file: Option<PathBuf>,
        ca_pem: Option<convert::Data<'_>>,
        timeout: Option<u64>,
        deadline: Option<u64>,
        aliases: Vec<String>,
        identity: Option<Identity>,
        encrypt_to_self: Option<bool>,
        contacts: Vec<(String, Recipient)>,
    ) -> PyResult<Self> {
        let ca_pem = match (ca_file, ca_pem) {
            (Some(_), Some(_)) => return Err(invalid("give ca_file or ca_pem, not both")),
            (Some(path), None) => Some(esmtp_ffi::read_ca_file(&path).map_err(err)?),
            (None, pem) => pem.map(|p| p.as_slice().to_vec()),
        };
        let config = AccountConfig {
            address,
            username,
            login: credential(password, oauth2_token)?,
            smtp: smtp.map(|s| s.0.clone()),
            imap: imap.map(|s| s.0.clone()),
            pop3: pop3.map(|s| s.0.clone()),
            ca_pem,
            timeout_secs: timeout,
            deadline_secs: deadline,
            aliases,
            identity: identity.map(|i| i.0),
            encrypt_to_self,
            contacts: contacts.into_iter().map(|(a, k)| (a, k.0)).collect(),
        };
        esmtp_ffi::Account::new(&config).map(Account).map_err(err)
    }

    /// Gmail's servers (smtp.gmail.com 465, imap.gmail.com 993, pop.gmail.com 995), logging in
    /// with an app password or OAuth2 (a token, or a callable returning a fresh one).
    #[classmethod]
    #[pyo3(signature = (address, *, app_password=None, oauth2_token=None))]
    fn gmail(
        _cls: &Bound<'_, PyType>,
        address: &str,
        app_password: Option<Secret>,
        oauth2_token: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        let login = credential(app_password, oauth2_token)?;
        esmtp_ffi::Account::gmail(address, login).map(Account).map_err(err)
    }

    /// The account file at `path` (TOML, as the `esmtp` command reads it).
    #[classmethod]
    fn from_file(_cls: &Bound<'_, PyType>, py: Python<'_>, path: PathBuf) -> PyResult<Self> {
        py.detach(|| esmtp_ffi::Account::from_file(&path)).map(Account).map_err(err)
    }

    /// The account's address.
    #[getter]
    fn address(&self) -> String {
        self.0.address()
    }

    fn __repr__(&self) -> String {
        format!("Account({:?})", self.0.address())
    }
}

/// What an SMTP server offers after EHLO.
#[pyclass(frozen, get_all, module = "esmtp")]
pub struct Capabilities {
    /// The SIZE limit in bytes (0: announced without a number), or None.
    size_limit: Option<u64>,
    /// SASL mechanisms offered.
    auth: Vec<String>,
    /// 8BITMIME.
    eight_bit_mime: bool,
    /// SMTPUTF8.
    smtputf8: bool,
    /// PIPELINING.
    pipelining: bool,
    /// Every keyword line as the server sent it.
    lines: Vec<String>,
}

#[pymethods]
impl Capabilities {
    fn __repr__(&self) -> String {
        format!("Capabilities(size_limit={:?}, auth={:?})", self.size_limit, self.auth)
    }
}

/// A key-slip mail that was sent.
#[pyclass(frozen, get_all, module = "esmtp")]
pub struct KeySlipSent {
    /// To whom.
    to: String,
    /// Its Message-ID.
    message_id: String,
}

#[pymethods]
impl KeySlipSent {
    fn __repr__(&self) -> String {
        format!("KeySlipSent(to={:?}, message_id={:?})", self.to, self.message_id)
    }
}

/// What sending did.
#[pyclass(frozen, get_all, module = "esmtp")]
pub struct SendReport {
    /// The encrypted mail's Message-ID.
    message_id: String,
    /// Its envelope id.
    envelope_id: String,
    /// Its size in bytes.
    size: u64,
    /// The server's reply code (250).
    reply_code: u16,
    /// The server's reply text.
    reply_text: String,
    /// The key it was signed with (the account's identity), or None.
    signer: Option<Py<X25519Recipient>>,
    /// Whether it was sealed to the account's own identity too.
    encrypted_to_self: bool,
    /// The key-slip mails sent after it.
    key_slips: Vec<Py<KeySlipSent>>,
}

impl SendReport {
    fn new(py: Python<'_>, r: esmtp_ffi::SendReport) -> PyResult<Self> {
        Ok(SendReport {
            message_id: r.message_id,
            envelope_id: r.envelope_id,
            size: r.size,
            reply_code: r.reply_code,
            reply_text: r.reply_text,
            signer: signer(py, r.signer)?,
            encrypted_to_self: r.encrypted_to_self,
            key_slips: r
                .key_slips
                .into_iter()
                .map(|k| Py::new(py, KeySlipSent { to: k.to, message_id: k.message_id }))
                .collect::<PyResult<_>>()?,
        })
    }
}

#[pymethods]
impl SendReport {
    fn __repr__(&self) -> String {
        format!("SendReport(message_id={:?}, reply_code={})", self.message_id, self.reply_code)
    }
}

/// One mail of a batch: its report, or the exception that says why it was not sent.
#[pyclass(frozen, get_all, module = "esmtp")]
pub struct BatchResult {
    /// The report, when sent.
    report: Option<Py<SendReport>>,
    /// The error (an `EsmtpError` instance, not raised), when not.
    error: Option<Py<PyAny>>,
}

#[pymethods]
impl BatchResult {
    fn __repr__(&self) -> String {
        format!("BatchResult(sent={})", self.report.is_some())
    }
}

/// Sends sealed mail through an account's SMTP server over one reused session. A context
/// manager: leaving the `with` block ends the session.
#[pyclass(frozen, module = "esmtp")]
pub struct Mailer(Arc<esmtp_ffi::Mailer>);

/// Seconds as milliseconds, for the retry delay (the library caps the waits).
fn millis(seconds: f64) -> PyResult<u64> {
    if !seconds.is_finite() || seconds < 0.0 {
        return Err(invalid("retry_delay must be a number of seconds, 0 or more"));
    }
    // A float-to-integer cast saturates: a huge delay becomes the largest one.
    Ok((seconds * 1000.0).round() as u64)
}

#[pymethods]
impl Mailer {
    /// A mailer for `account` (it connects on the first call).
    #[new]
    fn new(account: PyRef<'_, Account>) -> PyResult<Self> {
        esmtp_ffi::Mailer::new(&account.0).map(Mailer).map_err(err)
    }

    /// The server's extensions.
    fn capabilities(&self, py: Python<'_>) -> PyResult<Capabilities> {
        let c = py.detach(|| self.0.capabilities()).map_err(err)?;
        Ok(Capabilities {
            size_limit: c.size_limit,
            auth: c.auth,
            eight_bit_mime: c.eight_bit_mime,
            smtputf8: c.smtputf8,
            pipelining: c.pipelining,
            lines: c.lines,
        })
    }

    /// Seal `draft`, package it and send it to every To, Cc and Bcc; then the key slip, if
    /// any, as its own mail (to every recipient, or to `key_slip_to` only).
    #[pyo3(signature = (draft, *, recipients=Vec::new(), passphrase=None, key_slip=false, suite="chacha20-poly1305", sign_with=None, subject_placeholder=None, key_slip_to=None, sign=true, attempts=1, retry_delay=1.0))]
    #[allow(clippy::too_many_arguments)] // Python's keyword arguments
    fn send_secure(
        &self,
        py: Python<'_>,
        draft: PyRef<'_, Draft>,
        recipients: Vec<Recipient>,
        passphrase: Option<Secret>,
        key_slip: bool,
        suite: &str,
        sign_with: Option<Identity>,
        subject_placeholder: Option<String>,
        key_slip_to: Option<String>,
        sign: bool,
        attempts: u32,
        retry_delay: f64,
    ) -> PyResult<SendReport> {
        let seal = convert::seal_options(recipients, passphrase, key_slip, suite, false, sign_with)?;
        let options = esmtp_ffi::SendOptions {
            subject_placeholder,
            key_slip_to,
            sign,
            attempts,
            retry_delay_ms: millis(retry_delay)?,
        };
        let draft = &draft.0;
        let report = py.detach(|| self.0.send_secure(draft, &seal, &options)).map_err(err)?;
        SendReport::new(py, report)
    }

    /// Send several drafts over the one session, sealed alike; each gets its own `BatchResult`.
    #[pyo3(signature = (drafts, *, recipients=Vec::new(), passphrase=None, key_slip=false, suite="chacha20-poly1305", sign_with=None, subject_placeholder=None, key_slip_to=None, sign=true, attempts=1, retry_delay=1.0))]
    #[allow(clippy::too_many_arguments)] // Python's keyword arguments
    fn send_batch(
        &self,
        py: Python<'_>,
        drafts: Vec<PyRef<'_, Draft>>,
        recipients: Vec<Recipient>,
        passphrase: Option<Secret>,
        key_slip: bool,
        suite: &str,
        sign_with: Option<Identity>,
        subject_placeholder: Option<String>,
        key_slip_to: Option<String>,
        sign: bool,
        attempts: u32,
        retry_delay: f64,
    ) -> PyResult<Vec<BatchResult>> {
        let seal = convert::seal_options(recipients, passphrase, key_slip, suite, false, sign_with)?;
        let options = esmtp_ffi::SendOptions {
            subject_placeholder,
            key_slip_to,
            sign,
            attempts,
            retry_delay_ms: millis(retry_delay)?,
        };
        let drafts: Vec<esmtp_ffi::Draft> = drafts.iter().map(|d| d.0.clone()).collect();
        let results = py.detach(|| self.0.send_batch(&drafts, &seal, &options));
        results
            .into_iter()
            .map(|r| {
                Ok(BatchResult {
                    report: r
                        .report
                        .map(|s| SendReport::new(py, s).and_then(|s| Py::new(py, s)))
                        .transpose()?,
                    error: r
                        .error
                        .map(|e| exception(py, e.kind, &e.reason, e.transient).into_value(py).into_any()),
                })
            })
            .collect()
    }

    /// End the session (QUIT); the next send opens a new one.
    fn close(&self, py: Python<'_>) {
        py.detach(|| self.0.close());
    }

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    /// End the session; exceptions of the block propagate.
    #[pyo3(signature = (_exc_type, _exc_value, _traceback))]
    fn __exit__(
        &self,
        py: Python<'_>,
        _exc_type: &Bound<'_, PyAny>,
        _exc_value: &Bound<'_, PyAny>,
        _traceback: &Bound<'_, PyAny>,
    ) -> bool {
        self.close(py);
        false
    }

    fn __repr__(&self) -> String {
        "Mailer()".to_string()
    }
}
