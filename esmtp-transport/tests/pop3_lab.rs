//! POP3 retrieval against the real lab (Dovecot on 127.0.0.1). Run by ./scripts/test. POP3 sees
//! only INBOX, so each test has a user of its own (bob: delivery, carol: the 560-mail box, alice:
//! the large mail), counts only the messages it tagged, and removes them again.

mod lab;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use esmtp_core::mime::{self, Attachment, MailDraft, Mailbox, PackageOptions};
use esmtp_core::{Opener, Sealer, Suite, X25519Identity};
use esmtp_transport::{
    Credentials, ErrorKind, FetchScope, ImapClient, MessageError, PasswordMechanism, Pop3Client,
    Pop3Download, Pop3FetchOptions, Pop3SyncState, Retrieved, Secret, ServerSettings, Submit, Submitter,
    TlsMode,
};
use lab::{Lab, tag};

fn account(lab: &Lab, user: &str, tls: TlsMode, credentials: Credentials) -> esmtp_transport::AccountBuilder {
    let port = match tls {
        TlsMode::Implicit => lab::port("POP3S"),
        TlsMode::StartTls => lab::port("POP3"),
    };
    lab.account(user, TlsMode::Implicit, credentials).pop3(ServerSettings::new(&lab.host, port, tls))
}

fn pop3(lab: &Lab, user: &str) -> Pop3Client {
    let acct =
        account(lab, user, TlsMode::Implicit, Credentials::Password(lab.password(user))).build().unwrap();
    Pop3Client::connect(&acct).expect("POP3 login")
}

fn imap(lab: &Lab, user: &str) -> ImapClient {
    ImapClient::connect(&lab.password_account(user, TlsMode::Implicit)).expect("IMAP login")
}

fn known(client: &mut Pop3Client) -> HashSet<String> {
    client.uidl().unwrap().into_iter().map(|(_, id)| id).collect()
}

/// Fetch options for the messages after those on the server now.
fn after_now(client: &mut Pop3Client) -> Pop3FetchOptions {
    Pop3FetchOptions { since: Some(Pop3SyncState::after(&client.entries().unwrap())), ..Default::default() }
}

/// The Maildir flags Dovecot stored for the messages holding `needle` (`S`: seen).
fn flags(lab: &Lab, user: &str, needle: &str) -> Vec<String> {
    let mut out = Vec::new();
    for sub in ["new", "cur"] {
        for e in std::fs::read_dir(lab.maildir(user).join(sub)).unwrap().flatten() {
            if std::fs::read(e.path()).unwrap().windows(needle.len()).any(|w| w == needle.as_bytes()) {
                let name = e.file_name().to_string_lossy().into_owned();
                out.push(name.split_once(":2,").map(|(_, f)| f.to_string()).unwrap_or_default());
            }
        }
    }
    out
}

/// Mark every message not in `keep` for deletion and QUIT, so the mailbox is as it was.
fn remove_all_but(lab: &Lab, user: &str, keep: &HashSet<String>) {
    let mut client = pop3(lab, user);
    for (n, id) in client.uidl().unwrap() {
        if !keep.contains(&id) {
            client.dele(n).unwrap();
        }
    }
    client.quit().unwrap();
    assert_eq!(known(&mut pop3(lab, user)).difference(keep).count(), 0, "DELE + QUIT removed them");
}

fn draft(lab: &Lab, i: usize, tag: &str) -> MailDraft {
    MailDraft::new(Mailbox::new(lab.address("alice")))
        .to(Mailbox::new(lab.address("bob")))
        .subject(format!("mail {i} {tag}"))
        .date(1_700_000_000 + i as i64)
        .text(format!("secret body {i}\n.\n..leading dots survive dot-stuffing\n"))
}

fn options(tag: &str) -> PackageOptions {
    PackageOptions {
        message_id_domain: Some(format!("{tag}.example.test")),
        ..PackageOptions::new(1_700_000_000)
    }
}

fn tagged(tag: &str) -> impl Fn(&&esmtp_transport::Fetched) -> bool + '_ {
    move |m| m.message_id().is_some_and(|id| id.contains(tag))
}

