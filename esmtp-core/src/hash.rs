//! The hash tool (the paper's section 4.4): MD5 and SHA-256 of a message or stream, and the
//! `md5sum` / `sha256sum` line format for printing and checking.

use std::fmt;
use std::io::{self, Read};
use std::str::FromStr;

use md5::{Digest, Md5};
use sha2::Sha256;

/// A hash algorithm of the hash tool.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum HashAlgorithm {
    /// MD5 (RFC 1321): the paper's integrity hash. Collisions are practical: it detects accidents,
    /// not a forger, which is why envelopes also carry MACs.
    #[default]
    Md5,
    /// SHA-256 (FIPS 180-4).
    Sha256,
}

impl HashAlgorithm {
    /// Digest length in bytes.
    pub fn digest_len(self) -> usize {
        match self {
            HashAlgorithm::Md5 => 16,
            HashAlgorithm::Sha256 => 32,
        }
    }

    /// Name as in `md5sum` / `sha256sum`: `md5` or `sha256`.
    pub fn name(self) -> &'static str {
        match self {
            HashAlgorithm::Md5 => "md5",
            HashAlgorithm::Sha256 => "sha256",
        }
    }

    /// The algorithm whose hex digests have `hex_len` characters.
    pub fn from_hex_len(hex_len: usize) -> Option<Self> {
        match hex_len {
            32 => Some(HashAlgorithm::Md5),
            64 => Some(HashAlgorithm::Sha256),
            _ => None,
        }
    }
}

impl fmt::Display for HashAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for HashAlgorithm {
    type Err = &'static str;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "md5" => Ok(HashAlgorithm::Md5),
            "sha256" | "sha-256" => Ok(HashAlgorithm::Sha256),
            _ => Err("unknown hash algorithm (expected md5 or sha256)"),
        }
    }
}

/// An incremental hasher; also an `io::Write` sink, to hash while copying.
#[derive(Clone)]
pub struct Hasher(Inner);

#[derive(Clone)]
enum Inner {
    Md5(Md5),
    Sha256(Sha256),
}

impl Hasher {
    /// A new hasher.
    pub fn new(algorithm: HashAlgorithm) -> Self {
        Hasher(match algorithm {
            HashAlgorithm::Md5 => Inner::Md5(Md5::new()),
            HashAlgorithm::Sha256 => Inner::Sha256(Sha256::new()),
        })
    }

    /// Add data.
    pub fn update(&mut self, data: &[u8]) {
        match &mut self.0 {
            Inner::Md5(h) => h.update(data),
            Inner::Sha256(h) => h.update(data),
        }
    }

    /// The digest.
    pub fn finish(self) -> Vec<u8> {
        match self.0 {
            Inner::Md5(h) => h.finalize().to_vec(),
            Inner::Sha256(h) => h.finalize().to_vec(),
        }
    }
}

impl io::Write for Hasher {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.update(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The digest of `data`.
pub fn digest(algorithm: HashAlgorithm, data: &[u8]) -> Vec<u8> {
    let mut h = Hasher::new(algorithm);
    h.update(data);
    h.finish()
}

/// The digest of everything `reader` yields, in bounded memory.
///
/// # Errors
/// When reading fails.
pub fn digest_reader(algorithm: HashAlgorithm, mut reader: impl Read) -> io::Result<Vec<u8>> {
    let mut h = Hasher::new(algorithm);
    io::copy(&mut reader, &mut h)?;
    Ok(h.finish())
}

/// Lower-case hex.
pub fn to_hex(bytes: &[u8]) -> String {
    hex::encode(bytes)
}

/// One line of `md5sum` output: `<hex>  <name>`. Names with a newline or backslash are escaped
/// the way GNU coreutils does (a leading `\` on the line, `\n` and `\\` in the name).
pub fn sum_line(digest: &[u8], name: &str) -> String {
    if name.contains(['\n', '\\', '\r']) {
        let escaped = name.replace('\\', "\\\\").replace('\n', "\\n").replace('\r', "\\r");
        format!("\\{}  {escaped}", to_hex(digest))
    } else {
        format!("{}  {name}", to_hex(digest))
    }
}

/// One parsed line of a sums file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SumLine {
    /// The algorithm implied by the digest length.
    pub algorithm: HashAlgorithm,
    /// The expected digest.
    pub digest: Vec<u8>,
    /// The file name (`-` is standard input).
    pub name: String,
}

/// Parse one line of `md5sum`/`sha256sum` output (text ` ` or binary `*` mode). `None` when the
/// line is not in that format.
pub fn parse_sum_line(line: &str) -> Option<SumLine> {
    let line = line.strip_suffix('\n').unwrap_or(line);
    let line = line.strip_suffix('\r').unwrap_or(line);
    let (escaped, line) = match line.strip_prefix('\\') {
        Some(rest) => (true, rest),
        None => (false, line),
    };
    let (hex, rest) = line.split_once(' ')?;
    let name = rest.strip_prefix(' ').or_else(|| rest.strip_prefix('*'))?;
    let algorithm = HashAlgorithm::from_hex_len(hex.len())?;
    let digest = from_hex(hex)?;
    let name = if escaped { unescape(name)? } else { name.to_string() };
    (!name.is_empty()).then_some(SumLine { algorithm, digest, name })
}

fn unescape(name: &str) -> Option<String> {
    let mut out = String::with_capacity(name.len());
    let mut chars = name.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next()? {
                'n' => out.push('\n'),
                'r' => out.push('\r'),
                '\\' => out.push('\\'),
                _ => return None,
            }
        } else {
            out.push(c);
        }
    }
    Some(out)
}

fn from_hex(text: &str) -> Option<Vec<u8>> {
    hex::decode(text).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc1321_abc_and_sum_lines() {
        assert_eq!(to_hex(&digest(HashAlgorithm::Md5, b"abc")), "900150983cd24fb0d6963f7d28e17f72");
        assert_eq!(
            to_hex(&digest(HashAlgorithm::Sha256, b"abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        let d = digest(HashAlgorithm::Md5, b"");
        let line = sum_line(&d, "a b.txt");
        assert_eq!(line, "d41d8cd98f00b204e9800998ecf8427e  a b.txt");
        assert_eq!(parse_sum_line(&line).unwrap().name, "a b.txt");
        let odd = sum_line(&d, "x\ny\\z");
        assert_eq!(parse_sum_line(&odd).unwrap().name, "x\ny\\z");
        assert_eq!(parse_sum_line("d41d8cd98f00b204e9800998ecf8427e *bin").unwrap().name, "bin");
        assert!(parse_sum_line("d41d8cd98f00b204e9800998ecf8427e bad").is_none());
        assert!(parse_sum_line("zz  x").is_none());
    }
}
