//! `fetch_esmtp`: find esmtp mails by header on the server, download them in UID FETCH batches
//! bounded in count and bytes, open each on its own, pair key slips, then act on what opened.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::str::FromStr;

use esmtp_core::{EnvelopeId, KeySlip, Opener};

use super::{ImapClient, map_imap, quoted, utf7};
use crate::copies::{Copies, Duplicate};
use crate::error::{Error, ErrorKind, Result};
use crate::net::DEFAULT_BUDGET;
use crate::pairing::{self, Candidate, Source, Take};
use crate::retrieve::{self, FetchScope, Fetched, HeaderInfo, MessageError, MessageRef, Retrieved};

/// UIDs per command when only small items are fetched, so command lines stay short.
const UIDS_PER_COMMAND: usize = 500;
/// At most this many envelopes from earlier syncs are looked up for newly arrived key slips.
const MAX_LATE_SLIPS: usize = 200;
/// How many UIDs just below the sync state an incremental fetch looks at for originals of new
/// messages: the copy of a mail sent twice arrives right after it, maybe after the last fetch.
const COPY_WINDOW: u32 = 100;
/// At most this many key-slip mails (the newest) are read per fetch: their headers do not say
/// which envelope they open (MIME.md section 4), so pairing reads them; they are small.
const MAX_SLIPS_READ: usize = 1000;
/// The header fields fetched for every candidate before any body.
const HEADER_QUERY: &str =
    "(UID RFC822.SIZE BODY.PEEK[HEADER.FIELDS (MESSAGE-ID FROM DATE SUBJECT X-ESMTP-ENVELOPE-ID)])";

/// Where an IMAP incremental sync stands: keep it between fetches and pass it back as
/// [`ImapFetchOptions::since`]. Its text form, for a state file, is `UIDVALIDITY:UID`.
///
/// ```
/// use esmtp_transport::ImapSyncState;
/// let state: ImapSyncState = "1700000000:42".parse()?;
/// assert_eq!((state.uid_validity, state.last_uid), (1_700_000_000, 42));
/// assert_eq!(state.to_string(), "1700000000:42");
/// # Ok::<(), esmtp_transport::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ImapSyncState {
    /// The mailbox's UIDVALIDITY when the state was taken.
    pub uid_validity: u32,
    /// The highest UID seen; the next fetch starts above it.
    pub last_uid: u32,
}

impl fmt::Display for ImapSyncState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.uid_validity, self.last_uid)
    }
}

impl FromStr for ImapSyncState {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        let invalid = || Error::new(ErrorKind::Config, "not an IMAP sync state (UIDVALIDITY:UID)");
        let (validity, uid) = s.trim().split_once(':').ok_or_else(invalid)?;
        let number = |n: &str| n.parse::<u32>().ok().filter(|_| n.bytes().all(|b| b.is_ascii_digit()));
        Ok(ImapSyncState {
            uid_validity: number(validity).ok_or_else(invalid)?,
            last_uid: number(uid).ok_or_else(invalid)?,
        })
    }
}

/// How [`ImapClient::fetch_esmtp`] fetches, and what it does after.
#[derive(Debug, Clone)]
pub struct ImapFetchOptions {
    /// Esmtp mails only (default) or every message.
    pub scope: FetchScope,
    /// Only messages above this state; `None` reads the whole mailbox. A state whose
    /// UIDVALIDITY no longer matches causes a full resync, reported in
    /// [`ImapFetchReport::uid_validity_changed`].
    pub since: Option<ImapSyncState>,
    /// Set `\Seen` on messages that opened (and on the key slips that opened them).
    pub mark_seen: bool,
    /// Move messages that opened (and their key slips) to this mailbox.
    pub move_to: Option<String>,
    /// Delete and expunge messages that opened (and their key slips); ignored with `move_to`.
    /// Without UIDPLUS the server's EXPUNGE also removes other messages already marked deleted.
    pub delete_after_open: bool,
    /// At most this many messages per UID FETCH (default 50).
    pub batch_size: usize,
    /// At most about this many bytes per UID FETCH (default 16 MiB); a larger message is
    /// fetched alone, so memory stays near one batch or one message.
    pub batch_bytes: u64,
    /// Messages above this size are reported as [`MessageError::TooLarge`] and not downloaded
    /// (default 128 MiB, the MIME reader's limit).
    pub max_message_size: u64,
}

