//! The native module of the `esmtp` Python package (`esmtp._native`): argument conversion and
//! one call into esmtp-ffi per function, with the GIL released for the work. The package's
//! `__init__.py` re-exports everything under `esmtp`.
#![forbid(unsafe_code)]

mod convert;
mod envelope;
mod errors;
mod inbox;
mod keys;
mod mail;
mod pyio;
mod transport;

use pyo3::prelude::*;

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    errors::register(m)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_class::<keys::X25519Identity>()?;
    m.add_class::<keys::X25519Recipient>()?;
    m.add_class::<keys::KeySlip>()?;
    m.add_class::<keys::IdentityFile>()?;
    m.add_function(wrap_pyfunction!(keys::parse_identity_file, m)?)?;
    m.add_function(wrap_pyfunction!(keys::load_identity_file, m)?)?;
    m.add_class::<envelope::Opened>()?;
    m.add_class::<envelope::OpenReport>()?;
    m.add_class::<envelope::Sealed>()?;
    m.add_class::<envelope::SealReport>()?;
    m.add_function(wrap_pyfunction!(envelope::seal, m)?)?;
    m.add_function(wrap_pyfunction!(envelope::seal_envelope, m)?)?;
    m.add_function(wrap_pyfunction!(envelope::open, m)?)?;
    m.add_function(wrap_pyfunction!(envelope::seal_stream, m)?)?;
    m.add_function(wrap_pyfunction!(envelope::open_stream, m)?)?;
    m.add_function(wrap_pyfunction!(envelope::seal_file, m)?)?;
    m.add_function(wrap_pyfunction!(envelope::open_file, m)?)?;
    m.add_function(wrap_pyfunction!(envelope::md5_hex, m)?)?;
    m.add_function(wrap_pyfunction!(envelope::sha256_hex, m)?)?;
    m.add_function(wrap_pyfunction!(envelope::hash_file_hex, m)?)?;
    m.add_class::<mail::Mailbox>()?;
    m.add_class::<mail::Attachment>()?;
    m.add_class::<mail::Draft>()?;
    m.add_class::<mail::Headers>()?;
    m.add_class::<mail::BuiltMail>()?;
    m.add_class::<mail::EncryptedMail>()?;
    m.add_class::<mail::KeySlipMail>()?;
    m.add_class::<mail::PlainMail>()?;
    m.add_function(wrap_pyfunction!(mail::build_mail, m)?)?;
    m.add_function(wrap_pyfunction!(mail::read_mail, m)?)?;
    m.add_class::<transport::Server>()?;
    m.add_class::<transport::Account>()?;
    m.add_class::<transport::Capabilities>()?;
    m.add_class::<transport::KeySlipSent>()?;
    m.add_class::<transport::SendReport>()?;
    m.add_class::<transport::BatchResult>()?;
    m.add_class::<transport::Mailer>()?;
    m.add_class::<inbox::SenderCheck>()?;
    m.add_class::<inbox::FetchedMessage>()?;
    m.add_class::<inbox::DuplicateMessage>()?;
    m.add_class::<inbox::FetchReport>()?;
    m.add_class::<inbox::ImapInbox>()?;
    m.add_class::<inbox::Pop3Inbox>()?;
    Ok(())
}
