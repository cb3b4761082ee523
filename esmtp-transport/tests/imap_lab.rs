//! IMAP retrieval against the real lab (Dovecot on 127.0.0.1). Run by ./scripts/test. Each test
//! works in a mailbox of its own (created, filled by APPEND, deleted), or filters bob's INBOX by
//! sync state and its own message ids, so the tests run in any order and in parallel.

mod lab;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::time::{Duration, Instant};

use esmtp_core::mime::{self, Attachment, MailDraft, Mailbox, PackageOptions};
use esmtp_core::{Argon2Params, Opener, Passphrase, Sealer, Suite, X25519Identity};
use esmtp_transport::{
    Credentials, ErrorKind, FetchScope, ImapClient, ImapFetchOptions, ImapSyncState, MessageError,
    PasswordMechanism, Retrieved, ServerSettings, Submit, Submitter, TlsMode,
};
use lab::{Lab, tag};

/// Counts heap bytes per thread, so one test can measure its own peak while others run.
struct Counting;

thread_local! {
    static CURRENT: Cell<isize> = const { Cell::new(0) };
    static PEAK: Cell<isize> = const { Cell::new(0) };
}

fn track(delta: isize) {
    let _ = CURRENT.try_with(|c| {
        let now = c.get() + delta;
        c.set(now);
        let _ = PEAK.try_with(|p| p.set(p.get().max(now)));
    });
}

// SAFETY: every call goes straight to the system allocator; only counters are added.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            track(layout.size() as isize);
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        track(-(layout.size() as isize));
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            track(new_size as isize - layout.size() as isize);
        }
        p
    }
}

#[global_allocator]
static COUNTING: Counting = Counting;

fn account(lab: &Lab, user: &str, tls: TlsMode, credentials: Credentials) -> esmtp_transport::AccountBuilder {
    let port = match tls {
        TlsMode::Implicit => lab::port("IMAPS"),
        TlsMode::StartTls => lab::port("IMAP"),
    };
    lab.account(user, TlsMode::Implicit, credentials).imap(ServerSettings::new(&lab.host, port, tls))
}

fn connect(lab: &Lab, user: &str) -> ImapClient {
    let acct =
        account(lab, user, TlsMode::Implicit, Credentials::Password(lab.password(user))).build().unwrap();
    ImapClient::connect(&acct).expect("IMAP login")
}

/// A mailbox of this test's own.
fn scratch(client: &mut ImapClient) -> String {
    let name = format!("esmtp-test-{}", tag());
    client.create_mailbox(&name).unwrap();
    name
}

fn draft(lab: &Lab, i: usize, tag: &str) -> MailDraft {
    MailDraft::new(Mailbox::new(lab.address("alice")))
        .to(Mailbox::new(lab.address("bob")))
        .subject(format!("mail {i} {tag}"))
        .date(1_700_000_000 + i as i64)
        .text(format!("secret body {i}"))
}

fn options(tag: &str) -> PackageOptions {
    PackageOptions {
        message_id_domain: Some(format!("{tag}.example.test")),
        ..PackageOptions::new(1_700_000_000)
    }
}

fn plain_mail(i: usize, tag: &str) -> Vec<u8> {
    format!(
        "From: <carol@example.test>\r\nTo: <bob@example.test>\r\nSubject: plain {i}\r\n\
         Date: Tue, 14 Nov 2023 22:13:20 +0000\r\nMessage-ID: <plain-{i}@{tag}.example.test>\r\n\r\nhello {i}\r\n"
    )
    .into_bytes()
}

fn replace(bytes: &[u8], from: &str, to: &str) -> Vec<u8> {
    String::from_utf8(bytes.to_vec()).unwrap().replacen(from, to, 1).into_bytes()
}

