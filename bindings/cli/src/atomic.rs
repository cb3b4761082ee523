//! Files that appear only when complete, whatever ends the program.
//!
//! On Linux a file is written as an unnamed O_TMPFILE inode in the target's directory and linked
//! in under its name by `linkat(2)` once written and synced: until then there is no name to
//! leave behind, so even SIGKILL leaves nothing visible. Where O_TMPFILE is not available (other
//! systems, some file systems) a hidden named temporary file beside the target is renamed at the
//! end, and SIGINT, SIGTERM and SIGHUP remove it before the program ends.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, Once};

use crate::failure::{Failure, Result};

/// Set to anything to force the named-temporary-file way even where O_TMPFILE works, so that
/// both ways are tested on Linux.
const FORCE_NAMED_VAR: &str = "ESMTP_TEST_NAMED_TEMP";

/// A file being written; see the module documentation.
pub struct AtomicFile {
    writer: BufWriter<File>,
    target: PathBuf,
    named: Option<tempfile::TempPath>,
    replace: bool,
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
    /// Start writing `target` (mode 0600). Without `replace`, an existing target is refused now
    /// and again at the end, with `exists_hint`.
    pub fn create(target: &Path, replace: bool, exists_hint: &str) -> Result<AtomicFile> {
        if !replace && target.symlink_metadata().is_ok() {
            return Err(Failure::exists(target, exists_hint));
        }
        let dir = parent_dir(target);
        if std::env::var_os(FORCE_NAMED_VAR).is_none() {
            match unnamed_in(dir) {
                Ok(file) => return Ok(AtomicFile::new(file, target, None, replace)),
                // Not offered here: fall back to a named temporary file.
                Err(e) if unsupported(&e) => {}
                Err(e) => return Err(Failure::write(target, &e)),
            }
        }
        // The directory's own error, with the system's words for it, before tempfile's (which
        // name the temporary file).
        std::fs::metadata(dir).map_err(|e| Failure::write(target, &e))?;
        let temp = tempfile::Builder::new()
            .prefix(".esmtp-")
            .suffix(".part")
            .tempfile_in(dir)
            .map_err(|e| Failure::write(target, &bare(&e)))?;
        let (file, path) = temp.into_parts();
        cleanup::track(&path);
        Ok(AtomicFile::new(file, target, Some(path), replace))
    }

    fn new(file: File, target: &Path, named: Option<tempfile::TempPath>, replace: bool) -> Self {
        AtomicFile {
            writer: BufWriter::with_capacity(1 << 16, file),
            target: target.to_path_buf(),
            named,
            replace,
        }
    }

    /// The path the file will have.
    pub fn target(&self) -> &Path {
        &self.target
    }

    /// Make the file visible under its name; `exists_hint` as for [`AtomicFile::create`].
    pub fn commit(self, exists_hint: &str) -> Result<()> {
        let AtomicFile { writer, target, named, replace } = self;
        let file = writer.into_inner().map_err(|e| Failure::write(&target, e.error()))?;
        file.sync_all().map_err(|e| Failure::write(&target, &e))?;
        match named {
            None => link_unnamed(&file, &target, replace, exists_hint),
            Some(path) => {
                let shown = path.to_path_buf();
                let result = if replace {
                    path.persist(&target).map(drop)
                } else {
                    path.persist_noclobber(&target).map(drop)
                };
                cleanup::untrack(&shown);
                result.map_err(|e| {
                    if e.error.kind() == io::ErrorKind::AlreadyExists {
                        Failure::exists(&target, exists_hint)
                    } else {
                        Failure::write(&target, &bare(&e.error))
                    }
                })
            }
        }
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

/// Write `data` as the new file `target` (never replacing one); `Ok(false)` when it exists.
pub fn write_new(target: &Path, data: &[u8]) -> Result<bool> {
    if target.symlink_metadata().is_ok() {
        return Ok(false);
    }
    let mut file = AtomicFile::create(target, false, "")?;
    file.write_all(data).map_err(|e| Failure::write(target, &e))?;
    match file.commit("") {
        Ok(()) => Ok(true),
        // Written meanwhile by someone else: theirs stays.
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
fn link_unnamed(file: &File, target: &Path, replace: bool, exists_hint: &str) -> Result<()> {
    use std::os::fd::AsRawFd;

    use rustix::fs::{AtFlags, CWD, linkat};
    let proc = format!("/proc/self/fd/{}", file.as_raw_fd());
    let link = |to: &Path| linkat(CWD, proc.as_str(), CWD, to, AtFlags::SYMLINK_FOLLOW);
    if !replace {
        return link(target).map_err(|e| {
            if e == rustix::io::Errno::EXIST {
                Failure::exists(target, exists_hint)
            } else {
                Failure::write(target, &e.into())
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
                    Failure::write(target, &e)
                });
            }
            Err(e) if e == rustix::io::Errno::EXIST => continue,
            Err(e) => return Err(Failure::write(target, &e.into())),
        }
    }
    Err(Failure::write(target, &io::Error::from(io::ErrorKind::AlreadyExists)))
}

#[cfg(not(target_os = "linux"))]
fn link_unnamed(_file: &File, target: &Path, _replace: bool, _hint: &str) -> Result<()> {
    Err(Failure::write(target, &io::Error::from(io::ErrorKind::Unsupported)))
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

    use super::{Mutex, Once};

    static PENDING: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());
    static HANDLER: Once = Once::new();

    pub fn track(path: &Path) {
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

    pub fn untrack(path: &Path) {
        lock().retain(|p| p != path);
    }

    fn lock() -> std::sync::MutexGuard<'static, Vec<PathBuf>> {
        PENDING.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}
