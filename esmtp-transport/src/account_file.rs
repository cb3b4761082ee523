//! The account file (TOML): who the user is and how to reach the servers. Secrets are named,
//! never written in it: a password file, an environment variable, or a token command.
//!
//! ```toml
//! address = "alice@gmail.com"
//! preset = "gmail"                       # smtp.gmail.com 465, imap.gmail.com 993, pop.gmail.com 995
//! password_file = "~/.config/esmtp/gmail-app-password"
//! identity_file = "alice.key"            # signs what is sent, and reads the Sent copies
//! ```
//!
//! The end-to-end part: `identity_file` names the user's identity file (from `esmtp keygen`,
//! plain or passphrase-protected; it must hold exactly one secret key). Sending then signs every
//! mail with it and seals it to the sender too (`encrypt_to_self`, default `true` when
//! `identity_file` is set), so the copy in the Sent folder stays readable. `allow_from` lists the
//! other addresses the account may send as; any other `From` is refused. `[contacts]` maps
//! addresses to the public keys (`esmtp1...`) expected to sign their mail: fetched mail is
//! checked against them ([`crate::Contacts`]). A contact may have a list of keys (a new one and
//! the one it replaces).
//!
//! ```toml
//! address = "alice@example.org"
//! password_env = "ALICE_PASSWORD"
//! identity_file = "alice.key"
//! encrypt_to_self = true
//! allow_from = ["alice.smith@example.org", "sales@example.org"]
//!
//! [contacts]
//! "bob@example.org" = "esmtp1..."
//! "carol@example.net" = ["esmtp1...new", "esmtp1...old"]
//! ```
//!
//! ```toml
//! address = "alice@example.test"
//! password_env = "ALICE_PASSWORD"        # or: oauth2_token_cmd = "my-token-helper --account alice"
//! ca_file = "ca.crt"                     # relative to this file
//! timeout_secs = 30                      # one read or write (default 30, at most 3600)
//! deadline_secs = 120                    # one command exchange (default 120, at most 3600)
//! [smtp]
//! host = "127.0.0.1"
//! port = 587
//! tls = "starttls"                       # or "implicit"
//! [imap]
//! host = "127.0.0.1"
//! port = 993
//! tls = "implicit"
//! ```

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use esmtp_core::identity_file::{IdentityEntry, IdentityFile};
use esmtp_core::{Passphrase, X25519Identity, X25519Recipient};
use serde::Deserialize;
use zeroize::Zeroizing;

use crate::account::{Account, Credentials, Secret, ServerSettings, TlsMode};
use crate::error::{Error, ErrorKind, Result};
use crate::trace::ProtocolTrace;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AccountFile {
    address: String,
    username: Option<String>,
    password_file: Option<PathBuf>,
    password_env: Option<String>,
    oauth2_token_cmd: Option<TokenCommand>,
    ca_file: Option<PathBuf>,
    preset: Option<Preset>,
    timeout_secs: Option<u64>,
    deadline_secs: Option<u64>,
    identity_file: Option<PathBuf>,
    encrypt_to_self: Option<bool>,
    allow_from: Option<Vec<String>>,
    contacts: Option<BTreeMap<String, Keys>>,
    smtp: Option<Server>,
    imap: Option<Server>,
    pop3: Option<Server>,
}

/// A contact's public key, or several.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Keys {
    One(String),
    Many(Vec<String>),
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Preset {
    Gmail,
}

/// A shell command line, or a program and its arguments.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum TokenCommand {
    Shell(String),
    Argv(Vec<String>),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Server {
    host: String,
    port: u16,
    tls: Tls,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Tls {
    Implicit,
    Starttls,
}

impl Server {
    fn settings(&self) -> ServerSettings {
        let tls = match self.tls {
            Tls::Implicit => TlsMode::Implicit,
            Tls::Starttls => TlsMode::StartTls,
        };
        ServerSettings::new(&self.host, self.port, tls)
    }
}

/// Whether the caller will log in; only then must the secret be available.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Login {
    /// The secret is read now and must be there.
    Needed,
    /// Nothing will log in (e.g. only EHLO capabilities): the secret is not read.
    NotNeeded,
}

