//! Files that appear under their name only when complete, whatever ends the program.
//!
//! An output written through [`AtomicFile`] is either absent or whole: a failure half-way (a
//! message that does not authenticate, a full disk, a crash, Ctrl-C) leaves neither a partial
//! file nor a temporary one behind.
//!
//! On Linux the file is written as an unnamed `O_TMPFILE` inode in the target's directory and
//! linked in under its name by `linkat(2)` once written and synced: until then there is no name
//! to leave behind, so even SIGKILL leaves nothing visible. Where `O_TMPFILE` is not available
//! (other systems, some file systems) a hidden named temporary file beside the target
//! (`.esmtp-*.part`) is renamed at the end, and removed when the [`AtomicFile`] is dropped
//! uncommitted. A program (not a library) can also have it removed when SIGINT, SIGTERM or SIGHUP
//! ends the process: [`remove_on_signals`].
//!
//! ```
//! use std::io::Write;
//! use esmtp_transport::atomic_file::{AtomicFile, Existing};
//!
//! let dir = tempfile::tempdir()?;
//! let target = dir.path().join("opened.txt");
//! let mut file = AtomicFile::create(&target, Existing::Refuse)?;
//! file.write_all(b"Meet at noon.")?;
//! assert!(!target.exists()); // not before the commit
//! file.commit()?;
//! assert_eq!(std::fs::read(&target)?, b"Meet at noon.");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, Once};

/// Set to anything to force the named-temporary-file way even where `O_TMPFILE` works, so that
/// both ways are tested on Linux.
const FORCE_NAMED_VAR: &str = "ESMTP_TEST_NAMED_TEMP";

/// What to do about a file that already exists under the target's name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Existing {
    /// Refuse it, when the file is created and again at the commit ([`AtomicFileError::Exists`]).
    Refuse,
    /// Replace it, atomically, at the commit.
    Replace,
}

/// Why an atomic file could not be made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AtomicFileError {
    /// The target exists and [`Existing::Refuse`] was asked for.
    #[error("{} exists", path.display())]
    Exists {
        /// The target.
        path: PathBuf,
    },
    /// Creating, writing, syncing or naming the file failed. The error never names the temporary
    /// file: the caller asked for `path`.
    #[error("cannot write {}: {source}", path.display())]
    Io {
        /// The target.
        path: PathBuf,
        /// What the system said.
        #[source]
        source: io::Error,
    },
}

impl AtomicFileError {
    fn exists(path: &Path) -> Self {
        AtomicFileError::Exists { path: path.to_path_buf() }
    }

    fn io(path: &Path, source: io::Error) -> Self {
        AtomicFileError::Io { path: path.to_path_buf(), source }
    }
}

/// A file being written; see the module documentation. Dropped without
/// [`commit`](AtomicFile::commit), it leaves nothing behind (a named temporary file is removed
/// by the drop; an unnamed one was never visible).
pub struct AtomicFile {
    writer: BufWriter<File>,
    target: PathBuf,
    named: Option<tempfile::TempPath>,
    existing: Existing,
}

impl std::fmt::Debug for AtomicFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AtomicFile")
            .field("target", &self.target)
            .field("named_temporary", &self.named.is_some())
            .field("existing", &self.existing)
            .finish()
    }
}

/// Have the named temporary files of this process removed when SIGINT, SIGTERM or SIGHUP ends
/// it (the handler then exits with status 128 + the signal). For programs: a library leaves the
/// signals to its host. Unnamed (`O_TMPFILE`) files need nothing: they vanish with the process.
pub fn remove_on_signals() {
    cleanup::want_handler();
}

/// The directory a path's file lives in (`.` for a bare file name).
pub fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    }
}

/// An I/O error without the temporary file's name in it: the user asked for `target`, and a
/// generated name would only confuse (tempfile adds the path to its errors).
fn bare(e: &io::Error) -> io::Error {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(s) = source {
        if let Some(code) = s.downcast_ref::<io::Error>().and_then(io::Error::raw_os_error) {
            return io::Error::from_raw_os_error(code);
        }
        source = s.source();
    }
    io::Error::from(e.kind())
}

