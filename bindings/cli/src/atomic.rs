//! Files that appear only when complete, whatever ends the program: the command line's errors
//! around [`esmtp_transport::atomic_file`], where the files are made (unnamed `O_TMPFILE` linked
//! in when complete, a named temporary file as the fallback). The command line, being a program,
//! also has named temporary files removed when SIGINT, SIGTERM or SIGHUP ends it.

use std::io::{self, Write};
use std::path::Path;

use esmtp_transport::atomic_file::{self, AtomicFileError, Existing};

use crate::failure::{Failure, Result};

/// A file being written; see [`esmtp_transport::atomic_file::AtomicFile`].
pub struct AtomicFile(atomic_file::AtomicFile);

fn failure(e: AtomicFileError, exists_hint: &str) -> Failure {
    match e {
        AtomicFileError::Exists { path } => Failure::exists(&path, exists_hint),
        AtomicFileError::Io { path, source } => Failure::write(&path, &source),
        other => Failure::write(Path::new(""), &io::Error::other(other)),
    }
}

impl AtomicFile {
    /// Start writing `target` (mode 0600). Without `replace`, an existing target is refused now
    /// and again at the end, with `exists_hint`.
    pub fn create(target: &Path, replace: bool, exists_hint: &str) -> Result<AtomicFile> {
        atomic_file::remove_on_signals();
        let existing = if replace { Existing::Replace } else { Existing::Refuse };
        atomic_file::AtomicFile::create(target, existing).map(AtomicFile).map_err(|e| failure(e, exists_hint))
    }

    /// The path the file will have.
    pub fn target(&self) -> &Path {
        self.0.target()
    }

    /// Make the file visible under its name; `exists_hint` as for [`AtomicFile::create`].
    pub fn commit(self, exists_hint: &str) -> Result<()> {
        self.0.commit().map_err(|e| failure(e, exists_hint))
    }
}

impl Write for AtomicFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

/// Write `data` as the new file `target` (never replacing one); `Ok(false)` when it exists.
pub fn write_new(target: &Path, data: &[u8]) -> Result<bool> {
    atomic_file::remove_on_signals();
    atomic_file::write_new(target, data).map_err(|e| failure(e, ""))
}
