//! Python binary file objects as `Read` and `Write`: the GIL is taken only for each call of the
//! file's `read`/`write`/`flush`, so sealing and opening run without it in between. A Python
//! exception raised by the file is kept and raised again as itself once the call is over.

use std::io::{Read, Write};

use pyo3::prelude::*;
use pyo3::types::PyBytes;

/// The first Python exception a file object raised.
#[derive(Default)]
pub struct Failure(Option<PyErr>);

impl Failure {
    fn keep(&mut self, e: PyErr) -> std::io::Error {
        let text = Python::attach(|py| e.value(py).to_string());
        self.0.get_or_insert(e);
        std::io::Error::other(text)
    }

    /// The file's own exception when there was one, else the library's error.
    pub fn or(self, other: PyErr) -> PyErr {
        self.0.unwrap_or(other)
    }
}

/// `file.read(n)` as `Read`: at most `buf.len()` bytes per call, so memory stays bounded.
pub struct PyReader {
    file: Py<PyAny>,
    pub failure: Failure,
}

impl PyReader {
    pub fn new(file: Py<PyAny>) -> Self {
        PyReader { file, failure: Failure::default() }
    }
}

impl Read for PyReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let result = Python::attach(|py| -> PyResult<usize> {
            let chunk = self.file.bind(py).call_method1("read", (buf.len(),))?;
            if chunk.is_none() {
                // A non-blocking raw file with nothing ready: treated as the end would lose data.
                return Err(pyo3::exceptions::PyBlockingIOError::new_err("the input file is non-blocking"));
            }
            let chunk = chunk.cast_into::<PyBytes>().map_err(|_| {
                pyo3::exceptions::PyTypeError::new_err("the input file must be opened in binary mode ('rb')")
            })?;
            let data = chunk.as_bytes();
            if data.len() > buf.len() {
                return Err(pyo3::exceptions::PyValueError::new_err("read() returned more bytes than asked"));
            }
            buf[..data.len()].copy_from_slice(data);
            Ok(data.len())
        });
        result.map_err(|e| self.failure.keep(e))
    }
}

/// `file.write(b)` as `Write`; a short write (raw files) is continued.
pub struct PyWriter {
    file: Py<PyAny>,
    pub failure: Failure,
}

impl PyWriter {
    pub fn new(file: Py<PyAny>) -> Self {
        PyWriter { file, failure: Failure::default() }
    }
}

impl Write for PyWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let result = Python::attach(|py| -> PyResult<usize> {
            let written = self.file.bind(py).call_method1("write", (PyBytes::new(py, buf),))?;
            // Buffered files return the length; raw files may return less, or None when blocked.
            match written.extract::<Option<usize>>()? {
                Some(n) if n <= buf.len() => Ok(n),
                Some(_) => {
                    Err(pyo3::exceptions::PyValueError::new_err("write() reported more bytes than given"))
                }
                None => Err(pyo3::exceptions::PyBlockingIOError::new_err("the output file is non-blocking")),
            }
        });
        match result {
            Ok(0) if !buf.is_empty() => Err(std::io::ErrorKind::WriteZero.into()),
            Ok(n) => Ok(n),
            Err(e) => Err(self.failure.keep(e)),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        let result = Python::attach(|py| -> PyResult<()> {
            let file = self.file.bind(py);
            if file.hasattr("flush")? {
                file.call_method0("flush")?;
            }
            Ok(())
        });
        result.map_err(|e| self.failure.keep(e))
    }
}
