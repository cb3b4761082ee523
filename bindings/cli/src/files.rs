//! Inputs, outputs and secret files.

use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Read, Seek, Write};
use std::path::{Path, PathBuf};

use tempfile::NamedTempFile;

use crate::failure::{Failure, Result};

/// Whether a path argument means standard input or output.
pub fn is_stdio(path: Option<&Path>) -> bool {
    path.is_none_or(|p| p == Path::new("-"))
}

/// An opened input and what to call it in messages.
pub struct Input {
    pub reader: Box<dyn Read>,
    pub name: String,
    /// Its size, when it is a regular file (for progress bars).
    pub len: Option<u64>,
}

pub fn open_input(path: Option<&Path>) -> Result<Input> {
    match path {
        Some(p) if !is_stdio(Some(p)) => {
            let file = File::open(p).map_err(|e| Failure::read(p, &e))?;
            let len = file.metadata().ok().filter(|m| m.is_file()).map(|m| m.len());
            Ok(Input { reader: Box::new(file), name: p.display().to_string(), len })
        }
        _ => Ok(Input { reader: Box::new(io::stdin().lock()), name: "standard input".into(), len: None }),
    }
}

/// Read a small file whole (keys, passphrases, account files), naming it in the error.
pub fn read_small(path: &Path) -> Result<Vec<u8>> {
    if is_stdio(Some(path)) {
        let mut data = Vec::new();
        io::stdin().read_to_end(&mut data).map_err(|e| Failure::io("cannot read standard input", &e))?;
        return Ok(data);
    }
    std::fs::read(path).map_err(|e| Failure::read(path, &e))
}

/// Create a file that will hold a secret: mode 0600 from the start, and never over an existing
/// file (a second keygen must not destroy the first key).
pub fn create_secret(path: &Path) -> Result<File> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path).map_err(|e| {
        if e.kind() == io::ErrorKind::AlreadyExists {
            Failure::new(crate::failure::Code::Failure, format!("{} already exists", path.display()))
                .hint("refusing to overwrite it; choose another name or remove it first")
        } else {
            Failure::write(path, &e)
        }
    })
}

/// Write a secret to a new file (see [`create_secret`]).
pub fn write_secret(path: &Path, text: &str) -> Result<()> {
    let mut file = create_secret(path)?;
    file.write_all(text.as_bytes()).and_then(|()| file.sync_all()).map_err(|e| Failure::write(path, &e))
}

/// An output that appears only when complete: a temporary file beside the target, renamed over
/// it by [`Output::commit`]; dropped uncommitted, the temporary file is removed and the target
/// is untouched.
pub enum Output {
    File {
        temp: BufWriter<NamedTempFile>,
        target: PathBuf,
    },
    /// Standard output after everything is ready, through an unnamed temporary file.
    Buffered {
        temp: BufWriter<File>,
    },
    /// Standard output, directly.
    Stdout(BufWriter<io::StdoutLock<'static>>),
}

impl Output {
    /// `path` or, with `None` or `-`, standard output: through a temporary file when `buffer_stdout`.
    pub fn create(path: Option<&Path>, buffer_stdout: bool) -> Result<Output> {
        match path {
            Some(target) if !is_stdio(Some(target)) => {
                let dir = match target.parent() {
                    Some(d) if !d.as_os_str().is_empty() => d,
                    _ => Path::new("."),
                };
                let temp = tempfile::Builder::new()
                    .prefix(".esmtp-")
                    .suffix(".part")
                    .tempfile_in(dir)
                    .map_err(|e| Failure::write(target, &e))?;
                Ok(Output::File {
                    temp: BufWriter::with_capacity(1 << 16, temp),
                    target: target.to_path_buf(),
                })
            }
            _ if buffer_stdout => {
                let temp =
                    tempfile::tempfile().map_err(|e| Failure::io("cannot create a temporary file", &e))?;
                Ok(Output::Buffered { temp: BufWriter::with_capacity(1 << 16, temp) })
            }
            _ => Ok(Output::Stdout(BufWriter::with_capacity(1 << 16, io::stdout().lock()))),
        }
    }

    pub fn name(&self) -> String {
        match self {
            Output::File { target, .. } => target.display().to_string(),
            Output::Buffered { .. } => "a temporary file".into(),
            Output::Stdout(_) => "standard output".into(),
        }
    }

    /// Make the output visible: rename, or copy the temporary file to standard output.
    pub fn commit(self) -> Result<()> {
        match self {
            Output::File { temp, target } => {
                let temp = temp.into_inner().map_err(|e| Failure::write(&target, e.error()))?;
                temp.as_file().sync_all().map_err(|e| Failure::write(&target, &e))?;
                temp.persist(&target).map_err(|e| Failure::write(&target, &e.error))?;
                Ok(())
            }
            Output::Buffered { temp } => {
                let mut file =
                    temp.into_inner().map_err(|e| Failure::io("cannot write a temporary file", e.error()))?;
                file.rewind().map_err(|e| Failure::io("cannot read back the temporary file", &e))?;
                let mut stdout = io::stdout().lock();
                io::copy(&mut file, &mut stdout)
                    .and_then(|_| stdout.flush())
                    .map_err(|e| Failure::io("cannot write standard output", &e))?;
                Ok(())
            }
            Output::Stdout(mut out) => {
                out.flush().map_err(|e| Failure::io("cannot write standard output", &e))
            }
        }
    }
}

impl Write for Output {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Output::File { temp, .. } => temp.write(buf),
            Output::Buffered { temp } => temp.write(buf),
            Output::Stdout(out) => out.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Output::File { temp, .. } => temp.flush(),
            Output::Buffered { temp } => temp.flush(),
            Output::Stdout(out) => out.flush(),
        }
    }
}

/// Copy `input` to `output` in 64 KiB steps, telling read errors (`on_read`) from write errors.
pub fn copy<R: Read + ?Sized, W: Write + ?Sized>(
    input: &mut R,
    output: &mut W,
    mut on_read: impl FnMut(io::Error) -> Failure,
    mut on_write: impl FnMut(io::Error) -> Failure,
    mut each: impl FnMut(&[u8]),
) -> Result<u64> {
    let mut buf = vec![0u8; 1 << 16];
    let mut total = 0u64;
    loop {
        let n = match input.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(on_read(e)),
        };
        each(&buf[..n]);
        output.write_all(&buf[..n]).map_err(&mut on_write)?;
        total += n as u64;
    }
    zeroize::Zeroize::zeroize(&mut buf[..]);
    Ok(total)
}
