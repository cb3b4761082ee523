//! A local Maildir (the format Postfix and Dovecot store mail in): delivery and reading without a
//! server. It is the embedded default of the paper's flow on a machine with no account, and
//! reads a mail spool directly where one is at hand.
//!
//! Delivery follows the Maildir rule: write the whole file under `tmp/`, sync it, then rename it
//! into `new/`, so a reader never sees a partial mail and a crash loses nothing already delivered.

use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use esmtp_core::Opener;

use crate::contacts::Contacts;
use crate::copies::Copies;
use crate::error::{Error, ErrorKind, Result};
use crate::pairing::{self, Candidate, Source, Take};
use crate::retrieve::{self, Fetched, MAX_HEADER_BYTES, MessageError, MessageRef};

/// A Maildir on the local file system.
///
/// ```
/// use esmtp_core::Opener;
/// use esmtp_transport::{Maildir, Retrieved};
///
/// let dir = std::env::temp_dir().join(format!("esmtp-doc-maildir-{}", std::process::id()));
/// let maildir = Maildir::create(&dir)?;
/// maildir.deliver(b"From: a@example.test\r\nSubject: hello\r\n\r\nplain text\r\n")?;
/// let messages = maildir.fetch_esmtp(&Opener::new())?;
/// assert!(matches!(messages[0].result, Ok(Retrieved::Plain(_))));
/// # std::fs::remove_dir_all(&dir).ok();
/// # Ok::<(), esmtp_transport::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Maildir {
    root: PathBuf,
    contacts: Contacts,
}

fn io_error(what: &str, e: std::io::Error) -> Error {
    Error::new(ErrorKind::Connection, format!("Maildir: {what} failed")).with_source(e)
}

impl Maildir {
    /// Open the Maildir at `root`, creating `tmp/`, `new/` and `cur/` when missing.
    ///
    /// # Errors
    /// When the directories cannot be created.
    pub fn create(root: impl Into<PathBuf>) -> Result<Self> {
        let root = root.into();
        for sub in ["tmp", "new", "cur"] {
            fs::create_dir_all(root.join(sub)).map_err(|e| io_error("creating the directories", e))?;
        }
        Ok(Maildir { root, contacts: Contacts::new() })
    }

    /// Check the sender of every opened mail against `contacts` (see [`crate::Fetched::sender`];
    /// without them every signer is unknown).
    pub fn with_contacts(mut self, contacts: Contacts) -> Self {
        self.contacts = contacts;
        self
    }

    /// The Maildir's directory.
    pub fn path(&self) -> &Path {
        &self.root
    }

    /// Deliver one message; returns its file name.
    ///
    /// # Errors
    /// When writing or renaming fails (nothing then appears in `new/`).
    pub fn deliver(&self, message: &[u8]) -> Result<String> {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
        let name = format!(
            "{}.M{}P{}Q{}.esmtp",
            now.as_secs(),
            now.subsec_micros(),
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        let tmp = self.root.join("tmp").join(&name);
        let result = (|| {
            let mut file = fs::OpenOptions::new().write(true).create_new(true).open(&tmp)?;
            file.write_all(message)?;
            file.sync_all()?;
            fs::rename(&tmp, self.root.join("new").join(&name))
        })();
        if let Err(e) = result {
            let _ = fs::remove_file(&tmp);
            return Err(io_error("delivery", e));
        }
        Ok(name)
    }

    /// The messages in `new/` and `cur/`, oldest name first: (file name, path, size).
    ///
    /// # Errors
    /// When a directory cannot be read.
    pub fn list(&self) -> Result<Vec<(String, PathBuf, u64)>> {
        let mut out = Vec::new();
        for sub in ["new", "cur"] {
            for entry in fs::read_dir(self.root.join(sub)).map_err(|e| io_error("listing", e))? {
                let entry = entry.map_err(|e| io_error("listing", e))?;
                let meta = entry.metadata().map_err(|e| io_error("listing", e))?;
                if meta.is_file() {
                    out.push((entry.file_name().to_string_lossy().into_owned(), entry.path(), meta.len()));
                }
            }
        }
        out.sort();
        Ok(out)
    }

    /// Read every message and open the esmtp ones with `opener` plus the key slips found in the
    /// Maildir itself (a slip may sit before or after its envelope). Each message gets its own
    /// result: a plain, foreign or damaged mail never stops the others. Messages above the MIME
    /// reader's size limit are reported as too large. Copies of one mail (a retried send) are
    /// all returned; the IMAP and POP3 fetches report them as [`crate::Duplicate`]s instead.
    ///
    /// # Errors
    /// Only when the Maildir cannot be listed.
    pub fn fetch_esmtp(&self, opener: &Opener) -> Result<Vec<Fetched>> {
        let entries = self.list()?;
        let mut source = Files { paths: Vec::with_capacity(entries.len()) };
        let mut candidates = Vec::with_capacity(entries.len());
        for (name, path, size) in entries {
            // The header block first, so key slips are read before the envelopes they open.
            let info = head(&path).map(|h| retrieve::header_info(&h));
            candidates.push(Candidate { location: MessageRef::Maildir { name }, size, info });
            source.paths.push(path);
        }
        let keys = pairing::Keys { opener, contacts: &self.contacts };
        // A local store hands out every file: copies of one mail are all returned.
        let max = retrieve::default_max_message_size();
        Ok(pairing::read_all(&mut source, &keys, &[], &candidates, max, &mut Copies::off())?.messages)
    }
}

/// The start of a file, up to its header block's end or [`MAX_HEADER_BYTES`].
fn head(path: &Path) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    fs::File::open(path).ok()?.take(MAX_HEADER_BYTES as u64).read_to_end(&mut out).ok()?;
    let end = out.windows(4).position(|w| w == b"\r\n\r\n").map(|p| p + 4);
    if let Some(end) = end.or_else(|| out.windows(2).position(|w| w == b"\n\n").map(|p| p + 2)) {
        out.truncate(end);
    }
    Some(out)
}

/// Files of the Maildir, by candidate index.
struct Files {
    paths: Vec<PathBuf>,
}

impl Source for Files {
    fn download(&mut self, _: &[Candidate], batch: &[usize], take: &mut Take<'_>) -> Result<()> {
        for &i in batch {
            match self.paths.get(i).map(fs::read) {
                Some(Ok(raw)) => take(i, Ok(&raw)),
                _ => take(i, Err(MessageError::Other("the file could not be read".into()))),
            }
        }
        Ok(())
    }
}