/// An encrypted mail damaged in one of six ways, with the error it must give.
fn corrupted(mail: &mime::EncryptedMail, kind: usize) -> (Vec<u8>, fn(&MessageError) -> bool) {
    let text = String::from_utf8(mail.bytes.clone()).unwrap();
    let lines: Vec<&str> = text.split("\r\n").collect();
    let end = lines.iter().position(|l| l.starts_with("-----END ESMTP")).unwrap();
    let decryption: fn(&MessageError) -> bool = |e| *e == MessageError::DecryptionFailed;
    let malformed: fn(&MessageError) -> bool = |e| matches!(e, MessageError::Malformed(_));
    match kind {
        // One base64 letter changed in a late payload line: the chunk fails authentication.
        0 => {
            let mut l = lines.clone();
            let first = if l[end - 2].starts_with('A') { "B" } else { "A" };
            let changed = format!("{first}{}", &l[end - 2][1..]);
            l[end - 2] = &changed;
            (l.join("\r\n").into_bytes(), decryption)
        }
        // Whole lines cut from the middle: still canonical base64, but the envelope is short.
        1 => {
            let mut l = lines.clone();
            l.drain(end - 6..end - 2);
            (l.join("\r\n").into_bytes(), |e| {
                matches!(e, MessageError::DecryptionFailed | MessageError::Malformed(_))
            })
        }
        2 => (replace(&mail.bytes, "-----END ESMTP ENVELOPE-----", ""), malformed),
        3 => (
            replace(&mail.bytes, &mail.envelope_id.to_string(), "00112233445566778899aabbccddeeff"),
            malformed,
        ),
        4 => (replace(&mail.bytes, "\r\nVersion: 1\r\n", "\r\nVersion: 2\r\n"), |e| {
            matches!(e, MessageError::Unsupported(_))
        }),
        _ => {
            let mut l = lines.clone();
            l[end - 3] = "!!!! not base64 !!!!";
            (l.join("\r\n").into_bytes(), malformed)
        }
    }
}

fn subject_index(mail: &mime::OpenedMail) -> usize {
    let subject = mail.headers.subject.as_deref().unwrap();
    subject.split(' ').nth(1).unwrap().parse().unwrap()
}

#[test]
#[ignore = "needs the mail lab: ./scripts/test starts it"]
fn logins_over_imaps_and_starttls_with_plain_login_and_xoauth2() {
    let lab = Lab::get();
    for (tls, mechanism) in [
        (TlsMode::Implicit, PasswordMechanism::Plain),
        (TlsMode::StartTls, PasswordMechanism::Login),
        (TlsMode::StartTls, PasswordMechanism::Any),
    ] {
        let acct = account(&lab, "bob", tls, Credentials::Password(lab.password("bob")))
            .password_mechanism(mechanism)
            .build()
            .unwrap();
        let mut client = ImapClient::connect(&acct).unwrap_or_else(|e| panic!("{tls:?} {mechanism:?}: {e}"));
        assert!(client.capabilities().iter().any(|c| c == "IDLE"));
        let names = client.mailboxes().unwrap();
        assert!(names.iter().any(|m| m.name == "INBOX" && m.selectable), "{names:?}");
        client.logout().unwrap();
    }
    for tls in [TlsMode::Implicit, TlsMode::StartTls] {
        let acct =
            account(&lab, "bob", tls, Credentials::OAuth2Token(lab.token("bob", 600))).build().unwrap();
        ImapClient::connect(&acct).unwrap_or_else(|e| panic!("XOAUTH2 over {tls:?}: {e}")).logout().unwrap();
    }
    let expired =
        account(&lab, "bob", TlsMode::Implicit, Credentials::OAuth2Token(lab.token("bob", -60))).build();
    assert_eq!(ImapClient::connect(&expired.unwrap()).unwrap_err().kind(), ErrorKind::Auth);
    let wrong =
        account(&lab, "bob", TlsMode::StartTls, Credentials::Password(esmtp_transport::Secret::new("wrong")))
            .build()
            .unwrap();
    let err = ImapClient::connect(&wrong).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Auth, "{err:?}");
    assert!(!format!("{err:?}").contains(lab.password("bob").expose()));
    let untrusted =
        esmtp_transport::Account::builder(lab.address("bob"), Credentials::Password(lab.password("bob")))
            .imap(ServerSettings::new(&lab.host, lab::port("IMAPS"), TlsMode::Implicit))
            .add_root_certificates_pem(lab.untrusted_ca_pem.clone())
            .build()
            .unwrap();
    assert_eq!(ImapClient::connect(&untrusted).unwrap_err().kind(), ErrorKind::Tls);
}

