//! Submission against the real lab (Postfix + Dovecot SASL on 127.0.0.1). Run by ./scripts/test.

mod lab;

use esmtp_core::{Opener, Sealer, X25519Identity};
use esmtp_transport::{Credentials, ErrorKind, PasswordMechanism, Submit, Submitter, TlsMode};
use lab::{Lab, tag, wait_for_mail};

/// One test here kills the lab's smtpd processes to drop its idle session; the others hold this
/// shared while they talk to the server, that one holds it alone, so no other test's session is
/// cut in the middle.
static SERVER: std::sync::RwLock<()> = std::sync::RwLock::new(());

fn shared_server() -> std::sync::RwLockReadGuard<'static, ()> {
    SERVER.read().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A small mail whose body is an armored envelope; the subject and text stay inside it.
fn sealed_mail(from: &str, to: &str, tag: &str, bob: &X25519Identity) -> Vec<u8> {
    let secret_text = format!("Subject: quarterly numbers {tag}\r\n\r\nthe secret body {tag}\r\n");
    let sealed = Sealer::new().recipient(bob.to_public()).seal(secret_text.as_bytes()).unwrap();
    let armored = esmtp_core::armor(&sealed.envelope).replace('\n', "\r\n");
    let mail = format!(
        "From: <{from}>\r\nTo: <{to}>\r\nSubject: ...\r\nMessage-ID: <{tag}@example.test>\r\n\
         X-Esmtp-Envelope-Id: {}\r\nMIME-Version: 1.0\r\nContent-Type: text/plain\r\n\r\n{armored}",
        sealed.envelope_id
    );
    mail.into_bytes()
}

fn assert_delivered_sealed(lab: &Lab, user: &str, tag: &str, bob: &X25519Identity) {
    let files = wait_for_mail(&lab.maildir(user), format!("<{tag}@example.test>").as_bytes(), 1);
    assert_eq!(files.len(), 1, "mail {tag} delivered once to {user}");
    let file = &files[0];
    assert!(!file.windows(15).any(|w| w == b"the secret body"), "plaintext body on the server");
    assert!(!file.windows(17).any(|w| w == b"quarterly numbers"), "plaintext subject on the server");
    let start = file.windows(10).position(|w| w == b"-----BEGIN").unwrap();
    let armored = String::from_utf8_lossy(&file[start..]).replace("\r\n", "\n");
    let end = armored.find("-----END ESMTP ENVELOPE-----").unwrap() + 28;
    let opened = Opener::new().identity(bob.clone()).open(&armored.as_bytes()[..end]).unwrap();
    assert!(opened.plaintext().ends_with(format!("the secret body {tag}\r\n").as_bytes()));
}

fn send_and_check(tls: TlsMode, mechanism: PasswordMechanism) {
    let _server = shared_server();
    let lab = Lab::get();
    let account = lab
        .account("alice", tls, Credentials::Password(lab.password("alice")))
        .password_mechanism(mechanism)
        .build()
        .unwrap();
    let bob = X25519Identity::generate().unwrap();
    let t = tag();
    let mail = sealed_mail(&lab.address("alice"), &lab.address("bob"), &t, &bob);
    let submitter = Submitter::new(&account).unwrap();
    let reply = submitter.send_raw(&lab.address("alice"), &[lab.address("bob")], &mail).unwrap();
    assert_eq!(reply.code, 250);
    assert_eq!(reply.enhanced.as_deref(), Some("2.0.0"));
    assert!(reply.text.contains("queued"), "{reply:?}");
    assert_delivered_sealed(&lab, "bob", &t, &bob);
}

#[test]
#[ignore = "needs the mail lab: ./scripts/test starts it"]
fn implicit_tls_with_auth_plain() {
    send_and_check(TlsMode::Implicit, PasswordMechanism::Plain);
}

#[test]
#[ignore = "needs the mail lab: ./scripts/test starts it"]
fn starttls_with_auth_login() {
    send_and_check(TlsMode::StartTls, PasswordMechanism::Login);
}

#[test]
#[ignore = "needs the mail lab: ./scripts/test starts it"]
fn capabilities_report_the_servers_extensions() {
    let _server = shared_server();
    let lab = Lab::get();
    for tls in [TlsMode::Implicit, TlsMode::StartTls] {
        let caps = Submitter::new(&lab.password_account("alice", tls)).unwrap().capabilities().unwrap();
        assert_eq!(caps.size, Some(36_700_160), "{caps:?}");
        assert!(caps.eight_bit_mime && caps.smtputf8 && caps.pipelining && caps.enhanced_status_codes);
        assert!(caps.offers_auth("PLAIN") && caps.offers_auth("LOGIN"), "{caps:?}");
        assert_eq!(caps.starttls, tls == TlsMode::StartTls);
    }
}