#[test]
#[ignore = "needs the mail lab: ./scripts/test starts it"]
fn logins_over_pop3s_and_stls_with_user_pass_auth_plain_and_xoauth2() {
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
        let mut client = Pop3Client::connect(&acct).unwrap_or_else(|e| panic!("{tls:?} {mechanism:?}: {e}"));
        assert!(client.capabilities().iter().any(|c| c == "UIDL"), "{:?}", client.capabilities());
        let (count, _) = client.stat().unwrap();
        assert_eq!(client.list().unwrap().len(), count as usize);
        client.noop().unwrap();
        client.quit().unwrap();
    }
    for tls in [TlsMode::Implicit, TlsMode::StartTls] {
        let acct =
            account(&lab, "bob", tls, Credentials::OAuth2Token(lab.token("bob", 600))).build().unwrap();
        Pop3Client::connect(&acct).unwrap_or_else(|e| panic!("XOAUTH2 over {tls:?}: {e}")).quit().unwrap();
    }
    let expired = account(&lab, "bob", TlsMode::Implicit, Credentials::OAuth2Token(lab.token("bob", -60)));
    assert_eq!(Pop3Client::connect(&expired.build().unwrap()).unwrap_err().kind(), ErrorKind::Auth);
    for mechanism in [PasswordMechanism::Plain, PasswordMechanism::Login] {
        let wrong = account(&lab, "bob", TlsMode::StartTls, Credentials::Password(Secret::new("wrong")))
            .password_mechanism(mechanism)
            .build()
            .unwrap();
        let err = Pop3Client::connect(&wrong).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Auth, "{mechanism:?}: {err:?}");
    }
    let untrusted =
        esmtp_transport::Account::builder(lab.address("bob"), Credentials::Password(lab.password("bob")))
            .pop3(ServerSettings::new(&lab.host, lab::port("POP3"), TlsMode::StartTls))
            .add_root_certificates_pem(lab.untrusted_ca_pem.clone())
            .build()
            .unwrap();
    assert_eq!(Pop3Client::connect(&untrusted).unwrap_err().kind(), ErrorKind::Tls);
}

#[test]
#[ignore = "needs the mail lab: ./scripts/test starts it"]
fn bob_reads_mail_sent_over_smtp_and_it_stays_on_the_server() {
    let lab = Lab::get();
    let t = tag();
    let bob = X25519Identity::generate().unwrap();
    let before = known(&mut pop3(&lab, "bob"));
    let since = after_now(&mut pop3(&lab, "bob"));
    let sealed =
        mime::package(&draft(&lab, 7, &t), &Sealer::new().recipient(bob.to_public()), &options(&t)).unwrap();
    let alice = lab.password_account("alice", TlsMode::Implicit);
    Submitter::new(&alice).unwrap().send_raw(alice.address(), &[lab.address("bob")], &sealed.bytes).unwrap();

    // A POP3 session sees the mailbox as it was at login: poll with new sessions.
    let opener = Opener::new().identity(bob);
    let deadline = Instant::now() + Duration::from_secs(20);
    let (report, uidl) = loop {
        let mut client = pop3(&lab, "bob");
        let report = client.fetch_esmtp(&opener, &since).unwrap();
        client.quit().unwrap();
        if let Some(m) = report.messages.iter().find(tagged(&t)) {
            let uidl = m.uidl().unwrap().to_string();
            break (report, uidl);
        }
        assert!(Instant::now() < deadline, "mail not delivered within 20 s");
        std::thread::sleep(Duration::from_millis(200));
    };
    let mail = report.messages.iter().find(tagged(&t)).unwrap().opened().expect("opened");
    assert_eq!(mail.headers.subject.as_deref(), Some(format!("mail 7 {t}").as_str()));
    assert_eq!(mail.text.as_deref(), Some("secret body 7\n.\n..leading dots survive dot-stuffing\n"));
    assert!(report.uidls.contains(&uidl));
    assert!(!report.used_retr && !report.resynced);
    // Downloaded with TOP: Dovecot did not flag it \Seen for IMAP clients.
    assert_eq!(flags(&lab, "bob", &t), [""], "nothing marked");

    // Nothing was deleted: a new session still lists it, and from the sync state (through its
    // text form, as a caller stores it), fetches nothing new.
    let mut client = pop3(&lab, "bob");
    assert!(known(&mut client).contains(&uidl), "mail stays on the server by default");
    let state: Pop3SyncState = report.sync.to_string().parse().unwrap();
    let again =
        client.fetch_esmtp(&opener, &Pop3FetchOptions { since: Some(state), ..Default::default() }).unwrap();
    assert!(again.messages.is_empty());
    client.quit().unwrap();

    // RETR, when asked for, is what makes Dovecot flag it.
    let mut client = pop3(&lab, "bob");
    let retr = Pop3FetchOptions { download: Pop3Download::Retr, ..since };
    assert!(client.fetch_esmtp(&opener, &retr).unwrap().used_retr);
    client.quit().unwrap();
    assert_eq!(flags(&lab, "bob", &t), ["S"], "RETR marks \\Seen");
    remove_all_but(&lab, "bob", &before);
}

