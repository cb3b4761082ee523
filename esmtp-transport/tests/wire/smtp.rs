//! SMTP submission through a fault-injecting proxy in front of the lab's Postfix: each fault
//! gives its error class, and a sender that retries ends with the mail delivered once, or (only
//! when the connection broke after the final dot) twice with one reported as a duplicate, or
//! with an explicit error.

use std::time::Duration;

use esmtp_core::{Sealer, X25519Identity};
use esmtp_transport::{ErrorKind, Retry, SendOptions, Submit, Submitter};

use crate::lab::{self, Lab, tag};
use crate::proxy::{Action, Proxy, Script, Tls, Who, on_connection};
use crate::{delivered, draft, imap_fetch, imap_now, remove_mail, tagged, terminating, via_proxy};

/// A fault and what the first attempt must end with.
struct Case {
    name: &'static str,
    fault: fn() -> Script,
    /// Terminate TLS in the proxy (faults at protocol points) or relay bytes as they are.
    plaintext: bool,
    kind: ErrorKind,
    transient: bool,
    code: Option<u16>,
    /// The server took the mail although the client saw an error.
    taken: bool,
    /// A big attachment, so the client is still writing when the connection breaks.
    big: bool,
}

/// Replace the server's reply to the first command starting with `command`. Replies come in
/// the order of the commands, also when several were sent at once (PIPELINING), so the reply
/// replaced is the one whose place is the command's: the greeting is reply 0, the reply to the
/// client's first line is reply 1.
fn reply_to(command: &'static str, reply: &'static str) -> Script {
    let (mut lines, mut replies) = (0usize, 0usize);
    let mut target: Option<usize> = None;
    Box::new(move |who, line| match who {
        Who::Client if target.is_none() => {
            lines += 1;
            if line.starts_with(command.as_bytes()) {
                target = Some(lines);
            }
            Action::Forward
        }
        // The last line of a reply: its code, then a space or nothing.
        Who::Server if line.get(3) != Some(&b'-') => {
            replies += 1;
            if target == Some(replies - 1) {
                Action::Replace(reply.as_bytes().to_vec())
            } else {
                Action::Forward
            }
        }
        _ => Action::Forward,
    })
}

fn reset_before_greeting() -> Script {
    Box::new(|who, _| if who == Who::Accept { Action::Close } else { Action::Forward })
}

fn reset_during_auth() -> Script {
    Box::new(
        |who, line| {
            if who == Who::Client && line.starts_with(b"AUTH ") { Action::Close } else { Action::Forward }
        },
    )
}

fn reset_mid_data() -> Script {
    let mut data_lines: Option<usize> = None;
    Box::new(move |who, line| {
        if who == Who::Client {
            if let Some(n) = &mut data_lines {
                *n += 1;
                if *n > 20 {
                    return Action::Close;
                }
            } else if line == b"DATA\r\n" {
                data_lines = Some(0);
            }
        }
        Action::Forward
    })
}

fn reset_after_the_final_dot() -> Script {
    let mut dot = false;
    Box::new(move |who, line| match who {
        Who::Client if line == b".\r\n" => {
            dot = true;
            Action::Forward
        }
        Who::Server if dot && line.starts_with(b"250") => Action::Close,
        _ => Action::Forward,
    })
}

/// Relay the first mail of the session, then let the session go while the client is idle: the
/// next line the client sends (the next mail's first command) finds it closed, either silently
/// or with the 421 Postfix sends when its idle timeout ends a session.
fn gone_after_the_first_mail(goodbye: Option<&'static str>) -> Script {
    let (mut dot, mut delivered) = (false, false);
    Box::new(move |who, line| match who {
        Who::Client if delivered => match goodbye {
            Some(text) => Action::AnswerAndClose(text.as_bytes().to_vec()),
            None => Action::Close,
        },
        Who::Client if line == b".\r\n" => {
            dot = true;
            Action::Forward
        }
        Who::Server if dot && line.starts_with(b"250") => {
            delivered = true;
            Action::Forward
        }
        _ => Action::Forward,
    })
}

