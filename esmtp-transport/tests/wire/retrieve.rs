//! IMAP and POP3 retrieval through a fault-injecting proxy in front of the lab's Dovecot: a
//! session that breaks mid-download or is ended by the server is an error and the next fetch
//! reads everything; a message the server cannot give now, or that another client removes
//! during the fetch, is reported, and the sync state never passes a message not read.

use std::collections::HashSet;
use std::path::PathBuf;

use esmtp_core::mime::{self, PackageOptions};
use esmtp_core::{Opener, Sealer, X25519Identity};
use esmtp_transport::{
    ErrorKind, Fetched, ImapClient, ImapFetchOptions, MessageError, Pop3Client, Pop3FetchOptions,
    Pop3SyncState, Submit, Submitter, TlsMode,
};

use crate::lab::{self, Lab, tag};
use crate::proxy::{Action, Proxy, Script, Who, on_connection};
use crate::{delivered, draft, remove_mail, tagged, terminating, via_proxy};

/// `count` mails for bob, appended to a new mailbox of bob's; returns its name and the tag.
fn mailbox_with(lab: &Lab, bob: &X25519Identity, count: usize) -> (String, String) {
    let t = tag();
    let mut imap = ImapClient::connect(&lab.password_account("bob", TlsMode::Implicit)).unwrap();
    let name = format!("wire-{t}");
    imap.create_mailbox(&name).unwrap();
    for i in 0..count {
        let mail = mime::package(
            &draft(lab, &format!("{t} {i}")),
            &Sealer::new().recipient(bob.to_public()),
            &PackageOptions::new(1_700_000_000),
        )
        .unwrap();
        imap.append(&name, &mail.bytes).unwrap();
    }
    let _ = imap.logout();
    (name, t)
}

fn imap_via(lab: &Lab, proxy: &Proxy) -> esmtp_transport::Result<ImapClient> {
    ImapClient::connect(&via_proxy(lab, "bob", "imap", proxy.port).build().unwrap())
}

fn fetch(
    client: &mut ImapClient,
    mailbox: &str,
    bob: &X25519Identity,
    since: Option<esmtp_transport::ImapSyncState>,
) -> esmtp_transport::Result<esmtp_transport::ImapFetchReport> {
    let options = ImapFetchOptions { since, batch_size: 2, ..ImapFetchOptions::default() };
    client.fetch_esmtp(mailbox, &Opener::new().identity(bob.clone()), &options)
}

/// Makes a connection's script.
type Fault = fn() -> Script;

/// After the client asks for message bodies: cut the connection once the server has sent
/// `lines` lines of the answer.
fn cut_mid_download(lines: usize) -> Script {
    let mut left: Option<usize> = None;
    Box::new(move |who, line| {
        match (who, &mut left) {
            (Who::Client, None) if is_download(line) => left = Some(lines),
            (Who::Server, Some(0)) => return Action::Close,
            (Who::Server, Some(n)) => *n -= 1,
            _ => {}
        }
        Action::Forward
    })
}

/// An IMAP body fetch, or a POP3 download (TOP with a line count other than 0, or RETR).
fn is_download(line: &[u8]) -> bool {
    let text = String::from_utf8_lossy(line);
    let words: Vec<&str> = text.split_whitespace().collect();
    text.contains("BODY.PEEK[]")
        || words.first() == Some(&"RETR")
        || (words.first() == Some(&"TOP") && words.get(2).is_some_and(|n| *n != "0"))
}

#[test]
#[ignore = "needs the mail lab: ./scripts/test starts it"]
fn imap_cut_mid_fetch_or_ended_by_bye_is_an_error_and_the_next_fetch_reads_all() {
    let lab = Lab::get();
    let bob = X25519Identity::generate().unwrap();
    let (mailbox, t) = mailbox_with(&lab, &bob, 4);
    fn bye() -> Script {
        Box::new(|who, line| {
            if who == Who::Client && is_download(line) {
                Action::AnswerAndClose(b"* BYE Server shutting down\r\n".to_vec())
            } else {
                Action::Forward
            }
        })
    }
    let faults: [(&str, Fault); 2] = [("cut mid-FETCH", || cut_mid_download(5)), ("BYE", bye)];
    for (name, fault) in faults {
        let proxy = Proxy::start("127.0.0.1", lab::port("IMAPS"), terminating(&lab), on_connection(0, fault));
        let err = fetch(&mut imap_via(&lab, &proxy).unwrap(), &mailbox, &bob, None).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Connection, "{name}: {err:?}");
        assert!(err.is_transient(), "{name}");
        // The caller kept no state from the failed fetch: the next one reads every message.
        let report = fetch(&mut imap_via(&lab, &proxy).unwrap(), &mailbox, &bob, None).unwrap();
        assert_eq!(tagged(&report.messages, &t).len(), 4, "{name}: {:?}", report.messages);
        assert_eq!(report.messages.len(), 4);
    }
}

