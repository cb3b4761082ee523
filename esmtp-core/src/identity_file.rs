//! Identity files: the text files that hold a user's secret keys and key slips, plain or sealed
//! under a passphrase. One parser for every program that reads them (the command line and the
//! language bindings), so the rules (comments, blank lines, the passphrase-sealed form) live in
//! one place.
//!
//! A plain identity file has one key a line: an x25519 secret key (`ESMTP-SECRET-KEY-1...`) or a
//! key-slip token (`ESMTP-SLIP-1...`); blank lines and lines starting with `#` are skipped.
//!
//! A passphrase-protected identity file is an esmtp envelope (armored, as `esmtp keygen
//! --passphrase` writes it, or binary) sealed to a passphrase, whose plaintext is a plain
//! identity file: the same construction as age's passphrase-encrypted identities. It is detected
//! without any passphrase ([`IdentityFile::is_protected`]), so a program asks for a passphrase
//! only when the file needs one.
//!
//! ```
//! use esmtp_core::identity_file::{self, IdentityFile};
//! use esmtp_core::{Passphrase, X25519Identity};
//!
//! let id = X25519Identity::generate()?;
//! let text = format!("# my key\n{}\n", id.to_secret_string().as_str());
//! let protected = identity_file::protect(&text, Passphrase::new("a long passphrase"))?;
//! let file = IdentityFile::parse(protected.as_bytes())?;
//! assert!(file.is_protected());
//! let entries = file.unlock(Some(&Passphrase::new("a long passphrase")))?;
//! assert_eq!(entries.len(), 1);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fmt;

use zeroize::Zeroizing;

use crate::armor::{ARMOR_BEGIN as BEGIN, is_armored};
use crate::error::{OpenError, ParseKeyError, SealError};
use crate::{ArmorWriter, KeySlip, Opener, Passphrase, Sealer, X25519Identity};

/// The prefix of key-slip tokens, compared without regard to case.
const SLIP_PREFIX: &str = "ESMTP-SLIP-";
/// The prefix of public recipients: a common mistake in an identity file, named in the error.
const RECIPIENT_PREFIX: &str = "esmtp1";

/// One key of an identity file.
pub enum IdentityEntry {
    /// An x25519 secret key.
    X25519(X25519Identity),
    /// A key slip for one envelope.
    KeySlip(KeySlip),
}

impl fmt::Debug for IdentityEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IdentityEntry::X25519(id) => write!(f, "X25519({})", id.to_public()),
            IdentityEntry::KeySlip(slip) => write!(f, "{slip:?}"),
        }
    }
}

/// An identity file as read, before any passphrase.
pub enum IdentityFile {
    /// A plain file: its keys.
    Plain(Vec<IdentityEntry>),
    /// Sealed under a passphrase: the envelope (binary), to [`IdentityFile::unlock`].
    Protected(Vec<u8>),
}

impl fmt::Debug for IdentityFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IdentityFile::Plain(entries) => f.debug_tuple("Plain").field(&entries.len()).finish(),
            IdentityFile::Protected(envelope) => f.debug_tuple("Protected").field(&envelope.len()).finish(),
        }
    }
}

/// Why an identity file could not be read. Never contains key text.
#[derive(Debug)]
#[non_exhaustive]
pub enum IdentityFileError {
    /// The file is neither UTF-8 text nor an envelope.
    NotText,
    /// No key in the file.
    Empty,
    /// A line (1-based) is not a key.
    Line {
        /// The line number.
        line: usize,
        /// Why it did not parse.
        error: ParseKeyError,
        /// The line is a public recipient (`esmtp1...`), not a secret key.
        public_recipient: bool,
    },
    /// The file is passphrase-protected and no passphrase was given.
    PassphraseNeeded,
    /// The protected file did not open: [`OpenError::NoMatchingRecipient`] for a wrong
    /// passphrase, [`OpenError::DecryptionFailed`] for a damaged file.
    Protected(OpenError),
}