fn greeting_421() -> Script {
    reply_to_greeting("421 4.3.2 Service shutting down, closing transmission channel\r\n")
}

fn reply_to_greeting(reply: &'static str) -> Script {
    let mut first = true;
    Box::new(move |who, _| {
        if who == Who::Server && std::mem::take(&mut first) {
            return Action::Replace(reply.as_bytes().to_vec());
        }
        Action::Forward
    })
}

fn rcpt_451() -> Script {
    reply_to("RCPT TO", "451 4.3.0 Temporary lookup failure\r\n")
}

fn rcpt_452() -> Script {
    reply_to("RCPT TO", "452 4.5.3 Too many recipients\r\n")
}

fn rcpt_554() -> Script {
    reply_to("RCPT TO", "554 5.7.1 Relay access denied\r\n")
}

/// Flip a byte inside the server's first TLS record (its random): the handshake must fail as
/// TLS, not wait for more.
fn tls_corrupted() -> Script {
    let mut offset = 0usize;
    Box::new(move |who, line| {
        if who != Who::Server {
            return Action::Forward;
        }
        let at = 20usize.checked_sub(offset).filter(|&i| i < line.len());
        offset += line.len();
        match at {
            Some(i) => {
                let mut bytes = line.to_vec();
                bytes[i] ^= 0x55;
                Action::Replace(bytes)
            }
            None => Action::Forward,
        }
    })
}

fn silent() -> Script {
    Box::new(|who, _| if who == Who::Accept { Action::Silence } else { Action::Forward })
}

fn silent_after_mail_from() -> Script {
    Box::new(|who, line| {
        if who == Who::Client && line.starts_with(b"MAIL FROM") { Action::Silence } else { Action::Forward }
    })
}

fn cases() -> Vec<Case> {
    let case = |name, fault, kind, code| Case {
        name,
        fault,
        plaintext: false,
        kind,
        transient: true,
        code,
        taken: false,
        big: false,
    };
    vec![
        case("reset before the greeting", reset_before_greeting, ErrorKind::Connection, None),
        case("reset during AUTH", reset_during_auth, ErrorKind::Connection, None),
        Case { big: true, ..case("reset mid-DATA", reset_mid_data, ErrorKind::Connection, None) },
        Case {
            taken: true,
            ..case("reset after the final dot", reset_after_the_final_dot, ErrorKind::Connection, None)
        },
        case("421 greeting", greeting_421, ErrorKind::Transient, Some(421)),
        case("451 at RCPT", rcpt_451, ErrorKind::Transient, Some(451)),
        case("452 at RCPT", rcpt_452, ErrorKind::Transient, Some(452)),
        Case { transient: false, ..case("554 at RCPT", rcpt_554, ErrorKind::Permanent, Some(554)) },
        Case {
            plaintext: true,
            transient: false,
            ..case("TLS corrupted", tls_corrupted, ErrorKind::Tls, None)
        },
        Case { plaintext: true, ..case("a silent server", silent, ErrorKind::Timeout, None) },
        case("silent after MAIL FROM", silent_after_mail_from, ErrorKind::Timeout, None),
    ]
}

fn proxy_for(lab: &Lab, case: &Case, first_only: bool) -> Proxy {
    let tls = if case.plaintext { Tls::default() } else { terminating(lab) };
    let fault = case.fault;
    if first_only {
        Proxy::start("127.0.0.1", lab::port("SMTPS"), tls, on_connection(0, fault))
    } else {
        Proxy::start("127.0.0.1", lab::port("SMTPS"), tls, move |_| fault())
    }
}

fn options(t: &str, retry: Retry) -> SendOptions {
    SendOptions { message_id_domain: Some(format!("{t}.example.test")), retry, ..SendOptions::default() }
}

fn big_draft(lab: &Lab, t: &str) -> esmtp_core::mime::MailDraft {
    let filler: Vec<u8> = (0..6u32 << 20).map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8).collect();
    draft(lab, t).attachment(esmtp_core::mime::Attachment::new("big.bin", "application/octet-stream", filler))
}

