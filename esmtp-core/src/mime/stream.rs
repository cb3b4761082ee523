//! Streaming packaging: the same mail as [`super::package`], byte for byte, written to any
//! `Write` while the attachments are read, so memory stays at a few chunks whatever their size.
//!
//! The layout comes from the in-memory packager itself, not from a second copy of it: the inner
//! entity and the outer message are built by the same functions, with a placeholder where each
//! streamed attachment (and the armored envelope) goes, and then written in pieces around the
//! placeholders. The data flows attachment reader → [`crate::SealWriter`] (64 KiB chunks) →
//! [`crate::ArmorWriter`] → CRLF line endings → the caller's writer.

use std::fmt;
use std::io::{self, Read, Write};

use zeroize::Zeroizing;

use super::build::{AttachmentView, check_wire, inner_entity, outer_message, start};
use super::{MailDraft, MimeError, PackageOptions};
use crate::random::{OsRandom, RandomSource};
use crate::{ArmorWriter, EnvelopeId, KeySlip, SealError, Sealer};

/// An attachment whose bytes are read while the mail is written ([`package_to`]), e.g. a file
/// too large to hold in memory. The reader must yield exactly `len` bytes: fewer or more fails
/// the packaging with [`MimeError::Io`] (a file that changed while it was read), never a mail
/// with other bytes than announced.
pub struct AttachmentSource<'a> {
    /// The file name (UTF-8; empty when there is none), as [`super::Attachment::filename`].
    pub filename: String,
    /// The MIME type, as [`super::Attachment::content_type`].
    pub content_type: String,
    /// How many bytes `reader` yields.
    pub len: u64,
    /// The bytes.
    pub reader: Box<dyn Read + 'a>,
}

impl<'a> AttachmentSource<'a> {
    /// An attachment of `len` bytes read from `reader`.
    pub fn new(
        filename: impl Into<String>,
        content_type: impl Into<String>,
        len: u64,
        reader: impl Read + 'a,
    ) -> Self {
        AttachmentSource {
            filename: filename.into(),
            content_type: content_type.into(),
            len,
            reader: Box::new(reader),
        }
    }
}

impl fmt::Debug for AttachmentSource<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AttachmentSource")
            .field("filename", &self.filename)
            .field("content_type", &self.content_type)
            .field("len", &self.len)
            .finish_non_exhaustive()
    }
}

/// What [`package_to`] wrote: [`super::EncryptedMail`] without the bytes.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct StreamedMail {
    /// Its `Message-ID`, without angle brackets.
    pub message_id: String,
    /// The id of the envelope inside.
    pub envelope_id: EnvelopeId,
    /// The key slip to deliver separately, when the sealer was asked for one.
    pub key_slip: Option<KeySlip>,
    /// How many bytes were written: what the transport compares with the server's `SIZE`.
    pub size: u64,
    /// As [`super::EncryptedMail::smtputf8`].
    pub smtputf8: bool,
}

/// Package `draft` as [`super::package`] does, with `attachments` after the draft's own, and
/// write the mail into `out` as it is made. Memory stays bounded (about three 64 KiB chunks and
/// the mail's headers and text) whatever the attachments' sizes; the output is byte for byte the
/// mail [`super::package`] makes of the same draft holding the same attachments, given the same
/// random numbers.
///
/// ```
/// use esmtp_core::mime::{self, AttachmentSource, Limits, MailDraft, Mailbox, PackageOptions, ReadMail};
/// use esmtp_core::{Opener, Sealer, X25519Identity};
///
/// let bob = X25519Identity::generate()?;
/// let draft = MailDraft::new(Mailbox::new("alice@example.com")).to(Mailbox::new("bob@example.org"));
/// let data = vec![7u8; 200_000];
/// let attachment = AttachmentSource::new("big.bin", "application/octet-stream", 200_000, &data[..]);
/// let mut out = Vec::new();
/// let sealer = Sealer::new().recipient(bob.to_public());
/// let mail = mime::package_to(&draft, vec![attachment], &sealer, &PackageOptions::new(1_700_000_000), &mut out)?;
/// assert_eq!(mail.size, out.len() as u64);
///
/// let ReadMail::Encrypted(opened) = mime::read_mail(&out, &Opener::new().identity(bob), &Limits::default())? else {
///     panic!("not recognised")
/// };
/// assert_eq!(opened.attachments[0].data, data);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
/// As [`super::package`], and [`MimeError::Io`] when an attachment cannot be read or has another
/// length than declared, or `out` fails. After an error, what was written to `out` is not a
/// mail: discard it.
pub fn package_to<W: Write>(
    draft: &MailDraft,
    attachments: Vec<AttachmentSource<'_>>,
    sealer: &Sealer,
    options: &PackageOptions,
    out: W,
) -> Result<StreamedMail, MimeError> {
    package_to_with(draft, attachments, sealer, options, out, &mut OsRandom)
}

