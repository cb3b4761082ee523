//! The account file (TOML): who the user is and how to reach the servers. Secrets are named,
//! never written in it: a password file, an environment variable, or a token command.
//!
//! ```toml
//! address = "alice@gmail.com"
//! preset = "gmail"                       # smtp.gmail.com 465, imap.gmail.com 993, pop.gmail.com 995
//! password_file = "~/.config/esmtp/gmail-app-password"
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

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use crate::account::{Account, Credentials, Secret, ServerSettings, TlsMode};
use serde::Deserialize;
use zeroize::Zeroizing;

use crate::error::{Error, ErrorKind, Result};

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
    smtp: Option<Server>,
    imap: Option<Server>,
    pop3: Option<Server>,
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

/// Read and check an account file.
///
/// # Errors
/// [`ErrorKind::Config`] naming the file (and line) for anything wrong in it or a secret that
/// cannot be read; the message never contains the secret.
pub fn load(path: &Path, login: Login) -> Result<Account> {
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
    builder.build().map_err(|e| invalid(path, e))
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
