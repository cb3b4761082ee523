//! SMTP submission against scripted servers.

use std::time::Duration;

use esmtp_core::Opener;
use esmtp_core::Sealer;
use esmtp_core::mime::{self, MailDraft, Mailbox, ReadMail};
use esmtp_transport::{ErrorKind, PasswordMechanism, SendOptions, Submit, Submitter};

use crate::script::{
    PASSWORD, Peer, Server, USER, account, flooder, token_account, traced, trickler, unbase64,
};

pub const EHLO: &str = "250-mail.example.test\r\n250-PIPELINING\r\n250-SIZE 10000000\r\n250-8BITMIME\r\n\
250-SMTPUTF8\r\n250-AUTH PLAIN LOGIN XOAUTH2\r\n250 ENHANCEDSTATUSCODES\r\n";

pub fn hello(peer: &mut Peer) {
    peer.send("220 mail.example.test ESMTP ready\r\n");
    peer.expect("EHLO [127.0.0.1]");
    peer.send(EHLO);
}

pub fn auth_plain(peer: &mut Peer) {
    let line = peer.expect("AUTH PLAIN ");
    assert_eq!(unbase64(&line["AUTH PLAIN ".len()..]), format!("\0{USER}\0{PASSWORD}").into_bytes());
    peer.send("235 2.7.0 Authentication successful\r\n");
}

/// MAIL, RCPT (each of `to`), DATA and the message; returns the message.
pub fn transaction(peer: &mut Peer, to: &[&str], queued: &str) -> Vec<u8> {
    let mail = peer.expect(&format!("MAIL FROM:<{USER}>"));
    assert!(mail.contains(" SIZE="), "{mail}");
    peer.send("250 2.1.0 Ok\r\n");
    for rcpt in to {
        peer.expect(&format!("RCPT TO:<{rcpt}>"));
        peer.send("250 2.1.5 Ok\r\n");
    }
    peer.expect("DATA");
    peer.send("354 End data with <CR><LF>.<CR><LF>\r\n");
    let data = peer.data();
    // SIZE counts the message as given; the upload ends it with CRLF when it did not.
    let size: usize = mail.rsplit('=').next().unwrap().parse().unwrap();
    assert!(size == data.len() || size + 2 == data.len(), "{mail} for {} bytes", data.len());
    peer.send(&format!("250 2.0.0 Ok: queued as {queued}\r\n"));
    data
}

#[test]
fn send_secure_submits_the_envelope_then_its_key_slip_in_one_session() {
    let (tx, rx) = std::sync::mpsc::channel();
    let server = Server::once(move |peer| {
        hello(peer);
        auth_plain(peer);
        let envelope = transaction(peer, &["bob@example.test"], "E1");
        // The session answered moments ago: used again without a probe.
        let slip = transaction(peer, &["bob@example.test"], "S1");
        peer.expect("QUIT");
        peer.send("221 2.0.0 Bye\r\n");
        tx.send((envelope, slip)).unwrap();
    });
    let account = account().build().unwrap();
    let submitter = Submitter::from_stream(&account, server.connect());
    let draft = MailDraft::new(Mailbox::new(USER))
        .to(Mailbox::new("bob@example.test"))
        .subject("the plan")
        .text(crate::SECRET_TEXT);
    let report = submitter.send_secure(&draft, Sealer::new().key_slip(), &SendOptions::default()).unwrap();
    assert_eq!((report.reply.code, report.reply.text.as_str()), (250, "Ok: queued as E1"));
    assert_eq!(report.reply.enhanced.as_deref(), Some("2.0.0"));
    assert_eq!(report.key_slips.len(), 1);
    assert_eq!(submitter.connections_opened(), 1);
    drop(submitter);
    server.join();

    let (envelope, slip) = rx.recv().unwrap();
    assert_eq!(envelope.len(), report.size, "the bytes arrive as packaged, dot-stuffing undone");
    assert!(!envelope.windows(crate::SECRET_TEXT.len()).any(|w| w == crate::SECRET_TEXT.as_bytes()));
    let Ok(ReadMail::KeySlip(slip)) = mime::read_mail(&slip, &Opener::new(), &mime::Limits::default()) else {
        panic!("a key-slip mail")
    };
    let Ok(ReadMail::Encrypted(opened)) =
        mime::read_mail(&envelope, &Opener::new().identity(slip.key_slip), &mime::Limits::default())
    else {
        panic!("the slip opens the envelope")
    };
    assert_eq!(opened.text.as_deref(), Some(crate::SECRET_TEXT));
}

#[test]
fn dot_stuffing_and_the_final_line_end() {
    let message = b"Subject: dots\r\n\r\n.one\r\n..two\r\n.\r\nlast line without CRLF";
    let server = Server::once(move |peer| {
        hello(peer);
        auth_plain(peer);
        let data = transaction(peer, &["bob@example.test"], "D1");
        assert_eq!(data, [&message[..], b"\r\n"].concat());
    });
    let submitter = Submitter::from_stream(&account().build().unwrap(), server.connect());
    submitter.send_raw(USER, &["bob@example.test".into()], message).unwrap();
    drop(submitter);
    server.join();
}