impl Default for ImapFetchOptions {
    fn default() -> Self {
        ImapFetchOptions {
            scope: FetchScope::EsmtpOnly,
            since: None,
            mark_seen: false,
            move_to: None,
            delete_after_open: false,
            batch_size: 50,
            batch_bytes: retrieve::DEFAULT_BATCH_BYTES,
            max_message_size: retrieve::default_max_message_size(),
        }
    }
}

/// The result of [`ImapClient::fetch_esmtp`].
#[derive(Debug)]
#[non_exhaustive]
pub struct ImapFetchReport {
    /// The mailbox fetched.
    pub mailbox: String,
    /// The state to pass as [`ImapFetchOptions::since`] next time.
    pub sync: ImapSyncState,
    /// The mailbox's UIDVALIDITY differed from `since`: old UIDs are void, and this report
    /// covers the whole mailbox again.
    pub uid_validity_changed: bool,
    /// Every message read, in UID order, each with its own result.
    pub messages: Vec<Fetched>,
    /// New messages left out of `messages` as copies of another (the same Message-ID and body:
    /// a mail its sender submitted twice); they are marked, moved or deleted with their
    /// original when it is.
    pub duplicates: Vec<Duplicate>,
    /// Why marking, moving or deleting failed, if it did (the messages were read all the same).
    pub action_error: Option<Error>,
}

impl ImapFetchReport {
    /// The messages that opened.
    pub fn opened(&self) -> impl Iterator<Item = &Fetched> {
        self.messages.iter().filter(|m| m.opened().is_some())
    }
}

/// `1:3,5,7:9` for sorted, distinct UIDs.
pub(crate) fn uid_set(uids: &[u32]) -> String {
    let mut out = String::new();
    let mut i = 0;
    while i < uids.len() {
        let start = uids[i];
        let mut end = start;
        while i + 1 < uids.len() && uids[i + 1] == end.wrapping_add(1) {
            i += 1;
            end = uids[i];
        }
        if !out.is_empty() {
            out.push(',');
        }
        if start == end {
            out.push_str(&start.to_string());
        } else {
            out.push_str(&format!("{start}:{end}"));
        }
        i += 1;
    }
    out
}

/// What the server said about a message before any download.
struct Meta {
    size: u64,
    info: HeaderInfo,
}