/// The UIDs of an IMAP `UID FETCH` set such as `3:5,7`.
fn uid_set(set: &str) -> Vec<u32> {
    set.split(',')
        .flat_map(|part| match part.split_once(':') {
            Some((a, b)) => (a.parse().unwrap()..=b.parse().unwrap()).collect::<Vec<u32>>(),
            None => vec![part.parse().unwrap()],
        })
        .collect()
}

#[test]
#[ignore = "needs the mail lab: ./scripts/test starts it"]
fn an_imap_message_the_server_cannot_give_holds_the_sync_state_back() {
    let lab = Lab::get();
    let bob = X25519Identity::generate().unwrap();
    let (mailbox, t) = mailbox_with(&lab, &bob, 4);
    // The third message's body is refused for now, in every batch that asks for it.
    let proxy = Proxy::start(
        "127.0.0.1",
        lab::port("IMAPS"),
        terminating(&lab),
        on_connection(0, || {
            Box::new(|who, line| {
                let text = String::from_utf8_lossy(line);
                let words: Vec<&str> = text.split_whitespace().collect();
                if who == Who::Client && is_download(line) && uid_set(words[3]).contains(&3) {
                    return Action::Answer(
                        format!("{} NO [UNAVAILABLE] try again later\r\n", words[0]).into_bytes(),
                    );
                }
                Action::Forward
            })
        }),
    );
    let report = fetch(&mut imap_via(&lab, &proxy).unwrap(), &mailbox, &bob, None).unwrap();
    let unavailable: Vec<&Fetched> =
        report.messages.iter().filter(|m| matches!(m.result, Err(MessageError::Unavailable(_)))).collect();
    assert_eq!(unavailable.len(), 1, "{:?}", report.messages);
    assert_eq!(unavailable[0].uid(), Some(3));
    assert_eq!(tagged(&report.messages, &t).len(), 3);
    assert_eq!(report.sync.last_uid, 2, "never past a message not read");
    // Next time (the server gives it now) it is read, with those after it once more.
    let next = fetch(&mut imap_via(&lab, &proxy).unwrap(), &mailbox, &bob, Some(report.sync)).unwrap();
    assert_eq!(next.messages.iter().filter_map(Fetched::uid).collect::<Vec<_>>(), [3, 4]);
    assert_eq!(tagged(&next.messages, &t).len(), 2);
    assert_eq!(next.sync.last_uid, 4);
}

/// Files of `maildir` (new/ and cur/) that contain `needle`.
fn files_with(maildir: &std::path::Path, needle: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for sub in ["new", "cur"] {
        for e in std::fs::read_dir(maildir.join(sub)).into_iter().flatten().flatten() {
            if std::fs::read(e.path()).is_ok_and(|b| b.windows(needle.len()).any(|w| w == needle.as_bytes()))
            {
                out.push(e.path());
            }
        }
    }
    out
}

/// Removes the first message carrying `needle` from `maildir` (as another client would) when
/// the client starts downloading, then relays on.
fn delete_on_download(maildir: PathBuf, needle: String) -> impl Fn(usize) -> Script + Send + Sync {
    move |_| {
        let (maildir, needle) = (maildir.clone(), needle.clone());
        let mut done = false;
        Box::new(move |who, line| {
            if who == Who::Client && !done && is_download(line) {
                done = true;
                for path in files_with(&maildir, &needle) {
                    std::fs::remove_file(path).unwrap();
                }
            }
            Action::Forward
        })
    }
}

fn assert_all_reported(messages: &[Fetched], t: &str, count: usize) {
    // Every message is in the report: opened, or with the reason it could not be read.
    let opened = tagged(messages, t).len();
    let failed: Vec<&MessageError> = messages.iter().filter_map(|m| m.result.as_ref().err()).collect();
    assert!(opened >= count - 1, "{messages:?}");
    assert_eq!(opened + failed.len(), messages.len(), "{messages:?}");
    assert!(messages.len() >= count, "a message left out: {messages:?}");
}

#[test]
#[ignore = "needs the mail lab: ./scripts/test starts it"]
fn an_imap_message_deleted_by_another_client_during_the_fetch_is_reported() {
    let lab = Lab::get();
    let bob = X25519Identity::generate().unwrap();
    let (mailbox, t) = mailbox_with(&lab, &bob, 4);
    let maildir = lab.maildir("bob").join(format!(".{mailbox}"));
    let proxy = Proxy::start(
        "127.0.0.1",
        lab::port("IMAPS"),
        terminating(&lab),
        delete_on_download(maildir, format!("wire subject {t} 1")),
    );
    let report = fetch(&mut imap_via(&lab, &proxy).unwrap(), &mailbox, &bob, None).unwrap();
    assert_all_reported(&report.messages, &t, 4);
}