impl AtomicFile {
    /// Start writing `target` (mode 0600 on Unix).
    ///
    /// # Errors
    /// [`AtomicFileError::Exists`] with [`Existing::Refuse`] when `target` exists,
    /// [`AtomicFileError::Io`] when no file can be made in its directory.
    pub fn create(target: &Path, existing: Existing) -> Result<AtomicFile, AtomicFileError> {
        if existing == Existing::Refuse && target.symlink_metadata().is_ok() {
            return Err(AtomicFileError::exists(target));
        }
        let dir = parent_dir(target);
        if std::env::var_os(FORCE_NAMED_VAR).is_none() {
            match unnamed_in(dir) {
                Ok(file) => return Ok(AtomicFile::new(file, target, None, existing)),
                // Not offered here: fall back to a named temporary file.
                Err(e) if unsupported(&e) => {}
                Err(e) => return Err(AtomicFileError::io(target, e)),
            }
        }
        // The directory's own error, with the system's words for it, before tempfile's (which
        // name the temporary file).
        std::fs::metadata(dir).map_err(|e| AtomicFileError::io(target, e))?;
        let temp = tempfile::Builder::new()
            .prefix(".esmtp-")
            .suffix(".part")
            .tempfile_in(dir)
            .map_err(|e| AtomicFileError::io(target, bare(&e)))?;
        let (file, path) = temp.into_parts();
        cleanup::track(&path);
        Ok(AtomicFile::new(file, target, Some(path), existing))
    }

    fn new(file: File, target: &Path, named: Option<tempfile::TempPath>, existing: Existing) -> Self {
        AtomicFile {
            writer: BufWriter::with_capacity(1 << 16, file),
            target: target.to_path_buf(),
            named,
            existing,
        }
    }

    /// The path the file will have.
    pub fn target(&self) -> &Path {
        &self.target
    }

    /// Flush and sync the file, and make it visible under its name.
    ///
    /// # Errors
    /// [`AtomicFileError::Exists`] when, with [`Existing::Refuse`], a file appeared under the
    /// name meanwhile (it stays as it is); [`AtomicFileError::Io`] otherwise. Either way nothing
    /// of this file is left behind.
    pub fn commit(self) -> Result<(), AtomicFileError> {
        let AtomicFile { writer, target, named, existing } = self;
        let shown = named.as_ref().map(|path| path.to_path_buf());
        let result = (|| {
            let file = writer.into_inner().map_err(|e| AtomicFileError::io(&target, e.into_error()))?;
            file.sync_all().map_err(|e| AtomicFileError::io(&target, e))?;
            let Some(path) = named else {
                return link_unnamed(&file, &target, existing == Existing::Replace);
            };
            let persisted = match existing {
                Existing::Replace => path.persist(&target).map(drop),
                Existing::Refuse => path.persist_noclobber(&target).map(drop),
            };
            persisted.map_err(|e| {
                if e.error.kind() == io::ErrorKind::AlreadyExists {
                    AtomicFileError::exists(&target)
                } else {
                    AtomicFileError::io(&target, bare(&e.error))
                }
            })
        })();
        // Renamed into place, or removed with its `TempPath`: nothing left to clean up.
        if let Some(path) = shown {
            cleanup::untrack(&path);
        }
        result
    }
}

impl Write for AtomicFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.writer.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.writer.flush()
    }
}

/// Write `data` as the new file `target`, never replacing one; `Ok(false)` when it exists
/// (also when another process made it meanwhile: theirs stays).
///
/// # Errors
/// As [`AtomicFile::create`] and [`AtomicFile::commit`].
pub fn write_new(target: &Path, data: &[u8]) -> Result<bool, AtomicFileError> {
    if target.symlink_metadata().is_ok() {
        return Ok(false);
    }
    let mut file = AtomicFile::create(target, Existing::Refuse)?;
    file.write_all(data).map_err(|e| AtomicFileError::io(target, e))?;
    match file.commit() {
        Ok(()) => Ok(true),
        Err(AtomicFileError::Exists { .. }) => Ok(false),
        Err(_) if target.symlink_metadata().is_ok() => Ok(false),
        Err(e) => Err(e),
    }
}

