//! Faults on the wire, against the real lab (`scripts/mail-lab`) with small fault-injecting
//! proxies on loopback in front of it: broken and refused SMTP sessions and what a retrying
//! sender ends with, IMAP and POP3 sessions that break or lose messages mid-fetch, TLS that must
//! be refused, senders and fetchers at once, and a capture of the loopback traffic that must
//! hold no secret. `#[ignore]`d: `./scripts/test` runs them with the lab (as root).

#[path = "../lab/mod.rs"]
mod lab;

mod capture;
mod certs;
mod load;
mod proxy;
mod retrieve;
mod smtp;
mod tls;

use std::time::{Duration, Instant};

use esmtp_core::mime::{Attachment, MailDraft, Mailbox};
use esmtp_core::{Opener, X25519Identity};
use esmtp_transport::{
    Account, AccountBuilder, Credentials, Fetched, ImapClient, ImapFetchOptions, ImapFetchReport,
    ImapSyncState, ServerSettings, TlsMode,
};
use lab::Lab;

/// An account for `user` whose `protocol` server is the proxy at `port` (implicit TLS, trusting
/// the wire tests' CA and the lab's), with short limits: a fault shows within seconds.
pub fn via_proxy(lab: &Lab, user: &str, protocol: &str, port: u16) -> AccountBuilder {
    let server = ServerSettings::new("127.0.0.1", port, TlsMode::Implicit);
    let builder = Account::builder(lab.address(user), Credentials::Password(lab.password(user)))
        .add_root_certificates_pem(certs::certs().ca_pem.clone())
        .add_root_certificates_pem(lab.ca_pem.clone())
        .timeout(Duration::from_secs(3))
        .deadline(Duration::from_secs(6));
    match protocol {
        "smtp" => builder.smtp(server),
        "imap" => builder.imap(server),
        "pop3" => builder.pop3(server),
        other => panic!("no protocol {other}"),
    }
}

/// TLS on both sides of a proxy: the wire tests' certificate towards the client, the lab CA
/// trusted towards the lab.
pub fn terminating(lab: &Lab) -> proxy::Tls {
    proxy::Tls { client: Some(certs::certs().valid_server()), server: Some(certs::lab_client(&lab.ca_pem)) }
}

/// A mail from alice to bob with a tagged subject, body and attachment.
pub fn draft(lab: &Lab, tag: &str) -> MailDraft {
    MailDraft::new(Mailbox::new(lab.address("alice")))
        .to(Mailbox::new(lab.address("bob")))
        .subject(format!("wire subject {tag}"))
        .text(format!("wire body {tag}"))
        .attachment(Attachment::new("wire.bin", "application/octet-stream", format!("wire attachment {tag}")))
}

/// How many files in `user`'s Maildir carry `needle`, once the count has stayed at `want` or
/// more for a moment (delivery is asynchronous; a second copy may follow the first).
pub fn delivered(lab: &Lab, user: &str, needle: &str, want: usize) -> usize {
    let found = lab::wait_for_mail(&lab.maildir(user), needle.as_bytes(), want).len();
    std::thread::sleep(Duration::from_millis(700));
    found.max(lab::wait_for_mail(&lab.maildir(user), needle.as_bytes(), 0).len())
}

/// bob's INBOX state now, to fetch only what comes after.
pub fn imap_now(lab: &Lab) -> ImapSyncState {
    let mut imap = ImapClient::connect(&lab.password_account("bob", TlsMode::Implicit)).unwrap();
    let state = imap.examine("INBOX").unwrap();
    let _ = imap.logout();
    ImapSyncState { uid_validity: state.uid_validity, last_uid: state.uid_next.unwrap_or(1) - 1 }
}

/// An IMAP fetch of bob's INBOX since `since`, opening with `bob`.
pub fn imap_fetch(lab: &Lab, bob: &X25519Identity, since: ImapSyncState) -> ImapFetchReport {
    let mut imap = ImapClient::connect(&lab.password_account("bob", TlsMode::Implicit)).unwrap();
    let options = ImapFetchOptions { since: Some(since), ..ImapFetchOptions::default() };
    let report = imap.fetch_esmtp("INBOX", &Opener::new().identity(bob.clone()), &options).unwrap();
    let _ = imap.logout();
    report
}

/// The messages of `report` that opened and carry `tag` in their protected subject.
pub fn tagged<'a>(messages: &'a [Fetched], tag: &str) -> Vec<&'a Fetched> {
    messages
        .iter()
        .filter(|m| m.opened().and_then(|o| o.headers.subject.as_deref()).is_some_and(|s| s.contains(tag)))
        .collect()
}

/// Run `f` until it returns `Some`, for at most `limit`.
pub fn within<T>(limit: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let end = Instant::now() + limit;
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if Instant::now() > end {
            return None;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Remove the mails carrying `needle` from `user`'s Maildir once a test is done with them, so
/// that the shared lab mailboxes do not grow with every run (other tests list them whole).
pub fn remove_mail(lab: &Lab, user: &str, needle: &str) {
    for sub in ["new", "cur"] {
        for e in std::fs::read_dir(lab.maildir(user).join(sub)).into_iter().flatten().flatten() {
            if std::fs::read(e.path()).is_ok_and(|b| b.windows(needle.len()).any(|w| w == needle.as_bytes()))
            {
                let _ = std::fs::remove_file(e.path());
            }
        }
    }
}
