//! Key-slip pairing, the one driver behind IMAP, POP3 and Maildir: download the candidate
//! messages in bounded batches, key-slip mails first so that the envelopes after them can use
//! them, open each message on its own, and give a second chance to envelopes whose slip only
//! turned up later in the same pass. Each store says how it downloads ([`Source`]); which
//! messages are candidates is the store's business. While one batch downloads, the one before
//! it is opened on other threads ([`ahead`]); what depends on message order (copies, key slips)
//! is settled here, in order, so the results are those of reading one message after another.

mod ahead;

use std::collections::BTreeSet;

use esmtp_core::{EnvelopeId, KeySlip, Opener};

use crate::contacts::Contacts;
use crate::copies::{Copies, Duplicate, Fingerprint};
use crate::error::Result;
use crate::retrieve::{
    Fetched, HeaderInfo, MessageError, MessageRef, ReadOutcome, Reader, Retrieved, header_info,
};

/// A message to read.
#[derive(Debug, Clone)]
pub(crate) struct Candidate {
    pub(crate) location: MessageRef,
    /// Its size as the store announces it.
    pub(crate) size: u64,
    /// Its headers, when the store read them before any download.
    pub(crate) info: Option<HeaderInfo>,
}

/// Takes one downloaded message (by candidate index), or that message's own failure.
pub(crate) type Take<'a> = dyn FnMut(usize, std::result::Result<&[u8], MessageError>) + 'a;

/// How a store downloads messages.
pub(crate) trait Source {
    /// At most this many messages, and about this many bytes, per [`Source::download`].
    fn batch_limits(&self) -> (usize, u64) {
        (1, 0)
    }

    /// Download the candidates at `batch` (indexes into `candidates`) and hand each to `take`,
    /// in any order. A message the store cannot give is handed over as its own error; one never
    /// handed over is reported as gone from the store. An `Err` ends the whole fetch (the
    /// session broke).
    fn download(&mut self, candidates: &[Candidate], batch: &[usize], take: &mut Take<'_>) -> Result<()>;
}

/// What every read shares: the caller's keys, and the contacts each opened mail's sender is
/// checked against.
pub(crate) struct Keys<'a> {
    pub(crate) opener: &'a Opener,
    pub(crate) contacts: &'a Contacts,
}

/// What one pass of the driver gives.
#[derive(Debug, Default)]
pub(crate) struct Pass {
    /// One result per candidate that is not a copy of another, in candidate order.
    pub(crate) messages: Vec<Fetched>,
    /// The candidates that are copies of a message read before them (see [`crate::copies`]).
    pub(crate) duplicates: Vec<Duplicate>,
}

/// The driver's state across downloads.
struct State<'a, 'o> {
    candidates: &'a [Candidate],
    reader: Reader<'o>,
    results: Vec<Option<Fetched>>,
    /// The envelope each unopened message names, to retry it when its slip turns up.
    envelope_ids: Vec<Option<EnvelopeId>>,
    copies: &'a mut Copies,
    /// For each candidate that is a copy: its original and their Message-ID.
    copy_of: Vec<Option<(MessageRef, String)>>,
}

/// Read every candidate with the opener, the `known_slips` and the key slips among the
/// candidates, each opened mail's sender checked. Candidates above `max_size` are reported as
/// too large, not downloaded. A candidate that `copies` knows by its Message-ID and body is
/// reported as a duplicate and not opened.
pub(crate) fn read_all(
    source: &mut dyn Source,
    keys: &Keys<'_>,
    known_slips: &[KeySlip],
    candidates: &[Candidate],
    max_size: u64,
    copies: &mut Copies,
) -> Result<Pass> {
    let mut pass = read_candidates(source, keys.opener, known_slips, candidates, max_size, copies)?;
    for f in &mut pass.messages {
        f.sender = f.opened().map(|mail| keys.contacts.check(mail));
        f.envelope_id = match &f.result {
            Ok(Retrieved::Opened { mail, .. }) => Some(mail.envelope_id),
            Ok(Retrieved::KeySlip(slip)) => Some(slip.envelope_id),
            Ok(Retrieved::Plain(_)) => None,
            Err(_) => f.envelope_id,
        };
    }
    Ok(pass)
}