impl ImapClient {
    /// Fetch the esmtp mails of `mailbox` (or all its mail, by [`ImapFetchOptions::scope`]) and
    /// open each with `opener`; key-slip mails are paired with their envelopes by envelope id and
    /// used automatically. Every message gets its own result: one bad, foreign or undecryptable
    /// message never aborts the fetch.
    ///
    /// # Errors
    /// Connection, protocol and server errors of the session itself (a missing mailbox is
    /// [`crate::ErrorKind::Permanent`]); per-message failures are in the report.
    pub fn fetch_esmtp(
        &mut self,
        mailbox: &str,
        opener: &Opener,
        options: &ImapFetchOptions,
    ) -> Result<ImapFetchReport> {
        let acts = options.mark_seen || options.move_to.is_some() || options.delete_after_open;
        // Read-only unless asked to change something: nothing is marked by accident.
        let state = if acts { self.select(mailbox)? } else { self.examine(mailbox)? };
        let (previous, uid_validity_changed) = match options.since {
            Some(s) if s.uid_validity == state.uid_validity => (s.last_uid, false),
            Some(_) => (0, true),
            None => (0, false),
        };
        let mut report = ImapFetchReport {
            mailbox: mailbox.to_string(),
            sync: ImapSyncState { uid_validity: state.uid_validity, last_uid: previous },
            uid_validity_changed,
            messages: Vec::new(),
            duplicates: Vec::new(),
            action_error: None,
        };
        // "n:*" always matches the highest UID, even below n (RFC 3501 section 6.4.8).
        let first = previous.saturating_add(1);
        let new: Vec<u32> =
            self.search(&format!("UID {first}:*"))?.into_iter().filter(|&u| u > previous).collect();
        let Some(&last) = new.last() else {
            return Ok(report);
        };
        report.sync.last_uid = last;
        let range = format!("UID {first}:{last}");

        // Key slips anywhere in the mailbox (an envelope may arrive after its slip), the newest
        // first. Their headers do not say which envelope each opens: read them first.
        let mut slip_uids: Vec<u32> = self
            .search(&format!("SUBJECT {}", quoted(esmtp_core::mime::KEY_SLIP_SUBJECT)?))?
            .into_iter()
            .filter(|&u| u <= last)
            .collect();
        if slip_uids.len() > MAX_SLIPS_READ {
            slip_uids.drain(..slip_uids.len() - MAX_SLIPS_READ);
        }
        let slip_meta = self.header_fields(&slip_uids)?;
        let slip_list: Vec<Candidate> = slip_meta
            .iter()
            .map(|(&uid, m)| Candidate {
                location: MessageRef::Imap { uid },
                size: m.size,
                info: Some(m.info.clone()),
            })
            .collect();
        let contacts = self.contacts.clone();
        let keys = pairing::Keys { opener, contacts: &contacts };
        let mut copies = Copies::default();
        let mut source = Batches { client: self, count: options.batch_size, bytes: options.batch_bytes };
        let slip_pass =
            pairing::read_all(&mut source, &keys, &[], &slip_list, options.max_message_size, &mut copies)?;
        let slip_results = slip_pass.messages;
        let slips: BTreeMap<u32, KeySlip> = pairing::slips_read(&slip_results)
            .into_iter()
            .filter_map(|(at, slip)| match at {
                MessageRef::Imap { uid } => Some((*uid, slip.clone())),
                _ => None,
            })
            .collect();

        let targets: Vec<u32> = match options.scope {
            FetchScope::All => new.into_iter().filter(|u| !slip_meta.contains_key(u)).collect(),
            FetchScope::EsmtpOnly => self.search(&format!(
                "{range} HEADER {} {}",
                esmtp_core::mime::ENVELOPE_ID_HEADER,
                quoted("")?
            ))?,
        };
        let mut candidates = self.header_fields(&targets)?;

        // Envelopes from earlier syncs whose slip has only now arrived: open them again.
        let wanted_ids: BTreeSet<_> = candidates.values().filter_map(|c| c.info.envelope_id).collect();
        let mut late: BTreeSet<u32> = BTreeSet::new();
        let new_slip_ids: Vec<EnvelopeId> = slips
            .iter()
            .filter(|(uid, slip)| **uid >= first && !wanted_ids.contains(&slip.envelope_id()))
            .map(|(_, slip)| slip.envelope_id())
            .take(MAX_LATE_SLIPS)
            .collect();
        for id in new_slip_ids.into_iter().filter(|_| previous > 0) {
            let query = format!(
                "UID 1:{previous} HEADER {} {}",
                esmtp_core::mime::ENVELOPE_ID_HEADER,
                quoted(&id.to_string())?
            );
            late.extend(
                self.search(&query)?.into_iter().filter(|&u| u <= previous && !candidates.contains_key(&u)),
            );
        }
        let late_uids: Vec<u32> = late.iter().copied().collect();
        candidates.extend(self.header_fields(&late_uids)?);
        self.remember_originals(previous, &candidates, &mut copies, options)?;

        let list: Vec<Candidate> = candidates
            .iter()
            .map(|(&uid, m)| Candidate {
                location: MessageRef::Imap { uid },
                size: m.size,
                info: Some(m.info.clone()),
            })
            .collect();
        let known: Vec<KeySlip> = slips.values().cloned().collect();
        let mut source = Batches { client: self, count: options.batch_size, bytes: options.batch_bytes };
        let pass =
            pairing::read_all(&mut source, &keys, &known, &list, options.max_message_size, &mut copies)?;
        let mut messages = pass.messages;
        messages.extend(slip_results);
        // Old slips and old envelopes are read for pairing; only what they newly open is reported.
        messages.retain(|f| {
            let uid = f.uid().unwrap_or(0);
            uid >= first
                || (late.contains(&uid)
                    && matches!(f.result, Ok(Retrieved::Opened { with_key_slip: true, .. })))
        });
        messages.sort_by_key(|f| f.uid().unwrap_or(0));
        let mut duplicates: Vec<Duplicate> =
            pass.duplicates.into_iter().chain(slip_pass.duplicates).collect();
        duplicates.retain(|d| matches!(d.location, MessageRef::Imap { uid } if uid >= first));
        duplicates.sort_by_key(|d| match d.location {
            MessageRef::Imap { uid } => uid,
            _ => 0,
        });
        // The sync state stays below a message the server could not give this time.
        if let Some(stop) = messages
            .iter()
            .filter(|m| matches!(m.result, Err(MessageError::Unavailable(_))))
            .filter_map(Fetched::uid)
            .find(|&uid| uid >= first)
        {
            report.sync.last_uid = report.sync.last_uid.min(stop - 1);
        }
        let slip_envelopes: BTreeMap<u32, EnvelopeId> =
            slips.iter().map(|(&uid, slip)| (uid, slip.envelope_id())).collect();
        report.messages = messages;
        report.duplicates = duplicates;
        report.action_error = self.act(&report.messages, &report.duplicates, &slip_envelopes, options).err();
        Ok(report)
    }

