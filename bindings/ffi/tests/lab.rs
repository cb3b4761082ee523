//! The facade against the real mail lab: send with a [`Mailer`], fetch with IMAP and POP3
//! inboxes, and cancel an IDLE wait from another thread. Run by `./scripts/test`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use esmtp_ffi::{
    Account, AccountConfig, Credential, Draft, ErrorKind, FetchOutcome, Identity, ImapFetchOptions,
    ImapInbox, Mailbox, Mailer, OpenOptions, Pop3FetchOptions, Pop3Inbox, SealOptions, SendOptions, Server,
    TlsMode,
};
use zeroize::Zeroizing;

fn var(name: &str) -> String {
    std::env::var(name)
        .unwrap_or_else(|_| panic!("{name} unset: run under ./scripts/test (it starts the lab)"))
}

fn port(name: &str) -> u16 {
    var(&format!("ESMTP_LAB_{name}_PORT")).parse().unwrap()
}

fn account(user: &str) -> Arc<Account> {
    let host = var("ESMTP_LAB_HOST");
    let server = |p: &str| Some(Server { host: host.clone(), port: port(p), tls: TlsMode::Implicit });
    Account::new(&AccountConfig {
        address: var(&format!("ESMTP_LAB_{}_ADDRESS", user.to_uppercase())),
        login: Credential::Password(Zeroizing::new(var(&format!(
            "ESMTP_LAB_{}_PASSWORD",
            user.to_uppercase()
        )))),
        smtp: server("SMTPS"),
        imap: server("IMAPS"),
        pop3: server("POP3S"),
        ca_pem: Some(std::fs::read(var("ESMTP_LAB_CA")).unwrap()),
        ..AccountConfig::default()
    })
    .unwrap()
}

fn mailbox(user: &str) -> Mailbox {
    Mailbox { address: var(&format!("ESMTP_LAB_{}_ADDRESS", user.to_uppercase())), name: None }
}

fn tag() -> String {
    esmtp_ffi::Identity::generate().unwrap().public_key().text()[10..26].to_string()
}

#[test]
#[ignore = "needs the mail lab: ./scripts/test starts it"]
fn send_then_fetch_over_imap_and_pop3_signed_and_with_a_key_slip() {
    let (alice, bob) = (Identity::generate().unwrap(), Identity::generate().unwrap());
    let t = tag();
    let mailer = Mailer::new(&account("alice")).unwrap();
    assert!(mailer.capabilities().unwrap().auth.iter().any(|m| m == "PLAIN"));
    let draft = Draft {
        from: mailbox("alice"),
        to: vec![mailbox("bob")],
        subject: format!("facade {t}"),
        text: Some(format!("body {t}")),
        ..Draft::default()
    };
    let seal = SealOptions {
        recipients: vec![bob.public_key()],
        sign_with: Some(alice.clone()),
        ..SealOptions::default()
    };
    let report = mailer.send_secure(&draft, &seal, &SendOptions::default()).unwrap();
    assert_eq!(report.reply_code, 250);
    mailer.close();
    let open = OpenOptions {
        identities: vec![bob.clone()],
        require_signers: vec![alice.public_key()],
        ..OpenOptions::default()
    };

    let imap = ImapInbox::connect(&account("bob")).unwrap();
    let found = (0..50)
        .find_map(|_| {
            let r = imap.fetch("INBOX", &ImapFetchOptions::default(), &open).unwrap();
            let ours = r.messages.into_iter().find(|m| match &m.outcome {
                FetchOutcome::Opened { mail, .. } => {
                    mail.headers.subject.as_deref() == Some(&format!("facade {t}"))
                }
                _ => false,
            });
            if ours.is_none() {
                std::thread::sleep(Duration::from_millis(100));
            }
            ours
        })
        .expect("the mail arrives over IMAP");
    let FetchOutcome::Opened { mail, .. } = found.outcome else { unreachable!() };
    assert_eq!(mail.signer.as_deref(), Some(&*alice.public_key()));
    assert_eq!(mail.envelope_id, report.envelope_id);
    imap.logout().unwrap();

    let pop3 = Pop3Inbox::connect(&account("bob")).unwrap();
    let r = pop3.fetch(&Pop3FetchOptions::default(), &open).unwrap();
    assert!(r.messages.iter().any(
        |m| matches!(&m.outcome, FetchOutcome::Opened { mail, .. } if mail.envelope_id == report.envelope_id)
    ));
    assert!(!r.sync_state.is_empty());
    let again = pop3
        .fetch(&Pop3FetchOptions { since: Some(r.sync_state), ..Pop3FetchOptions::default() }, &open)
        .unwrap();
    assert!(again.messages.iter().all(|m| m.uidl != found.uidl || m.uidl.is_none()));
    pop3.quit().unwrap();
}

#[test]
#[ignore = "needs the mail lab: ./scripts/test starts it"]
fn idle_ends_when_cancelled_from_another_thread() {
    let inbox = ImapInbox::connect(&account("carol")).unwrap();
    let state =
        inbox.fetch("INBOX", &ImapFetchOptions::default(), &OpenOptions::default()).unwrap().sync_state;
    let waiter = inbox.clone();
    let started = Instant::now();
    let wait = std::thread::spawn(move || waiter.idle("INBOX", Some(&state), 60));
    std::thread::sleep(Duration::from_millis(500));
    inbox.cancel();
    let err = wait.join().unwrap().unwrap_err();
    assert_eq!(err.kind, ErrorKind::Cancelled, "{err:?}");
    assert!(started.elapsed() < Duration::from_secs(10));
    let closed = inbox.fetch("INBOX", &ImapFetchOptions::default(), &OpenOptions::default()).unwrap_err();
    assert_eq!(closed.kind, ErrorKind::Cancelled, "a cancelled session is closed");
}

#[test]
#[ignore = "needs the mail lab: ./scripts/test starts it"]
fn a_wrong_password_is_an_authentication_error_without_the_password() {
    let mut config = AccountConfig {
        address: var("ESMTP_LAB_BOB_ADDRESS"),
        login: Credential::Password(Zeroizing::new("not-the-password".into())),
        imap: Some(Server { host: var("ESMTP_LAB_HOST"), port: port("IMAPS"), tls: TlsMode::Implicit }),
        ca_pem: Some(std::fs::read(var("ESMTP_LAB_CA")).unwrap()),
        ..AccountConfig::default()
    };
    let err = ImapInbox::connect(&Account::new(&config).unwrap()).unwrap_err();
    assert_eq!(err.kind, ErrorKind::Authentication);
    assert!(!err.reason.contains("not-the-password"));
    config.ca_pem = None;
    let err = ImapInbox::connect(&Account::new(&config).unwrap()).unwrap_err();
    assert_eq!(err.kind, ErrorKind::Tls, "the lab's certificate is not trusted without its CA");
}