#[test]
#[ignore = "needs the mail lab: ./scripts/test starts it"]
fn mailbox_of_500_esmtp_50_plain_10_corrupt_incremental_and_delete() {
    let lab = Lab::get();
    let t = tag();
    let bob = X25519Identity::generate().unwrap();
    let before = known(&mut pop3(&lab, "carol"));
    let since = after_now(&mut pop3(&lab, "carol"));
    let mut mails: Vec<Vec<u8>> = Vec::new();
    for i in 0..500 {
        let suite = if i % 25 == 0 { Suite::LegacyDesCbcMd5 } else { Suite::ChaCha20Poly1305 };
        let sealer = Sealer::new().suite(suite).recipient(bob.to_public());
        mails.push(mime::package(&draft(&lab, i, &t), &sealer, &options(&t)).unwrap().bytes);
    }
    let mut expected_errors = Vec::new();
    for i in 0..10 {
        let sealed = mime::package(
            &draft(&lab, 1000 + i, &t),
            &Sealer::new().recipient(bob.to_public()),
            &options(&t),
        )
        .unwrap();
        let text = String::from_utf8(sealed.bytes.clone()).unwrap();
        let (damaged, want): (String, fn(&MessageError) -> bool) = match i % 3 {
            0 => (text.replacen("-----END ESMTP ENVELOPE-----", "", 1), |e| {
                matches!(e, MessageError::Malformed(_))
            }),
            1 => (text.replacen("\r\nVersion: 1\r\n", "\r\nVersion: 9\r\n", 1), |e| {
                matches!(e, MessageError::Unsupported(_))
            }),
            _ => {
                // A letter changed in the line before END: the last chunk fails authentication.
                let end = text.find("\r\n-----END").unwrap();
                let start = text[..end].rfind("\r\n").unwrap() + 2;
                let swap = if text.as_bytes()[start] == b'A' { "B" } else { "A" };
                (format!("{}{swap}{}", &text[..start], &text[start + 1..]), |e| {
                    *e == MessageError::DecryptionFailed
                })
            }
        };
        expected_errors.push((sealed.message_id, want));
        mails.push(damaged.into_bytes());
    }
    for i in 0..50 {
        mails.push(
            format!(
                "From: <alice@example.test>\r\nSubject: plain {i}\r\nMessage-ID: <plain-{i}@{t}.example.test>\r\n\r\n\
                 .hi\r\n..\r\n.\r\n"
            )
            .into_bytes(),
        );
    }
    let mut filler = imap(&lab, "carol");
    let started = Instant::now();
    for i in 0..mails.len() {
        filler.append("INBOX", &mails[(i * 7919) % mails.len()]).unwrap();
    }
    let appended = started.elapsed();

    let opener = Opener::new().identity(bob.clone());
    let mut client = pop3(&lab, "carol");
    let started = Instant::now();
    let all =
        client.fetch_esmtp(&opener, &Pop3FetchOptions { scope: FetchScope::All, ..since.clone() }).unwrap();
    let took_all = started.elapsed();
    let ours: Vec<_> = all.messages.iter().filter(tagged(&t)).collect();
    assert_eq!(ours.len(), 560);
    let mut opened: Vec<usize> = ours
        .iter()
        .filter_map(|m| m.opened())
        .map(|m| m.headers.subject.as_deref().unwrap().split(' ').nth(1).unwrap().parse().unwrap())
        .collect();
    opened.sort_unstable();
    assert_eq!(opened, (0..500).collect::<Vec<_>>(), "exactly the 500 good mails open");
    assert_eq!(ours.iter().filter(|m| matches!(m.result, Ok(Retrieved::Plain(_)))).count(), 50);
    for (id, want) in &expected_errors {
        let m = ours.iter().find(|m| m.message_id() == Some(id)).expect("damaged mail reported");
        let err = m.result.as_ref().expect_err("damaged mail does not open");
        assert!(want(err), "{id}: {err:?}");
    }
    // Dot-stuffing undone exactly: lines that start with or are a lone dot come back as sent.
    let plain0 = ours.iter().find(|m| m.message_id() == Some(&format!("plain-0@{t}.example.test"))).unwrap();
    let esmtp_transport::MessageRef::Pop3 { number, .. } = plain0.location else { panic!("a POP3 message") };
    assert!(client.retr(number).unwrap().ends_with(b"\r\n\r\n.hi\r\n..\r\n.\r\n"));
    assert!(client.top(number, 0).unwrap().ends_with(b"\r\n\r\n"));
    // Esmtp only: headers by TOP, the plain mails are never downloaded.
    let started = Instant::now();
    let esmtp = client.fetch_esmtp(&opener, &since).unwrap();
    let took_esmtp = started.elapsed();
    assert_eq!(esmtp.messages.iter().filter(tagged(&t)).count(), 510);
    client.quit().unwrap();
    eprintln!(
        "560 mails: APPENDed in {appended:?}; POP3 fetch all {took_all:?}, esmtp only (TOP) {took_esmtp:?}"
    );

    // Incremental by UIDL: only the two new mails, then delete what opened at QUIT.
    for i in 600..602 {
        let sealed =
            mime::package(&draft(&lab, i, &t), &Sealer::new().recipient(bob.to_public()), &options(&t))
                .unwrap();
        filler.append("INBOX", &sealed.bytes).unwrap();
    }
    let mut client = pop3(&lab, "carol");
    let delete =
        Pop3FetchOptions { delete_after_open: true, since: Some(esmtp.sync.clone()), ..Default::default() };
    let new = client.fetch_esmtp(&opener, &delete).unwrap();
    assert_eq!(new.messages.len(), 2, "only the new mail");
    assert_eq!(new.opened().count(), 2);
    assert!(new.action_error.is_none());
    let new_ids: Vec<String> = new.messages.iter().map(|m| m.uidl().unwrap().to_string()).collect();
    client.quit().unwrap();
    let after = known(&mut pop3(&lab, "carol"));
    assert!(new_ids.iter().all(|id| !after.contains(id)), "deleted at QUIT");
    remove_all_but(&lab, "carol", &before);
}