    /// Remember, as originals, the messages among the [`COPY_WINDOW`] UIDs up to `previous`
    /// whose Message-ID a new candidate carries: a copy that arrived after the last fetch read
    /// its original is then still recognised.
    fn remember_originals(
        &mut self,
        previous: u32,
        candidates: &BTreeMap<u32, Meta>,
        copies: &mut Copies,
        options: &ImapFetchOptions,
    ) -> Result<()> {
        let ids: BTreeSet<&str> = candidates
            .iter()
            .filter(|(uid, _)| **uid > previous)
            .filter_map(|(_, m)| m.info.outer.message_id.as_deref())
            .collect();
        if previous == 0 || ids.is_empty() {
            return Ok(());
        }
        let window: Vec<u32> = (previous.saturating_sub(COPY_WINDOW - 1).max(1)..=previous).collect();
        let earlier: Vec<Candidate> = self
            .header_fields(&window)?
            .into_iter()
            .filter(|(uid, m)| {
                !candidates.contains_key(uid)
                    && m.info.outer.message_id.as_deref().is_some_and(|id| ids.contains(id))
            })
            .map(|(uid, m)| Candidate {
                location: MessageRef::Imap { uid },
                size: m.size,
                info: Some(m.info),
            })
            .collect();
        let mut source = Batches { client: self, count: options.batch_size, bytes: options.batch_bytes };
        pairing::remember(&mut source, &earlier, options.max_message_size, copies)
    }

    fn search(&mut self, query: &str) -> Result<Vec<u32>> {
        self.ctl.begin(DEFAULT_BUDGET);
        let mut uids: Vec<u32> =
            self.session.uid_search(query).map_err(|e| map_imap(e, "UID SEARCH"))?.into_iter().collect();
        uids.sort_unstable();
        Ok(uids)
    }

    /// Size and esmtp headers of each UID. One the server no longer has (deleted by another
    /// client since the search) gets empty ones: its download then reports it gone, so it is
    /// never left out unsaid.
    fn header_fields(&mut self, uids: &[u32]) -> Result<BTreeMap<u32, Meta>> {
        let mut out = BTreeMap::new();
        for chunk in uids.chunks(UIDS_PER_COMMAND) {
            self.ctl.begin(DEFAULT_BUDGET);
            let fetches =
                self.session.uid_fetch(uid_set(chunk), HEADER_QUERY).map_err(|e| map_imap(e, "UID FETCH"))?;
            for f in fetches.iter() {
                let Some(uid) = f.uid else { continue };
                let info = f.header().map(retrieve::header_info).unwrap_or_default();
                out.insert(uid, Meta { size: u64::from(f.size.unwrap_or(0)), info });
            }
            for &uid in chunk {
                out.entry(uid).or_insert_with(|| Meta { size: 0, info: HeaderInfo::default() });
            }
        }
        Ok(out)
    }

    /// Mark, move or delete what opened, the key slips that opened it, and their copies.
    fn act(
        &mut self,
        messages: &[Fetched],
        duplicates: &[Duplicate],
        slip_envelopes: &BTreeMap<u32, EnvelopeId>,
        options: &ImapFetchOptions,
    ) -> Result<()> {
        let delete = options.delete_after_open && options.move_to.is_none();
        if !options.mark_seen && options.move_to.is_none() && !delete {
            return Ok(());
        }
        // The slips that opened something may sit among old messages, not in `messages`.
        let used_slips = pairing::used_slips(messages);
        let mut uids: BTreeSet<u32> =
            messages.iter().filter(|m| m.opened().is_some()).filter_map(Fetched::uid).collect();
        uids.extend(slip_envelopes.iter().filter(|(_, id)| used_slips.contains(id)).map(|(&u, _)| u));
        let copies: Vec<u32> = duplicates
            .iter()
            .filter_map(|d| match (&d.location, &d.copy_of) {
                (MessageRef::Imap { uid }, MessageRef::Imap { uid: original }) if uids.contains(original) => {
                    Some(*uid)
                }
                _ => None,
            })
            .collect();
        uids.extend(copies);
        let uids: Vec<u32> = uids.into_iter().collect();
        for chunk in uids.chunks(UIDS_PER_COMMAND) {
            let set = uid_set(chunk);
            self.ctl.begin(DEFAULT_BUDGET);
            if options.mark_seen {
                self.session
                    .uid_store(&set, "+FLAGS.SILENT (\\Seen)")
                    .map_err(|e| map_imap(e, "UID STORE"))?;
            }
            if let Some(target) = &options.move_to {
                let target = utf7::encode(target);
                if self.has("MOVE") {
                    self.session.uid_mv(&set, &target).map_err(|e| map_imap(e, "UID MOVE"))?;
                } else {
                    self.session.uid_copy(&set, quoted(&target)?).map_err(|e| map_imap(e, "UID COPY"))?;
                    self.expunge(&set)?;
                }
            } else if delete {
                self.expunge(&set)?;
            }
        }
        Ok(())
    }