/// Asked for the passphrase of a protected identity file (named by its path); `None` when there
/// is none to give.
pub type IdentityPassphrase = dyn Fn(&Path) -> Option<Passphrase> + Send + Sync;

/// How [`load_with`] reads an account file: whether the login secret and the identity are needed,
/// where the passphrase of a protected identity file comes from, and a protocol trace.
///
/// ```no_run
/// use std::path::Path;
/// use esmtp_transport::account_file::{self, LoadOptions, Login};
///
/// let options = LoadOptions::new(Login::Needed)
///     .identity_passphrase(|file: &Path| {
///         // A dialog, a terminal prompt, a keyring...
///         Some(esmtp_core::Passphrase::new("a long passphrase"))
///     });
/// let account = account_file::load_with(Path::new("alice.toml"), &options)?;
/// # Ok::<(), esmtp_transport::Error>(())
/// ```
pub struct LoadOptions {
    login: Login,
    identity: bool,
    passphrase: Option<Box<IdentityPassphrase>>,
    trace: Option<Arc<dyn ProtocolTrace>>,
}

impl std::fmt::Debug for LoadOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadOptions")
            .field("login", &self.login)
            .field("identity", &self.identity)
            .field("passphrase", &self.passphrase.is_some())
            .field("trace", &self.trace.is_some())
            .finish()
    }
}

impl LoadOptions {
    /// Read the secret as `login` says, and the identity file when the account names one
    /// (a protected one then fails: give [`LoadOptions::identity_passphrase`]).
    pub fn new(login: Login) -> Self {
        LoadOptions { login, identity: true, passphrase: None, trace: None }
    }

    /// Leave the identity file unread (the account then neither signs nor encrypts to itself):
    /// for a caller that only looks at the servers, so no passphrase is asked for.
    pub fn without_identity(mut self) -> Self {
        self.identity = false;
        self
    }

    /// Where the passphrase of a passphrase-protected identity file comes from; asked only when
    /// the file is protected.
    pub fn identity_passphrase(
        mut self,
        ask: impl Fn(&Path) -> Option<Passphrase> + Send + Sync + 'static,
    ) -> Self {
        self.passphrase = Some(Box::new(ask));
        self
    }

    /// Give the account this protocol trace ([`crate::AccountBuilder::trace`]).
    pub fn trace(mut self, trace: Arc<dyn ProtocolTrace>) -> Self {
        self.trace = Some(trace);
        self
    }
}

fn invalid(path: &Path, why: impl std::fmt::Display) -> Error {
    Error::new(ErrorKind::Config, format!("account file {}: {why}", path.display()))
}

fn read_error(path: &Path, e: std::io::Error) -> Error {
    Error::new(ErrorKind::Config, format!("cannot read {}", path.display())).with_source(e)
}

/// The most a file read for an account may hold (the account file, a password file, a CA
/// bundle): far above real ones, so that a wrong path (a device such as `/dev/zero`, a log) fails
/// instead of filling memory.
const MAX_FILE_BYTES: u64 = 4 << 20;

/// Read a whole file of at most [`MAX_FILE_BYTES`]; wiped when dropped (it may be a password).
fn read_bounded(path: &Path) -> std::io::Result<Zeroizing<Vec<u8>>> {
    let mut data = Zeroizing::new(Vec::new());
    std::fs::File::open(path)?.take(MAX_FILE_BYTES + 1).read_to_end(&mut data)?;
    if data.len() as u64 > MAX_FILE_BYTES {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("larger than {} MiB", MAX_FILE_BYTES >> 20),
        ));
    }
    Ok(data)
}