fn read_candidates(
    source: &mut dyn Source,
    opener: &Opener,
    known_slips: &[KeySlip],
    candidates: &[Candidate],
    max_size: u64,
    copies: &mut Copies,
) -> Result<Pass> {
    let mut reader = Reader::new(opener);
    for slip in known_slips {
        reader.add_slip(slip.clone());
    }
    let mut state = State {
        candidates,
        reader,
        results: candidates.iter().map(|_| None).collect(),
        envelope_ids: candidates.iter().map(|c| c.info.as_ref().and_then(|i| i.envelope_id)).collect(),
        copies,
        copy_of: candidates.iter().map(|_| None).collect(),
    };

    let (slips, rest): (Vec<usize>, Vec<usize>) =
        (0..candidates.len()).partition(|&i| candidates[i].info.as_ref().is_some_and(|info| info.key_slip));
    for group in [slips, rest] {
        let mut sized = Vec::new();
        for i in group {
            let size = candidates[i].size;
            if size > max_size {
                let why = format!("{size} bytes, the limit is {max_size}");
                state.results[i] = Some(fetched(&candidates[i], Err(MessageError::TooLarge(why))));
            } else {
                sized.push((i, size));
            }
        }
        let (count, bytes) = source.batch_limits();
        // Each group is settled before the next starts: every slip among the candidates read
        // first is known to the workers that open the rest.
        ahead::read_batches(source, &batches(&sized, count, bytes), &mut state)?;
    }

    // Envelopes that came before their slip (a store without headers up front): once more.
    let retry: Vec<usize> = (0..candidates.len())
        .filter(|&i| {
            matches!(
                state.results[i].as_ref().map(|f| &f.result),
                Some(Err(MessageError::NoMatchingRecipient))
            ) && state.envelope_ids[i].is_some_and(|id| state.reader.has_slip(&id))
        })
        .collect();
    for i in retry {
        state.results[i] = None;
        download(source, &[i], &mut state)?;
    }
    let mut pass = Pass::default();
    for ((result, c), copy_of) in state.results.into_iter().zip(candidates).zip(state.copy_of) {
        match copy_of {
            Some((original, message_id)) => pass.duplicates.push(Duplicate {
                location: c.location.clone(),
                size: c.size,
                message_id,
                copy_of: original,
            }),
            None => pass.messages.push(result.unwrap_or_else(|| fetched(c, Err(gone())))),
        }
    }
    Ok(pass)
}

/// Download `earlier` messages (within `max_size`) only to remember them in `copies` as
/// originals: messages an earlier fetch read, whose copies may be among the new ones.
pub(crate) fn remember(
    source: &mut dyn Source,
    earlier: &[Candidate],
    max_size: u64,
    copies: &mut Copies,
) -> Result<()> {
    let sized: Vec<(usize, u64)> =
        earlier.iter().enumerate().filter(|(_, c)| c.size <= max_size).map(|(i, c)| (i, c.size)).collect();
    let (count, bytes) = source.batch_limits();
    for batch in batches(&sized, count, bytes) {
        source.download(earlier, &batch, &mut |i, raw| {
            if let (Ok(raw), Some(c)) = (raw, earlier.get(i)) {
                copies.remember(raw, &c.location);
            }
        })?;
    }
    Ok(())
}

fn gone() -> MessageError {
    MessageError::Gone
}

/// Download `batch` and read it here, one message after another.
fn download(source: &mut dyn Source, batch: &[usize], state: &mut State<'_, '_>) -> Result<()> {
    source.download(state.candidates, batch, &mut |i, raw| settle(state, i, raw, None))?;
    settle_missing(state, batch);
    Ok(())
}