impl fmt::Display for IdentityFileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IdentityFileError::NotText => f.write_str("not an identity file (neither text nor an envelope)"),
            IdentityFileError::Empty => f.write_str("no identity in the file"),
            IdentityFileError::Line { line, error, .. } => write!(f, "line {line}: {error}"),
            IdentityFileError::PassphraseNeeded => f.write_str("the identity file is passphrase-protected"),
            IdentityFileError::Protected(OpenError::NoMatchingRecipient) => {
                f.write_str("wrong passphrase for the identity file")
            }
            IdentityFileError::Protected(e) => write!(f, "the protected identity file did not open: {e}"),
        }
    }
}

impl std::error::Error for IdentityFileError {}

impl IdentityFile {
    /// Read an identity file's bytes. A protected file is only recognised here; its keys come
    /// from [`IdentityFile::unlock`].
    ///
    /// # Errors
    /// [`IdentityFileError::NotText`], [`IdentityFileError::Empty`] or
    /// [`IdentityFileError::Line`] for a plain file.
    pub fn parse(data: &[u8]) -> Result<IdentityFile, IdentityFileError> {
        if let Some(envelope) = protected_envelope(data) {
            return Ok(IdentityFile::Protected(envelope));
        }
        let text = std::str::from_utf8(data).map_err(|_| IdentityFileError::NotText)?;
        parse_text(text).map(IdentityFile::Plain)
    }

    /// Whether a passphrase is needed to [`IdentityFile::unlock`] it.
    pub fn is_protected(&self) -> bool {
        matches!(self, IdentityFile::Protected(_))
    }

    /// The keys: directly for a plain file, after opening with `passphrase` for a protected one.
    ///
    /// # Errors
    /// [`IdentityFileError::PassphraseNeeded`] for a protected file without passphrase,
    /// [`IdentityFileError::Protected`] when it does not open, and the errors of
    /// [`IdentityFile::parse`] for the text inside.
    pub fn unlock(self, passphrase: Option<&Passphrase>) -> Result<Vec<IdentityEntry>, IdentityFileError> {
        let envelope = match self {
            IdentityFile::Plain(entries) => return Ok(entries),
            IdentityFile::Protected(envelope) => envelope,
        };
        let passphrase = passphrase.ok_or(IdentityFileError::PassphraseNeeded)?;
        let opened = Opener::new()
            .identity(passphrase.clone())
            .open(&envelope)
            .map_err(IdentityFileError::Protected)?;
        let plaintext = opened.into_plaintext();
        // The sealed text is a plain file; a protected file inside a protected file is refused
        // rather than opened with the same passphrase again.
        let text = std::str::from_utf8(&plaintext).map_err(|_| IdentityFileError::NotText)?;
        parse_text(text)
    }
}

/// The envelope of a protected identity file: armored (first non-blank line is the BEGIN line),
/// or a binary esmtp envelope.
fn protected_envelope(data: &[u8]) -> Option<Vec<u8>> {
    let start = data.iter().position(|b| !b.is_ascii_whitespace()).unwrap_or(data.len());
    let trimmed = &data[start..];
    if trimmed.starts_with(BEGIN.as_bytes()) && is_armored(trimmed) {
        // A damaged armor is still a protected file; opening it reports the damage.
        return Some(crate::dearmor(trimmed).unwrap_or_default());
    }
    crate::inspect(data).is_ok().then(|| data.to_vec())
}

fn parse_text(text: &str) -> Result<Vec<IdentityEntry>, IdentityFileError> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let key = line.trim();
        if key.is_empty() || key.starts_with('#') {
            continue;
        }
        let parsed = if key.len() >= SLIP_PREFIX.len()
            && key.as_bytes()[..SLIP_PREFIX.len()].eq_ignore_ascii_case(SLIP_PREFIX.as_bytes())
        {
            key.parse::<KeySlip>().map(IdentityEntry::KeySlip)
        } else {
            key.parse::<X25519Identity>().map(IdentityEntry::X25519)
        };
        match parsed {
            Ok(entry) => out.push(entry),
            Err(error) => {
                return Err(IdentityFileError::Line {
                    line: n + 1,
                    error,
                    public_recipient: key.starts_with(RECIPIENT_PREFIX),
                });
            }
        }
    }
    if out.is_empty() {
        return Err(IdentityFileError::Empty);
    }
    Ok(out)
}