#[test]
#[ignore = "needs the mail lab: ./scripts/test starts it"]
fn mailbox_names_are_quoted_and_utf7_encoded() {
    let lab = Lab::get();
    let mut client = connect(&lab, "bob");
    let name = format!("esmtp-test-{} Entwürfe \"q\" \\ & 日本", tag());
    client.create_mailbox(&name).unwrap();
    let names = client.mailboxes().unwrap();
    assert!(names.iter().any(|m| m.name == name), "{name:?} not in {names:#?}");
    client.append(&name, &plain_mail(1, "x")).unwrap();
    assert_eq!(client.select(&name).unwrap().exists, 1);
    client.delete_mailbox(&name).unwrap();
    assert!(client.create_mailbox("bad\r\nA1 LOGOUT").is_err());
}

#[test]
#[ignore = "needs the mail lab: ./scripts/test starts it"]
fn mailbox_of_500_esmtp_50_plain_10_corrupt() {
    let lab = Lab::get();
    let t = tag();
    let bob = X25519Identity::generate().unwrap();
    let pass = Passphrase::new("correct horse")
        .with_params(Argon2Params { m_cost: 1024, t_cost: 1, p_cost: 1 })
        .unwrap();
    let started = Instant::now();
    let mut mails: Vec<Vec<u8>> = Vec::new();
    let mut damaged = Vec::new();
    for i in 0..500 {
        let sealer = match i % 100 {
            0 => Sealer::new().recipient(pass.clone()),
            1..=10 => Sealer::new().suite(Suite::LegacyDesCbcMd5).recipient(bob.to_public()),
            _ => Sealer::new().recipient(bob.to_public()),
        };
        let mut d = draft(&lab, i, &t);
        if i % 50 == 7 {
            d = d.html(format!("<p>html {i}</p>")).attachment(Attachment::new(
                "a.bin",
                "application/octet-stream",
                vec![i as u8; 3000],
            ));
        }
        mails.push(mime::package(&d, &sealer, &options(&t)).unwrap().bytes);
    }
    for i in 0..10 {
        let sealed = mime::package(
            &draft(&lab, 1000 + i, &t),
            &Sealer::new().recipient(bob.to_public()),
            &options(&t),
        )
        .unwrap();
        let (bytes, check) = corrupted(&sealed, i % 6);
        damaged.push((sealed.message_id.clone(), check));
        mails.push(bytes);
    }
    mails.extend((0..50).map(|i| plain_mail(i, &t)));
    // Interleave the kinds on the server.
    let mut order: Vec<usize> = (0..mails.len()).collect();
    order.sort_by_key(|&i| (i * 7919) % mails.len());
    let built = started.elapsed();

    let mut client = connect(&lab, "bob");
    let mailbox = scratch(&mut client);
    let started = Instant::now();
    for &i in &order {
        client.append(&mailbox, &mails[i]).unwrap();
    }
    let appended = started.elapsed();

    let opener = Opener::new().identity(bob.clone()).identity(pass.clone());
    let started = Instant::now();
    let all = client
        .fetch_esmtp(
            &mailbox,
            &opener,
            &ImapFetchOptions { scope: FetchScope::All, ..ImapFetchOptions::default() },
        )
        .unwrap();
    let fetched_all = started.elapsed();
    assert_eq!(all.messages.len(), 560);
    let mut opened: Vec<usize> = all.opened().map(|m| subject_index(m.opened().unwrap())).collect();
    opened.sort_unstable();
    assert_eq!(opened, (0..500).collect::<Vec<_>>(), "exactly the 500 good mails open");
    for m in all.opened() {
        let mail = m.opened().unwrap();
        let i = subject_index(mail);
        assert_eq!(mail.text.as_deref(), Some(format!("secret body {i}").as_str()));
        assert_eq!(
            mail.suite,
            if (1..=10).contains(&(i % 100)) { Suite::LegacyDesCbcMd5 } else { Suite::ChaCha20Poly1305 }
        );
        assert_eq!(m.message_id(), mail.headers.message_id.as_deref());
        if i % 50 == 7 {
            assert_eq!(mail.attachments.len(), 1);
            assert_eq!(mail.attachments[0].data, vec![i as u8; 3000]);
            assert_eq!(mail.html.as_deref(), Some(format!("<p>html {i}</p>").as_str()));
        }
    }
    let plain = all.messages.iter().filter(|m| matches!(m.result, Ok(Retrieved::Plain(_)))).count();
    assert_eq!(plain, 50, "the plain mails are reported as plain");
    for (message_id, check) in &damaged {
        let m =
            all.messages.iter().find(|m| m.message_id() == Some(message_id)).expect("damaged mail reported");
        let err = m.result.as_ref().expect_err("a damaged mail does not open");
        assert!(check(err), "{message_id}: {err:?}");
    }
    assert_eq!(all.sync.last_uid, 560);

    // Esmtp-only: found by header search on the server, the plain mails are never downloaded.
    let started = Instant::now();
    let esmtp = client.fetch_esmtp(&mailbox, &opener, &ImapFetchOptions::default()).unwrap();
    let fetched_esmtp = started.elapsed();
    assert_eq!(esmtp.messages.len(), 510);
    assert_eq!(esmtp.opened().count(), 500);
    assert_eq!(esmtp.messages.iter().filter(|m| m.result.is_err()).count(), 10);
    eprintln!(
        "560 mails: built in {built:?}, APPENDed in {appended:?}, fetch all {fetched_all:?}, esmtp only {fetched_esmtp:?}"
    );
    client.delete_mailbox(&mailbox).unwrap();
    client.logout().unwrap();
}