#[test]
#[ignore = "needs the mail lab: ./scripts/test starts it"]
fn wrong_password_is_an_auth_error() {
    let _server = shared_server();
    let lab = Lab::get();
    for tls in [TlsMode::Implicit, TlsMode::StartTls] {
        let account = lab
            .account("alice", tls, Credentials::Password(esmtp_transport::Secret::new("not-the-password")))
            .build()
            .unwrap();
        let err = Submitter::new(&account)
            .unwrap()
            .send_raw(&lab.address("alice"), &[lab.address("bob")], b"Subject: x\r\n\r\nx\r\n")
            .unwrap_err();
        assert!(err.is_auth(), "{err:?}");
        assert_eq!(err.code(), Some(535));
        assert!(!err.to_string().contains("not-the-password"));
        assert!(!format!("{err:?}").contains("not-the-password"));
    }
}

#[test]
#[ignore = "needs the mail lab: ./scripts/test starts it"]
fn an_untrusted_ca_is_a_tls_error() {
    let _server = shared_server();
    let lab = Lab::get();
    for (tls, port) in [(TlsMode::Implicit, lab::port("SMTPS")), (TlsMode::StartTls, lab::port("SUBMISSION"))]
    {
        let account = esmtp_transport::Account::builder(
            lab.address("alice"),
            Credentials::Password(lab.password("alice")),
        )
        .smtp(esmtp_transport::ServerSettings::new(&lab.host, port, tls))
        .add_root_certificates_pem(lab.untrusted_ca_pem.clone())
        .build()
        .unwrap();
        let err = Submitter::new(&account).unwrap().capabilities().unwrap_err();
        assert!(err.is_tls(), "{tls:?}: {err:?}");
    }
}

#[test]
#[ignore = "needs the mail lab: ./scripts/test starts it"]
fn oversized_mail_is_refused_before_upload() {
    let _server = shared_server();
    let lab = Lab::get();
    let submitter = Submitter::new(&lab.password_account("alice", TlsMode::Implicit)).unwrap();
    let t = tag();
    let mut mail = format!("Message-ID: <{t}@example.test>\r\nSubject: big\r\n\r\n").into_bytes();
    let line = [b'A'; 76];
    while mail.len() <= 36_700_160 {
        mail.extend_from_slice(&line);
        mail.extend_from_slice(b"\r\n");
    }
    let started = std::time::Instant::now();
    let err = submitter.send_raw(&lab.address("alice"), &[lab.address("bob")], &mail).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::TooLarge, "{err:?}");
    // 36 MB cannot cross even loopback TLS this fast; and nothing arrived.
    assert!(started.elapsed() < std::time::Duration::from_secs(3));
    std::thread::sleep(std::time::Duration::from_millis(500));
    assert!(wait_for_mail(&lab.maildir("bob"), t.as_bytes(), 0).is_empty());
    // The session is still usable afterwards.
    let bob = X25519Identity::generate().unwrap();
    let t2 = tag();
    let small = sealed_mail(&lab.address("alice"), &lab.address("bob"), &t2, &bob);
    submitter.send_raw(&lab.address("alice"), &[lab.address("bob")], &small).unwrap();
    assert_delivered_sealed(&lab, "bob", &t2, &bob);
}

#[test]
#[ignore = "needs the mail lab: ./scripts/test starts it"]
fn smtputf8_address_is_delivered() {
    let _server = shared_server();
    let lab = Lab::get();
    let utf8 = lab.utf8_address();
    assert!(!utf8.is_ascii());
    let submitter = Submitter::new(&lab.password_account("alice", TlsMode::Implicit)).unwrap();
    let bob = X25519Identity::generate().unwrap();
    let t = tag();
    let mail = sealed_mail(&lab.address("alice"), &utf8, &t, &bob);
    let reply = submitter.send_raw(&lab.address("alice"), &[utf8], &mail).unwrap();
    assert_eq!(reply.code, 250);
    // The lab delivers the UTF-8 address to carol's mailbox.
    assert_delivered_sealed(&lab, "carol", &t, &bob);
}

#[test]
#[ignore = "needs the mail lab: ./scripts/test starts it"]
fn from_must_be_the_account_or_an_alias() {
    let _server = shared_server();
    let lab = Lab::get();
    let submitter = Submitter::new(&lab.password_account("alice", TlsMode::Implicit)).unwrap();
    let err = submitter
        .send_raw(&lab.address("bob"), &[lab.address("carol")], b"Subject: x\r\n\r\nx\r\n")
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::FromNotAllowed);
    // The whole flow refuses it before sealing, let alone connecting.
    let draft = esmtp_core::mime::MailDraft::new(esmtp_core::mime::Mailbox::new(lab.address("bob")))
        .to(esmtp_core::mime::Mailbox::new(lab.address("carol")))
        .text("x");
    let sealer = Sealer::new().recipient(X25519Identity::generate().unwrap().to_public());
    let err = submitter.send_secure(&draft, sealer, &Default::default()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::FromNotAllowed);
    assert_eq!(submitter.connections_opened(), 0, "refused before connecting");
}

