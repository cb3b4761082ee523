//! Exit codes and the one-line error every failure becomes.

use std::fmt;
use std::io;
use std::path::Path;
use std::process::ExitCode;

use esmtp_core::{OpenError, ParseKeyError, SealError};

/// The exit codes of `esmtp`; the table in `--help` and the README is generated from the same
/// numbers, so scripts can rely on them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Code {
    /// I/O errors (unreadable input, unwritable output), refusal to overwrite, anything else.
    Failure = 1,
    /// Bad arguments, invalid key text, an invalid account file (clap also exits with 2).
    Usage = 2,
    /// No identity, passphrase or key slip opens the envelope.
    NoMatchingRecipient = 3,
    /// The envelope failed authentication (altered, truncated, extended), its signature did not
    /// verify, or a checksum did not match.
    Integrity = 4,
    /// The input is not an envelope (an envelope cut short inside its header is not one yet),
    /// not an esmtp mail, or one of an unknown version or suite.
    Malformed = 5,
    /// The mail server rejected the login.
    TransportAuth = 6,
    /// Any other mail-server failure: connection, TLS, refusal, timeout.
    Transport = 7,
    /// A signer was expected (`open --expect-signer`) and the envelope is unsigned or signed by
    /// someone else.
    UnexpectedSigner = 8,
}

/// The exit-code table shown at the end of `esmtp --help`.
pub const EXIT_CODES_HELP: &str = "\
Exit codes:
  0  success
  1  I/O error, refusal to overwrite, other failure
  2  usage error: bad arguments, invalid key text, invalid account file
  3  no matching recipient: wrong key, passphrase or key slip
  4  integrity failure: the envelope was altered, truncated or extended, or its signature does
     not verify (altered, or re-sealed by someone holding its key); a checksum did not match
  5  malformed input: not an esmtp envelope (also one cut short inside its header), not an
     esmtp mail (read, reply), or an unknown version or suite
  6  mail server authentication failed
  7  other mail server failure: connection, TLS, timeout, refusal
  8  unexpected signer: open --expect-signer, and the envelope is unsigned or signed by
     someone else";

/// A failure: exit code, one line of message, and an optional hint line.
#[derive(Debug)]
pub struct Failure {
    pub code: Code,
    message: String,
    hint: Option<String>,
}

impl Failure {
    pub fn new(code: Code, message: impl Into<String>) -> Self {
        Failure { code, message: one_line(&message.into()), hint: None }
    }

    pub fn usage(message: impl Into<String>) -> Self {
        Failure::new(Code::Usage, message)
    }

    /// A file that is there already and is not to be replaced.
    pub fn exists(path: &Path, hint: &str) -> Self {
        Failure::new(Code::Failure, format!("{} already exists", path.display())).hint(hint)
    }

    /// The one-line message (without the `esmtp: error:` prefix).
    pub fn message(&self) -> &str {
        &self.message
    }

    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(one_line(&hint.into()));
        self
    }

    /// An I/O error on a named path (or stdin/stdout when `what` says so).
    pub fn io(what: impl fmt::Display, e: &io::Error) -> Self {
        Failure::new(Code::Failure, format!("{what}: {}", io_text(e)))
    }

    pub fn read(path: &Path, e: &io::Error) -> Self {
        Failure::io(format_args!("cannot read {}", path.display()), e)
    }

    pub fn write(path: &Path, e: &io::Error) -> Self {
        Failure::io(format_args!("cannot write {}", path.display()), e)
    }

    /// A key text that did not parse; `where_` names the file and line or the argument, never
    /// the text itself, which may be a secret.
    pub fn key(where_: impl fmt::Display, e: &ParseKeyError) -> Self {
        Failure::usage(format!("{where_}: {e}"))
    }

    /// Print to stderr and give the exit code.
    pub fn report(&self) -> ExitCode {
        eprintln!("esmtp: error: {}", self.message);
        if let Some(hint) = &self.hint {
            eprintln!("hint: {hint}");
        }
        ExitCode::from(self.code as u8)
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// The exit code for an open failure.
pub fn open_code(e: &OpenError) -> Code {
    match e {
        OpenError::NoMatchingRecipient => Code::NoMatchingRecipient,
        // A signature that does not verify is an integrity failure like a bad tag: the envelope
        // is not what was sealed (see the exit-code table).
        OpenError::DecryptionFailed | OpenError::BadSignature => Code::Integrity,
        OpenError::UnexpectedSigner(_) => Code::UnexpectedSigner,
        OpenError::Io(_) => Code::Failure,
        // Malformed, unknown version or suite, and excessive Argon2 work: the input is not an
        // envelope this reader will process.
        _ => Code::Malformed,
    }
}

impl From<OpenError> for Failure {
    fn from(e: OpenError) -> Self {
        let code = open_code(&e);
        let message = match &e {
            OpenError::Io(io) => format!("reading the envelope failed: {}", io_text(io)),
            other => other.to_string(),
        };
        let failure = Failure::new(code, message);
        match e {
            OpenError::NoMatchingRecipient => failure.hint(concat!(
                "give the identity file (-i), the passphrase (--passphrase-file/--passphrase-env) ",
                "or the key slip (--key-slip) it was sealed to"
            )),
            OpenError::Malformed(_) => failure.hint(concat!(
                "the input must be an esmtp envelope, binary or armored ",
                "(-----BEGIN ESMTP ENVELOPE-----)"
            )),
            OpenError::UnexpectedSigner(None) => failure.hint(concat!(
                "an unsigned envelope may come from anyone who holds its key ",
                "(another recipient, the holder of a key slip or the passphrase)"
            )),
            _ => failure,
        }
    }
}

impl From<esmtp_core::RandomError> for Failure {
    fn from(e: esmtp_core::RandomError) -> Self {
        Failure::new(Code::Failure, e.to_string())
    }
}

impl From<SealError> for Failure {
    fn from(e: SealError) -> Self {
        match e {
            SealError::NoRecipients
            | SealError::TooManyRecipients
            | SealError::TwoPassphrases
            | SealError::InvalidRecipient
            | SealError::MessageTooLarge { .. }
            | SealError::InvalidParameters(_) => Failure::usage(e.to_string()),
            SealError::Io(io) => Failure::io("writing the envelope failed", &io),
            other => Failure::new(Code::Failure, other.to_string()),
        }
    }
}

/// An I/O error's text without the `(os error N)` suffix, which helps nobody on the command line.
pub fn io_text(e: &io::Error) -> String {
    strip_os_error(&e.to_string())
}

/// `Connection refused (os error 111)` without the number.
pub fn strip_os_error(text: &str) -> String {
    match text.find(" (os error ") {
        Some(at) if text.ends_with(')') => text[..at].to_string(),
        _ => text.to_string(),
    }
}

fn one_line(text: &str) -> String {
    text.split(['\n', '\r']).map(str::trim).filter(|l| !l.is_empty()).collect::<Vec<_>>().join(" ")
}

pub type Result<T, E = Failure> = std::result::Result<T, E>;