#[test]
#[ignore = "needs the mail lab: ./scripts/test starts it"]
fn incremental_sync_returns_only_new_mail_and_survives_a_uidvalidity_change() {
    let lab = Lab::get();
    let t = tag();
    let bob = X25519Identity::generate().unwrap();
    let opener = Opener::new().identity(bob.clone());
    let seal = |i| {
        mime::package(&draft(&lab, i, &t), &Sealer::new().recipient(bob.to_public()), &options(&t))
            .unwrap()
            .bytes
    };
    let mut client = connect(&lab, "bob");
    let mailbox = scratch(&mut client);
    for i in 0..3 {
        client.append(&mailbox, &seal(i)).unwrap();
    }
    let first = client.fetch_esmtp(&mailbox, &opener, &ImapFetchOptions::default()).unwrap();
    assert_eq!(first.opened().count(), 3);
    assert!(!first.uid_validity_changed);
    let nothing = client
        .fetch_esmtp(&mailbox, &opener, &ImapFetchOptions { since: Some(first.sync), ..Default::default() })
        .unwrap();
    assert!(nothing.messages.is_empty());
    assert_eq!(nothing.sync, first.sync);
    client.append(&mailbox, &plain_mail(1, &t)).unwrap();
    for i in 3..5 {
        client.append(&mailbox, &seal(i)).unwrap();
    }
    let second = client
        .fetch_esmtp(&mailbox, &opener, &ImapFetchOptions { since: Some(first.sync), ..Default::default() })
        .unwrap();
    let mut got: Vec<usize> = second.opened().map(|m| subject_index(m.opened().unwrap())).collect();
    got.sort_unstable();
    assert_eq!(got, vec![3, 4], "only the new esmtp mails");
    assert_eq!(second.sync.last_uid, 6, "the plain mail counts as seen");

    // A mailbox deleted and created again under the same name gets a new UIDVALIDITY.
    client.delete_mailbox(&mailbox).unwrap();
    client.create_mailbox(&mailbox).unwrap();
    client.append(&mailbox, &seal(9)).unwrap();
    let resync = client
        .fetch_esmtp(&mailbox, &opener, &ImapFetchOptions { since: Some(second.sync), ..Default::default() })
        .unwrap();
    assert!(resync.uid_validity_changed, "the change is reported");
    assert_ne!(resync.sync.uid_validity, second.sync.uid_validity);
    assert_eq!(resync.messages.len(), 1, "full resync of the new mailbox");
    assert_eq!(resync.sync, ImapSyncState { uid_validity: resync.sync.uid_validity, last_uid: 1 });
    client.delete_mailbox(&mailbox).unwrap();
}

