//! Copies of one mail in a mailbox, told apart from distinct mails.
//!
//! Submission is "at least once" in one window: when the connection breaks after the whole
//! message was sent and before the server's reply ([`crate::Error::may_have_been_delivered`]),
//! the server may have queued the mail, and a sender that tries again delivers it twice. Both
//! copies have the same Message-ID and the same body, since a retry sends the same bytes
//! ([`crate::Retry`]); only the trace headers the servers prepend (`Received`, `Return-Path`,
//! `Delivered-To`) differ. So two messages are copies when their Message-IDs are equal *and* the
//! SHA-256 of everything after their header blocks is. The Message-ID alone would not do: anyone
//! can send a mail with the Message-ID of another, and a reader that dropped the second would
//! let a stranger hide a real mail behind a decoy sent first. With the body compared, the only
//! mail that can be hidden is an exact copy of one that is shown.

use std::collections::HashMap;

use esmtp_core::hash::{self, HashAlgorithm};

use crate::retrieve::{MessageRef, header_info};

/// A message left out of a fetch because it is a copy of another one (same Message-ID, same
/// body): the second delivery of a mail that was sent again after a broken connection. Copies
/// are not opened; the reports list them here instead of among their messages, so nothing is
/// shown twice and nothing is dropped unsaid.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Duplicate {
    /// Where the copy is on the server.
    pub location: MessageRef,
    /// Its size on the server, in bytes.
    pub size: u64,
    /// The Message-ID both copies carry, without angle brackets.
    pub message_id: String,
    /// The message it is a copy of: one of the same fetch, or (IMAP) one of the messages just
    /// before the sync state, read by an earlier fetch.
    pub copy_of: MessageRef,
}

/// What makes two messages copies of one mail.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct Fingerprint {
    message_id: String,
    body: Vec<u8>,
}

impl Fingerprint {
    /// The fingerprint of a whole message; `None` without a Message-ID (such messages are never
    /// taken for copies).
    pub(crate) fn of(raw: &[u8]) -> Option<Fingerprint> {
        Fingerprint::with_message_id(header_info(raw).outer.message_id.as_deref(), raw)
    }

    /// The fingerprint of a whole message whose headers were already read: `message_id` is its
    /// Message-ID, if it has one.
    pub(crate) fn with_message_id(message_id: Option<&str>, raw: &[u8]) -> Option<Fingerprint> {
        let message_id = message_id.filter(|id| !id.is_empty())?.to_string();
        Some(Fingerprint { message_id, body: hash::digest(HashAlgorithm::Sha256, body(raw)) })
    }
}

/// Everything after the header block: after the first `CRLF CRLF` or `LF LF`, whichever ends
/// first (the whole message when it has neither). One pass, stopping at the header block's end.
fn body(raw: &[u8]) -> &[u8] {
    let mut from = 0;
    while let Some(at) = raw[from..].iter().position(|&b| b == b'\n').map(|p| from + p) {
        let next = &raw[at + 1..];
        if at > 0 && raw[at - 1] == b'\r' && next.starts_with(b"\r\n") {
            return &raw[at + 3..];
        }
        if next.starts_with(b"\n") {
            return &raw[at + 2..];
        }
        from = at + 1;
    }
    raw
}

/// The messages seen so far in one fetch, by fingerprint: the first of each is the original.
#[derive(Debug)]
pub(crate) struct Copies {
    first: HashMap<Fingerprint, MessageRef>,
    enabled: bool,
}

impl Default for Copies {
    fn default() -> Self {
        Copies { first: HashMap::new(), enabled: true }
    }
}

impl Copies {
    /// Copies that find no copy: every message is its own.
    pub(crate) fn off() -> Self {
        Copies { first: HashMap::new(), enabled: false }
    }

    /// Whether copies are looked for at all (a message's fingerprint is needed only then).
    pub(crate) fn enabled(&self) -> bool {
        self.enabled
    }

