//! IMAP retrieval against scripted servers.

use std::time::Duration;

use esmtp_core::Opener;
use esmtp_transport::{ErrorKind, ImapClient, ImapFetchOptions, ImapSyncState, Retrieved};

use crate::script::{PASSWORD, Peer, Server, USER, account, flooder, traced, trickler, unbase64};

/// Greeting, CAPABILITY, AUTHENTICATE PLAIN, CAPABILITY.
fn login(peer: &mut Peer) {
    peer.send("* OK ready\r\n");
    let t = peer.imap("CAPABILITY");
    peer.send(&format!("* CAPABILITY IMAP4rev1 AUTH=PLAIN\r\n{t} OK done\r\n"));
    let t = peer.imap("AUTHENTICATE PLAIN");
    peer.send("+ \r\n");
    assert_eq!(unbase64(&peer.next_line().unwrap()), format!("\0{USER}\0{PASSWORD}").into_bytes());
    peer.send(&format!("{t} OK logged in\r\n"));
    let t = peer.imap("CAPABILITY");
    peer.send(&format!("* CAPABILITY IMAP4rev1 IDLE UIDPLUS MOVE\r\n{t} OK done\r\n"));
}

fn header_block(mail: &[u8]) -> &[u8] {
    let end = mail.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    &mail[..end]
}