/// `count` mails sent to bob over SMTP; the POP3 state just before them and their tag.
fn inbox_with(lab: &Lab, bob: &X25519Identity, count: usize) -> (Pop3SyncState, String) {
    let mut pop3 = Pop3Client::connect(&lab.password_account("bob", TlsMode::Implicit)).unwrap();
    let before = Pop3SyncState::after(&pop3.entries().unwrap());
    let _ = pop3.quit();
    let t = tag();
    let submitter = Submitter::new(&lab.password_account("alice", TlsMode::Implicit)).unwrap();
    for i in 0..count {
        submitter
            .send_secure(
                &draft(lab, &format!("{t} {i}")),
                Sealer::new().recipient(bob.to_public()),
                &esmtp_transport::SendOptions {
                    message_id_domain: Some(format!("{t}.example.test")),
                    ..Default::default()
                },
            )
            .unwrap();
    }
    assert_eq!(delivered(lab, "bob", &t, count), count);
    (before, t)
}

fn pop3_fetch(
    lab: &Lab,
    proxy: &Proxy,
    bob: &X25519Identity,
    since: &Pop3SyncState,
) -> esmtp_transport::Result<esmtp_transport::Pop3FetchReport> {
    let mut pop3 = Pop3Client::connect(&via_proxy(lab, "bob", "pop3", proxy.port).build().unwrap())?;
    let options = Pop3FetchOptions { since: Some(since.clone()), ..Pop3FetchOptions::default() };
    let report = pop3.fetch_esmtp(&Opener::new().identity(bob.clone()), &options);
    let _ = pop3.quit();
    report
}

fn uidls(messages: &[&Fetched]) -> HashSet<String> {
    messages.iter().filter_map(|m| m.uidl()).map(str::to_string).collect()
}

#[test]
#[ignore = "needs the mail lab: ./scripts/test starts it"]
fn pop3_cut_mid_download_is_an_error_and_an_unavailable_message_holds_the_state_back() {
    let lab = Lab::get();
    let bob = X25519Identity::generate().unwrap();
    let (before, t) = inbox_with(&lab, &bob, 3);

    let proxy = Proxy::start(
        "127.0.0.1",
        lab::port("POP3S"),
        terminating(&lab),
        on_connection(0, || cut_mid_download(5)),
    );
    let err = pop3_fetch(&lab, &proxy, &bob, &before).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Connection, "{err:?}");
    let all = pop3_fetch(&lab, &proxy, &bob, &before).unwrap();
    assert_eq!(tagged(&all.messages, &t).len(), 3);

    // The first download is refused for now: that message is reported, and the state stays
    // before it, so the next fetch reads it.
    let proxy = Proxy::start(
        "127.0.0.1",
        lab::port("POP3S"),
        terminating(&lab),
        on_connection(0, || {
            let mut done = false;
            Box::new(move |who, line| {
                if who == Who::Client && !done && is_download(line) {
                    done = true;
                    return Action::Answer(b"-ERR [SYS/TEMP] try again later\r\n".to_vec());
                }
                Action::Forward
            })
        }),
    );
    let report = pop3_fetch(&lab, &proxy, &bob, &before).unwrap();
    let unavailable: Vec<&Fetched> =
        report.messages.iter().filter(|m| matches!(m.result, Err(MessageError::Unavailable(_)))).collect();
    assert_eq!(unavailable.len(), 1, "{:?}", report.messages);
    let next = pop3_fetch(&lab, &proxy, &bob, &report.sync).unwrap();
    let again: Vec<&Fetched> = next.messages.iter().collect();
    assert!(uidls(&again).is_superset(&uidls(&unavailable)), "read next time");
    let opened: HashSet<String> =
        uidls(&tagged(&report.messages, &t)).union(&uidls(&tagged(&next.messages, &t))).cloned().collect();
    assert_eq!(opened.len(), 3);
    remove_mail(&lab, "bob", &t);
}

#[test]
#[ignore = "needs the mail lab: ./scripts/test starts it"]
fn a_pop3_message_deleted_by_another_client_during_the_fetch_is_reported() {
    let lab = Lab::get();
    let bob = X25519Identity::generate().unwrap();
    let (before, t) = inbox_with(&lab, &bob, 3);
    let message_id = files_with(&lab.maildir("bob"), &t);
    assert_eq!(message_id.len(), 3);
    // Which one goes does not matter: the first file found with the tag.
    let victim = std::fs::read_to_string(&message_id[0]).unwrap();
    let id_line = victim.lines().find(|l| l.to_ascii_lowercase().starts_with("message-id:")).unwrap();
    let proxy = Proxy::start(
        "127.0.0.1",
        lab::port("POP3S"),
        terminating(&lab),
        delete_on_download(lab.maildir("bob"), id_line.to_string()),
    );
    let report = pop3_fetch(&lab, &proxy, &bob, &before).unwrap();
    let ours: Vec<&Fetched> =
        report.messages.iter().filter(|m| m.message_id().is_some_and(|id| id.contains(&t))).collect();
    assert_eq!(ours.len(), 3, "a message left out: {:?}", report.messages);
    assert_all_reported(&report.messages, &t, 3);
    remove_mail(&lab, "bob", &t);
}