#[test]
fn auth_login_and_the_trace_never_shows_the_password() {
    let server = Server::once(|peer| {
        hello(peer);
        peer.expect("AUTH LOGIN");
        peer.send("334 VXNlcm5hbWU6\r\n");
        assert_eq!(unbase64(&peer.expect("")), USER.as_bytes());
        peer.send("334 UGFzc3dvcmQ6\r\n");
        assert_eq!(unbase64(&peer.expect("")), PASSWORD.as_bytes());
        peer.send("235 2.7.0 Ok\r\n");
        transaction(peer, &["bob@example.test"], "L1");
    });
    let (account, trace) = traced(account().password_mechanism(PasswordMechanism::Login));
    let submitter = Submitter::from_stream(&account, server.connect());
    submitter.send_raw(USER, &["bob@example.test".into()], b"Subject: x\r\n\r\nhi\r\n").unwrap();
    drop(submitter);
    server.join();
    trace.assert_hides(PASSWORD);
    assert!(trace.text().contains("Sent: AUTH LOGIN\n"), "{}", trace.text());
    assert!(trace.text().contains("Received: 250 2.0.0 Ok: queued as L1"), "{}", trace.text());
}

#[test]
fn auth_plain_is_redacted_in_the_trace_and_a_refusal_is_an_auth_error() {
    let server = Server::once(|peer| {
        hello(peer);
        peer.expect("AUTH PLAIN ");
        peer.send("535 5.7.8 Error: authentication failed: another step\r\n");
    });
    let (account, trace) = traced(account());
    let err = Submitter::from_stream(&account, server.connect())
        .send_raw(USER, &["bob@example.test".into()], b"x\r\n")
        .unwrap_err();
    server.join();
    assert_eq!((err.kind(), err.code(), err.enhanced_code()), (ErrorKind::Auth, Some(535), Some("5.7.8")));
    assert!(!format!("{err} {err:?}").contains(PASSWORD));
    trace.assert_hides(PASSWORD);
    assert!(trace.text().contains("Sent: AUTH PLAIN <redacted>"), "{}", trace.text());
}

#[test]
fn a_message_above_size_is_refused_before_mail_from() {
    let server = Server::once(|peer| {
        peer.send("220 ready\r\n");
        peer.expect("EHLO");
        peer.send("250-mail.example.test\r\n250-SIZE 100\r\n250 AUTH PLAIN\r\n");
        auth_plain(peer);
        // Nothing but the end of the session follows.
        let next = peer.next_line();
        assert!(matches!(next.as_deref(), None | Some("RSET") | Some("QUIT")), "{next:?}");
    });
    let submitter = Submitter::from_stream(&account().build().unwrap(), server.connect());
    let err = submitter.send_raw(USER, &["bob@example.test".into()], &[b'a'; 200]).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::TooLarge, "{err}");
    drop(submitter);
    server.join();
}

#[test]
fn refused_recipient_keeps_the_codes_and_the_session() {
    let server = Server::once(|peer| {
        hello(peer);
        auth_plain(peer);
        peer.expect("MAIL FROM:");
        peer.send("250 2.1.0 Ok\r\n");
        peer.expect("RCPT TO:<nobody@example.test>");
        peer.send("550 5.1.1 <nobody@example.test>: Recipient address rejected\r\n");
        // Pipelined: DATA came with the rest, and is refused for want of a recipient.
        peer.expect("DATA");
        peer.send("554 5.5.1 Error: no valid recipients\r\n");
        peer.expect("RSET");
        peer.send("250 2.0.0 Ok\r\n");
        transaction(peer, &["bob@example.test"], "R2");
    });
    let submitter = Submitter::from_stream(&account().build().unwrap(), server.connect());
    let err = submitter.send_raw(USER, &["nobody@example.test".into()], b"x\r\n").unwrap_err();
    assert_eq!(
        (err.kind(), err.code(), err.enhanced_code()),
        (ErrorKind::Permanent, Some(550), Some("5.1.1"))
    );
    assert!(!err.is_transient());
    assert!(err.to_string().contains("Recipient address rejected"), "{err}");
    submitter.send_raw(USER, &["bob@example.test".into()], b"x\r\n").unwrap();
    assert_eq!(submitter.connections_opened(), 1);
    drop(submitter);
    server.join();
}

/// Finding: a reply without CRLF was buffered without limit (1 GiB greeting, 1 GB of memory).
/// The client now stops after one reply line's limit and closes: the server cannot push more
/// than what the sockets hold in between.
#[test]
fn an_endless_reply_line_is_cut_off_early() {
    let (server, sent) = flooder("220 ");
    let err =
        Submitter::from_stream(&account().build().unwrap(), server.connect()).capabilities().unwrap_err();
    server.join();
    assert_eq!(err.kind(), ErrorKind::Protocol, "{err}");
    let sent = *sent.lock().unwrap();
    assert!(sent < 16 << 20, "the client went on reading: {sent} bytes");
}