/// Seal the text of a plain identity file under `passphrase`: an armored envelope (default
/// suite, one passphrase stanza) to write as the protected identity file.
///
/// # Errors
/// [`SealError`] when sealing fails (no randomness).
pub fn protect(text: &str, passphrase: Passphrase) -> Result<Zeroizing<String>, SealError> {
    let sealer = Sealer::new().recipient(passphrase);
    let mut out = Zeroizing::new(Vec::with_capacity(text.len() * 2 + 512));
    let mut armor = ArmorWriter::new(&mut *out);
    let mut writer = sealer.seal_writer(&mut armor)?;
    std::io::Write::write_all(&mut writer, text.as_bytes()).map_err(SealError::Io)?;
    writer.finish().map_err(SealError::Io)?;
    armor.finish().map_err(SealError::Io)?;
    // The armor is ASCII by construction.
    Ok(Zeroizing::new(String::from_utf8_lossy(&out).into_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key_text() -> (X25519Identity, String) {
        let id = X25519Identity::generate().unwrap();
        let text = format!("# comment\n\n  {}  \n", id.to_secret_string().as_str());
        (id, text)
    }

    #[test]
    fn plain_files_skip_comments_and_blank_lines() {
        let (id, text) = key_text();
        let file = IdentityFile::parse(text.as_bytes()).unwrap();
        assert!(!file.is_protected());
        let entries = file.unlock(None).unwrap();
        match &entries[..] {
            [IdentityEntry::X25519(parsed)] => assert_eq!(parsed.to_public(), id.to_public()),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn errors_name_the_line_and_never_the_text() {
        let (id, _) = key_text();
        let text = format!("# c\n{}\n", id.to_public());
        let err = IdentityFile::parse(text.as_bytes()).unwrap_err();
        assert!(matches!(err, IdentityFileError::Line { line: 2, public_recipient: true, .. }), "{err:?}");
        let bad = "ESMTP-SECRET-KEY-1NOTAKEY\n";
        let err = IdentityFile::parse(bad.as_bytes()).unwrap_err();
        assert!(!err.to_string().contains("NOTAKEY"), "{err}");
        assert!(matches!(IdentityFile::parse(b"# only\n\n").unwrap_err(), IdentityFileError::Empty));
        assert!(matches!(IdentityFile::parse(&[0xff, 0xfe]).unwrap_err(), IdentityFileError::NotText));
    }

    #[test]
    fn protected_files_need_the_right_passphrase() {
        let (id, text) = key_text();
        let sealed = protect(&text, Passphrase::new("right horse")).unwrap();
        assert!(sealed.starts_with(BEGIN));
        assert!(!sealed.contains(id.to_secret_string().as_str()));
        let file = || IdentityFile::parse(sealed.as_bytes()).unwrap();
        assert!(file().is_protected());
        assert!(matches!(file().unlock(None).unwrap_err(), IdentityFileError::PassphraseNeeded));
        let wrong = file().unlock(Some(&Passphrase::new("wrong horse"))).unwrap_err();
        assert!(matches!(wrong, IdentityFileError::Protected(OpenError::NoMatchingRecipient)), "{wrong:?}");
        let entries = file().unlock(Some(&Passphrase::new("right horse"))).unwrap();
        assert!(matches!(&entries[..], [IdentityEntry::X25519(p)] if p.to_public() == id.to_public()));
        // Leading blank lines before the armor, as an editor may leave them.
        let padded = format!("\n\n{}", sealed.as_str());
        assert!(IdentityFile::parse(padded.as_bytes()).unwrap().is_protected());
        // Damaged armor is still recognised, and fails to open.
        let damaged = sealed.replacen('A', "B", 3);
        let file = IdentityFile::parse(damaged.as_bytes()).unwrap();
        assert!(file.unlock(Some(&Passphrase::new("right horse"))).is_err());
    }
}
