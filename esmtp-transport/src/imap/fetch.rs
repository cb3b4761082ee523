//! `fetch_esmtp`: find esmtp mails by header on the server, download them in UID FETCH batches
//! bounded in count and bytes, open each on its own, pair key slips, then act on what opened.

use std::collections::{BTreeMap, BTreeSet};

use esmtp_core::{EnvelopeId, Opener};

use super::{DEFAULT_BUDGET, ImapClient, map_imap, quoted, utf7};
use crate::error::{Error, ErrorKind, Result};
use crate::retrieve::{self, FetchScope, Fetched, HeaderInfo, MessageError, MessageRef, Reader, Retrieved};

/// UIDs per command when only small items are fetched, so command lines stay short.
const UIDS_PER_COMMAND: usize = 500;
/// At most this many envelopes from earlier syncs are looked up for newly arrived key slips.
const MAX_LATE_SLIPS: usize = 200;
/// At most this many key-slip mails (the newest) are read per fetch: their headers do not say
/// which envelope they open (MIME.md section 4), so pairing reads them, and they are small.
const MAX_SLIPS_READ: usize = 1000;
/// The header fields fetched for every candidate before any body.
const HEADER_QUERY: &str =
    "(UID RFC822.SIZE BODY.PEEK[HEADER.FIELDS (MESSAGE-ID FROM DATE SUBJECT X-ESMTP-ENVELOPE-ID)])";

/// Where an incremental sync stands: keep it between fetches and pass it back as
/// [`FetchOptions::since`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SyncState {
    /// The mailbox's UIDVALIDITY when the state was taken.
    pub uid_validity: u32,
    /// The highest UID seen; the next fetch starts above it.
    pub last_uid: u32,
}