/// Paths in the account file are relative to the file's own directory (and `~/` to $HOME).
fn resolve(base: &Path, path: &Path) -> PathBuf {
    if let Ok(rest) = path.strip_prefix("~")
        && let Some(home) = std::env::var_os("HOME")
    {
        return PathBuf::from(home).join(rest);
    }
    base.join(path)
}

/// Read and check an account file; a passphrase-protected identity file in it fails (see
/// [`load_with`]).
///
/// # Errors
/// [`ErrorKind::Config`] naming the file (and line) for anything wrong in it or a secret that
/// cannot be read; the message never contains the secret.
pub fn load(path: &Path, login: Login) -> Result<Account> {
    load_with(path, &LoadOptions::new(login))
}

/// [`load`] as `options` say.
///
/// # Errors
/// As [`load`]; also for an identity file that cannot be read or unlocked, holds no secret key
/// or more than one, or holds key slips.
pub fn load_with(path: &Path, options: &LoadOptions) -> Result<Account> {
    let login = options.login;
    let data = read_bounded(path).map_err(|e| read_error(path, e))?;
    let text = std::str::from_utf8(&data).map_err(|_| invalid(path, "not UTF-8 text"))?;
    let file: AccountFile = toml::from_str(text).map_err(|e| {
        let line = e.span().map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1);
        match line {
            Some(line) => invalid(path, format_args!("line {line}: {}", e.message())),
            None => invalid(path, e.message()),
        }
    })?;
    // A bare file name (`bob.toml`) has the parent "": its directory is the current one.
    let base = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };

    let sources =
        [file.password_file.is_some(), file.password_env.is_some(), file.oauth2_token_cmd.is_some()];
    let credentials = match sources.iter().filter(|s| **s).count() {
        0 => {
            return Err(invalid(path, "no secret: set one of password_file, password_env, oauth2_token_cmd"));
        }
        1 => credentials(&file, base, path, login)?,
        _ => return Err(invalid(path, "set only one of password_file, password_env, oauth2_token_cmd")),
    };

    let mut builder = match file.preset {
        Some(Preset::Gmail) => Account::gmail(&file.address, credentials),
        None => Account::builder(&file.address, credentials),
    };
    if let Some(username) = &file.username {
        builder = builder.username(username);
    }
    if let Some(server) = &file.smtp {
        builder = builder.smtp(server.settings());
    }
    if let Some(server) = &file.imap {
        builder = builder.imap(server.settings());
    }
    if let Some(server) = &file.pop3 {
        builder = builder.pop3(server.settings());
    }
    if let Some(ca) = &file.ca_file {
        let ca = resolve(base, ca);
        let pem = read_bounded(&ca).map_err(|e| read_error(&ca, e))?;
        builder = builder.add_root_certificates_pem(pem.to_vec());
    }
    // Values above the maximum are taken as the maximum (see `AccountBuilder::timeout`).
    if let Some(secs) = file.timeout_secs {
        builder = builder.timeout(Duration::from_secs(secs));
    }
    if let Some(secs) = file.deadline_secs {
        builder = builder.deadline(Duration::from_secs(secs));
    }
    for alias in file.allow_from.iter().flatten() {
        builder = builder.alias(alias.trim());
    }
    for (address, keys) in file.contacts.iter().flatten() {
        if !address.contains('@') {
            return Err(invalid(path, format_args!("contacts: {address:?} is not a mail address")));
        }
        let keys = match keys {
            Keys::One(key) => std::slice::from_ref(key),
            Keys::Many(keys) => keys.as_slice(),
        };
        if keys.is_empty() {
            return Err(invalid(path, format_args!("contacts: {address:?} has an empty list of keys")));
        }
        for key in keys {
            builder = builder.contact(address, contact_key(path, address, key)?);
        }
    }
    match (&file.identity_file, options.identity) {
        (Some(identity), true) => {
            builder = builder.identity(load_identity(path, &resolve(base, identity), options)?);
            if let Some(on) = file.encrypt_to_self {
                builder = builder.encrypt_to_self(on);
            }
        }
        (None, _) if file.encrypt_to_self == Some(true) => {
            return Err(invalid(path, "encrypt_to_self needs identity_file (the key to seal to)"));
        }
        _ => {}
    }
    if let Some(trace) = &options.trace {
        builder = builder.trace(Arc::clone(trace));
    }
    builder.build().map_err(|e| invalid(path, e))
}

