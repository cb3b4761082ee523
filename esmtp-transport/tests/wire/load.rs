//! Senders and fetchers at once: 8 threads submit, 4 threads (2 over IMAP, 2 over POP3) fetch
//! incrementally until each has every mail, within a bounded time.

use std::collections::HashMap;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use esmtp_core::{Opener, Sealer, X25519Identity};
use esmtp_transport::{
    ImapClient, ImapFetchOptions, Pop3Client, Pop3FetchOptions, Pop3SyncState, SendOptions, Submit,
    Submitter, TlsMode,
};

use crate::lab::{Lab, tag};
use crate::{draft, imap_now, tagged};

const SENDERS: usize = 8;
const MAILS_EACH: usize = 6;
const TOTAL: usize = SENDERS * MAILS_EACH;
/// The whole run must end within this; it takes a few seconds.
const LIMIT: Duration = Duration::from_secs(90);

/// What one fetcher saw: how often each protected subject opened, and duplicates reported.
type Seen = (HashMap<String, usize>, usize);

fn record(seen: &mut Seen, messages: &[esmtp_transport::Fetched], duplicates: usize, t: &str) {
    for m in tagged(messages, t) {
        let subject = m.opened().and_then(|o| o.headers.subject.clone()).unwrap();
        *seen.0.entry(subject).or_default() += 1;
    }
    seen.1 += duplicates;
}

fn imap_fetcher(lab: &Lab, bob: &X25519Identity, t: &str, start: Instant, ready: &Barrier) -> Seen {
    let mut since = imap_now(lab);
    ready.wait();
    let mut seen = Seen::default();
    let mut imap = ImapClient::connect(&lab.password_account("bob", TlsMode::Implicit)).unwrap();
    let opener = Opener::new().identity(bob.clone());
    while seen.0.len() < TOTAL && start.elapsed() < LIMIT {
        let options = ImapFetchOptions { since: Some(since), ..ImapFetchOptions::default() };
        let report = imap.fetch_esmtp("INBOX", &opener, &options).unwrap();
        record(&mut seen, &report.messages, report.duplicates.len(), t);
        since = report.sync;
        std::thread::sleep(Duration::from_millis(300));
    }
    let _ = imap.logout();
    seen
}

fn pop3_fetcher(lab: &Lab, bob: &X25519Identity, t: &str, start: Instant, ready: &Barrier) -> Seen {
    let account = lab.password_account("bob", TlsMode::Implicit);
    let mut since = {
        let mut pop3 = Pop3Client::connect(&account).unwrap();
        let state = Pop3SyncState::after(&pop3.entries().unwrap());
        let _ = pop3.quit();
        state
    };
    ready.wait();
    let mut seen = Seen::default();
    let opener = Opener::new().identity(bob.clone());
    while seen.0.len() < TOTAL && start.elapsed() < LIMIT {
        // A POP3 session shows the maildrop as it was at login: one session per round.
        let mut pop3 = Pop3Client::connect(&account).unwrap();
        let options = Pop3FetchOptions { since: Some(since.clone()), ..Pop3FetchOptions::default() };
        let report = pop3.fetch_esmtp(&opener, &options).unwrap();
        let _ = pop3.quit();
        record(&mut seen, &report.messages, report.duplicates.len(), t);
        since = report.sync;
        std::thread::sleep(Duration::from_millis(300));
    }
    seen
}

#[test]
#[ignore = "needs the mail lab: ./scripts/test starts it"]
fn eight_senders_and_four_fetchers_every_mail_once() {
    let lab = Arc::new(Lab::get());
    let bob = X25519Identity::generate().unwrap();
    let t = tag();
    let start = Instant::now();
    // The fetchers take their starting state before anything is sent.
    let ready = Arc::new(Barrier::new(4 + SENDERS));
    let fetchers: Vec<_> = (0..4)
        .map(|i| {
            let (lab, bob, t, ready) = (lab.clone(), bob.clone(), t.clone(), ready.clone());
            std::thread::spawn(move || {
                if i % 2 == 0 {
                    ("imap", imap_fetcher(&lab, &bob, &t, start, &ready))
                } else {
                    ("pop3", pop3_fetcher(&lab, &bob, &t, start, &ready))
                }
            })
        })
        .collect();
    let senders: Vec<_> = (0..SENDERS)
        .map(|s| {
            let (lab, bob, t, ready) = (lab.clone(), bob.clone(), t.clone(), ready.clone());
            std::thread::spawn(move || {
                ready.wait();
                // One session per sender thread: eight at once.
                let submitter = Submitter::new(&lab.password_account("alice", TlsMode::Implicit)).unwrap();
                for m in 0..MAILS_EACH {
                    let mail = draft(&lab, &format!("{t} {s}-{m}"));
                    submitter
                        .send_secure(&mail, Sealer::new().recipient(bob.to_public()), &SendOptions::default())
                        .unwrap();
                }
            })
        })
        .collect();
    for s in senders {
        s.join().expect("a sender failed");
    }
    let sent = start.elapsed();
    for f in fetchers {
        let (protocol, (seen, duplicates)) = f.join().expect("a fetcher failed");
        assert_eq!(
            seen.len(),
            TOTAL,
            "{protocol}: {} of {TOTAL} mails after {:?}",
            seen.len(),
            start.elapsed()
        );
        assert!(seen.values().all(|&n| n == 1), "{protocol}: a mail shown twice: {seen:?}");
        assert_eq!(duplicates, 0, "{protocol}: nothing was sent twice");
    }
    assert!(start.elapsed() < LIMIT, "bounded run: sent in {sent:?}, all fetched in {:?}", start.elapsed());
    crate::remove_mail(&lab, "bob", &t);
}