#[test]
#[ignore = "needs the mail lab: ./scripts/test starts it"]
fn key_slips_are_paired_with_their_envelopes() {
    let lab = Lab::get();
    let t = tag();
    let mut client = connect(&lab, "bob");
    let mailbox = scratch(&mut client);
    let slip_pair = |i: usize| {
        let sealed = mime::package(&draft(&lab, i, &t), &Sealer::new().key_slip(), &options(&t)).unwrap();
        let slip = sealed.key_slip.as_ref().unwrap();
        let from = Mailbox::new(lab.address("alice"));
        let to = Mailbox::new(lab.address("bob"));
        let slip_mail = mime::key_slip_mail(slip, &from, &to, 1_700_000_000).unwrap();
        (sealed.bytes, slip_mail.bytes.to_vec())
    };
    let nobody = Opener::new();
    // Slip before and after its envelope in one fetch.
    let (env0, slip0) = slip_pair(0);
    let (env1, slip1) = slip_pair(1);
    for m in [&slip0, &env0, &env1, &slip1] {
        client.append(&mailbox, m).unwrap();
    }
    let report = client.fetch_esmtp(&mailbox, &nobody, &ImapFetchOptions::default()).unwrap();
    assert_eq!(report.messages.len(), 4);
    assert_eq!(report.messages.iter().filter(|m| matches!(m.result, Ok(Retrieved::KeySlip(_)))).count(), 2);
    for m in report.opened() {
        assert!(matches!(m.result, Ok(Retrieved::Opened { with_key_slip: true, .. })));
    }
    assert_eq!(report.opened().count(), 2, "{report:#?}");

    // The slip arrives in a later sync: the earlier envelope is opened then.
    let (env2, slip2) = slip_pair(2);
    client.append(&mailbox, &env2).unwrap();
    let before = client
        .fetch_esmtp(&mailbox, &nobody, &ImapFetchOptions { since: Some(report.sync), ..Default::default() })
        .unwrap();
    assert_eq!(before.messages.len(), 1);
    assert_eq!(before.messages[0].result.as_ref().unwrap_err(), &MessageError::NoMatchingRecipient);
    client.append(&mailbox, &slip2).unwrap();
    let after = client
        .fetch_esmtp(&mailbox, &nobody, &ImapFetchOptions { since: Some(before.sync), ..Default::default() })
        .unwrap();
    let opened: Vec<_> = after.opened().collect();
    assert_eq!(opened.len(), 1, "{after:#?}");
    assert_eq!(opened[0].uid(), before.messages[0].uid(), "the earlier envelope, under its own UID");
    assert_eq!(subject_index(opened[0].opened().unwrap()), 2);
    client.delete_mailbox(&mailbox).unwrap();
}