    /// Remember `raw` at `location` as an original, unless an earlier one has its fingerprint.
    pub(crate) fn remember(&mut self, raw: &[u8], location: &MessageRef) {
        if let Some(fp) = Fingerprint::of(raw) {
            self.first.entry(fp).or_insert_with(|| location.clone());
        }
    }

    /// The original `raw` (at `location`) is a copy of, with the shared Message-ID; `None` when
    /// it is the first of its kind (it is then remembered) or the same message read again.
    #[cfg(test)]
    pub(crate) fn original_of(&mut self, raw: &[u8], location: &MessageRef) -> Option<(MessageRef, String)> {
        self.original_by(Fingerprint::of(raw), location)
    }

    /// [`Copies::original_of`] for a message whose fingerprint `fingerprint` is known.
    pub(crate) fn original_by(
        &mut self,
        fingerprint: Option<Fingerprint>,
        location: &MessageRef,
    ) -> Option<(MessageRef, String)> {
        if !self.enabled {
            return None;
        }
        let fp = fingerprint?;
        match self.first.get(&fp) {
            Some(first) if first != location => Some((first.clone(), fp.message_id)),
            Some(_) => None,
            None => {
                self.first.insert(fp, location.clone());
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(uid: u32) -> MessageRef {
        MessageRef::Imap { uid }
    }

    #[test]
    fn copies_share_message_id_and_body_whatever_the_trace_headers() {
        let first = b"Received: from a\r\nMessage-ID: <m1@example.test>\r\n\r\nbody\r\n";
        let second =
            b"Return-Path: <x@y>\r\nReceived: from b\r\nMessage-ID: <m1@example.test>\r\n\r\nbody\r\n";
        let mut copies = Copies::default();
        assert_eq!(copies.original_of(first, &at(1)), None);
        assert_eq!(copies.original_of(second, &at(2)), Some((at(1), "m1@example.test".to_string())));
        // The original read again (a second chance in pairing) is not its own copy.
        assert_eq!(copies.original_of(first, &at(1)), None);
    }

    #[test]
    fn the_message_id_alone_makes_no_copy() {
        let real = b"Message-ID: <m1@example.test>\r\n\r\nthe real mail\r\n";
        let decoy = b"Message-ID: <m1@example.test>\r\n\r\na decoy sent first\r\n";
        let mut copies = Copies::default();
        assert_eq!(copies.original_of(decoy, &at(1)), None);
        assert_eq!(copies.original_of(real, &at(2)), None, "a stranger cannot hide a mail");
        // Without a Message-ID nothing is ever a copy.
        let bare = b"Subject: x\r\n\r\nsame\r\n";
        assert_eq!(copies.original_of(bare, &at(3)), None);
        assert_eq!(copies.original_of(bare, &at(4)), None);
    }

    #[test]
    fn remembered_originals_come_from_earlier_fetches() {
        let mail = b"Message-ID: <m2@example.test>\nSubject: lf only\n\nbody\n";
        let mut copies = Copies::default();
        copies.remember(mail, &at(7));
        copies.remember(mail, &at(8));
        assert_eq!(copies.original_of(mail, &at(9)).map(|(r, _)| r), Some(at(7)));
    }

    #[test]
    fn body_starts_after_the_first_empty_line() {
        assert_eq!(body(b"A: 1\r\n\r\nx\r\n\r\ny"), b"x\r\n\r\ny");
        assert_eq!(body(b"A: 1\n\nx"), b"x");
        assert_eq!(body(b"no header end"), b"no header end");
        assert_eq!(body(b"\r\n\r\nx"), b"x");
        assert_eq!(body(b"A: 1\r\nB: 2\n\r\ny\n\nz"), b"z");
        assert_eq!(body(b"A: 1\r\n\n\r\n\r\ny"), b"\r\n\r\ny");
        assert_eq!(body(b"A: 1\r\n"), b"A: 1\r\n");
    }
}