/// How [`ImapClient::fetch_esmtp`] fetches, and what it does after.
#[derive(Debug, Clone)]
pub struct FetchOptions {
    /// Esmtp mails only (default) or every message.
    pub scope: FetchScope,
    /// Only messages above this state; `None` reads the whole mailbox. A state whose
    /// UIDVALIDITY no longer matches causes a full resync, reported in
    /// [`FetchReport::uid_validity_changed`].
    pub since: Option<SyncState>,
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

impl Default for FetchOptions {
    fn default() -> Self {
        FetchOptions {
            scope: FetchScope::EsmtpOnly,
            since: None,
            mark_seen: false,
            move_to: None,
            delete_after_open: false,
            batch_size: 50,
            batch_bytes: retrieve::DEFAULT_BATCH_BYTES,
            max_message_size: esmtp_core::mime::Limits::default().max_mail_bytes as u64,
        }
    }
}

/// The result of [`ImapClient::fetch_esmtp`].
#[derive(Debug)]
pub struct FetchReport {
    /// The mailbox fetched.
    pub mailbox: String,
    /// The state to pass as [`FetchOptions::since`] next time.
    pub sync: SyncState,
    /// The mailbox's UIDVALIDITY differed from `since`: old UIDs are void, and this report
    /// covers the whole mailbox again.
    pub uid_validity_changed: bool,
    /// Every message read, in UID order, each with its own result.
    pub messages: Vec<Fetched>,
    /// Why marking, moving or deleting failed, if it did (the messages were read all the same).
    pub action_error: Option<Error>,
}

impl FetchReport {
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

/// Split sorted candidates into FETCH batches of at most `count` messages and about `bytes`.
pub(crate) fn batches(items: &[(u32, u64)], count: usize, bytes: u64) -> Vec<Vec<u32>> {
    let mut out = Vec::new();
    let mut current: Vec<u32> = Vec::new();
    let mut current_bytes = 0u64;
    for &(uid, size) in items {
        if !current.is_empty() && (current.len() >= count.max(1) || current_bytes + size > bytes) {
            out.push(std::mem::take(&mut current));
            current_bytes = 0;
        }
        current.push(uid);
        current_bytes += size;
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

struct Candidate {
    size: u64,
    info: HeaderInfo,
}

impl ImapClient {
    /// Fetch the esmtp mails of `mailbox` (or all its mail, by [`FetchOptions::scope`]) and
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
        options: &FetchOptions,
    ) -> Result<FetchReport> {
        let acts = options.mark_seen || options.move_to.is_some() || options.delete_after_open;
        // Read-only unless asked to change something: nothing is marked by accident.
        let state = if acts { self.select(mailbox)? } else { self.examine(mailbox)? };
        let (previous, uid_validity_changed) = match options.since {
            Some(s) if s.uid_validity == state.uid_validity => (s.last_uid, false),
            Some(_) => (0, true),
            None => (0, false),
        };
        let mut report = FetchReport {
            mailbox: mailbox.to_string(),
            sync: SyncState { uid_validity: state.uid_validity, last_uid: previous },
            uid_validity_changed,
            messages: Vec::new(),
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
        // first; their bodies say which envelope each opens.
        let mut slip_uids: Vec<u32> = self
            .search(&format!("SUBJECT {}", quoted(esmtp_core::mime::KEY_SLIP_SUBJECT)?))?
            .into_iter()
            .filter(|&u| u <= last)
            .collect();
        if slip_uids.len() > MAX_SLIPS_READ {
            slip_uids.drain(..slip_uids.len() - MAX_SLIPS_READ);
        }
        let targets: Vec<u32> = match options.scope {
            FetchScope::All => new,
            FetchScope::EsmtpOnly => {
                let mut t: BTreeSet<u32> = self
                    .search(&format!(
                        "{range} HEADER {} {}",
                        esmtp_core::mime::ENVELOPE_ID_HEADER,
                        quoted("")?
                    ))?
                    .into_iter()
                    .collect();
                t.extend(slip_uids.iter().filter(|&&u| u >= first));
                t.into_iter().collect()
            }
        };
        let mut candidates = self.header_fields(&targets)?;
        let slip_meta = self.header_fields(&slip_uids)?;
        let mut reader = Reader::new(opener);
        let mut results: BTreeMap<u32, Fetched> = BTreeMap::new();
        let slip_sizes: Vec<(u32, u64)> = slip_meta.iter().map(|(&u, c)| (u, c.size)).collect();
        for batch in batches(&slip_sizes, options.batch_size, options.batch_bytes) {
            self.read_batch(&batch, &slip_meta, &mut reader, &mut results)?;
        }
        let slip_envelopes: BTreeMap<u32, EnvelopeId> = results
            .iter()
            .filter_map(|(&u, f)| match &f.result {
                Ok(Retrieved::KeySlip(slip)) => Some((u, slip.envelope_id)),
                _ => None,
            })
            .collect();

        // Envelopes from earlier syncs whose slip has only now arrived: open them again.
        let wanted_ids: BTreeSet<EnvelopeId> =
            candidates.values().filter_map(|c| c.info.envelope_id).collect();
        let mut late: BTreeSet<u32> = BTreeSet::new();
        let new_slip_ids: Vec<EnvelopeId> = slip_envelopes
            .iter()
            .filter(|(u, id)| **u >= first && !wanted_ids.contains(id))
            .map(|(_, id)| *id)
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

        // Slips were read first, so every envelope after them can use them.
        let mut all_meta = slip_meta;
        let rest: Vec<u32> = candidates.keys().copied().filter(|u| !all_meta.contains_key(u)).collect();
        all_meta.append(&mut candidates);
        for group in [rest] {
            let mut sized = Vec::new();
            for uid in group {
                let Some(c) = all_meta.get(&uid) else { continue };
                if c.size > options.max_message_size {
                    let why = format!("{} bytes, the limit is {}", c.size, options.max_message_size);
                    results.insert(uid, fetched(uid, c, Err(MessageError::TooLarge(why))));
                } else {
                    sized.push((uid, c.size));
                }
            }
            for batch in batches(&sized, options.batch_size, options.batch_bytes) {
                self.read_batch(&batch, &all_meta, &mut reader, &mut results)?;
            }
        }
        // Old slips and old envelopes are read for pairing; only what they newly open is reported.
        results.retain(|&uid, f| {
            uid >= first
                || (late.contains(&uid)
                    && matches!(f.result, Ok(Retrieved::Opened { with_key_slip: true, .. })))
        });
        report.messages = results.into_values().collect();
        report.action_error = self.act(&report.messages, &slip_envelopes, options).err();
        Ok(report)
    }

    fn search(&mut self, query: &str) -> Result<Vec<u32>> {
        self.budget.set(DEFAULT_BUDGET);
        let mut uids: Vec<u32> =
            self.session.uid_search(query).map_err(|e| map_imap(e, "UID SEARCH"))?.into_iter().collect();
        uids.sort_unstable();
        Ok(uids)
    }

    /// Size and esmtp headers of each UID (those the server no longer has are left out).
    fn header_fields(&mut self, uids: &[u32]) -> Result<BTreeMap<u32, Candidate>> {
        let mut out = BTreeMap::new();
        for chunk in uids.chunks(UIDS_PER_COMMAND) {
            self.budget.set(DEFAULT_BUDGET);
            let fetches =
                self.session.uid_fetch(uid_set(chunk), HEADER_QUERY).map_err(|e| map_imap(e, "UID FETCH"))?;
            for f in fetches.iter() {
                let Some(uid) = f.uid else { continue };
                let info = f.header().map(retrieve::header_info).unwrap_or_default();
                out.insert(uid, Candidate { size: u64::from(f.size.unwrap_or(0)), info });
            }
        }
        Ok(out)
    }

    fn read_batch(
        &mut self,
        batch: &[u32],
        meta: &BTreeMap<u32, Candidate>,
        reader: &mut Reader<'_>,
        results: &mut BTreeMap<u32, Fetched>,
    ) -> Result<()> {
        let expected: u64 = batch.iter().filter_map(|u| meta.get(u)).map(|c| c.size + 4096).sum();
        // Bounded by what the server announced; twice that, since some servers only estimate
        // RFC822.SIZE.
        self.budget.set(expected.saturating_mul(2).saturating_add(4 << 20));
        let fetches = match self.session.uid_fetch(uid_set(batch), "(UID BODY.PEEK[])") {
            Ok(fetches) => fetches,
            Err(e) => {
                let err = map_imap(e, "UID FETCH");
                // A NO leaves the session usable: find the message it is about, one at a time,
                // and give that one the error.
                if !matches!(err.kind(), ErrorKind::Permanent | ErrorKind::Transient) {
                    return Err(err);
                }
                if let [uid] = batch {
                    if let Some(c) = meta.get(uid) {
                        results.insert(*uid, fetched(*uid, c, Err(MessageError::Other(err.to_string()))));
                    }
                    return Ok(());
                }
                for uid in batch {
                    self.read_batch(std::slice::from_ref(uid), meta, reader, results)?;
                }
                return Ok(());
            }
        };
        for f in fetches.iter() {
            let (Some(uid), Some(body)) = (f.uid, f.body()) else { continue };
            let Some(c) = meta.get(&uid) else { continue };
            if results.contains_key(&uid) {
                continue;
            }
            let read = reader.read(body);
            let mut item = fetched(uid, c, read.result);
            if let Some(outer) = read.outer {
                item.outer = outer;
            }
            results.insert(uid, item);
        }
        for &uid in batch {
            if let (false, Some(c)) = (results.contains_key(&uid), meta.get(&uid)) {
                let gone = Err(MessageError::Other("the message is no longer on the server".into()));
                results.insert(uid, fetched(uid, c, gone));
            }
        }
        Ok(())
    }

    /// Mark, move or delete what opened, and the key slips that opened it.
    fn act(
        &mut self,
        messages: &[Fetched],
        slip_envelopes: &BTreeMap<u32, EnvelopeId>,
        options: &FetchOptions,
    ) -> Result<()> {
        let delete = options.delete_after_open && options.move_to.is_none();
        if !options.mark_seen && options.move_to.is_none() && !delete {
            return Ok(());
        }
        let mut uids: BTreeSet<u32> = BTreeSet::new();
        let mut used_slips: BTreeSet<EnvelopeId> = BTreeSet::new();
        for m in messages {
            if let (Some(uid), Some(mail)) = (m.uid(), m.opened()) {
                uids.insert(uid);
                if matches!(m.result, Ok(Retrieved::Opened { with_key_slip: true, .. })) {
                    used_slips.insert(mail.envelope_id);
                }
            }
        }
        uids.extend(slip_envelopes.iter().filter(|(_, id)| used_slips.contains(id)).map(|(&u, _)| u));
        let uids: Vec<u32> = uids.into_iter().collect();
        for chunk in uids.chunks(UIDS_PER_COMMAND) {
            let set = uid_set(chunk);
            self.budget.set(DEFAULT_BUDGET);
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

fn fetched(uid: u32, c: &Candidate, result: Result<Retrieved, MessageError>) -> Fetched {
    Fetched { location: MessageRef::Imap { uid }, size: c.size, outer: c.info.outer.clone(), result }
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
    fn batches_respect_count_and_bytes() {
        let items: Vec<(u32, u64)> = (1..=7).map(|u| (u, 10)).collect();
        assert_eq!(batches(&items, 3, 1000), vec![vec![1, 2, 3], vec![4, 5, 6], vec![7]]);
        assert_eq!(batches(&items, 100, 25), vec![vec![1, 2], vec![3, 4], vec![5, 6], vec![7]]);
        // A message above the byte budget goes alone.
        let big = [(1, 5), (2, 1000), (3, 5)];
        assert_eq!(batches(&big, 100, 100), vec![vec![1], vec![2], vec![3]]);
        assert!(batches(&[], 10, 10).is_empty());
    }
}
