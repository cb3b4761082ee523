//! SMTP PIPELINING (RFC 2920) against scripted servers: MAIL FROM, RCPT TO and DATA leave in
//! one write and their replies are read in order, however the server cuts them into packets;
//! refusals inside a group keep the kinds and codes they have one by one, and a DATA accepted
//! after a refusal never delivers anything. Without PIPELINING the client waits for each reply.

use std::time::Duration;

use esmtp_transport::{ErrorKind, Submit, Submitter};

use crate::script::{Peer, Server, USER, account};
use crate::smtp::{EHLO, auth_plain, hello, transaction};

const BOB: &str = "bob@example.test";
const CAROL: &str = "carol@example.test";
const MESSAGE: &[u8] = b"Subject: pipelined\r\n\r\nhello\r\n";

/// Read the client's whole group before answering any of it: a client that waited for the
/// MAIL reply would never send the rest (and the script would fail on its read timeout).
fn group(peer: &mut Peer, rcpts: &[&str]) {
    let mail = peer.expect(&format!("MAIL FROM:<{USER}>"));
    assert!(mail.contains(" SIZE="), "{mail}");
    for rcpt in rcpts {
        peer.expect(&format!("RCPT TO:<{rcpt}>"));
    }
    peer.expect("DATA");
}

fn replies(rcpts: usize) -> Vec<u8> {
    let mut out = b"250 2.1.0 Ok\r\n".to_vec();
    for _ in 0..rcpts {
        out.extend_from_slice(b"250 2.1.5 Ok\r\n");
    }
    out.extend_from_slice(b"354 End data with <CR><LF>.<CR><LF>\r\n");
    out
}

/// Send `bytes` in pieces of `piece` bytes, pausing between them, so the client's reads end
/// inside lines and between replies.
fn trickle(peer: &mut Peer, bytes: &[u8], piece: usize) {
    for chunk in bytes.chunks(piece) {
        assert!(peer.try_send(chunk), "client reads");
        std::thread::sleep(Duration::from_millis(2));
    }
}

#[test]
fn the_group_goes_in_one_write_and_replies_are_read_in_one_packet_or_split() {
    let (tx, rx) = std::sync::mpsc::channel();
    let server = Server::once(move |peer| {
        hello(peer);
        auth_plain(peer);
        // Every reply of the group in one packet.
        group(peer, &[BOB, CAROL]);
        peer.send_bytes(&replies(2));
        let first = peer.data();
        peer.send("250 2.0.0 Ok: queued as P1\r\n");
        // The same replies cut into pieces of 1, then 5 bytes, across reads.
        for (piece, queued) in [(1, "P2"), (5, "P3")] {
            group(peer, &[BOB, CAROL]);
            trickle(peer, &replies(2), piece);
            assert_eq!(peer.data(), first);
            trickle(peer, format!("250 2.0.0 Ok: queued as {queued}\r\n").as_bytes(), piece);
        }
        peer.expect("QUIT");
        peer.send("221 2.0.0 Bye\r\n");
        tx.send(first).unwrap();
    });
    let submitter = Submitter::from_stream(&account().build().unwrap(), server.connect());
    let to = [BOB.to_string(), CAROL.to_string()];
    for queued in ["P1", "P2", "P3"] {
        let reply = submitter.send_raw(USER, &to, MESSAGE).unwrap();
        assert_eq!((reply.code, reply.text.as_str()), (250, format!("Ok: queued as {queued}").as_str()));
    }
    assert_eq!(submitter.connections_opened(), 1);
    drop(submitter);
    server.join();
    assert_eq!(rx.recv().unwrap(), MESSAGE);
}

#[test]
fn a_refused_recipient_inside_a_group_keeps_its_codes_and_the_session() {
    let server = Server::once(|peer| {
        hello(peer);
        auth_plain(peer);
        // One of two refused; the server then refuses DATA too (as Postfix does not: it has
        // one recipient left) -- the refusal reported is the recipient's, the first in order.
        group(peer, &[BOB, CAROL]);
        peer.send(
            "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n550 5.1.1 <carol@example.test>: Recipient address rejected\r\n\
503 5.5.1 Error: bad sequence\r\n",
        );
        peer.expect("RSET");
        peer.send("250 2.0.0 Ok\r\n");
        // The only recipient refused, and DATA accepted all the same (RFC 2920 section 3.1
        // warns of such servers): the client ends the empty message with a lone dot, which
        // delivers nothing for want of a recipient, and the session goes on.
        group(peer, &[CAROL]);
        peer.send("250 2.1.0 Ok\r\n550 5.1.1 no such user\r\n354 go ahead\r\n");
        assert_eq!(peer.data(), b"", "nothing but the lone dot");
        peer.send("554 5.5.1 Error: no valid recipients\r\n");
        peer.expect("RSET");
        peer.send("250 2.0.0 Ok\r\n");
        // MAIL refused: every reply of the group is read, the MAIL refusal reported.
        group(peer, &[BOB]);
        peer.send(
            "553 5.7.1 <alice@example.test>: Sender address rejected\r\n503 5.5.1 Error: need MAIL command\r\n\
503 5.5.1 Error: need RCPT command\r\n",
        );
        peer.expect("RSET");
        peer.send("250 2.0.0 Ok\r\n");
        // And the session still sends.
        transaction(peer, &[BOB], "R4");
        peer.expect("QUIT");
        peer.send("221 2.0.0 Bye\r\n");
    });
    let submitter = Submitter::from_stream(&account().build().unwrap(), server.connect());
    let err = submitter.send_raw(USER, &[BOB.into(), CAROL.into()], MESSAGE).unwrap_err();
    assert_eq!(
        (err.kind(), err.code(), err.enhanced_code()),
        (ErrorKind::Permanent, Some(550), Some("5.1.1"))
    );
    assert!(err.to_string().starts_with("the server refused RCPT TO: <carol@"), "{err}");
    let err = submitter.send_raw(USER, &[CAROL.into()], MESSAGE).unwrap_err();
    assert_eq!((err.kind(), err.code()), (ErrorKind::Permanent, Some(550)));
    assert!(!err.may_have_been_delivered());
    let err = submitter.send_raw(USER, &[BOB.into()], MESSAGE).unwrap_err();
    assert_eq!((err.kind(), err.code()), (ErrorKind::Permanent, Some(553)));
    assert!(err.to_string().starts_with("the server refused MAIL FROM"), "{err}");
    submitter.send_raw(USER, &[BOB.into()], MESSAGE).unwrap();
    assert_eq!(submitter.connections_opened(), 1);
    drop(submitter);
    server.join();
}