#[test]
#[ignore = "needs the mail lab: ./scripts/test starts it"]
fn a_batch_of_100_uses_one_session_and_survives_a_dropped_connection() {
    let _server = SERVER.write().unwrap_or_else(|poisoned| poisoned.into_inner());
    let lab = Lab::get();
    let submitter = Submitter::new(&lab.password_account("alice", TlsMode::Implicit)).unwrap();
    let bob = X25519Identity::generate().unwrap();
    let t = tag();
    for i in 0..100 {
        let mail = sealed_mail(&lab.address("alice"), &lab.address("bob"), &format!("{t}-{i}"), &bob);
        submitter.send_raw(&lab.address("alice"), &[lab.address("bob")], &mail).unwrap();
    }
    assert_eq!(submitter.connections_opened(), 1);
    assert_eq!(wait_for_mail(&lab.maildir("bob"), t.as_bytes(), 100).len(), 100);

    // The server drops the idle session (its smtpd processes are killed): the next mail still goes.
    let master = lab::postfix_master_pid();
    let killed = std::process::Command::new("pkill").args(["-P", &master, "smtpd"]).status().unwrap();
    assert!(killed.success(), "an smtpd was running");
    std::thread::sleep(std::time::Duration::from_millis(300));
    let mail = sealed_mail(&lab.address("alice"), &lab.address("bob"), &format!("{t}-after"), &bob);
    submitter.send_raw(&lab.address("alice"), &[lab.address("bob")], &mail).unwrap();
    assert_eq!(submitter.connections_opened(), 2);
    assert_delivered_sealed(&lab, "bob", &format!("{t}-after"), &bob);
}

#[test]
#[ignore = "needs the mail lab: ./scripts/test starts it"]
fn xoauth2_live_fresh_expired_and_foreign_tokens() {
    let _server = shared_server();
    let lab = Lab::get();
    let bob = X25519Identity::generate().unwrap();
    let send = |credentials: Credentials, t: &str| {
        let account = lab.account("alice", TlsMode::Implicit, credentials).build().unwrap();
        let mail = sealed_mail(&lab.address("alice"), &lab.address("bob"), t, &bob);
        Submitter::new(&account).unwrap().send_raw(&lab.address("alice"), &[lab.address("bob")], &mail)
    };
    let t = tag();
    send(Credentials::OAuth2Token(lab.token("alice", 3600)), &t).unwrap();
    assert_delivered_sealed(&lab, "bob", &t, &bob);
    let expired = send(Credentials::OAuth2Token(lab.token("alice", -60)), &tag()).unwrap_err();
    assert!(expired.is_auth(), "{expired:?}");
    let foreign = send(Credentials::OAuth2Token(lab.token("bob", 3600)), &tag()).unwrap_err();
    assert!(foreign.is_auth(), "{foreign:?}");
    // A token provider is asked for a token for each new session.
    let calls = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let (c, token) = (calls.clone(), lab.token("alice", 3600));
    let provider = move || {
        c.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Ok(token.clone())
    };
    let t = tag();
    send(Credentials::OAuth2Provider(std::sync::Arc::new(provider)), &t).unwrap();
    assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 1);
}

fn read(raw: &[u8], opener: &Opener) -> esmtp_core::mime::ReadMail {
    esmtp_core::mime::read_mail(raw, opener, &esmtp_core::mime::Limits::default()).unwrap()
}

fn assert_no_plaintext(file: &[u8], secrets: &[&str]) {
    for s in secrets {
        assert!(!file.windows(s.len()).any(|w| w == s.as_bytes()), "{s:?} readable on the server");
    }
}