/// The candidates of a downloaded `batch` that the store never handed over: gone.
fn settle_missing(state: &mut State<'_, '_>, batch: &[usize]) {
    for &i in batch {
        if state.results[i].is_none() && state.copy_of[i].is_none() {
            state.results[i] = Some(fetched(&state.candidates[i], Err(gone())));
        }
    }
}

/// What reading one downloaded message gives before the rules that depend on the messages
/// before it: its headers, its fingerprint and (when read ahead) the read itself.
pub(crate) struct Prepared {
    /// The headers read on their own; `None` when the read had them.
    info: Option<HeaderInfo>,
    fingerprint: Option<Fingerprint>,
    /// The read with the key slips known when it was made; `None`: not read yet.
    read: Option<ReadOutcome>,
}

impl Prepared {
    /// Headers of `raw`, and its fingerprint when copies are looked for (`fingerprint`: it
    /// hashes the whole message); with `reader`, its read too. The headers are parsed once: a
    /// read that gives the outer headers gives the Message-ID too.
    pub(crate) fn new(raw: &[u8], reader: Option<&Reader<'_>>, fingerprint: bool) -> Self {
        let read = reader.map(|r| r.read(raw));
        let info = match read.as_ref().and_then(|r| r.outer.as_ref()) {
            Some(_) => None,
            None => Some(header_info(raw)),
        };
        let message_id = match (&info, read.as_ref().and_then(|r| r.outer.as_ref())) {
            (Some(info), _) => info.outer.message_id.as_deref(),
            (None, Some(outer)) => outer.message_id.as_deref(),
            (None, None) => None,
        };
        let fingerprint = if fingerprint { Fingerprint::with_message_id(message_id, raw) } else { None };
        Prepared { info, fingerprint, read }
    }
}

/// Settle candidate `i` in message order: a copy of a message before it is a duplicate and
/// not opened; otherwise its read (made ahead, or now) with every key slip read before it,
/// and a key slip it carries is known from here on.
fn settle(
    state: &mut State<'_, '_>,
    i: usize,
    raw: std::result::Result<&[u8], MessageError>,
    prepared: Option<Prepared>,
) {
    let candidates = state.candidates;
    let Some(candidate) = candidates.get(i) else { return };
    if state.results[i].is_some() || state.copy_of[i].is_some() {
        return;
    }
    let raw = match raw {
        Ok(raw) => raw,
        Err(e) => {
            state.results[i] = Some(fetched(candidate, Err(e)));
            return;
        }
    };
    let Prepared { info, fingerprint, read } =
        prepared.unwrap_or_else(|| Prepared::new(raw, None, state.copies.enabled()));
    if let Some(original) = state.copies.original_by(fingerprint, &candidate.location) {
        state.copy_of[i] = Some(original);
        return;
    }
    // A read made ahead missed the key slips settled since: read again if one of them is for
    // this envelope (only such a read can differ: slips are tried after the identities fail).
    let read = match read {
        Some(read)
            if !matches!(read.result, Err(MessageError::NoMatchingRecipient))
                || !read.envelope_id.is_some_and(|id| state.reader.has_slip(&id)) =>
        {
            read
        }
        _ => state.reader.read(raw),
    };
    if let Ok(Retrieved::KeySlip(slip)) = &read.result {
        state.reader.add_slip(slip.key_slip.clone());
    }
    // The headers on their own, when the read did not give them (a message that did not open).
    let info = match (info, &read.outer) {
        (None, None) => Some(header_info(raw)),
        (info, _) => info,
    };
    if matches!(read.result, Err(MessageError::NoMatchingRecipient)) && state.envelope_ids[i].is_none() {
        state.envelope_ids[i] = info.as_ref().and_then(|info| info.envelope_id);
    }
    let outer = read
        .outer
        .or_else(|| candidate.info.as_ref().map(|info| info.outer.clone()))
        .or_else(|| info.map(|info| info.outer))
        .unwrap_or_default();
    state.results[i] = Some(Fetched {
        location: candidate.location.clone(),
        size: candidate.size,
        outer,
        result: read.result,
        // The envelope's own id when it could be read, else what the header says.
        envelope_id: read.envelope_id.or(state.envelope_ids[i]),
        sender: None,
    });
}