#[test]
#[ignore = "needs the mail lab: ./scripts/test starts it"]
fn each_fault_gives_its_error_class() {
    let lab = Lab::get();
    let bob = X25519Identity::generate().unwrap();
    for case in cases() {
        let proxy = proxy_for(&lab, &case, false);
        let account = via_proxy(&lab, "alice", "smtp", proxy.port).build().unwrap();
        let t = tag();
        let mail = if case.big { big_draft(&lab, &t) } else { draft(&lab, &t) };
        let err = Submitter::new(&account)
            .unwrap()
            .send_secure(&mail, Sealer::new().recipient(bob.to_public()), &options(&t, Retry::ONCE))
            .expect_err(case.name);
        let name = case.name;
        assert_eq!(err.kind(), case.kind, "{name}: {err:?}");
        assert_eq!(err.is_transient(), case.transient, "{name}: {err:?}");
        assert_eq!(err.code(), case.code, "{name}: {err:?}");
        assert_eq!(err.may_have_been_delivered(), case.taken, "{name}: {err:?}");
        if name.ends_with("at RCPT") {
            // Pipelined or not, the refusal is matched with its command.
            assert!(err.to_string().starts_with("the server refused RCPT TO"), "{name}: {err}");
        }
        assert!(!format!("{err} {err:?}").contains(lab.password("alice").expose()), "{name}");
        let copies = delivered(&lab, "bob", &t, usize::from(case.taken));
        assert_eq!(copies, usize::from(case.taken), "{name}: copies on the server");
        remove_mail(&lab, "bob", &t);
    }
}

#[test]
#[ignore = "needs the mail lab: ./scripts/test starts it"]
fn a_retrying_sender_ends_with_one_mail_or_an_explicit_error() {
    let lab = Lab::get();
    let bob = X25519Identity::generate().unwrap();
    let since = imap_now(&lab);
    let mut sent = Vec::new();
    for case in cases().into_iter().filter(|c| c.transient) {
        let proxy = proxy_for(&lab, &case, true);
        let mut account = via_proxy(&lab, "alice", "smtp", proxy.port);
        if case.big {
            // The faultless second attempt uploads 6 MiB through the proxy: on a loaded machine
            // that can take longer than the short limits, and a third attempt would follow.
            account = account.timeout(Duration::from_secs(20)).deadline(Duration::from_secs(120));
        }
        let account = account.build().unwrap();
        let t = tag();
        let mail = if case.big { big_draft(&lab, &t) } else { draft(&lab, &t) };
        let retry = Retry::new(3, Duration::from_millis(100));
        let report = Submitter::new(&account)
            .unwrap()
            .send_secure(&mail, Sealer::new().recipient(bob.to_public()), &options(&t, retry))
            .unwrap_or_else(|e| panic!("{}: {e:?}", case.name));
        // The mail went out once more after the fault, never more than that.
        assert!(proxy.connections() <= 2, "{}: {} connections", case.name, proxy.connections());
        let want = if case.taken { 2 } else { 1 };
        assert_eq!(delivered(&lab, "bob", &t, want), want, "{}: copies on the server", case.name);
        sent.push((case, t, report));
    }
    // A permanent refusal is not tried again: an explicit error, nothing delivered.
    let refused = cases().into_iter().find(|c| c.code == Some(554)).unwrap();
    let proxy = proxy_for(&lab, &refused, false);
    let account = via_proxy(&lab, "alice", "smtp", proxy.port).build().unwrap();
    let t = tag();
    let err = Submitter::new(&account)
        .unwrap()
        .send_secure(
            &draft(&lab, &t),
            Sealer::new().recipient(bob.to_public()),
            &options(&t, Retry::new(3, Duration::from_millis(100))),
        )
        .unwrap_err();
    assert_eq!((err.kind(), proxy.connections()), (ErrorKind::Permanent, 1));
    assert_eq!(delivered(&lab, "bob", &t, 0), 0);

    // The fetch side shows each mail once; the second copy of the one that was taken before
    // the connection broke is reported as its duplicate.
    let report = imap_fetch(&lab, &bob, since);
    for (case, t, sent) in &sent {
        let shown = tagged(&report.messages, t);
        assert_eq!(shown.len(), 1, "{}: shown once", case.name);
        assert_eq!(shown[0].message_id(), Some(sent.message_id.as_str()));
        let copies: Vec<_> = report.duplicates.iter().filter(|d| d.message_id == sent.message_id).collect();
        assert_eq!(
            copies.len(),
            usize::from(case.taken),
            "{}: duplicates {:?}",
            case.name,
            report.duplicates
        );
        if let Some(copy) = copies.first() {
            assert_eq!(Some(&copy.copy_of), shown.iter().map(|m| &m.location).next());
        }
        remove_mail(&lab, "bob", t);
    }
}