/// A contact's public key; the error says what is wrong, without repeating the text.
fn contact_key(path: &Path, address: &str, key: &str) -> Result<X25519Recipient> {
    let key = key.trim();
    key.parse().map_err(|e| {
        let why = if key.to_ascii_uppercase().starts_with("ESMTP-SECRET-KEY-") {
            "a secret key, which must never be in the account file; use the public key (esmtp1...)"
                .to_string()
        } else {
            format!("not a public key (esmtp1...): {e}")
        };
        invalid(path, format_args!("contacts: the key of {address:?} is {why}"))
    })
}

/// The most an identity file may take: a handful of keys, armored.
const MAX_IDENTITY_FILE: u64 = 64 * 1024;

/// The user's identity from `identity` (named in the account file `path`): exactly one secret
/// key, unlocked with the passphrase `options` give when the file is protected.
fn load_identity(path: &Path, identity: &Path, options: &LoadOptions) -> Result<X25519Identity> {
    let shown = identity.display();
    // Sized once, so reading never reallocates and leaves a copy of the key behind.
    let mut data = Zeroizing::new(Vec::with_capacity(MAX_IDENTITY_FILE as usize + 1));
    std::fs::File::open(identity)
        .and_then(|f| f.take(MAX_IDENTITY_FILE + 1).read_to_end(&mut data))
        .map_err(|e| invalid(path, format_args!("identity_file {shown}: cannot read it")).with_source(e))?;
    if data.len() as u64 > MAX_IDENTITY_FILE {
        return Err(invalid(path, format_args!("identity_file {shown}: larger than an identity file")));
    }
    let bad = |e| invalid(path, format_args!("identity_file {shown}: {e}"));
    let file = IdentityFile::parse(&data).map_err(bad)?;
    let passphrase = match (&options.passphrase, file.is_protected()) {
        (Some(ask), true) => ask(identity),
        _ => None,
    };
    let entries = file.unlock(passphrase.as_ref()).map_err(bad)?;
    let slips = entries.iter().filter(|e| matches!(e, IdentityEntry::KeySlip(_))).count();
    let mut keys: Vec<X25519Identity> = entries
        .into_iter()
        .filter_map(|e| match e {
            IdentityEntry::X25519(id) => Some(id),
            _ => None,
        })
        .collect();
    if slips > 0 {
        return Err(invalid(
            path,
            format_args!("identity_file {shown}: holds key slips; name a file with your secret key only"),
        ));
    }
    match keys.len() {
        1 => Ok(keys.remove(0)),
        n => Err(invalid(
            path,
            format_args!(
                "identity_file {shown}: holds {n} secret keys; it must hold exactly one, the one to sign with"
            ),
        )),
    }
}

fn credentials(file: &AccountFile, base: &Path, path: &Path, login: Login) -> Result<Credentials> {
    if let Some(cmd) = &file.oauth2_token_cmd {
        if let TokenCommand::Argv(argv) = cmd
            && argv.is_empty()
        {
            return Err(invalid(path, "oauth2_token_cmd is an empty list"));
        }
        let cmd = cmd.clone();
        let dir = base.to_path_buf();
        // Run for every new session, so a long fetch gets a fresh token when the old one expires.
        let provider = move || run_token_command(&cmd, &dir).map(Secret::new);
        return Ok(Credentials::OAuth2Provider(Arc::new(provider)));
    }
    if login == Login::NotNeeded {
        // Nothing logs in, so the secret is neither read nor required: `capabilities` works with
        // an account whose password is not at hand.
        return Ok(Credentials::Password(Secret::new(String::new())));
    }
    let password = if let Some(file_path) = &file.password_file {
        let file_path = resolve(base, file_path);
        let data = read_bounded(&file_path).map_err(|e| {
            invalid(path, format_args!("password_file {}: cannot read it", file_path.display()))
                .with_source(e)
        })?;
        let text =
            std::str::from_utf8(&data).map_err(|_| invalid(&file_path, "the password is not UTF-8"))?;
        Zeroizing::new(text.trim_end_matches(['\n', '\r']).to_string())
    } else {
        let var = file.password_env.as_deref().unwrap_or_default();
        Zeroizing::new(
            std::env::var(var)
                .map_err(|_| invalid(path, format_args!("the environment variable {var} is not set")))?,
        )
    };
    if password.is_empty() {
        return Err(invalid(path, "the password is empty"));
    }
    Ok(Credentials::Password(Secret::new(password.as_str())))
}