#[test]
#[ignore = "needs the mail lab: ./scripts/test starts it"]
fn a_20_mib_attachment_arrives_intact() {
    let lab = Lab::get();
    let t = tag();
    let bob = X25519Identity::generate().unwrap();
    let data: Vec<u8> = (0..20u32 << 20).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    let digest = esmtp_core::hash::digest(esmtp_core::hash::HashAlgorithm::Sha256, &data);
    let d = draft(&lab, 20, &t).attachment(Attachment::new("big.bin", "application/octet-stream", data));
    let sealed = mime::package(&d, &Sealer::new().recipient(bob.to_public()), &options(&t)).unwrap();
    drop(d);
    let before = known(&mut pop3(&lab, "alice"));
    let since = after_now(&mut pop3(&lab, "alice"));
    imap(&lab, "alice").append("INBOX", &sealed.bytes).unwrap();
    let mut client = pop3(&lab, "alice");
    let started = Instant::now();
    let report = client.fetch_esmtp(&Opener::new().identity(bob), &since).unwrap();
    let took = started.elapsed();
    client.quit().unwrap();
    let m = report.messages.iter().find(tagged(&t)).expect("fetched");
    let mail = m.opened().expect("opened");
    assert_eq!(m.size as usize, sealed.bytes.len());
    assert_eq!(mail.attachments[0].data.len(), 20 << 20);
    assert_eq!(
        esmtp_core::hash::digest(esmtp_core::hash::HashAlgorithm::Sha256, &mail.attachments[0].data),
        digest
    );
    eprintln!("20 MiB attachment over POP3: {} bytes fetched and opened in {took:?}", sealed.bytes.len());
    remove_all_but(&lab, "alice", &before);
}
