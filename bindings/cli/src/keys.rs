//! Keys from files, passphrases from files, the environment or the terminal.

use std::io::IsTerminal;
use std::path::Path;

use esmtp_core::{KeySlip, PassphrasePrompt, X25519Identity, X25519Recipient};
use zeroize::Zeroizing;

use crate::cli::PassphraseSource;
use crate::failure::{Failure, Result};
use crate::files::read_small;

const SECRET_PREFIX: &str = "ESMTP-SECRET-KEY-";
const SLIP_PREFIX: &str = "ESMTP-SLIP-";

/// The lines of a key file that carry a key: blank lines and `#` comments are skipped.
fn key_lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.lines()
        .enumerate()
        .map(|(n, l)| (n + 1, l.trim()))
        .filter(|(_, l)| !l.is_empty() && !l.starts_with('#'))
}

fn utf8<'a>(path: &Path, data: &'a [u8]) -> Result<&'a str> {
    std::str::from_utf8(data).map_err(|_| Failure::usage(format!("{}: not a text file", path.display())))
}

/// What an identity file holds: secret keys and key-slip tokens, one a line.
pub enum FileIdentity {
    X25519(X25519Identity),
    Slip(KeySlip),
}

/// Read an identity file (`-` is standard input).
pub fn read_identity_file(path: &Path) -> Result<Vec<FileIdentity>> {
    let data = Zeroizing::new(read_small(path)?);
    let text = utf8(path, &data)?;
    let mut out = Vec::new();
    for (line, key) in key_lines(text) {
        let at = format_args!("{} line {line}", path.display()).to_string();
        let parsed = if key.to_ascii_uppercase().starts_with(SLIP_PREFIX) {
            key.parse::<KeySlip>().map(FileIdentity::Slip)
        } else {
            key.parse::<X25519Identity>().map(FileIdentity::X25519)
        };
        match parsed {
            Ok(identity) => out.push(identity),
            Err(e) if key.starts_with("esmtp1") => {
                return Err(Failure::key(at, &e).hint(
                    "this is a public recipient; opening needs the secret identity file from `esmtp keygen`",
                ));
            }
            Err(e) => return Err(Failure::key(at, &e)),
        }
    }
    if out.is_empty() {
        return Err(Failure::usage(format!("{}: no identity in the file", path.display())));
    }
    Ok(out)
}

/// Read a key slip file: one token (comments allowed).
pub fn read_key_slip_file(path: &Path) -> Result<KeySlip> {
    let data = Zeroizing::new(read_small(path)?);
    let text = utf8(path, &data)?;
    let mut lines = key_lines(text);
    let Some((line, token)) = lines.next() else {
        return Err(Failure::usage(format!("{}: no key slip in the file", path.display())));
    };
    token.parse().map_err(|e| Failure::key(format_args!("{} line {line}", path.display()), &e))
}

/// Parse a recipient given on the command line or in a recipients file.
pub fn parse_recipient(text: &str, at: &str) -> Result<X25519Recipient> {
    text.parse::<X25519Recipient>().map_err(|e| {
        let failure = Failure::key(at, &e);
        if text.to_ascii_uppercase().starts_with(SECRET_PREFIX) {
            failure.hint("that is a secret key: seal to its public recipient (`esmtp recipient -i FILE`)")
        } else {
            failure.hint("a recipient looks like esmtp1... (from `esmtp keygen` or `esmtp recipient`)")
        }
    })
}

/// Every recipient of `-r` and `-R`.
pub fn recipients(args: &[String], files: &[std::path::PathBuf]) -> Result<Vec<X25519Recipient>> {
    let mut out = Vec::new();
    for (n, text) in args.iter().enumerate() {
        out.push(parse_recipient(text.trim(), &format!("recipient {} (-r)", n + 1))?);
    }
    for path in files {
        let data = read_small(path)?;
        let text = utf8(path, &data)?;
        let before = out.len();
        for (line, key) in key_lines(text) {
            out.push(parse_recipient(key, &format!("{} line {line}", path.display()))?);
        }
        if out.len() == before {
            return Err(Failure::usage(format!("{}: no recipient in the file", path.display())));
        }
    }
    Ok(out)
}

/// The passphrase named by `--passphrase-file` or `--passphrase-env`, if either was given.
pub fn passphrase(source: &PassphraseSource) -> Result<Option<Zeroizing<String>>> {
    let secret = if let Some(path) = &source.passphrase_file {
        let data = Zeroizing::new(read_small(path)?);
        let text = std::str::from_utf8(&data)
            .map_err(|_| Failure::usage(format!("{}: the passphrase is not UTF-8", path.display())))?;
        // One final line ending belongs to the file, not the passphrase.
        let text = text.strip_suffix('\n').map(|t| t.strip_suffix('\r').unwrap_or(t)).unwrap_or(text);
        Zeroizing::new(text.to_string())
    } else if let Some(var) = &source.passphrase_env {
        match std::env::var(var) {
            Ok(value) => Zeroizing::new(value),
            Err(std::env::VarError::NotPresent) => {
                return Err(Failure::usage(format!("the environment variable {var} is not set")));
            }
            Err(std::env::VarError::NotUnicode(_)) => {
                return Err(Failure::usage(format!("the environment variable {var} is not UTF-8")));
            }
        }
    } else {
        return Ok(None);
    };
    if secret.is_empty() {
        return Err(Failure::usage("the passphrase is empty"));
    }
    Ok(Some(secret))
}

fn no_terminal() -> Failure {
    Failure::usage("no passphrase given and standard input is not a terminal to ask on")
        .hint("use --passphrase-file F or --passphrase-env VAR")
}

/// Ask for a new passphrase twice on the terminal (sealing).
pub fn prompt_new_passphrase() -> Result<Zeroizing<String>> {
    if !std::io::stdin().is_terminal() {
        return Err(no_terminal());
    }
    let ask = |prompt: &str| {
        rpassword::prompt_password(prompt)
            .map(Zeroizing::new)
            .map_err(|e| Failure::io("cannot read the passphrase from the terminal", &e))
    };
    let first = ask("Passphrase: ")?;
    if first.is_empty() {
        return Err(Failure::usage("the passphrase is empty"));
    }
    if *ask("Passphrase (again): ")? != *first {
        return Err(Failure::usage("the passphrases differ"));
    }
    Ok(first)
}

/// A passphrase identity that asks on the terminal the first time it meets a passphrase stanza,
/// so the prompt appears only for envelopes that need it. `None` when there is no terminal.
pub fn prompted_passphrase() -> Option<PassphrasePrompt> {
    std::io::stdin().is_terminal().then(|| {
        PassphrasePrompt::new(|| rpassword::prompt_password("Passphrase: ").ok().filter(|p| !p.is_empty()))
    })
}