#[test]
#[ignore = "needs the mail lab: ./scripts/test starts it"]
fn mark_seen_move_and_delete_only_what_opened() {
    let lab = Lab::get();
    let t = tag();
    let bob = X25519Identity::generate().unwrap();
    let stranger = X25519Identity::generate().unwrap();
    let opener = Opener::new().identity(bob.clone());
    let mut client = connect(&lab, "bob");
    let (inbox, archive) = (scratch(&mut client), scratch(&mut client));
    let fill = |client: &mut ImapClient, mailbox: &str| {
        for (i, to) in [(0, &bob), (1, &stranger), (2, &bob)] {
            let sealed =
                mime::package(&draft(&lab, i, &t), &Sealer::new().recipient(to.to_public()), &options(&t))
                    .unwrap();
            client.append(mailbox, &sealed.bytes).unwrap();
        }
    };
    fill(&mut client, &inbox);
    let moved = ImapFetchOptions { mark_seen: true, move_to: Some(archive.clone()), ..Default::default() };
    let report = client.fetch_esmtp(&inbox, &opener, &moved).unwrap();
    assert!(report.action_error.is_none(), "{:?}", report.action_error);
    assert_eq!(report.opened().count(), 2);
    let left = client.fetch_esmtp(&inbox, &opener, &ImapFetchOptions::default()).unwrap();
    assert_eq!(left.messages.len(), 1, "only the foreign mail stays");
    assert_eq!(left.messages[0].result.as_ref().unwrap_err(), &MessageError::NoMatchingRecipient);
    assert_eq!(
        client.fetch_esmtp(&archive, &opener, &ImapFetchOptions::default()).unwrap().opened().count(),
        2
    );
    // Dovecot keeps flags in the Maildir file names: ":2,S" is \Seen.
    let dir = lab.maildir("bob").join(format!(".{archive}")).join("cur");
    let seen = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().contains(":2,S"))
        .count();
    assert_eq!(seen, 2, "moved mails are marked seen");

    let deleted = ImapFetchOptions { delete_after_open: true, ..Default::default() };
    let report = client.fetch_esmtp(&archive, &opener, &deleted).unwrap();
    assert!(report.action_error.is_none());
    assert_eq!(client.select(&archive).unwrap().exists, 0);
    for mailbox in [inbox, archive] {
        client.delete_mailbox(&mailbox).unwrap();
    }
}

#[test]
#[ignore = "needs the mail lab: ./scripts/test starts it"]
fn bob_reads_mail_sent_over_smtp_and_idle_wakes_on_it() {
    let lab = Lab::get();
    let t = tag();
    let bob = X25519Identity::generate().unwrap();
    let opener = Opener::new().identity(bob.clone());
    let mut client = connect(&lab, "bob");

    // IDLE is ended and re-issued every second here (every 25 minutes by default), so the
    // waits below span several IDLE commands.
    client.set_idle_renewal(Duration::from_secs(1));
    // No mail: IDLE gives up at its timeout, on a quiet mailbox of our own.
    let quiet = scratch(&mut client);
    let started = Instant::now();
    assert!(!client.idle_wait(&quiet, None, Duration::from_millis(2500)).unwrap());
    let waited = started.elapsed();
    assert!(waited >= Duration::from_millis(2500) && waited < Duration::from_secs(6), "{waited:?}");
    client.delete_mailbox(&quiet).unwrap();

    let state = client.select("INBOX").unwrap();
    let mut since = ImapSyncState { uid_validity: state.uid_validity, last_uid: state.uid_next.unwrap() - 1 };
    let sealed =
        mime::package(&draft(&lab, 42, &t), &Sealer::new().recipient(bob.to_public()), &options(&t)).unwrap();
    let alice = lab.password_account("alice", TlsMode::Implicit);
    let sender = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(2500));
        let submitter = Submitter::new(&alice).unwrap();
        submitter.send_raw(alice.address(), &["bob@example.test".to_string()], &sealed.bytes).unwrap();
    });
    let started = Instant::now();
    let deadline = started + Duration::from_secs(30);
    let mut woke = None;
    let found = loop {
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(!left.is_zero(), "no mail within 30 s");
        if client.idle_wait("INBOX", Some(&since), left).unwrap() {
            woke.get_or_insert(started.elapsed());
            let report = client
                .fetch_esmtp("INBOX", &opener, &ImapFetchOptions { since: Some(since), ..Default::default() })
                .unwrap();
            since = report.sync;
            // Other tests' mail may wake us first.
            if let Some(m) =
                report.messages.into_iter().find(|m| m.message_id().is_some_and(|id| id.contains(&t)))
            {
                break m;
            }
        }
    };
    sender.join().unwrap();
    let mail = found.opened().expect("opened");
    assert_eq!(mail.headers.subject.as_deref(), Some(format!("mail 42 {t}").as_str()));
    assert_eq!(mail.text.as_deref(), Some("secret body 42"));
    let woke = woke.unwrap();
    eprintln!("IDLE woke {woke:?} after the wait began (mail sent at 2.5 s, IDLE renewed every 1 s)");
    assert!(woke < Duration::from_secs(15), "woke late: {woke:?}");
    client.logout().unwrap();
}