/// [`package_to`] with a given generator (reproducible test vectors only).
#[doc(hidden)]
pub fn package_to_with<W: Write>(
    draft: &MailDraft,
    mut attachments: Vec<AttachmentSource<'_>>,
    sealer: &Sealer,
    options: &PackageOptions,
    out: W,
    rng: &mut dyn RandomSource,
) -> Result<StreamedMail, MimeError> {
    let markers = markers(draft, attachments.len())?;
    let views: Vec<AttachmentView<'_>> = attachments
        .iter()
        .zip(&markers)
        .map(|(a, marker)| AttachmentView {
            filename: &a.filename,
            content_type: &a.content_type,
            body: marker.as_bytes(),
        })
        .collect();
    let start = start(draft, &views, options, rng)?;
    let skeleton = inner_entity(draft, &views, start.date, &start.message_id, rng)?;
    drop(views);
    let segments = split(&skeleton, markers.iter().map(String::as_bytes))?;
    let mut inner_len = (skeleton.len() - markers.iter().map(String::len).sum::<usize>()) as u64;
    for a in &attachments {
        inner_len = inner_len.checked_add(a.len).ok_or(MimeError::InvalidDraft("attachments too large"))?;
    }
    if let Some(limit) = sealer.max_message_len()
        && inner_len > limit
    {
        return Err(SealError::MessageTooLarge { suite: sealer.chosen_suite().name(), limit }.into());
    }

    let mut seal = sealer
        .seal_writer_with(ArmorWriter::new(Crlf { inner: Held::new(out), scratch: Vec::new() }), rng)?;
    let envelope_id = seal.envelope_id();
    let key_slip = seal.take_key_slip();
    let outer = outer_message(draft, options, &start, &envelope_id, ARMOR_MARKER.as_bytes(), rng)?;
    let [head, tail] = split(&outer, [ARMOR_MARKER.as_bytes()])?[..] else {
        return Err(MimeError::InvalidDraft("the mail layout has no place for the envelope"));
    };
    check_wire(&[head, tail].concat(), start.smtputf8)?;
    seal.get_mut().get_mut().inner.release(head).map_err(MimeError::Io)?;

    let mut buffer = Zeroizing::new(vec![0u8; crate::CHUNK_SIZE]);
    let mut segments = segments.iter();
    for attachment in &mut attachments {
        let segment = segments.next().copied().unwrap_or_default();
        seal.write_all(segment).map_err(from_write)?;
        copy_exact(attachment, &mut buffer, &mut seal)?;
    }
    for segment in segments {
        seal.write_all(segment).map_err(from_write)?;
    }
    drop(skeleton);
    let armor = seal.finish().map_err(from_write)?;
    let mut held = armor.finish().map_err(MimeError::Io)?.inner;
    held.write_all(tail).and_then(|()| held.flush()).map_err(MimeError::Io)?;
    Ok(StreamedMail {
        message_id: start.message_id,
        envelope_id,
        key_slip,
        size: held.written,
        smtputf8: start.smtputf8,
    })
}

/// Stands in for the armored envelope in the outer message; a NUL never occurs in its headers.
const ARMOR_MARKER: &str = "\0esmtp-envelope\0";

