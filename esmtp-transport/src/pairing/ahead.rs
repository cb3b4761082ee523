//! Opening messages on other threads while the next batch downloads.
//!
//! Reading a downloaded esmtp mail is most of a fetch's CPU time (a key agreement, the MIME
//! layout, the envelope, a fingerprint), and none of it needs the session. So each batch, once
//! downloaded, goes to a worker thread with a snapshot of the key slips known at that moment,
//! and the calling thread downloads the next batch meanwhile. The workers' reads come back to
//! the calling thread, which settles them strictly in batch order with [`super::settle`], where
//! everything that depends on the messages before (copies, key slips read since the snapshot)
//! is decided: the results are those of reading one message after another.
//!
//! Memory stays bounded: at most [`in_flight`] batches are downloaded and not yet settled, each
//! within the source's batch limits.

use std::collections::BTreeMap;
use std::panic::AssertUnwindSafe;
use std::sync::Mutex;
use std::sync::mpsc;

use super::{Prepared, State, settle, settle_missing};
use crate::error::Result;
use crate::pairing::Source;
use crate::retrieve::{MessageError, Reader};

/// At most this many worker threads, however many cores: batches are small, and a fetch
/// should not take a large machine's every core.
const MAX_WORKERS: usize = 4;

/// One downloaded message, owned: the batch outlives the download call.
type Downloaded = (usize, std::result::Result<Vec<u8>, MessageError>);

/// A batch for a worker: its place in order, the key slips known when it was downloaded.
struct Job<'o> {
    seq: usize,
    reader: Reader<'o>,
    messages: Vec<Downloaded>,
}

/// The messages of a batch, each with what reading it gave.
type Read = Vec<(Downloaded, Option<Prepared>)>;

/// A batch read by a worker, with its place in order; a panic while reading is passed on to the
/// calling thread, which unwinds with it as it would have reading the batch itself (and so ends
/// the workers instead of waiting for a batch that never comes).
type Done = (usize, std::thread::Result<Read>);

fn workers() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get()).clamp(1, MAX_WORKERS)
}

/// Batches downloaded and not yet settled, at most: one per worker and one downloading.
fn in_flight(workers: usize) -> usize {
    workers + 1
}

/// Download `batches` in order and settle every message of them, reading ahead on workers.
pub(super) fn read_batches(
    source: &mut dyn Source,
    batches: &[Vec<usize>],
    state: &mut State<'_, '_>,
) -> Result<()> {
    match batches {
        [] => return Ok(()),
        // Nothing to read ahead of: no threads for it (a fetch of a few new mails, or a group of
        // key slips, is one batch).
        [batch] => return super::download(source, batch, state),
        _ => {}
    }
    let workers = workers();
    let limit = in_flight(workers);
    let fingerprints = state.copies.enabled();
    let (job_tx, job_rx) = mpsc::channel::<Job<'_>>();
    let job_rx = Mutex::new(job_rx);
    let (done_tx, done_rx) = mpsc::channel::<Done>();
    std::thread::scope(|scope| {
        for _ in 0..workers {
            let (job_rx, done_tx) = (&job_rx, done_tx.clone());
            scope.spawn(move || {
                loop {
                    // The lock is held only while waiting for a job, not while reading it.
                    let job = job_rx.lock().unwrap_or_else(|p| p.into_inner()).recv();
                    let Ok(Job { seq, reader, messages }) = job else { return };
                    let read = std::panic::catch_unwind(AssertUnwindSafe(|| {
                        messages
                            .into_iter()
                            .map(|(i, raw)| {
                                let prepared = raw
                                    .as_deref()
                                    .ok()
                                    .map(|raw| Prepared::new(raw, Some(&reader), fingerprints));
                                ((i, raw), prepared)
                            })
                            .collect()
                    }));
                    if done_tx.send((seq, read)).is_err() {
                        return;
                    }
                }
            });
        }
        drop(done_tx);

        let mut order = Order { batches, next: 0, read: BTreeMap::new() };
        let mut sent = 0usize;
        let mut result = Ok(());
        for batch in batches {
            // Bounded memory: wait for the oldest batch before downloading another.
            while sent - order.next >= limit {
                if !order.wait(&done_rx, state) {
                    break;
                }
            }
            let mut messages = Vec::with_capacity(batch.len());
            if let Err(e) = source
                .download(state.candidates, batch, &mut |i, raw| messages.push((i, raw.map(<[u8]>::to_vec))))
            {
                result = Err(e);
                break;
            }
            let job = Job { seq: sent, reader: state.reader.clone(), messages };
            sent += 1;
            if job_tx.send(job).is_err() {
                break;
            }
            order.settle_ready(&done_rx, state);
        }
        // No more jobs: the workers end once the queue is empty.
        drop(job_tx);
        if result.is_ok() {
            while order.next < sent {
                if !order.wait(&done_rx, state) {
                    break;
                }
            }
        }
        result
    })
}