/// Whether an open error means "this way of creating files is not offered here".
fn unsupported(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(code) if [
        rustix::io::Errno::OPNOTSUPP.raw_os_error(),
        rustix::io::Errno::ISDIR.raw_os_error(),
        rustix::io::Errno::INVAL.raw_os_error(),
        rustix::io::Errno::NOSYS.raw_os_error(),
    ].contains(&code))
}

#[cfg(target_os = "linux")]
fn unnamed_in(dir: &Path) -> io::Result<File> {
    use rustix::fs::{CWD, Mode, OFlags, openat};
    let flags = OFlags::TMPFILE | OFlags::WRONLY | OFlags::CLOEXEC;
    let fd = openat(CWD, dir, flags, Mode::from_raw_mode(0o600))?;
    Ok(File::from(fd))
}

#[cfg(not(target_os = "linux"))]
fn unnamed_in(_dir: &Path) -> io::Result<File> {
    Err(io::Error::from_raw_os_error(rustix::io::Errno::OPNOTSUPP.raw_os_error()))
}

/// Give the unnamed file its name: `linkat` through `/proc/self/fd` (the way open(2) documents
/// for O_TMPFILE without privileges). Replacing links a random hidden name first and renames it
/// over the target, as rename is the only atomic replacement.
#[cfg(target_os = "linux")]
fn link_unnamed(file: &File, target: &Path, replace: bool) -> Result<(), AtomicFileError> {
    use std::os::fd::AsRawFd;

    use rustix::fs::{AtFlags, CWD, linkat};
    let proc = format!("/proc/self/fd/{}", file.as_raw_fd());
    let link = |to: &Path| linkat(CWD, proc.as_str(), CWD, to, AtFlags::SYMLINK_FOLLOW);
    if !replace {
        return link(target).map_err(|e| {
            if e == rustix::io::Errno::EXIST {
                AtomicFileError::exists(target)
            } else {
                AtomicFileError::io(target, e.into())
            }
        });
    }
    let dir = parent_dir(target);
    for _ in 0..16 {
        let temp = dir.join(format!(".esmtp-{}.part", random_hex()));
        match link(&temp) {
            Ok(()) => {
                return std::fs::rename(&temp, target).map_err(|e| {
                    let _ = std::fs::remove_file(&temp);
                    AtomicFileError::io(target, e)
                });
            }
            Err(e) if e == rustix::io::Errno::EXIST => continue,
            Err(e) => return Err(AtomicFileError::io(target, e.into())),
        }
    }
    Err(AtomicFileError::io(target, io::Error::from(io::ErrorKind::AlreadyExists)))
}

#[cfg(not(target_os = "linux"))]
fn link_unnamed(_file: &File, target: &Path, _replace: bool) -> Result<(), AtomicFileError> {
    Err(AtomicFileError::io(target, io::Error::from(io::ErrorKind::Unsupported)))
}

fn random_hex() -> String {
    let mut bytes = [0u8; 8];
    // Without randomness the time makes the name; a clash only means another try.
    if getrandom::fill(&mut bytes).is_err() {
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        bytes = (nanos.as_nanos() as u64).to_le_bytes();
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Named temporary files to remove when a signal ends the program.
mod cleanup {
    use std::path::{Path, PathBuf};
    use std::sync::atomic::{AtomicBool, Ordering};

    use super::{Mutex, Once};

    static PENDING: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());
    static HANDLER: Once = Once::new();
    static WANTED: AtomicBool = AtomicBool::new(false);

    pub(super) fn want_handler() {
        WANTED.store(true, Ordering::Relaxed);
    }

    pub(super) fn track(path: &Path) {
        if !WANTED.load(Ordering::Relaxed) {
            // A library's host keeps its own signal handling: nothing to install or track.
            return;
        }
        HANDLER.call_once(|| {
            use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
            let Ok(mut signals) = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP]) else {
                return;
            };
            std::thread::spawn(move || {
                if let Some(signal) = signals.forever().next() {
                    for path in lock().drain(..) {
                        let _ = std::fs::remove_file(path);
                    }
                    // The shell's convention for "ended by signal N".
                    std::process::exit(128 + signal);
                }
            });
        });
        lock().push(path.to_path_buf());
    }

    pub(super) fn untrack(path: &Path) {
        lock().retain(|p| p != path);
    }

    fn lock() -> std::sync::MutexGuard<'static, Vec<PathBuf>> {
        PENDING.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}