/// One placeholder per streamed attachment, found nowhere in the draft's own text and
/// attachments (the only places a NUL can occur), so each occurs once in the inner entity.
fn markers(draft: &MailDraft, count: usize) -> Result<Vec<String>, MimeError> {
    let bodies: Vec<&[u8]> = [draft.text.as_deref(), draft.html.as_deref()]
        .into_iter()
        .flatten()
        .map(str::as_bytes)
        .chain(draft.attachments.iter().map(|a| &a.data[..]))
        .collect();
    for salt in 0..64u32 {
        let prefix = format!("\0esmtp-attachment-{salt}-");
        if !bodies.iter().any(|b| find(b, prefix.as_bytes()).is_some()) {
            return Ok((0..count).map(|i| format!("{prefix}{i}\0")).collect());
        }
    }
    Err(MimeError::InvalidDraft("the text holds the streaming placeholders"))
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// `bytes` cut at each marker, in order: one more piece than markers.
fn split<'b, 'm>(
    bytes: &'b [u8],
    markers: impl IntoIterator<Item = &'m [u8]>,
) -> Result<Vec<&'b [u8]>, MimeError> {
    let mut pieces = Vec::new();
    let mut rest = bytes;
    for marker in markers {
        let at = find(rest, marker).ok_or(MimeError::InvalidDraft("a streaming placeholder went missing"))?;
        pieces.push(&rest[..at]);
        rest = &rest[at + marker.len()..];
    }
    pieces.push(rest);
    Ok(pieces)
}

/// Copy exactly `source.len` bytes of the attachment into the seal, then make sure nothing
/// follows: a file that grew or shrank while it was read fails rather than change the mail.
fn copy_exact(
    source: &mut AttachmentSource<'_>,
    buffer: &mut [u8],
    out: &mut impl Write,
) -> Result<(), MimeError> {
    let mut left = source.len;
    while left > 0 {
        let want = buffer.len().min(usize::try_from(left).unwrap_or(usize::MAX));
        let n = match source.reader.read(&mut buffer[..want]) {
            Ok(0) => return Err(length_mismatch("an attachment is shorter than its declared length")),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(MimeError::Io(e)),
        };
        out.write_all(&buffer[..n]).map_err(from_write)?;
        left -= n as u64;
    }
    let mut probe = [0u8; 1];
    loop {
        match source.reader.read(&mut probe) {
            Ok(0) => return Ok(()),
            Ok(_) => return Err(length_mismatch("an attachment is longer than its declared length")),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(MimeError::Io(e)),
        }
    }
}

fn length_mismatch(what: &'static str) -> MimeError {
    MimeError::Io(io::Error::new(io::ErrorKind::InvalidData, what))
}

/// A write error from the seal: its own (the suite's length limit) or the output's.
fn from_write(e: io::Error) -> MimeError {
    match e.get_ref().is_some_and(|inner| inner.is::<SealError>()) {
        true => MimeError::Seal(SealError::from(e)),
        false => MimeError::Io(e),
    }
}

/// LF to CRLF: the armor writes LF line endings, a mail has CRLF. Each write goes on in one
/// piece (the armor writes many lines at once), so an unbuffered output is not called per line.
struct Crlf<W: Write> {
    inner: W,
    scratch: Vec<u8>,
}

impl<W: Write> Write for Crlf<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.scratch.clear();
        for line in buf.split_inclusive(|&b| b == b'\n') {
            match line.strip_suffix(b"\n") {
                Some(text) => {
                    self.scratch.extend_from_slice(text);
                    self.scratch.extend_from_slice(b"\r\n");
                }
                None => self.scratch.extend_from_slice(line),
            }
        }
        self.inner.write_all(&self.scratch)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Holds what the seal writes first (the envelope's header, at most a few KiB) until the outer
/// headers, which name the envelope id, are written before it; counts what reaches `out`.
struct Held<W: Write> {
    out: W,
    held: Option<Vec<u8>>,
    written: u64,
}

impl<W: Write> Held<W> {
    fn new(out: W) -> Self {
        Held { out, held: Some(Vec::new()), written: 0 }
    }

    /// Write `head`, then what was held; from now on everything passes straight through.
    fn release(&mut self, head: &[u8]) -> io::Result<()> {
        let held = self.held.take().unwrap_or_default();
        self.out.write_all(head)?;
        self.out.write_all(&held)?;
        self.written += (head.len() + held.len()) as u64;
        Ok(())
    }
}

impl<W: Write> Write for Held<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match &mut self.held {
            Some(held) => held.extend_from_slice(buf),
            None => {
                self.out.write_all(buf)?;
                self.written += buf.len() as u64;
            }
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}
