//! ASCII armor (SPEC.md section 6): strict on read, tolerant of CRLF line endings.

use std::io::{self, BufRead, BufReader, Read, Write};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::error::OpenError;

/// The first line of an armored envelope.
pub const ARMOR_BEGIN: &str = "-----BEGIN ESMTP ENVELOPE-----";
/// The last line of an armored envelope.
pub const ARMOR_END: &str = "-----END ESMTP ENVELOPE-----";

const LINE_CHARS: usize = 64;
const LINE_BYTES: usize = 48;

/// Armor a binary envelope (LF line endings, final LF).
pub fn armor(envelope: &[u8]) -> String {
    let mut out = Vec::with_capacity(envelope.len() * 4 / 3 + envelope.len() / LINE_BYTES + 80);
    let mut writer = ArmorWriter::new(&mut out);
    // Invariants: writing into a Vec cannot fail, and armor is ASCII.
    #[allow(clippy::expect_used)]
    writer.write_all(envelope).and_then(|()| writer.finish().map(drop)).expect("writing into a Vec");
    #[allow(clippy::expect_used)]
    String::from_utf8(out).expect("armor is ASCII")
}

/// Decode an armored envelope, strictly.
///
/// # Errors
/// [`OpenError::Malformed`] on any deviation from SPEC.md section 6.
pub fn dearmor(text: &[u8]) -> Result<Vec<u8>, OpenError> {
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    ArmorReader::new(text).read_to_end(&mut out).map_err(OpenError::from_io)?;
    Ok(out)
}

/// Whether `input` starts like an armored envelope (as opposed to a binary one).
pub fn is_armored(input: &[u8]) -> bool {
    let n = input.len().min(ARMOR_BEGIN.len());
    n > 0 && input[..n] == ARMOR_BEGIN.as_bytes()[..n]
}

/// A reader over a binary or armored envelope in memory.
pub(crate) fn auto_reader(input: &[u8]) -> Box<dyn Read + '_> {
    if is_armored(input) { Box::new(ArmorReader::new(input)) } else { Box::new(input) }
}

/// Armors everything written to it; call [`ArmorWriter::finish`] to write the last line.
pub struct ArmorWriter<W: Write> {
    inner: W,
    pending: Vec<u8>,
    started: bool,
}

impl<W: Write> ArmorWriter<W> {
    /// Armor into `inner`.
    pub fn new(inner: W) -> Self {
        ArmorWriter { inner, pending: Vec::with_capacity(LINE_BYTES * 64), started: false }
    }

    /// The writer the armor goes to (see [`crate::SealWriter`]'s `get_mut`).
    pub(crate) fn get_mut(&mut self) -> &mut W {
        &mut self.inner
    }

    fn start(&mut self) -> io::Result<()> {
        if !self.started {
            self.started = true;
            self.inner.write_all(ARMOR_BEGIN.as_bytes())?;
            self.inner.write_all(b"\n")?;
        }
        Ok(())
    }

    fn flush_lines(&mut self, all: bool) -> io::Result<()> {
        let whole = self.pending.len() / LINE_BYTES * LINE_BYTES;
        let upto = if all { self.pending.len() } else { whole };
        let mut text = String::with_capacity(upto / LINE_BYTES * (LINE_CHARS + 1) + LINE_CHARS + 1);
        for line in self.pending[..upto].chunks(LINE_BYTES) {
            STANDARD.encode_string(line, &mut text);
            text.push('\n');
        }
        self.inner.write_all(text.as_bytes())?;
        self.pending.drain(..upto);
        Ok(())
    }

    /// Write the remaining data and the END line; returns the inner writer.
    ///
    /// # Errors
    /// When the inner writer fails.
    pub fn finish(mut self) -> io::Result<W> {
        self.start()?;
        self.flush_lines(true)?;
        self.inner.write_all(ARMOR_END.as_bytes())?;
        self.inner.write_all(b"\n")?;
        self.inner.flush()?;
        Ok(self.inner)
    }
}

