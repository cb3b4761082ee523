//! Output files that appear under their name only when complete (and, for opened envelopes,
//! authenticated): [`esmtp_transport::atomic_file`], with this library's checks and errors.

use std::path::Path;

use esmtp_transport::atomic_file::{AtomicFile, AtomicFileError, Existing};

use crate::error::{Error, Result};

pub(crate) struct AtomicOutput(AtomicFile);

/// Whether `a` and `b` name the same existing file (also through links).
fn same_file(a: &Path, b: &Path) -> bool {
    match (std::fs::metadata(a), std::fs::metadata(b)) {
        #[cfg(unix)]
        (Ok(x), Ok(y)) => {
            use std::os::unix::fs::MetadataExt;
            x.dev() == y.dev() && x.ino() == y.ino()
        }
        #[cfg(not(unix))]
        (Ok(_), Ok(_)) => a.canonicalize().ok() == b.canonicalize().ok(),
        _ => false,
    }
}

fn error(e: AtomicFileError) -> Error {
    match e {
        AtomicFileError::Exists { path } => {
            Error::invalid(format!("{} exists: refusing to replace it", path.display()))
        }
        AtomicFileError::Io { path, source } => Error::io(path.display(), &source),
        other => Error::io("cannot write the output", &std::io::Error::other(other)),
    }
}

impl AtomicOutput {
    /// Start writing `target`, refusing `target == input` and, without `overwrite`, an existing
    /// `target`.
    pub(crate) fn create(input: &Path, target: &Path, overwrite: bool) -> Result<Self> {
        if same_file(input, target) {
            return Err(Error::invalid(format!(
                "{} is the input: refusing to write over it",
                target.display()
            )));
        }
        let existing = if overwrite { Existing::Replace } else { Existing::Refuse };
        AtomicFile::create(target, existing).map(AtomicOutput).map_err(error)
    }

    pub(crate) fn writer(&mut self) -> &mut dyn std::io::Write {
        &mut self.0
    }

    /// Flush, sync and give the file its name.
    pub(crate) fn commit(self) -> Result<()> {
        self.0.commit().map_err(error)
    }
}