#[test]
fn data_accepted_after_a_refused_recipient_with_another_accepted_sends_nothing() {
    let server = Server::once(|peer| {
        hello(peer);
        auth_plain(peer);
        group(peer, &[BOB, CAROL]);
        peer.send(
            "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n450 4.2.0 <carol@example.test>: greylisted\r\n354 go ahead\r\n",
        );
        // Bob was accepted: a lone dot would deliver him an empty mail, and RSET would be
        // message content. The client must end the connection without another byte.
        assert_eq!(peer.next_line(), None, "the client sent more after 354");
    });
    let submitter = Submitter::from_stream(&account().build().unwrap(), server.connect());
    let err = submitter.send_raw(USER, &[BOB.into(), CAROL.into()], MESSAGE).unwrap_err();
    assert_eq!((err.kind(), err.code()), (ErrorKind::Transient, Some(450)));
    assert!(err.is_transient() && !err.may_have_been_delivered());
    drop(submitter);
    server.join();
}

#[test]
fn without_pipelining_each_command_waits_for_its_reply() {
    let server = Server::once(|peer| {
        peer.send("220 mail.example.test ESMTP ready\r\n");
        peer.expect("EHLO [127.0.0.1]");
        peer.send(&EHLO.replace("250-PIPELINING\r\n", ""));
        auth_plain(peer);
        for queued in ["N1", "N2"] {
            peer.expect(&format!("MAIL FROM:<{USER}>"));
            assert!(peer.client_waits(Duration::from_millis(300)), "RCPT sent before the MAIL reply");
            peer.send("250 2.1.0 Ok\r\n");
            for rcpt in [BOB, CAROL] {
                peer.expect(&format!("RCPT TO:<{rcpt}>"));
                assert!(peer.client_waits(Duration::from_millis(300)), "sent on before the RCPT reply");
                peer.send("250 2.1.5 Ok\r\n");
            }
            peer.expect("DATA");
            assert!(peer.client_waits(Duration::from_millis(300)), "data sent before 354");
            peer.send("354 go ahead\r\n");
            assert_eq!(peer.data(), MESSAGE);
            peer.send(&format!("250 2.0.0 Ok: queued as {queued}\r\n"));
        }
        peer.expect("QUIT");
        peer.send("221 2.0.0 Bye\r\n");
    });
    let submitter = Submitter::from_stream(&account().build().unwrap(), server.connect());
    for queued in ["N1", "N2"] {
        let reply = submitter.send_raw(USER, &[BOB.into(), CAROL.into()], MESSAGE).unwrap();
        assert!(reply.text.ends_with(queued), "{reply:?}");
    }
    drop(submitter);
    server.join();
}

#[test]
fn a_421_inside_the_group_ends_the_session_without_a_retry_on_it() {
    let server = Server::once(|peer| {
        hello(peer);
        auth_plain(peer);
        group(peer, &[BOB]);
        peer.send("250 2.1.0 Ok\r\n421 4.3.2 Service shutting down\r\n");
        // Nothing more from the client on this connection: no DATA content, no RSET.
        assert_eq!(peer.next_line(), None);
    });
    let submitter = Submitter::from_stream(&account().build().unwrap(), server.connect());
    let err = submitter.send_raw(USER, &[BOB.into()], MESSAGE).unwrap_err();
    assert_eq!((err.kind(), err.code()), (ErrorKind::Transient, Some(421)));
    assert!(!err.may_have_been_delivered());
    // The caller's stream held the one session there is.
    assert_eq!(submitter.send_raw(USER, &[BOB.into()], MESSAGE).unwrap_err().kind(), ErrorKind::Connection);
    drop(submitter);
    server.join();
}
