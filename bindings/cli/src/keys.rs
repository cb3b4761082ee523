//! Keys from files, passphrases from files, the environment or the terminal, and the opener
//! every reading command builds from them.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use esmtp_core::identity_file::{IdentityEntry, IdentityFile, IdentityFileError};
use esmtp_core::{
    Argon2Params, KeySlip, OpenError, Opener, Passphrase, PassphrasePrompt, X25519Identity, X25519Recipient,
};
use zeroize::Zeroizing;

use crate::args::{KeyArgs, PassphraseSource};
use crate::failure::{Code, Failure, Result};
use crate::files::read_small;

const SECRET_PREFIX: &str = "ESMTP-SECRET-KEY-";

/// The lines of a recipients or key-slip file that carry something: blank lines and `#`
/// comments are skipped.
fn key_lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.lines()
        .enumerate()
        .map(|(n, l)| (n + 1, l.trim()))
        .filter(|(_, l)| !l.is_empty() && !l.starts_with('#'))
}

fn utf8<'a>(path: &Path, data: &'a [u8]) -> Result<&'a str> {
    std::str::from_utf8(data).map_err(|_| Failure::usage(format!("{}: not a text file", path.display())))
}

/// Whether there is a terminal to ask on: the controlling terminal opens, and standard input or
/// standard error is a terminal (so a pipe into `esmtp open` at a shell still gets its prompt,
/// and a program run by a script without a terminal never waits for one).
pub fn terminal_at_hand() -> bool {
    (std::io::stdin().is_terminal() || std::io::stderr().is_terminal())
        && std::fs::OpenOptions::new().read(true).write(true).open("/dev/tty").is_ok()
}

/// Ask once on the terminal (no echo); `None` for an empty answer.
fn ask(prompt: &str) -> Result<Option<Zeroizing<String>>> {
    rpassword::prompt_password(prompt)
        .map(|p| Some(Zeroizing::new(p)).filter(|p| !p.is_empty()))
        .map_err(|e| Failure::io("cannot read the passphrase from the terminal", &e))
}

/// Read an identity file (`-` is standard input); a passphrase-protected one asks for its
/// passphrase on the terminal.
pub fn read_identity_file(path: &Path) -> Result<Vec<IdentityEntry>> {
    let data = Zeroizing::new(read_small(path)?);
    let at = |e: IdentityFileError| identity_failure(path, e);
    let file = IdentityFile::parse(&data).map_err(at)?;
    if !file.is_protected() {
        return file.unlock(None).map_err(at);
    }
    if !terminal_at_hand() {
        return Err(at(IdentityFileError::PassphraseNeeded));
    }
    let answer = ask(&format!("Passphrase for {}: ", path.display()))?;
    let passphrase = answer.map(|p| Passphrase::new(p.as_str()));
    file.unlock(passphrase.as_ref()).map_err(at)
}

/// The passphrase of a protected identity file, asked on the terminal; `None` without one (the
/// caller then reports that the file needs it).
pub fn identity_passphrase(path: &Path) -> Option<Passphrase> {
    if !terminal_at_hand() {
        return None;
    }
    let answer = ask(&format!("Passphrase for {}: ", path.display())).ok().flatten()?;
    Some(Passphrase::new(answer.as_str()))
}

/// The one secret key of an identity file, to sign with (`seal --sign-with`).
pub fn signing_identity(path: &Path) -> Result<X25519Identity> {
    let mut keys: Vec<X25519Identity> = read_identity_file(path)?
        .into_iter()
        .filter_map(|e| match e {
            IdentityEntry::X25519(id) => Some(id),
            IdentityEntry::KeySlip(_) => None,
        })
        .collect();
    match keys.len() {
        1 => Ok(keys.remove(0)),
        0 => Err(Failure::usage(format!("{}: holds no secret key to sign with", path.display()))),
        n => Err(Failure::usage(format!(
            "{}: holds {n} secret keys; sign with a file that holds one",
            path.display()
        ))),
    }
}

fn identity_failure(path: &Path, e: IdentityFileError) -> Failure {
    let shown = path.display();
    match e {
        IdentityFileError::Line { public_recipient: true, .. } => Failure::usage(format!("{shown} {e}"))
            .hint("this is a public recipient; opening needs the secret identity file from `esmtp keygen`"),
        IdentityFileError::Line { .. } => Failure::usage(format!("{shown} {e}")),
        IdentityFileError::PassphraseNeeded => Failure::usage(format!("{shown}: {e}"))
            .hint("run it at a terminal, where the passphrase is asked for"),
        IdentityFileError::Protected(OpenError::NoMatchingRecipient) => {
            Failure::new(Code::NoMatchingRecipient, format!("{shown}: {e}"))
        }
        IdentityFileError::Protected(open) => {
            let failure = Failure::from(open);
            Failure::new(failure.code, format!("{shown}: {}", failure.message()))
        }
        other => Failure::usage(format!("{shown}: {other}")),
    }
}

/// Read a key slip file: the token, which may be wrapped over several lines (comments allowed).
pub fn read_key_slip_file(path: &Path) -> Result<KeySlip> {
    let data = Zeroizing::new(read_small(path)?);
    let text = utf8(path, &data)?;
    let token = Zeroizing::new(key_lines(text).map(|(_, l)| l).collect::<Vec<_>>().join("\n"));
    if token.is_empty() {
        return Err(Failure::usage(format!("{}: no key slip in the file", path.display())));
    }
    token.parse().map_err(|e| Failure::key(path.display(), &e))
}