impl<W: Write> Write for ArmorWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.start()?;
        self.pending.extend_from_slice(buf);
        if self.pending.len() >= LINE_BYTES * 64 {
            self.flush_lines(false)?;
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[derive(PartialEq, Eq)]
enum ArmorState {
    Begin,
    Body,
    /// A short or padded line was read: the END line must come next.
    Last,
    Done,
}

/// Decodes an armored envelope as it is read, line by line, in bounded memory.
pub struct ArmorReader<R: Read> {
    inner: BufReader<R>,
    state: ArmorState,
    line: Vec<u8>,
    decoded: Vec<u8>,
    pos: usize,
    any_data: bool,
}

fn malformed(what: &'static str) -> io::Error {
    OpenError::Malformed(what).into_io()
}

impl<R: Read> ArmorReader<R> {
    /// Dearmor `inner`.
    pub fn new(inner: R) -> Self {
        ArmorReader {
            inner: BufReader::new(inner),
            state: ArmorState::Begin,
            line: Vec::with_capacity(LINE_CHARS + 2),
            decoded: Vec::with_capacity(LINE_BYTES),
            pos: 0,
            any_data: false,
        }
    }

    /// Read one line without its LF or CRLF; `Ok(false)` at the end of input. Lines are bounded.
    fn next_line(&mut self) -> io::Result<bool> {
        self.line.clear();
        let n = (&mut self.inner).take(LINE_CHARS as u64 + 3).read_until(b'\n', &mut self.line)?;
        if n == 0 {
            return Ok(false);
        }
        if self.line.last() == Some(&b'\n') {
            self.line.pop();
            if self.line.last() == Some(&b'\r') {
                self.line.pop();
            }
        } else if n == LINE_CHARS + 3 {
            return Err(malformed("armor line too long"));
        }
        if self.line.contains(&b'\r') {
            return Err(malformed("stray carriage return in armor"));
        }
        Ok(true)
    }

    /// Decode the next base64 line into `decoded`, or handle the END line.
    fn advance(&mut self) -> io::Result<()> {
        if self.state == ArmorState::Begin {
            if !self.next_line()? || self.line != ARMOR_BEGIN.as_bytes() {
                return Err(malformed("armor does not start with the BEGIN line"));
            }
            self.state = ArmorState::Body;
        }
        let had_line = self.next_line()?;
        if !had_line {
            return Err(malformed("armor ends without the END line"));
        }
        if self.line == ARMOR_END.as_bytes() {
            if !self.any_data {
                return Err(malformed("empty armor"));
            }
            // Only one optional line ending may follow ARMOR_END, and it was consumed with the line.
            let mut rest = [0u8; 1];
            if self.inner.read(&mut rest)? != 0 {
                return Err(malformed("data after the END line"));
            }
            self.state = ArmorState::Done;
            return Ok(());
        }
        if self.state == ArmorState::Last {
            return Err(malformed("armor line after a short last line"));
        }
        if self.line.is_empty() || self.line.len() > LINE_CHARS {
            return Err(malformed("armor line of the wrong length"));
        }
        if self.line.len() < LINE_CHARS || self.line.contains(&b'=') {
            self.state = ArmorState::Last;
        }
        self.any_data = true;
        self.decoded.clear();
        STANDARD
            .decode_vec(&self.line, &mut self.decoded)
            .map_err(|_| malformed("invalid or non-canonical base64 in armor"))?;
        self.pos = 0;
        Ok(())
    }
}

impl<R: Read> Read for ArmorReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.pos == self.decoded.len() {
            if self.state == ArmorState::Done {
                return Ok(0);
            }
            self.advance()?;
        }
        let n = buf.len().min(self.decoded.len() - self.pos);
        buf[..n].copy_from_slice(&self.decoded[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_every_length_around_line_boundaries() {
        for len in [1usize, 2, 3, 47, 48, 49, 95, 96, 97, 3071, 3072, 3073, 10_000] {
            let data: Vec<u8> = (0..len).map(|i| (i * 7 + 3) as u8).collect();
            let text = armor(&data);
            assert!(text.lines().all(|l| l.len() <= 64 || l == ARMOR_BEGIN || l == ARMOR_END));
            assert_eq!(dearmor(text.as_bytes()).unwrap(), data, "len {len}");
            assert_eq!(dearmor(text.replace('\n', "\r\n").as_bytes()).unwrap(), data);
        }
    }

    #[test]
    fn strict_rejections() {
        let text = armor(&[0xAB; 100]);
        let bad = [
            format!(" {text}"),
            format!("{text}\n"),
            format!("{text}x"),
            text.replace(ARMOR_END, ""),
            text.replacen('\n', "\n\n", 2),
            text.replacen("q", "q ", 1),
            format!("{ARMOR_BEGIN}\n{ARMOR_END}\n"),
            text.replace("==\n", "\n"),
            text.replace("\n-----END", "\nQQ==\n-----END"),
            // 0xAB.. ends with "qw==": "qx==" has non-zero unused bits.
            text.replace("qw==", "qx=="),
        ];
        for b in bad {
            assert!(matches!(dearmor(b.as_bytes()), Err(OpenError::Malformed(_))), "{b:?}");
        }
    }
}
