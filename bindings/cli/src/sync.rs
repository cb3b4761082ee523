//! The state of `fetch --new` and `watch`: where each account's mailbox was read up to.
//!
//! One TOML file, $XDG_STATE_HOME/esmtp/sync.toml (default ~/.local/state/esmtp/sync.toml) or
//! the file given with --state: per account and IMAP mailbox the UIDVALIDITY and the last UID
//! read, per account the POP3 sync state (the last unique ids, UIDL, read). An account is named by user, host and
//! port, so two account files for the same mailbox share their state. The file is replaced
//! whole, atomically, only after a fetch listed and saved everything.

use std::io::Write;
use std::path::{Path, PathBuf};

use esmtp_transport::{Account, ImapSyncState, Pop3SyncState, ServerSettings};
use serde::{Deserialize, Serialize};

use crate::atomic::AtomicFile;
use crate::failure::{Failure, Result};
use crate::files::{SMALL_LIMIT, read_limited};

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct State {
    #[serde(default)]
    imap: Vec<ImapEntry>,
    #[serde(default)]
    pop3: Vec<Pop3Entry>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ImapEntry {
    account: String,
    mailbox: String,
    uid_validity: u32,
    last_uid: u32,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Pop3Entry {
    account: String,
    /// The text form of the library's POP3 sync state.
    state: String,
}

/// The state file, read.
pub struct SyncFile {
    path: PathBuf,
    state: State,
}

/// `user@host:port`: which mailbox an entry belongs to.
fn key(account: &Account, server: Option<&ServerSettings>) -> String {
    match server {
        Some(s) => format!("{}@{}:{}", account.username(), s.host, s.port),
        None => account.username().to_string(),
    }
}

/// The default place: the XDG state directory.
fn default_path() -> Result<PathBuf> {
    let base = match std::env::var_os("XDG_STATE_HOME").filter(|v| !v.is_empty()) {
        Some(dir) => PathBuf::from(dir),
        None => match std::env::var_os("HOME").filter(|v| !v.is_empty()) {
            Some(home) => PathBuf::from(home).join(".local/state"),
            None => {
                return Err(Failure::usage(
                    "no place for the sync state: neither XDG_STATE_HOME nor HOME is set",
                )
                .hint("name a file with --state FILE"));
            }
        },
    };
    Ok(base.join("esmtp").join("sync.toml"))
}

impl SyncFile {
    /// Read `path` (or the default); a missing file is an empty state.
    pub fn load(path: Option<&Path>) -> Result<SyncFile> {
        let path = match path {
            Some(p) => p.to_path_buf(),
            None => default_path()?,
        };
        if path.symlink_metadata().is_err() {
            return Ok(SyncFile { path, state: State::default() });
        }
        let data = read_limited(&path, SMALL_LIMIT * 16)?;
        let state =
            std::str::from_utf8(&data).ok().and_then(|text| toml::from_str(text).ok()).ok_or_else(|| {
                Failure::usage(format!("{}: not a sync state file", path.display()))
                    .hint("remove it to start over, or name another with --state FILE")
            })?;
        Ok(SyncFile { path, state })
    }

    /// Where the last IMAP fetch of `mailbox` ended.
    pub fn imap(&self, account: &Account, mailbox: &str) -> Option<ImapSyncState> {
        let key = key(account, account.imap());
        self.state
            .imap
            .iter()
            .find(|e| e.account == key && e.mailbox == mailbox)
            .map(|e| ImapSyncState { uid_validity: e.uid_validity, last_uid: e.last_uid })
    }

    pub fn set_imap(&mut self, account: &Account, mailbox: &str, sync: ImapSyncState) {
        let key = key(account, account.imap());
        self.state.imap.retain(|e| !(e.account == key && e.mailbox == mailbox));
        self.state.imap.push(ImapEntry {
            account: key,
            mailbox: mailbox.to_string(),
            uid_validity: sync.uid_validity,
            last_uid: sync.last_uid,
        });
    }

    /// Where the last POP3 fetch ended (a state that no longer parses counts as none: the fetch
    /// then reads everything, which may repeat mail but never skips any).
    pub fn pop3(&self, account: &Account) -> Option<Pop3SyncState> {
        let key = key(account, account.pop3());
        self.state.pop3.iter().find(|e| e.account == key).and_then(|e| e.state.parse().ok())
    }

    pub fn set_pop3(&mut self, account: &Account, sync: &Pop3SyncState) {
        let key = key(account, account.pop3());
        self.state.pop3.retain(|e| e.account != key);
        self.state.pop3.push(Pop3Entry { account: key, state: sync.to_string() });
    }

    /// Write the state, replacing the file atomically.
    pub fn save(&self) -> Result<()> {
        let text = toml::to_string(&self.state)
            .map_err(|e| Failure::new(crate::failure::Code::Failure, format!("sync state: {e}")))?;
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| Failure::write(dir, &e))?;
        }
        let mut file = AtomicFile::create(&self.path, true, "")?;
        file.write_all(b"# esmtp: where `fetch --new` and `watch` read up to (see `esmtp fetch --help`)\n")
            .and_then(|()| file.write_all(text.as_bytes()))
            .map_err(|e| Failure::write(&self.path, &e))?;
        file.commit("")
    }
}