    fn expunge(&mut self, set: &str) -> Result<()> {
        self.session.uid_store(set, "+FLAGS.SILENT (\\Deleted)").map_err(|e| map_imap(e, "UID STORE"))?;
        if self.has("UIDPLUS") {
            self.session.uid_expunge(set).map_err(|e| map_imap(e, "UID EXPUNGE"))?;
        } else {
            self.session.expunge().map_err(|e| map_imap(e, "EXPUNGE"))?;
        }
        Ok(())
    }
}

/// Batched `UID FETCH` downloads for the pairing driver.
struct Batches<'a> {
    client: &'a mut ImapClient,
    count: usize,
    bytes: u64,
}

impl Source for Batches<'_> {
    fn batch_limits(&self) -> (usize, u64) {
        (self.count, self.bytes)
    }

    fn download(&mut self, candidates: &[Candidate], batch: &[usize], take: &mut Take<'_>) -> Result<()> {
        let by_uid: HashMap<u32, usize> = batch
            .iter()
            .filter_map(|&i| match candidates[i].location {
                MessageRef::Imap { uid } => Some((uid, i)),
                _ => None,
            })
            .collect();
        let mut uids: Vec<u32> = by_uid.keys().copied().collect();
        uids.sort_unstable();
        let announced = batch.iter().fold(0u64, |sum, &i| sum.saturating_add(candidates[i].size));
        // Bounded by what the server announced: twice that (some servers only estimate
        // RFC822.SIZE), plus room for the FETCH framing of each message.
        let budget =
            announced.saturating_mul(2).saturating_add(4096 * batch.len() as u64).saturating_add(4 << 20);
        self.client.ctl.begin_transfer(announced, budget);
        let fetches = match self.client.session.uid_fetch(uid_set(&uids), "(UID BODY.PEEK[])") {
            Ok(fetches) => fetches,
            Err(e) => {
                let err = map_imap(e, "UID FETCH");
                // A NO leaves the session usable: find the message it is about, one at a time,
                // and give that one the error.
                if !matches!(err.kind(), ErrorKind::Permanent | ErrorKind::Transient) {
                    return Err(err);
                }
                if let [i] = batch {
                    take(*i, Err(refused_message(&err)));
                    return Ok(());
                }
                for &i in batch {
                    self.download(candidates, &[i], take)?;
                }
                return Ok(());
            }
        };
        for f in fetches.iter() {
            if let (Some(uid), Some(body)) = (f.uid, f.body())
                && let Some(&i) = by_uid.get(&uid)
            {
                take(i, Ok(body));
            }
        }
        Ok(())
    }
}

/// One message the server refused to give: gone (RFC 5530 `EXPUNGEISSUED`), unavailable for now
/// (a temporary refusal: the sync state stays before it), or refused for good.
fn refused_message(err: &Error) -> MessageError {
    if err.to_string().to_ascii_uppercase().contains("[EXPUNGEISSUED]") {
        MessageError::Gone
    } else if err.kind() == ErrorKind::Transient {
        MessageError::Unavailable(err.to_string())
    } else {
        MessageError::Other(err.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uid_sets_compress_runs() {
        assert_eq!(uid_set(&[]), "");
        assert_eq!(uid_set(&[7]), "7");
        assert_eq!(uid_set(&[1, 2, 3, 5, 7, 8, 9, 20]), "1:3,5,7:9,20");
        assert_eq!(uid_set(&[u32::MAX - 1, u32::MAX]), format!("{}:{}", u32::MAX - 1, u32::MAX));
    }

    #[test]
    fn sync_state_text() {
        let state = ImapSyncState { uid_validity: 7, last_uid: u32::MAX };
        assert_eq!(state.to_string().parse::<ImapSyncState>().unwrap(), state);
        for bad in ["", "7", "7:", ":7", "7:-1", "7:+1", "a:b", "1:2:3", "99999999999:1"] {
            assert_eq!(bad.parse::<ImapSyncState>().unwrap_err().kind(), ErrorKind::Config, "{bad}");
        }
    }
}
