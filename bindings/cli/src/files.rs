//! Inputs, outputs and secret files.

use std::fs::File;
use std::io::{self, BufWriter, Read, Seek, Write};
use std::path::Path;

use crate::atomic::AtomicFile;
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

/// Key, passphrase and account-sized files: far above any real one.
pub const SMALL_LIMIT: u64 = 1 << 20;
/// Mails, bodies and attachments: the MIME reader's limit.
pub const MAIL_LIMIT: u64 = 128 << 20;

/// Read a key-sized file whole (`-` is standard input), naming it in the error.
pub fn read_small(path: &Path) -> Result<Vec<u8>> {
    read_limited(path, SMALL_LIMIT)
}

/// Read a file whole, at most `limit` bytes (`-` is standard input).
pub fn read_limited(path: &Path, limit: u64) -> Result<Vec<u8>> {
    let (reader, name): (Box<dyn Read>, String) = if is_stdio(Some(path)) {
        (Box::new(io::stdin().lock()), "standard input".into())
    } else {
        let file = File::open(path).map_err(|e| Failure::read(path, &e))?;
        (Box::new(file), path.display().to_string())
    };
    let mut data = Vec::new();
    reader
        .take(limit + 1)
        .read_to_end(&mut data)
        .map_err(|e| Failure::io(format_args!("cannot read {name}"), &e))?;
    if data.len() as u64 > limit {
        return Err(Failure::usage(format!("{name} is larger than {} MiB", limit >> 20)));
    }
    Ok(data)
}

/// The hint when an output exists and `--force` would replace it.
pub const FORCE_HINT: &str = "refusing to overwrite it; use --force to replace it, or choose another name";
/// The hint when an output exists and nothing replaces it (keys, key slips).
pub const KEEP_HINT: &str = "refusing to overwrite it; choose another name or remove it first";

/// Write a secret to a new file (mode 0600; never over an existing file: a second keygen must
/// not destroy the first key), appearing only when complete.
pub fn write_secret(path: &Path, text: &str) -> Result<()> {
    let mut file = AtomicFile::create(path, false, KEEP_HINT)?;
    file.write_all(text.as_bytes()).map_err(|e| Failure::write(path, &e))?;
    file.commit(KEEP_HINT)
}

/// Refuse an output that is the input itself (also through another path, a symbolic or a hard
/// link), which would destroy the input while it is read; `input` `None` is standard input.
pub fn refuse_same_file(input: Option<&Path>, output: &Path) -> Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let Ok(out) = std::fs::metadata(output) else { return Ok(()) };
        let same = match input {
            Some(p) if !is_stdio(Some(p)) => {
                std::fs::metadata(p).is_ok_and(|m| (m.dev(), m.ino()) == (out.dev(), out.ino()))
            }
            // The stat field types differ between platforms, hence the casts.
            #[allow(clippy::unnecessary_cast)]
            _ => rustix::fs::fstat(io::stdin())
                .is_ok_and(|st| (st.st_dev as u64, st.st_ino as u64) == (out.dev(), out.ino())),
        };
        if same {
            return Err(Failure::usage(format!("{} is the input itself", output.display()))
                .hint("write the output to another file"));
        }
    }
    Ok(())
}

/// An output that appears only when complete (see [`AtomicFile`]); dropped uncommitted, nothing
/// is left and an existing target is untouched.
pub enum Output {
    File(AtomicFile),
    /// Standard output after everything is ready, through an unnamed temporary file.
    Buffered {
        temp: BufWriter<File>,
    },
    /// Standard output, directly.
    Stdout(BufWriter<io::StdoutLock<'static>>),
}

impl Output {
    /// `path` or, with `None` or `-`, standard output: through a temporary file when
    /// `buffer_stdout`. An existing `path` is replaced only with `force`; it may never be `input`.
    pub fn create(
        path: Option<&Path>,
        input: Option<&Path>,
        force: bool,
        buffer_stdout: bool,
    ) -> Result<Output> {
        match path {
            Some(target) if !is_stdio(Some(target)) => {
                refuse_same_file(input, target)?;
                Ok(Output::File(AtomicFile::create(target, force, FORCE_HINT)?))
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
            Output::File(file) => file.target().display().to_string(),
            Output::Buffered { .. } => "a temporary file".into(),
            Output::Stdout(_) => "standard output".into(),
        }
    }

    /// Make the output visible: link or rename it into place, or copy the temporary file to
    /// standard output.
    pub fn commit(self) -> Result<()> {
        match self {
            Output::File(file) => file.commit(FORCE_HINT),
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
            Output::File(file) => file.write(buf),
            Output::Buffered { temp } => temp.write(buf),
            Output::Stdout(out) => out.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Output::File(file) => file.flush(),
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
        output.write_all(&buf[..n]).map_err(&mut on_write)?;
        total += n as u64;
    }
    zeroize::Zeroize::zeroize(&mut buf[..]);
    Ok(total)
}