fn fetched(c: &Candidate, result: std::result::Result<Retrieved, MessageError>) -> Fetched {
    let outer = c.info.as_ref().map(|info| info.outer.clone()).unwrap_or_default();
    let envelope_id = c.info.as_ref().and_then(|info| info.envelope_id);
    Fetched { location: c.location.clone(), size: c.size, outer, result, envelope_id, sender: None }
}

/// Split `(index, size)` items, in order, into batches of at most `count` items and about
/// `bytes` bytes; an item above `bytes` goes alone.
pub(crate) fn batches(items: &[(usize, u64)], count: usize, bytes: u64) -> Vec<Vec<usize>> {
    let mut out = Vec::new();
    let mut current: Vec<usize> = Vec::new();
    let mut current_bytes = 0u64;
    for &(item, size) in items {
        if !current.is_empty()
            && (current.len() >= count.max(1) || current_bytes.saturating_add(size) > bytes)
        {
            out.push(std::mem::take(&mut current));
            current_bytes = 0;
        }
        current.push(item);
        current_bytes = current_bytes.saturating_add(size);
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

/// The key slips read among `messages`, with where each was found.
pub(crate) fn slips_read(messages: &[Fetched]) -> Vec<(&MessageRef, &KeySlip)> {
    messages
        .iter()
        .filter_map(|m| match &m.result {
            Ok(Retrieved::KeySlip(slip)) => Some((&m.location, &slip.key_slip)),
            _ => None,
        })
        .collect()
}

/// The envelopes of `messages` that a key-slip mail opened: their slips are done with too.
pub(crate) fn used_slips(messages: &[Fetched]) -> BTreeSet<EnvelopeId> {
    messages
        .iter()
        .filter(|m| matches!(m.result, Ok(Retrieved::Opened { with_key_slip: true, .. })))
        .filter_map(|m| m.opened().map(|o| o.envelope_id))
        .collect()
}

/// What a fetch that marks, moves or deletes acts on: the messages that opened, and the
/// key-slip mails among `messages` whose envelope opened with them.
pub(crate) fn done_with(messages: &[Fetched]) -> Vec<&Fetched> {
    let used = used_slips(messages);
    messages
        .iter()
        .filter(|m| {
            m.opened().is_some()
                || matches!(&m.result, Ok(Retrieved::KeySlip(s)) if used.contains(&s.envelope_id))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use esmtp_core::mime::{self, MailDraft, Mailbox, PackageOptions};
    use esmtp_core::{Sealer, X25519Identity};
    use std::collections::HashMap;

    #[test]
    fn batches_respect_count_and_bytes() {
        let items: Vec<(usize, u64)> = (1..=7).map(|u| (u, 10)).collect();
        assert_eq!(batches(&items, 3, 1000), vec![vec![1, 2, 3], vec![4, 5, 6], vec![7]]);
        assert_eq!(batches(&items, 100, 25), vec![vec![1, 2], vec![3, 4], vec![5, 6], vec![7]]);
        // A message above the byte budget goes alone; sizes near u64::MAX do not overflow.
        let big = [(1, 5), (2, 1000), (3, 5), (4, u64::MAX), (5, u64::MAX)];
        assert_eq!(batches(&big, 100, 100), vec![vec![1], vec![2], vec![3], vec![4], vec![5]]);
        assert!(batches(&[], 10, 10).is_empty());
    }

    /// A store of whole messages in memory, counting downloads.
    struct Memory {
        mails: HashMap<String, Vec<u8>>,
        downloads: Vec<String>,
    }

    impl Source for Memory {
        fn download(&mut self, candidates: &[Candidate], batch: &[usize], take: &mut Take<'_>) -> Result<()> {
            for &i in batch {
                let MessageRef::Maildir { name } = &candidates[i].location else { unreachable!() };
                self.downloads.push(name.clone());
                if let Some(raw) = self.mails.get(name) {
                    take(i, Ok(raw));
                }
            }
            Ok(())
        }
    }

    fn sealed_with_slip() -> (Vec<u8>, Vec<u8>) {
        let draft = MailDraft::new(Mailbox::new("alice@example.test"))
            .to(Mailbox::new("bob@example.test"))
            .subject("the plan")
            .text("meet at noon")
            .date(1_700_000_000);
        let mail =
            mime::package(&draft, &Sealer::new().key_slip(), &PackageOptions::new(1_700_000_000)).unwrap();
        let slip = mail.key_slip.as_ref().unwrap();
        let slip_mail = mime::key_slip_mail(slip, &draft.from, &draft.to[0], 1_700_000_000).unwrap();
        (mail.bytes, slip_mail.bytes.to_vec())
    }

    fn candidate(name: &str, size: u64, info: Option<HeaderInfo>) -> Candidate {
        Candidate { location: MessageRef::Maildir { name: name.into() }, size, info }
    }

    #[test]
    fn a_slip_after_its_envelope_opens_it_on_the_second_chance() {
        let (envelope, slip) = sealed_with_slip();
        let mut store = Memory {
            mails: HashMap::from([("1".to_string(), envelope.clone()), ("2".to_string(), slip.clone())]),
            downloads: Vec::new(),
        };
        // No headers up front: the envelope is read first and fails, then the slip, then the
        // envelope again.
        let candidates =
            [candidate("1", envelope.len() as u64, None), candidate("2", slip.len() as u64, None)];
        let out = read_all(
            &mut store,
            &Keys { opener: &Opener::new(), contacts: &Contacts::new() },
            &[],
            &candidates,
            u64::MAX,
            &mut Copies::default(),
        )
        .unwrap()
        .messages;
        assert_eq!(store.downloads, ["1", "2", "1"]);
        assert!(
            matches!(out[0].result, Ok(Retrieved::Opened { with_key_slip: true, .. })),
            "{:?}",
            out[0].result
        );
        assert!(matches!(out[1].result, Ok(Retrieved::KeySlip(_))));
        assert_eq!(out[0].opened().unwrap().text.as_deref(), Some("meet at noon"));
        // Both name the one envelope; the opened mail is unsigned, from nobody with a key.
        assert_eq!(out[0].envelope_id, out[1].envelope_id);
        assert_eq!(out[0].envelope_id, Some(out[0].opened().unwrap().envelope_id));
        assert_eq!(out[0].sender.as_ref().map(|s| s.verdict), Some(crate::SenderVerdict::Unsigned));
        assert_eq!(done_with(&out).len(), 2);
    }

    #[test]
    fn with_headers_up_front_slips_are_read_first_and_each_message_once() {
        let (envelope, slip) = sealed_with_slip();
        let mut store = Memory {
            mails: HashMap::from([("1".to_string(), envelope.clone()), ("2".to_string(), slip.clone())]),
            downloads: Vec::new(),
        };
        let candidates = [
            candidate("1", envelope.len() as u64, Some(header_info(&envelope))),
            candidate("2", slip.len() as u64, Some(header_info(&slip))),
            candidate("3", 10, Some(HeaderInfo::default())),
            candidate("4", 1 << 40, None),
        ];
        let out = read_all(
            &mut store,
            &Keys { opener: &Opener::new(), contacts: &Contacts::new() },
            &[],
            &candidates,
            1 << 30,
            &mut Copies::default(),
        )
        .unwrap()
        .messages;
        assert_eq!(store.downloads, ["2", "1", "3"]);
        assert!(matches!(out[0].result, Ok(Retrieved::Opened { with_key_slip: true, .. })));
        assert!(matches!(&out[2].result, Err(MessageError::Gone)));
        assert!(matches!(out[3].result, Err(MessageError::TooLarge(_))));
    }

    #[test]
    fn an_unopened_envelope_and_a_foreign_identity() {
        let (envelope, _) = sealed_with_slip();
        let mut store =
            Memory { mails: HashMap::from([("1".to_string(), envelope.clone())]), downloads: vec![] };
        let opener = Opener::new().identity(X25519Identity::generate().unwrap());
        let out = read_all(
            &mut store,
            &Keys { opener: &opener, contacts: &Contacts::new() },
            &[],
            &[candidate("1", 1, None)],
            u64::MAX,
            &mut Copies::default(),
        )
        .unwrap()
        .messages;
        assert_eq!(out[0].result.as_ref().unwrap_err(), &MessageError::NoMatchingRecipient);
        // The envelope is named, so the key slip that opens it can be found.
        let Ok(mime::MailKind::Encrypted { envelope_id, .. }) =
            mime::classify(&envelope, &mime::Limits::default())
        else {
            panic!("an encrypted mail")
        };
        assert_eq!(out[0].envelope_id, Some(envelope_id));
        assert!(out[0].sender.is_none());
        assert_eq!(store.downloads.len(), 1, "no second chance without a slip");
        assert!(done_with(&out).is_empty());
        assert_eq!(out[0].outer.subject.as_deref(), Some("..."));
    }

    #[test]
    fn a_copy_is_reported_once_as_a_duplicate_and_not_opened() {
        let (envelope, slip) = sealed_with_slip();
        let mut copy = b"Received: from the retry\r\n".to_vec();
        copy.extend_from_slice(&envelope);
        let mut store = Memory {
            mails: HashMap::from([
                ("1".to_string(), envelope.clone()),
                ("2".to_string(), slip.clone()),
                ("3".to_string(), copy.clone()),
            ]),
            downloads: vec![],
        };
        let candidates = [
            candidate("1", envelope.len() as u64, None),
            candidate("2", slip.len() as u64, None),
            candidate("3", copy.len() as u64, None),
        ];
        let pass = read_all(
            &mut store,
            &Keys { opener: &Opener::new(), contacts: &Contacts::new() },
            &[],
            &candidates,
            u64::MAX,
            &mut Copies::default(),
        )
        .unwrap();
        assert_eq!(pass.messages.len(), 2);
        assert!(matches!(pass.messages[0].result, Ok(Retrieved::Opened { with_key_slip: true, .. })));
        assert_eq!(pass.duplicates.len(), 1);
        let dup = &pass.duplicates[0];
        assert_eq!(dup.location, MessageRef::Maildir { name: "3".into() });
        assert_eq!(dup.copy_of, MessageRef::Maildir { name: "1".into() });
        assert_eq!(Some(dup.message_id.as_str()), pass.messages[0].message_id());
        // The envelope had its second chance (its slip came later), the copy none.
        assert_eq!(store.downloads, ["1", "2", "3", "1"]);

        // An original read by an earlier fetch makes the new message a copy too.
        let mut copies = Copies::default();
        let earlier = [candidate("1", envelope.len() as u64, None)];
        remember(&mut store, &earlier, u64::MAX, &mut copies).unwrap();
        let pass = read_all(
            &mut store,
            &Keys { opener: &Opener::new(), contacts: &Contacts::new() },
            &[],
            &candidates[2..],
            u64::MAX,
            &mut copies,
        )
        .unwrap();
        assert!(pass.messages.is_empty());
        assert_eq!(pass.duplicates[0].copy_of, MessageRef::Maildir { name: "1".into() });
    }
}