#[test]
#[ignore = "needs the mail lab: ./scripts/test starts it"]
fn a_copy_that_arrives_after_a_fetch_is_still_a_duplicate() {
    // The at-least-once window, replayed by hand: the same bytes submitted twice, with a fetch
    // between the two deliveries.
    let lab = Lab::get();
    let bob = X25519Identity::generate().unwrap();
    let since = imap_now(&lab);
    let t = tag();
    let package = esmtp_core::mime::package(
        &draft(&lab, &t),
        &Sealer::new().recipient(bob.to_public()),
        &esmtp_core::mime::PackageOptions::new(1_700_000_000),
    )
    .unwrap();
    let submitter =
        Submitter::new(&lab.password_account("alice", esmtp_transport::TlsMode::Implicit)).unwrap();
    submitter.send_raw(&lab.address("alice"), &[lab.address("bob")], &package.bytes).unwrap();
    assert_eq!(delivered(&lab, "bob", &package.message_id, 1), 1);
    let first = imap_fetch(&lab, &bob, since);
    assert_eq!(tagged(&first.messages, &t).len(), 1);
    submitter.send_raw(&lab.address("alice"), &[lab.address("bob")], &package.bytes).unwrap();
    assert_eq!(delivered(&lab, "bob", &package.message_id, 2), 2);
    let second = imap_fetch(&lab, &bob, first.sync);
    assert!(tagged(&second.messages, &t).is_empty(), "shown again: {:?}", second.messages);
    assert_eq!(second.duplicates.len(), 1, "{:?}", second.duplicates);
    assert_eq!(second.duplicates[0].copy_of, tagged(&first.messages, &t)[0].location);
    let esmtp_transport::MessageRef::Imap { uid } = second.duplicates[0].location else { panic!() };
    assert!(second.sync.last_uid >= uid, "the copy counts as read");
    remove_mail(&lab, "bob", &package.message_id);
}

#[test]
#[ignore = "needs the mail lab: ./scripts/test starts it"]
fn a_session_gone_while_idle_is_replaced_and_the_mail_sent_once() {
    let lab = Lab::get();
    let bob = X25519Identity::generate().unwrap();
    for goodbye in [None, Some("421 4.4.2 mail.example.test Error: timeout exceeded\r\n")] {
        let proxy = Proxy::start(
            "127.0.0.1",
            lab::port("SMTPS"),
            terminating(&lab),
            on_connection(0, move || gone_after_the_first_mail(goodbye)),
        );
        let account = via_proxy(&lab, "alice", "smtp", proxy.port).build().unwrap();
        let submitter = Submitter::new(&account).unwrap();
        let (first, second) = (tag(), tag());
        for t in [&first, &second] {
            // No retry asked for: the new session is the submitter's own doing, and safe because
            // the old one failed before the server heard of the mail.
            submitter
                .send_secure(
                    &draft(&lab, t),
                    Sealer::new().recipient(bob.to_public()),
                    &options(t, Retry::ONCE),
                )
                .unwrap_or_else(|e| panic!("{goodbye:?}: {e:?}"));
        }
        assert_eq!((submitter.connections_opened(), proxy.connections()), (2, 2), "{goodbye:?}");
        for t in [&first, &second] {
            assert_eq!(delivered(&lab, "bob", t, 1), 1, "{goodbye:?}: copies on the server");
            remove_mail(&lab, "bob", t);
        }
    }
}