/// At most this many saved key slips are read from an output directory.
const MAX_SAVED_SLIPS: usize = 10_000;

/// The key slips an earlier `fetch --out DIR` (or `read --out DIR`) saved in `dir`
/// (`key-slip-<envelope id>.txt`), so a mail whose slip came through another mailbox opens
/// without naming the slip. A file that does not parse is reported and skipped.
pub fn saved_slips(dir: &Path) -> Vec<KeySlip> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    let mut slips = Vec::new();
    for entry in entries.flatten().take(MAX_SAVED_SLIPS) {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if !(name.starts_with("key-slip-") && name.ends_with(".txt")) {
            continue;
        }
        match read_key_slip_file(&entry.path()) {
            Ok(slip) => slips.push(slip),
            Err(e) => eprintln!("esmtp: warning: {e} (skipped)"),
        }
    }
    slips
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
pub fn recipients(args: &[String], files: &[PathBuf]) -> Result<Vec<X25519Recipient>> {
    public_keys(args, files, "recipient", "-r")
}

/// Every signer of `--expect-signer` and `--expect-signer-file` (public keys, as recipients).
pub fn expected_signers(args: &[String], files: &[PathBuf]) -> Result<Vec<X25519Recipient>> {
    public_keys(args, files, "expected signer", "--expect-signer")
}

/// Public keys given one by one (`flag`) and in files, one a line.
fn public_keys(args: &[String], files: &[PathBuf], what: &str, flag: &str) -> Result<Vec<X25519Recipient>> {
    let mut out = Vec::new();
    for (n, text) in args.iter().enumerate() {
        out.push(parse_recipient(text.trim(), &format!("{what} {} ({flag})", n + 1))?);
    }
    for path in files {
        let data = read_small(path)?;
        let text = utf8(path, &data)?;
        let before = out.len();
        for (line, key) in key_lines(text) {
            out.push(parse_recipient(key, &format!("{} line {line}", path.display()))?);
        }
        if out.len() == before {
            return Err(Failure::usage(format!("{}: no {what} in the file", path.display())));
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

/// The passphrase to seal with: from the file or variable, or asked twice on the terminal when
/// `prompt`.
pub fn sealing_passphrase(source: &PassphraseSource, prompt: bool) -> Result<Option<Zeroizing<String>>> {
    match passphrase(source)? {
        Some(p) => Ok(Some(p)),
        None if prompt => prompt_new_passphrase().map(Some),
        None => Ok(None),
    }
}

/// Ask for a new passphrase twice on the terminal (sealing).
pub fn prompt_new_passphrase() -> Result<Zeroizing<String>> {
    if !terminal_at_hand() {
        return Err(Failure::usage("no passphrase given and no terminal to ask on")
            .hint("use --passphrase-file F or --passphrase-env VAR"));
    }
    let first = ask("Passphrase: ")?.ok_or_else(|| Failure::usage("the passphrase is empty"))?;
    let again = ask("Passphrase (again): ")?;
    if again.as_deref().map(String::as_str) != Some(first.as_str()) {
        return Err(Failure::usage("the passphrases differ"));
    }
    Ok(first)
}

/// A passphrase identity that asks on the terminal the first time it meets a passphrase stanza,
/// so the prompt appears only for envelopes that need it.
fn prompted_passphrase() -> PassphrasePrompt {
    PassphrasePrompt::new(|| ask("Passphrase: ").ok().flatten().map(|p| p.to_string()))
}

/// The opener of `-i`, `--key-slip` and the passphrase options; with none of them a terminal
/// prompt for envelopes with a passphrase stanza, or, with `allow_empty` (fetch: key slips may
/// arrive as mails), an empty opener, else a usage error. A passphrase opens stanzas that ask for
/// at most `passphrase_work` (the reader limit when `None`).
pub fn opener(keys: &KeyArgs, allow_empty: bool, passphrase_work: Option<Argon2Params>) -> Result<Opener> {
    let limit = passphrase_work.unwrap_or(Argon2Params::READER_LIMIT);
    let mut opener = Opener::new();
    let mut any = false;
    for path in &keys.identities {
        for entry in read_identity_file(path)? {
            opener = match entry {
                IdentityEntry::X25519(id) => opener.identity(id),
                IdentityEntry::KeySlip(slip) => opener.identity(slip),
            };
            any = true;
        }
    }
    for path in &keys.key_slips {
        opener = opener.identity(read_key_slip_file(path)?);
        any = true;
    }
    if let Some(p) = passphrase(&keys.passphrase)? {
        opener = opener.identity(Passphrase::new(p.as_str()).with_max_work(limit));
        any = true;
    }
    if !any {
        if terminal_at_hand() {
            opener = opener.identity(prompted_passphrase().with_max_work(limit));
        } else if !allow_empty {
            return Err(Failure::usage("nothing to open with").hint(
                "give -i IDENTITY_FILE, --key-slip FILE, --passphrase-file F or --passphrase-env VAR",
            ));
        }
    }
    Ok(opener)
}