#[test]
#[ignore = "needs the mail lab: ./scripts/test starts it"]
fn send_secure_with_key_slip_delivers_two_mails_that_pair_up() {
    use esmtp_core::mime::{Attachment, MailDraft, Mailbox, ReadMail};
    use esmtp_core::{Suite, hash};
    let _server = shared_server();
    let lab = Lab::get();
    let submitter = Submitter::new(&lab.password_account("alice", TlsMode::StartTls)).unwrap();
    for (suite, slip_to) in
        [(Suite::LegacyDesCbcMd5, None), (Suite::ChaCha20Poly1305, Some(lab.address("carol")))]
    {
        let t = tag();
        let subject = format!("Quarterly numbers {t}");
        let body = format!("The numbers are attached, {t}.");
        let draft = MailDraft::new(Mailbox::with_name("Alice", lab.address("alice")))
            .to(Mailbox::new(lab.address("bob")))
            .subject(subject.clone())
            .text(body.clone())
            .attachment(Attachment::new("numbers.csv", "text/csv", format!("q3,{t}\n").into_bytes()));
        let options = esmtp_transport::SendOptions { key_slip_to: slip_to.clone(), ..Default::default() };
        let report = submitter.send_secure(&draft, Sealer::new().suite(suite).key_slip(), &options).unwrap();
        assert_eq!(report.reply.code, 250);
        assert_eq!(report.key_slips.len(), 1);
        let slip_user = if slip_to.is_some() { "carol" } else { "bob" };
        assert_eq!(report.key_slips[0].to, lab.address(slip_user));

        let envelope_mail = wait_for_mail(&lab.maildir("bob"), report.envelope_id.to_string().as_bytes(), 1)
            .into_iter()
            .next()
            .expect("encrypted mail delivered");
        let slip_mail = wait_for_mail(&lab.maildir(slip_user), report.key_slips[0].message_id.as_bytes(), 1)
            .into_iter()
            .next()
            .expect("key-slip mail delivered");
        // Nothing in the slip's headers names the encrypted mail (MIME.md section 4).
        let slip_text = String::from_utf8_lossy(&slip_mail);
        let slip_headers = &slip_text[..slip_text.find("\r\n\r\n").or(slip_text.find("\n\n")).unwrap()];
        assert!(
            !slip_headers.contains(&report.message_id)
                && !slip_headers.contains(&report.envelope_id.to_string())
        );
        assert_no_plaintext(&envelope_mail, &[&subject, &body, "numbers.csv", &format!("q3,{t}")]);
        assert_no_plaintext(&slip_mail, &[&subject, &body]);

        let ReadMail::KeySlip(slip) = read(&slip_mail, &Opener::new()) else { panic!("not a key-slip mail") };
        assert_eq!(slip.envelope_id, report.envelope_id);
        let ReadMail::Encrypted(opened) =
            read(&envelope_mail, &Opener::new().identity(slip.key_slip.clone()))
        else {
            panic!("not opened")
        };
        assert_eq!(opened.suite, suite);
        assert_eq!(opened.headers.subject.as_deref(), Some(subject.as_str()));
        assert_eq!(opened.text.as_deref(), Some(body.as_str()));
        assert_eq!(opened.attachments[0].data, format!("q3,{t}\n").into_bytes());
        // Without the slip, bob cannot open it.
        assert!(
            esmtp_core::mime::read_mail(&envelope_mail, &Opener::new(), &esmtp_core::mime::Limits::default())
                .is_err()
        );
        assert_eq!(hash::digest(hash::HashAlgorithm::Md5, &opened.inner), opened.md5());
    }
}

#[test]
#[ignore = "needs the mail lab: ./scripts/test starts it"]
fn send_secure_to_x25519_recipients_leaves_only_ciphertext_on_the_server() {
    use esmtp_core::mime::{MailDraft, Mailbox, ReadMail};
    let _server = shared_server();
    let lab = Lab::get();
    let submitter = Submitter::new(&lab.password_account("alice", TlsMode::Implicit)).unwrap();
    let (bob, carol) = (X25519Identity::generate().unwrap(), X25519Identity::generate().unwrap());
    let t = tag();
    let draft = MailDraft::new(Mailbox::new(lab.address("alice")))
        .to(Mailbox::new(lab.address("bob")))
        .bcc(Mailbox::new(lab.address("carol")))
        .subject(format!("δοκιμή {t}"))
        .text(format!("secret text {t}"));
    let sealer = Sealer::new().recipient(bob.to_public()).recipient(carol.to_public());
    let report = submitter.send_secure(&draft, sealer, &Default::default()).unwrap();
    assert!(report.key_slips.is_empty());
    for (user, identity) in [("bob", bob), ("carol", carol)] {
        let files = wait_for_mail(&lab.maildir(user), report.envelope_id.to_string().as_bytes(), 1);
        assert_eq!(files.len(), 1, "{user}");
        assert_no_plaintext(&files[0], &[&format!("secret text {t}"), "δοκιμή"]);
        if user == "bob" {
            // Bcc never appears (carol's own copy names her in the server's Delivered-To).
            assert_no_plaintext(&files[0], &[&lab.address("carol")]);
        }
        let ReadMail::Encrypted(opened) = read(&files[0], &Opener::new().identity(identity)) else {
            panic!()
        };
        assert_eq!(opened.headers.subject.as_deref(), Some(format!("δοκιμή {t}").as_str()));
    }
}