/// Run the token command; its standard output (trimmed) is the access token. Its standard error
/// goes to the user, so a login helper can say what it needs.
fn run_token_command(cmd: &TokenCommand, dir: &Path) -> std::result::Result<String, String> {
    let mut command = match cmd {
        TokenCommand::Shell(line) => {
            let mut c = Command::new(if cfg!(windows) { "cmd" } else { "sh" });
            c.args([if cfg!(windows) { "/C" } else { "-c" }, line]);
            c
        }
        TokenCommand::Argv(argv) => {
            let mut c = Command::new(&argv[0]);
            c.args(&argv[1..]);
            c
        }
    };
    let out = command
        .current_dir(dir)
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("oauth2_token_cmd could not run: {}", e.kind()))?;
    let stdout = Zeroizing::new(out.stdout);
    if !out.status.success() {
        return Err(format!("oauth2_token_cmd failed ({})", out.status));
    }
    let token =
        std::str::from_utf8(&stdout).map_err(|_| "oauth2_token_cmd printed no UTF-8 text".to_string())?;
    let token = token.trim();
    if token.is_empty() {
        return Err("oauth2_token_cmd printed no token".into());
    }
    Ok(token.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(name: &str, text: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("esmtp-account-file-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("account.toml");
        std::fs::write(&path, text).unwrap();
        path
    }

    /// Found with the `account_file` fuzz target (input
    /// `esmtp-core/fuzz/regressions/account_file/ca-file-dev-zero`): a CA file or password
    /// file naming a device that never ends was read without limit, until memory ran out.
    #[cfg(unix)]
    #[test]
    fn endless_files_are_refused_not_read_to_the_end() {
        let ca = write(
            "ca-zero",
            "address = \"a@example.test\"\npassword_env = \"HOME\"\nca_file = \"/dev/zero\"\n",
        );
        let err = load(&ca, Login::NotNeeded).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Config);
        assert!(err.to_string().contains("/dev/zero"), "{err}");
        let password = write("pw-zero", "address = \"a@example.test\"\npassword_file = \"/dev/zero\"\n");
        let err = load(&password, Login::Needed).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Config);
        assert!(err.to_string().contains("password_file"), "{err}");
        let account = load(Path::new("/dev/zero"), Login::NotNeeded).unwrap_err();
        assert_eq!(account.kind(), ErrorKind::Config);
    }

    #[test]
    fn huge_timeouts_are_capped_and_deadlines_read() {
        let path = write(
            "caps",
            "address = \"a@example.test\"\npassword_env = \"ESMTP_TEST_UNSET_VARIABLE\"\n\
             timeout_secs = 18446744073709551615\ndeadline_secs = 45\n",
        );
        let account = load(&path, Login::NotNeeded).unwrap();
        assert_eq!(account.timeout(), crate::MAX_TIMEOUT);
        assert_eq!(account.deadline(), Duration::from_secs(45));
        let zero = write("zero", "address = \"a@example.test\"\npassword_env = \"X\"\ndeadline_secs = 0\n");
        let err = load(&zero, Login::NotNeeded).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Config);
        assert!(err.to_string().contains("deadline"), "{err}");
    }
}
