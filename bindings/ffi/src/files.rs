//! Output files that appear under their name only when complete: written to a temporary file
//! beside the target, renamed into place by [`AtomicOutput::commit`], removed otherwise.

use std::io::BufWriter;
use std::path::Path;

use tempfile::NamedTempFile;

use crate::error::{Error, Result};

pub(crate) struct AtomicOutput {
    file: BufWriter<NamedTempFile>,
    target: std::path::PathBuf,
    overwrite: bool,
}

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

impl AtomicOutput {
    /// A temporary file beside `target`, refusing `target == input` and, without `overwrite`, an
    /// existing `target`.
    pub(crate) fn create(input: &Path, target: &Path, overwrite: bool) -> Result<Self> {
        if same_file(input, target) {
            return Err(Error::invalid(format!(
                "{} is the input: refusing to write over it",
                target.display()
            )));
        }
        if !overwrite && target.symlink_metadata().is_ok() {
            return Err(Error::invalid(format!("{} exists: refusing to replace it", target.display())));
        }
        let dir = match target.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        let file = tempfile::Builder::new()
            .prefix(".esmtp-")
            .suffix(".part")
            .tempfile_in(dir)
            .map_err(|e| Error::io(format_args!("cannot write in {}", dir.display()), &e))?;
        Ok(AtomicOutput {
            file: BufWriter::with_capacity(1 << 16, file),
            target: target.to_path_buf(),
            overwrite,
        })
    }

    pub(crate) fn writer(&mut self) -> &mut dyn std::io::Write {
        &mut self.file
    }

    /// Flush, sync and rename into place.
    pub(crate) fn commit(self) -> Result<()> {
        let target = self.target;
        let file = self.file.into_inner().map_err(|e| Error::io(target.display(), e.error()))?;
        file.as_file().sync_all().map_err(|e| Error::io(target.display(), &e))?;
        let persisted = if self.overwrite { file.persist(&target) } else { file.persist_noclobber(&target) };
        persisted.map(drop).map_err(|e| Error::io(target.display(), &e.error))
    }
}