/// Batches that came back out of order, waiting for the ones before them.
struct Order<'b> {
    /// Every batch, in the order they are downloaded: a batch's place is its job's `seq`.
    batches: &'b [Vec<usize>],
    /// The place of the next batch to settle.
    next: usize,
    /// By place: the reads of the batches back from the workers and not settled yet.
    read: BTreeMap<usize, Read>,
}

impl Order<'_> {
    fn arrived(&mut self, (seq, read): Done) {
        let read = read.unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        self.read.insert(seq, read);
    }

    /// Settle every batch that is next in order and read.
    fn settle_in_order(&mut self, state: &mut State<'_, '_>) {
        while let Some(read) = self.read.remove(&self.next) {
            for ((i, raw), prepared) in read {
                match raw {
                    Ok(raw) => settle(state, i, Ok(&raw), prepared),
                    Err(e) => settle(state, i, Err(e), prepared),
                }
            }
            // The batch's candidates the server did not give.
            settle_missing(state, &self.batches[self.next]);
            self.next += 1;
        }
    }

    /// Take what the workers finished without waiting, and settle what is in order.
    fn settle_ready(&mut self, done: &mpsc::Receiver<Done>, state: &mut State<'_, '_>) {
        while let Ok(d) = done.try_recv() {
            self.arrived(d);
        }
        self.settle_in_order(state);
    }

    /// Wait for one batch from the workers and settle what is in order; false when no worker
    /// is left.
    fn wait(&mut self, done: &mpsc::Receiver<Done>, state: &mut State<'_, '_>) -> bool {
        match done.recv() {
            Ok(d) => {
                self.arrived(d);
                self.settle_in_order(state);
                true
            }
            Err(_) => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use esmtp_core::mime::{self, MailDraft, Mailbox, PackageOptions};
    use esmtp_core::{Opener, Sealer, X25519Identity};

    use super::super::{Candidate, Keys, Take, read_all};
    use super::*;
    use crate::contacts::Contacts;
    use crate::copies::Copies;
    use crate::retrieve::{Fetched, MessageRef, Retrieved, header_info};

    /// Messages by index (`None`: gone from the store), downloaded in batches of `limits`.
    struct Store {
        mails: Vec<Option<Vec<u8>>>,
        limits: (usize, u64),
        downloads: Vec<usize>,
    }

    impl Source for Store {
        fn batch_limits(&self) -> (usize, u64) {
            self.limits
        }

        fn download(&mut self, _: &[Candidate], batch: &[usize], take: &mut Take<'_>) -> Result<()> {
            for &i in batch {
                self.downloads.push(i);
                if let Some(raw) = &self.mails[i] {
                    take(i, Ok(raw));
                }
            }
            Ok(())
        }
    }

    fn draft(text: &str) -> MailDraft {
        MailDraft::new(Mailbox::new("alice@example.test"))
            .to(Mailbox::new("bob@example.test"))
            .subject("s")
            .text(text)
            .date(1_700_000_000)
    }

    fn sealed(text: &str, sealer: &Sealer) -> mime::EncryptedMail {
        mime::package(&draft(text), sealer, &PackageOptions::new(1_700_000_000)).unwrap()
    }

    /// An envelope only a key slip opens, and its key-slip mail.
    fn slipped(text: &str) -> (Vec<u8>, Vec<u8>) {
        let mail = sealed(text, &Sealer::new().key_slip());
        let slip = mail.key_slip.as_ref().unwrap();
        let d = draft(text);
        let slip_mail = mime::key_slip_mail(slip, &d.from, &d.to[0], 1_700_000_000).unwrap();
        (mail.bytes, slip_mail.bytes.to_vec())
    }

    /// One line per message: where, and what reading it gave.
    fn summary(f: &Fetched) -> String {
        let what = match &f.result {
            Ok(Retrieved::Opened { mail, with_key_slip }) => {
                format!("opened slip={with_key_slip} {:?}", mail.text.as_deref())
            }
            Ok(Retrieved::KeySlip(slip)) => format!("key slip {}", slip.envelope_id),
            Ok(Retrieved::Plain(_)) => "plain".into(),
            Err(e) => format!("error {e:?}"),
        };
        format!("{:?} {what} envelope={:?}", f.location, f.envelope_id.map(|id| id.to_string()))
    }

    /// The reading order without any reading ahead: one message after another with the slips
    /// read before it, copies left out, then a second chance for envelopes whose slip came later.
    /// With `headers`, a message that did not open names the envelope of its header (read up
    /// front) when the envelope itself cannot be read; without, only one that no key opens does.
    fn one_after_another(mails: &[Option<Vec<u8>>], opener: &Opener, headers: bool) -> Vec<String> {
        let mut reader = Reader::new(opener);
        let mut copies = Copies::default();
        let mut out: Vec<Option<String>> = vec![None; mails.len()];
        let mut retry = Vec::new();
        let at = |i: usize| MessageRef::Imap { uid: i as u32 + 1 };
        for (i, raw) in mails.iter().enumerate() {
            let Some(raw) = raw else {
                out[i] = Some(format!("{:?} error Gone envelope=None", at(i)));
                continue;
            };
            if let Some((original, _)) = copies.original_of(raw, &at(i)) {
                out[i] = Some(format!("{:?} copy of {original:?}", at(i)));
                continue;
            }
            let read = reader.read(raw);
            if let Ok(Retrieved::KeySlip(slip)) = &read.result {
                reader.add_slip(slip.key_slip.clone());
            }
            if matches!(read.result, Err(MessageError::NoMatchingRecipient)) {
                retry.push(i);
            }
            out[i] = Some(summary(&fetched_from(i, read, raw, headers)));
        }
        for i in retry {
            let raw = mails[i].as_ref().unwrap();
            out[i] = Some(summary(&fetched_from(i, reader.read(raw), raw, headers)));
        }
        out.into_iter().map(Option::unwrap).collect()
    }

    fn fetched_from(i: usize, read: crate::retrieve::ReadOutcome, raw: &[u8], headers: bool) -> Fetched {
        let envelope_id = match &read.result {
            Ok(Retrieved::Opened { mail, .. }) => Some(mail.envelope_id),
            Ok(Retrieved::KeySlip(slip)) => Some(slip.envelope_id),
            Ok(Retrieved::Plain(_)) => None,
            Err(MessageError::NoMatchingRecipient) => read.envelope_id.or(header_info(raw).envelope_id),
            Err(_) if headers => read.envelope_id.or(header_info(raw).envelope_id),
            Err(_) => read.envelope_id,
        };
        Fetched {
            location: MessageRef::Imap { uid: i as u32 + 1 },
            size: raw.len() as u64,
            outer: read.outer.unwrap_or_default(),
            result: read.result,
            envelope_id,
            sender: None,
        }
    }

    #[test]
    fn reading_ahead_gives_the_results_of_reading_one_message_after_another() {
        let bob = X25519Identity::generate().unwrap();
        let opener = Opener::new().identity(bob.clone());
        let to_bob = Sealer::new().recipient(bob.to_public());
        let mut mails: Vec<Option<Vec<u8>>> =
            (0..60).map(|i| Some(sealed(&format!("mail {i}"), &to_bob).bytes)).collect();
        // A slip in the middle, its envelope right after it (the same batch); another slip whose
        // envelope comes batches later; an envelope before its slip (a second chance).
        let (a, slip_a) = slipped("opened by slip a");
        let (b, slip_b) = slipped("opened by slip b");
        let (c, slip_c) = slipped("opened by slip c");
        mails[20] = Some(slip_a);
        mails[21] = Some(a);
        mails[22] = Some(slip_b);
        mails[40] = Some(b);
        mails[10] = Some(c);
        mails[30] = Some(slip_c);
        // Broken mails among the good ones: altered armor, and one cut in half.
        let mut altered = mails[15].take().unwrap();
        let middle = altered.len() * 2 / 3;
        altered[middle] = if altered[middle] == b'A' { b'B' } else { b'A' };
        mails[15] = Some(altered);
        let cut = mails[33].take().unwrap();
        mails[33] = Some(cut[..cut.len() / 2].to_vec());
        // A copy of mail 5 (as a second delivery), one for someone else, a plain one, a gone one.
        let mut copy = b"Received: from the retry\r\n".to_vec();
        copy.extend_from_slice(mails[5].as_ref().unwrap());
        mails[45] = Some(copy);
        let stranger = X25519Identity::generate().unwrap();
        mails[50] = Some(sealed("not for bob", &Sealer::new().recipient(stranger.to_public())).bytes);
        mails[55] = Some(b"From: carol@example.test\r\nSubject: hi\r\n\r\nplain\r\n".to_vec());
        mails[57] = None;

        let want = one_after_another(&mails, &opener, false);
        assert!(want[21].contains("opened slip=true") && want[40].contains("opened slip=true"), "{want:#?}");
        assert!(want[10].contains("opened slip=true"), "{}", want[10]);
        assert!(want[15].contains("error") && want[33].contains("error") && want[50].contains("NoMatching"));
        assert!(want[45].contains("copy of Imap { uid: 6 }"), "{}", want[45]);

        for (limits, headers) in
            [((1, 0), false), ((7, u64::MAX), false), ((1000, u64::MAX), false), ((7, 20_000), true)]
        {
            let candidates: Vec<Candidate> = mails
                .iter()
                .enumerate()
                .map(|(i, raw)| Candidate {
                    location: MessageRef::Imap { uid: i as u32 + 1 },
                    size: raw.as_ref().map_or(100, |r| r.len() as u64),
                    info: headers.then(|| raw.as_deref().map(header_info).unwrap_or_default()),
                })
                .collect();
            let mut store = Store { mails: mails.clone(), limits, downloads: Vec::new() };
            let keys = Keys { opener: &opener, contacts: &Contacts::new() };
            let pass =
                read_all(&mut store, &keys, &[], &candidates, u64::MAX, &mut Copies::default()).unwrap();
            let mut got: Vec<(u32, String)> =
                pass.messages.iter().map(|m| (m.uid().unwrap(), summary(m))).collect();
            got.extend(pass.duplicates.iter().map(|d| {
                let MessageRef::Imap { uid } = d.location else { unreachable!() };
                (uid, format!("{:?} copy of {:?}", d.location, d.copy_of))
            }));
            got.sort_by_key(|(uid, _)| *uid);
            let got: Vec<String> = got.into_iter().map(|(_, line)| line).collect();
            let want = one_after_another(&mails, &opener, headers);
            assert_eq!(got, want, "batches {limits:?}, headers up front: {headers}");
            // Each message downloaded once, but the envelope whose slip came after it (without
            // headers up front, its slip is only found when read).
            let mut counts = vec![0; mails.len()];
            for &i in &store.downloads {
                counts[i] += 1;
            }
            let twice: Vec<usize> = (0..mails.len()).filter(|&i| counts[i] == 2).collect();
            assert_eq!(twice, if headers { vec![] } else { vec![10] }, "{limits:?}");
            assert!(counts.iter().all(|&n| (1..=2).contains(&n)), "{counts:?}");
        }
    }
}
