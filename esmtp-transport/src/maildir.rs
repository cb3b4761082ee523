//! A local Maildir (the format Postfix and Dovecot store mail in): delivery and reading without a
//! server. It is the embedded default of the paper's flow on a machine with no account, and
//! reads a mail spool directly where one is at hand.
//!
//! Delivery follows the Maildir rule: write the whole file under `tmp/`, sync it, then rename it
//! into `new/`, so a reader never sees a partial mail and a crash loses nothing already delivered.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use esmtp_core::Opener;
use esmtp_core::mime::{self, MailKind};

use crate::error::{Error, ErrorKind, Result};
use crate::retrieve::{Fetched, MessageError, MessageRef, Reader};

/// Mails above this size are reported as too large rather than read into memory.
const MAX_MESSAGE: u64 = 128 * 1024 * 1024;

/// A Maildir on the local file system.
#[derive(Debug, Clone)]
pub struct Maildir {
    root: PathBuf,
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
        Ok(Maildir { root })
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
    /// result: a plain, foreign or damaged mail never stops the others.
    ///
    /// # Errors
    /// Only when the Maildir cannot be listed.
    pub fn fetch_esmtp(&self, opener: &Opener) -> Result<Vec<Fetched>> {
        let entries = self.list()?;
        let mut reader = Reader::new(opener);
        let mut raws = Vec::with_capacity(entries.len());
        // Slips first, so envelopes that only a slip opens open on the single pass below.
        for (name, path, size) in &entries {
            let raw = if *size > MAX_MESSAGE {
                Err(MessageError::TooLarge(format!("{size} bytes")))
            } else {
                fs::read(path).map_err(|_| MessageError::Other("the file could not be read".into()))
            };
            if let Ok(raw) = &raw
                && matches!(mime::classify(raw, &mime::Limits::default()), Ok(MailKind::KeySlip { .. }))
                && let Ok(mime::ReadMail::KeySlip(slip)) =
                    mime::read_mail(raw, &Opener::new(), &mime::Limits::default())
            {
                reader.add_slip(slip.key_slip);
            }
            raws.push((name.clone(), *size, raw));
        }
        Ok(raws
            .into_iter()
            .map(|(name, size, raw)| {
                let location = MessageRef::Maildir { name };
                match raw {
                    Ok(raw) => {
                        let read = reader.read(&raw);
                        let outer = read.outer.unwrap_or_else(|| crate::retrieve::header_info(&raw).outer);
                        Fetched { location, size, outer, result: read.result }
                    }
                    Err(e) => Fetched { location, size, outer: Default::default(), result: Err(e) },
                }
            })
            .collect())
    }
}
