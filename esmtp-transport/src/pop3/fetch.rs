//! `fetch_esmtp` over POP3: which messages are new (by UIDL, with a short sync state), their
//! headers first with `TOP n 0` where the server has TOP, downloads through the pairing driver
//! without marking anything read, then deletion of what opened when asked.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use esmtp_core::Opener;

use super::wire::{MAX_LINE, read_multiline};
use super::{Pop3Client, Pop3Entry, expect_ok, retr_limit};
use crate::copies::{Copies, Duplicate};
use crate::error::{Error, ErrorKind, Result};
use crate::net::DEFAULT_BUDGET;
use crate::pairing::{self, Candidate, Source, Take};
use crate::retrieve::{self, FetchScope, Fetched, MAX_HEADER_BYTES, MessageError, MessageRef};

/// How [`Pop3Client::fetch_esmtp`] downloads each message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Pop3Download {
    /// `TOP n <lines>` with more body lines than a message of that size can have, when the
    /// server announces TOP; RETR when it does not. Servers that flag retrieved mail (Dovecot
    /// sets `\Seen` on RETR, which IMAP clients then show as read) leave a message read with TOP
    /// as it was. [`Pop3FetchReport::used_retr`] says when RETR had to be used.
    #[default]
    PreferTop,
    /// RETR, the standard command. Dovecot and others then flag each message `\Seen`.
    Retr,
}

/// How many unique ids a [`Pop3SyncState`] keeps: a few, so one deleted by another client does
/// not lose the place.
const ANCHORS: usize = 4;

/// Where a POP3 incremental sync stands: the unique ids (UIDL) of the last messages seen, newest
/// last. Messages the server lists after the newest of them that it still has are new. When none
/// is left (another client deleted them all), the next fetch reads the whole mailbox again and
/// says so in [`Pop3FetchReport::resynced`]: mail may come twice, never not at all.
///
/// Its text form is short, for a state file: `pop3` and up to four ids, separated by spaces.
///
/// ```
/// use esmtp_transport::Pop3SyncState;
/// let state: Pop3SyncState = "pop3 000000015f2a0c4d 000000025f2a0c4d".parse()?;
/// assert_eq!(state.uidls().len(), 2);
/// assert_eq!(state.to_string().parse::<Pop3SyncState>()?, state);
/// # Ok::<(), esmtp_transport::Error>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Pop3SyncState {
    recent: Vec<String>,
}

/// A unique id as RFC 1939 section 7 defines it: 1 to 70 characters from 0x21 to 0x7E.
fn valid_uidl(uidl: &str) -> bool {
    (1..=70).contains(&uidl.len()) && uidl.bytes().all(|b| (0x21..=0x7e).contains(&b))
}

impl Pop3SyncState {
    /// The state after reading `entries` (in the server's order): the last ones count.
    pub fn after(entries: &[Pop3Entry]) -> Self {
        let valid: Vec<&Pop3Entry> = entries.iter().filter(|e| valid_uidl(&e.uidl)).collect();
        let recent = valid[valid.len().saturating_sub(ANCHORS)..].iter().map(|e| e.uidl.clone()).collect();
        Pop3SyncState { recent }
    }

    /// The unique ids it remembers, oldest first.
    pub fn uidls(&self) -> &[String] {
        &self.recent
    }

    /// Where new messages start in `entries`, and whether the place was lost.
    fn first_new(&self, entries: &[Pop3Entry]) -> (usize, bool) {
        if self.recent.is_empty() {
            return (0, false);
        }
        match entries.iter().rposition(|e| self.recent.contains(&e.uidl)) {
            Some(i) => (i + 1, false),
            None => (0, true),
        }
    }
}

impl fmt::Display for Pop3SyncState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("pop3")?;
        for uidl in &self.recent {
            write!(f, " {uidl}")?;
        }
        Ok(())
    }
}

impl FromStr for Pop3SyncState {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        let invalid = || Error::new(ErrorKind::Config, "not a POP3 sync state ('pop3' and up to four UIDLs)");
        let mut words = s.split_ascii_whitespace();
        if words.next() != Some("pop3") {
            return Err(invalid());
        }
        let recent: Vec<String> = words.map(str::to_string).collect();
        if recent.len() > ANCHORS || !recent.iter().all(|u| valid_uidl(u)) {
            return Err(invalid());
        }
        Ok(Pop3SyncState { recent })
    }
}

/// How [`Pop3Client::fetch_esmtp`] fetches.
#[derive(Debug, Clone)]
pub struct Pop3FetchOptions {
    /// Esmtp mails only (default; classified from the headers with `TOP n 0` when the server
    /// has TOP) or every message.
    pub scope: FetchScope,
    /// Only messages after this state; `None` reads every message.
    pub since: Option<Pop3SyncState>,
    /// TOP (default: nothing is flagged read) or RETR.
    pub download: Pop3Download,
    /// Mark messages that opened (and the key slips that opened them) for deletion; the
    /// server deletes them when [`Pop3Client::quit`] is called. Off by default: mail stays.
    pub delete_after_open: bool,
    /// Messages above this size are reported as [`MessageError::TooLarge`] and not downloaded
    /// (default 128 MiB, the MIME reader's limit).
    pub max_message_size: u64,
}