#[test]
fn fetch_pairs_a_key_slip_with_its_envelope_and_syncs_incrementally() {
    let (envelope, slip) = crate::sealed_pair();
    let server = Server::once(move |peer| {
        login(peer);
        let mails = [&envelope, &slip];
        let t = peer.imap("EXAMINE \"INBOX\"");
        peer.send(&format!(
            "* 2 EXISTS\r\n* OK [UIDVALIDITY 7] ok\r\n* OK [UIDNEXT 3] ok\r\n{t} OK [READ-ONLY] done\r\n"
        ));
        let t = peer.imap("UID SEARCH UID 1:*");
        peer.send(&format!("* SEARCH 1 2\r\n{t} OK\r\n"));
        // Key-slip mails are found by their subject and read first: their headers do not say
        // which envelope they open.
        let t = peer.imap("UID SEARCH SUBJECT \"esmtp key slip\"");
        peer.send(&format!("* SEARCH 2\r\n{t} OK\r\n"));
        let fields = "BODY[HEADER.FIELDS (MESSAGE-ID FROM DATE SUBJECT X-ESMTP-ENVELOPE-ID)]";
        let t = peer.imap("UID FETCH 2 (UID RFC822.SIZE BODY.PEEK[HEADER.FIELDS");
        peer.send(&format!("* 2 FETCH (UID 2 RFC822.SIZE {} {fields} ", mails[1].len()));
        peer.literal(header_block(mails[1]));
        peer.send(&format!(")\r\n{t} OK\r\n"));
        let t = peer.imap("UID FETCH 2 (UID BODY.PEEK[])");
        peer.send("* 2 FETCH (UID 2 BODY[] ");
        peer.literal(mails[1]);
        peer.send(&format!(")\r\n{t} OK\r\n"));
        // Then the envelopes, opened with the slips read.
        let t = peer.imap("UID SEARCH UID 1:2 HEADER X-Esmtp-Envelope-Id \"\"");
        peer.send(&format!("* SEARCH 1\r\n{t} OK\r\n"));
        let t = peer.imap("UID FETCH 1 (UID RFC822.SIZE BODY.PEEK[HEADER.FIELDS");
        peer.send(&format!("* 1 FETCH (UID 1 RFC822.SIZE {} {fields} ", mails[0].len()));
        peer.literal(header_block(mails[0]));
        peer.send(&format!(")\r\n{t} OK\r\n"));
        let t = peer.imap("UID FETCH 1 (UID BODY.PEEK[])");
        peer.send("* 1 FETCH (UID 1 BODY[] ");
        peer.literal(mails[0]);
        peer.send(&format!(")\r\n{t} OK\r\n"));
        // The next sync finds nothing new: the highest UID always matches "n:*".
        let t = peer.imap("EXAMINE \"INBOX\"");
        peer.send(&format!("* 2 EXISTS\r\n* OK [UIDVALIDITY 7] ok\r\n{t} OK [READ-ONLY] done\r\n"));
        let t = peer.imap("UID SEARCH UID 3:*");
        peer.send(&format!("* SEARCH 2\r\n{t} OK\r\n"));
        let t = peer.imap("LOGOUT");
        peer.send(&format!("* BYE\r\n{t} OK\r\n"));
    });
    let mut client = ImapClient::from_stream(&account().build().unwrap(), server.connect()).unwrap();
    assert!(client.capabilities().contains(&"IDLE".to_string()));
    let report = client.fetch_esmtp("INBOX", &Opener::new(), &ImapFetchOptions::default()).unwrap();
    assert_eq!(report.sync, ImapSyncState { uid_validity: 7, last_uid: 2 });
    assert_eq!(report.messages.len(), 2);
    assert_eq!(report.messages[0].uid(), Some(1));
    match &report.messages[0].result {
        Ok(Retrieved::Opened { mail, with_key_slip: true }) => {
            assert_eq!(mail.text.as_deref(), Some(crate::SECRET_TEXT))
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(report.messages[1].result, Ok(Retrieved::KeySlip(_))));
    let state: ImapSyncState = report.sync.to_string().parse().unwrap();
    let again = client.fetch_esmtp(
        "INBOX",
        &Opener::new(),
        &ImapFetchOptions { since: Some(state), ..Default::default() },
    );
    assert!(again.unwrap().messages.is_empty());
    client.logout().unwrap();
    server.join();
}

#[test]
fn login_arguments_never_reach_the_trace() {
    let server = Server::once(|peer| {
        peer.send("* OK ready\r\n");
        let t = peer.imap("CAPABILITY");
        peer.send(&format!("* CAPABILITY IMAP4rev1\r\n{t} OK done\r\n"));
        let (t, rest) = peer.command();
        assert_eq!(rest, format!("LOGIN \"{USER}\" \"{PASSWORD}\""));
        peer.send(&format!("{t} NO [AUTHENTICATIONFAILED] Authentication failed.\r\n"));
    });
    let (account, trace) = traced(account());
    let err = ImapClient::from_stream(&account, server.connect()).unwrap_err();
    server.join();
    assert!(err.is_auth(), "{err:?}");
    trace.assert_hides(PASSWORD);
    assert!(trace.text().contains("LOGIN <redacted>"), "{}", trace.text());
}

/// Finding: endless SASL challenges. AUTHENTICATE gets its response and one empty answer; a
/// server that keeps challenging is cut off.
#[test]
fn endless_authenticate_challenges_end_the_exchange() {
    let server = Server::once(|peer| {
        peer.send("* OK ready\r\n");
        let t = peer.imap("CAPABILITY");
        peer.send(&format!("* CAPABILITY IMAP4rev1 AUTH=PLAIN\r\n{t} OK done\r\n"));
        peer.imap("AUTHENTICATE PLAIN");
        let mut answers = 0;
        while answers < 100 {
            if !peer.try_send(b"+ \r\n") || peer.next_line().is_none() {
                break;
            }
            answers += 1;
        }
        assert!(answers <= 3, "the client answered {answers} challenges");
    });
    let (account, trace) = traced(account());
    let err = ImapClient::from_stream(&account, server.connect()).unwrap_err();
    server.join();
    assert_eq!(err.kind(), ErrorKind::Protocol, "{err}");
    trace.assert_hides(PASSWORD);
}

#[test]
fn a_trickling_greeting_meets_the_deadline() {
    let server = trickler("* OK ");
    let account = account().timeout(Duration::from_secs(5)).deadline(Duration::from_secs(1)).build().unwrap();
    let err = ImapClient::from_stream(&account, server.connect()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout, "{err}");
    server.join();
}

#[test]
fn an_endless_greeting_is_cut_off_early() {
    let (server, sent) = flooder("* OK ");
    let err = ImapClient::from_stream(&account().build().unwrap(), server.connect()).unwrap_err();
    server.join();
    assert_eq!(err.kind(), ErrorKind::Protocol, "{err}");
    let sent = *sent.lock().unwrap();
    assert!(sent < 16 << 20, "the client went on reading: {sent} bytes");
}