#[test]
#[ignore = "needs the mail lab: ./scripts/test starts it"]
fn a_20_mib_attachment_arrives_intact_with_bounded_memory() {
    let lab = Lab::get();
    let t = tag();
    let bob = X25519Identity::generate().unwrap();
    let mut data = vec![0u8; 20 << 20];
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    for b in data.iter_mut() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        *b = x as u8;
    }
    let digest = esmtp_core::hash::digest(esmtp_core::hash::HashAlgorithm::Sha256, &data);
    let d = draft(&lab, 20, &t).attachment(Attachment::new("big.bin", "application/octet-stream", data));
    let sealed = mime::package(&d, &Sealer::new().recipient(bob.to_public()), &options(&t)).unwrap();
    drop(d);
    let size = sealed.bytes.len();
    let mut client = connect(&lab, "bob");
    let mailbox = scratch(&mut client);
    client.append(&mailbox, &sealed.bytes).unwrap();
    drop(sealed);
    // Several small mails around it share the fetch: the big one is fetched on its own.
    for i in 0..5 {
        let small =
            mime::package(&draft(&lab, i, &t), &Sealer::new().recipient(bob.to_public()), &options(&t))
                .unwrap();
        client.append(&mailbox, &small.bytes).unwrap();
    }

    let opener = Opener::new().identity(bob);
    let base = CURRENT.with(Cell::get);
    PEAK.with(|p| p.set(base));
    let started = Instant::now();
    let report = client.fetch_esmtp(&mailbox, &opener, &ImapFetchOptions::default()).unwrap();
    let took = started.elapsed();
    let peak = (PEAK.with(Cell::get) - base) as usize;
    let big = report
        .opened()
        .map(|m| m.opened().unwrap())
        .find(|m| !m.attachments.is_empty())
        .expect("the big mail opened");
    assert_eq!(report.opened().count(), 6);
    assert_eq!(big.attachments[0].data.len(), 20 << 20);
    assert_eq!(
        esmtp_core::hash::digest(esmtp_core::hash::HashAlgorithm::Sha256, &big.attachments[0].data),
        digest
    );
    eprintln!(
        "20 MiB attachment: message {size} bytes, fetched and opened in {took:?}, peak heap {} MiB ({:.1}x the message)",
        peak >> 20,
        peak as f64 / size as f64
    );
    // The message, its decoded layers and the attachment: a fixed multiple of one message.
    assert!(peak < 6 * size, "peak heap {peak} for a {size}-byte message");
    client.delete_mailbox(&mailbox).unwrap();
}