impl Default for Pop3FetchOptions {
    fn default() -> Self {
        Pop3FetchOptions {
            scope: FetchScope::EsmtpOnly,
            since: None,
            download: Pop3Download::PreferTop,
            delete_after_open: false,
            max_message_size: retrieve::default_max_message_size(),
        }
    }
}

/// The result of [`Pop3Client::fetch_esmtp`].
#[derive(Debug)]
#[non_exhaustive]
pub struct Pop3FetchReport {
    /// The new messages, each with its own result, in server order.
    pub messages: Vec<Fetched>,
    /// New messages left out of `messages` as copies of another one of this fetch (the same
    /// Message-ID and body: a mail its sender submitted twice); marked for deletion with their
    /// original when it is.
    pub duplicates: Vec<Duplicate>,
    /// The state to pass as [`Pop3FetchOptions::since`] next time. It stays before the first
    /// message the server could not give this time ([`MessageError::Unavailable`]), so the next
    /// fetch tries that one again (and reads the later ones once more).
    pub sync: Pop3SyncState,
    /// None of the messages of `since` is left on the server: this report covers the whole
    /// mailbox again.
    pub resynced: bool,
    /// The unique ids of every message on the server at the start of the fetch.
    pub uidls: Vec<String>,
    /// Messages were downloaded with RETR (the server has no TOP, or it was asked for):
    /// servers such as Dovecot have flagged them `\Seen`.
    pub used_retr: bool,
    /// Why marking for deletion failed, if it did.
    pub action_error: Option<Error>,
}

impl Pop3FetchReport {
    /// The messages that opened.
    pub fn opened(&self) -> impl Iterator<Item = &Fetched> {
        self.messages.iter().filter(|m| m.opened().is_some())
    }
}

/// Downloads for the pairing driver, one message per command.
struct Downloads<'a> {
    client: &'a mut Pop3Client,
    top: bool,
    used_retr: bool,
}

impl Source for Downloads<'_> {
    fn download(&mut self, candidates: &[Candidate], batch: &[usize], take: &mut Take<'_>) -> Result<()> {
        for &i in batch {
            let MessageRef::Pop3 { number, .. } = candidates[i].location else { continue };
            self.used_retr |= !self.top;
            match self.client.download(number, candidates[i].size, self.top) {
                Ok(raw) => take(i, Ok(&raw)),
                // A message the server refuses is that message's failure; the session goes on.
                Err(err) if err.kind() == ErrorKind::Permanent => {
                    take(i, Err(MessageError::Other(err.to_string())))
                }
                Err(err) if err.kind() == ErrorKind::Transient => {
                    take(i, Err(MessageError::Unavailable(err.to_string())))
                }
                Err(err) => return Err(err),
            }
        }
        Ok(())
    }
}

impl Pop3Client {
    /// Fetch the messages after [`Pop3FetchOptions::since`] (all without it) and open each with
    /// `opener`; key-slip mails among them are paired with their envelopes by envelope id and
    /// used automatically. Every message gets its own result: one bad, foreign or
    /// undecryptable message never aborts the fetch.
    ///
    /// With [`FetchScope::EsmtpOnly`] and a server that has TOP, headers are read first and
    /// only esmtp mails are downloaded. Nothing is flagged read where the server has TOP (see
    /// [`Pop3Download`]), and nothing is deleted unless asked. Key slips are paired within the
    /// messages read in this call; earlier slips come back in [`crate::Retrieved::KeySlip`] for
    /// the caller to keep.
    ///
    /// # Errors
    /// [`ErrorKind::Permanent`] when the server has no UIDL; connection and protocol errors.
    pub fn fetch_esmtp(&mut self, opener: &Opener, options: &Pop3FetchOptions) -> Result<Pop3FetchReport> {
        let entries = self.entries()?;
        let (first, resynced) = options.since.as_ref().map_or((0, false), |s| s.first_new(&entries));
        let fresh = &entries[first..];
        let candidates = if options.scope == FetchScope::EsmtpOnly && self.has("TOP") {
            self.esmtp_candidates(fresh)?
        } else {
            fresh.iter().map(|e| candidate(e, None)).collect()
        };
        let top = options.download == Pop3Download::PreferTop && self.has("TOP");
        let contacts = self.contacts.clone();
        let keys = pairing::Keys { opener, contacts: &contacts };
        let mut source = Downloads { client: self, top, used_retr: false };
        let max = options.max_message_size;
        let pass = pairing::read_all(&mut source, &keys, &[], &candidates, max, &mut Copies::default())?;
        let used_retr = source.used_retr;
        let mut deleted = BTreeSet::new();
        let action_error = if options.delete_after_open {
            self.delete_opened(&pass.messages, &pass.duplicates, &mut deleted).err()
        } else {
            None
        };
        // Nothing after a message the server could not give counts as read.
        let unavailable: BTreeSet<u32> = pass
            .messages
            .iter()
            .filter(|m| matches!(m.result, Err(MessageError::Unavailable(_))))
            .filter_map(|m| match m.location {
                MessageRef::Pop3 { number, .. } => Some(number),
                _ => None,
            })
            .collect();
        let read = entries.iter().position(|e| unavailable.contains(&e.number)).unwrap_or(entries.len());
        let kept: Vec<Pop3Entry> =
            entries[..read].iter().filter(|e| !deleted.contains(&e.number)).cloned().collect();
        Ok(Pop3FetchReport {
            messages: pass.messages,
            duplicates: pass.duplicates,
            sync: Pop3SyncState::after(&kept),
            resynced,
            uidls: entries.into_iter().map(|e| e.uidl).collect(),
            used_retr,
            action_error,
        })
    }