/// Finding: a server sending a byte every 100 ms kept a session open for as long as it liked.
#[test]
fn a_trickling_server_meets_the_deadline() {
    let server = trickler("220 ");
    let account = account().timeout(Duration::from_secs(5)).deadline(Duration::from_secs(1)).build().unwrap();
    let err = Submitter::from_stream(&account, server.connect()).capabilities().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout, "{err}");
    assert!(err.to_string().contains("deadline"), "{err}");
    server.join();
}

/// Finding: endless SASL challenges. The client answers the challenge its response goes to and
/// one more, then cancels.
#[test]
fn endless_auth_challenges_end_the_exchange() {
    let server = Server::once(|peer| {
        hello(peer);
        peer.expect("AUTH XOAUTH2 ");
        let mut answers = 0;
        while answers < 100 {
            peer.send("334 eyJzdGF0dXMiOiI0MDAifQ==\r\n");
            match peer.next_line() {
                Some(line) if line == "*" => break,
                Some(_) => answers += 1,
                None => break,
            }
        }
        assert!(answers <= 1, "the client answered {answers} extra challenges");
    });
    let token = "ya29.token-Zq81";
    let (account, trace) = traced(token_account(token));
    let err = Submitter::from_stream(&account, server.connect())
        .send_raw(USER, &["bob@example.test".into()], b"x\r\n")
        .unwrap_err();
    server.join();
    assert_eq!(err.kind(), ErrorKind::Protocol, "{err}");
    trace.assert_hides(token);
}

#[test]
fn a_streamed_mail_arrives_as_packaged_and_a_short_reader_ends_the_session_before_the_dot() {
    let attachment: Vec<u8> = (0..300_000u32).map(|i| (i * 13 % 256) as u8).collect();
    let (tx, rx) = std::sync::mpsc::channel();
    let server = Server::once(move |peer| {
        hello(peer);
        auth_plain(peer);
        tx.send(transaction(peer, &["bob@example.test"], "E1")).unwrap();
        // A reader that ends early: the upload stops without the final dot.
        peer.expect("MAIL FROM:");
        peer.send("250 2.1.0 Ok\r\n");
        peer.expect("RCPT TO:");
        peer.send("250 2.1.5 Ok\r\n");
        peer.expect("DATA");
        peer.send("354 go ahead\r\n");
        let mut rest = Vec::new();
        while let Some(line) = peer.next_line() {
            assert_ne!(line, ".", "the message must not be ended");
            rest.push(line);
        }
    });
    let bob = esmtp_core::X25519Identity::generate().unwrap();
    let submitter = Submitter::from_stream(&account().build().unwrap(), server.connect());
    let draft = MailDraft::new(Mailbox::new(USER)).to(Mailbox::new("bob@example.test")).text("see attached");
    let source = mime::AttachmentSource::new(
        "data.bin",
        "application/octet-stream",
        attachment.len() as u64,
        &attachment[..],
    );
    let sealer = Sealer::new().recipient(bob.to_public());
    let report =
        submitter.send_secure_streaming(&draft, vec![source], sealer, &SendOptions::default()).unwrap();
    let received = rx.recv().unwrap();
    assert_eq!(received.len(), report.size, "the bytes arrive as packaged, dot-stuffing undone");
    let Ok(ReadMail::Encrypted(opened)) =
        mime::read_mail(&received, &Opener::new().identity(bob), &mime::Limits::default())
    else {
        panic!("not an encrypted mail")
    };
    assert!(opened.attachments[0].data == attachment);

    let err = submitter
        .send_raw_from(
            USER,
            &["bob@example.test".into()],
            &mut &b"Subject: x\r\n\r\nshort\r\n"[..],
            1000,
            false,
        )
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Io, "{err}");
    drop(submitter);
    server.join();
}

#[test]
fn a_streamed_mail_above_size_is_refused_before_mail_from() {
    let server = Server::once(|peer| {
        peer.send("220 ready\r\n");
        peer.expect("EHLO");
        peer.send("250-mail.example.test\r\n250-SIZE 100000\r\n250 AUTH PLAIN\r\n");
        auth_plain(peer);
        let next = peer.next_line();
        assert!(matches!(next.as_deref(), None | Some("RSET") | Some("QUIT")), "{next:?}");
    });
    let submitter = Submitter::from_stream(&account().build().unwrap(), server.connect());
    let draft = MailDraft::new(Mailbox::new(USER)).to(Mailbox::new("bob@example.test"));
    let big = vec![0u8; 100_000];
    let source = mime::AttachmentSource::new("big.bin", "application/octet-stream", 100_000, &big[..]);
    let err = submitter
        .send_secure_streaming(&draft, vec![source], Sealer::new().key_slip(), &SendOptions::default())
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::TooLarge, "{err}");
    drop(submitter);
    server.join();
}