    /// The esmtp mails among `fresh`, by their headers (`TOP n 0`, pipelined where the server
    /// allows, RFC 2449): plain mail is then never downloaded.
    fn esmtp_candidates(&mut self, fresh: &[Pop3Entry]) -> Result<Vec<Candidate>> {
        let mut out = Vec::new();
        let group = if self.has("PIPELINING") { 32 } else { 1 };
        for chunk in fresh.chunks(group) {
            self.wire.control().begin(DEFAULT_BUDGET);
            for e in chunk {
                self.wire.send(&format!("TOP {} 0", e.number), "TOP")?;
            }
            for e in chunk {
                if let Err(err) = expect_ok(&mut self.wire, "TOP") {
                    // A refused TOP leaves the session in step; the download reports it.
                    if err.kind() != ErrorKind::Permanent {
                        return Err(err);
                    }
                    out.push(candidate(e, None));
                    continue;
                }
                let limit = retr_limit(e.size).clamp(MAX_LINE, MAX_HEADER_BYTES);
                let mut head = Vec::new();
                read_multiline(&mut self.wire, limit, limit, &mut head, "TOP")?;
                let info = retrieve::header_info(&head);
                if info.esmtp {
                    out.push(candidate(e, Some(info)));
                }
            }
        }
        Ok(out)
    }

    fn delete_opened(
        &mut self,
        messages: &[Fetched],
        duplicates: &[Duplicate],
        deleted: &mut BTreeSet<u32>,
    ) -> Result<()> {
        for m in pairing::done_with(messages) {
            if let MessageRef::Pop3 { number, .. } = m.location {
                self.dele(number)?;
                deleted.insert(number);
            }
        }
        // Copies go with their original.
        for d in duplicates {
            if let (MessageRef::Pop3 { number, .. }, MessageRef::Pop3 { number: original, .. }) =
                (&d.location, &d.copy_of)
                && deleted.contains(original)
            {
                self.dele(*number)?;
                deleted.insert(*number);
            }
        }
        Ok(())
    }
}

fn candidate(e: &Pop3Entry, info: Option<retrieve::HeaderInfo>) -> Candidate {
    Candidate { location: MessageRef::Pop3 { number: e.number, uidl: e.uidl.clone() }, size: e.size, info }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(uidls: &[&str]) -> Vec<Pop3Entry> {
        uidls
            .iter()
            .enumerate()
            .map(|(i, u)| Pop3Entry { number: i as u32 + 1, size: 10, uidl: u.to_string() })
            .collect()
    }

    #[test]
    fn sync_state_finds_the_newest_known_message() {
        let before = entries(&["a", "b", "c", "d", "e"]);
        let state = Pop3SyncState::after(&before);
        assert_eq!(state.uidls(), ["b", "c", "d", "e"]);
        // Two new messages; one old one deleted elsewhere.
        let now = entries(&["a", "c", "d", "e", "f", "g"]);
        assert_eq!(state.first_new(&now), (4, false));
        // The newest anchor gone: the next newest still holds the place.
        assert_eq!(state.first_new(&entries(&["a", "b", "c", "d", "f"])), (4, false));
        // Every anchor gone: everything again, said so.
        assert_eq!(state.first_new(&entries(&["x", "y"])), (0, true));
        assert_eq!(Pop3SyncState::default().first_new(&now), (0, false));
    }

    #[test]
    fn sync_state_text_round_trips_and_rejects_garbage() {
        let state = Pop3SyncState::after(&entries(&["1", "2", "bad uidl", "3"]));
        assert_eq!(state.to_string(), "pop3 1 2 3");
        assert_eq!(state.to_string().parse::<Pop3SyncState>().unwrap(), state);
        assert_eq!("pop3".parse::<Pop3SyncState>().unwrap(), Pop3SyncState::default());
        for bad in ["", "imap 1", "pop3 a b c d e", "3:4"] {
            assert_eq!(bad.parse::<Pop3SyncState>().unwrap_err().kind(), ErrorKind::Config, "{bad}");
        }
        let long = format!("pop3 {}", "x".repeat(71));
        assert!(long.parse::<Pop3SyncState>().is_err());
    }
}
