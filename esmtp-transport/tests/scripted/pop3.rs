//! POP3 retrieval against scripted servers.

use std::time::Duration;

use esmtp_core::Opener;
use esmtp_transport::{ErrorKind, Pop3Client, Pop3FetchOptions, Retrieved};

use crate::script::{PASSWORD, Peer, Server, USER, account, flooder, traced, trickler, unbase64};

fn login(peer: &mut Peer, capa: &str) {
    peer.send("+OK POP3 ready\r\n");
    peer.expect("CAPA");
    peer.send(&format!("+OK\r\n{capa}.\r\n"));
    if capa.contains("SASL PLAIN") {
        peer.expect("AUTH PLAIN");
        peer.send("+ \r\n");
        assert_eq!(unbase64(&peer.next_line().unwrap()), format!("\0{USER}\0{PASSWORD}").into_bytes());
    } else {
        peer.expect(&format!("USER {USER}"));
        peer.send("+OK\r\n");
        assert_eq!(peer.next_line().unwrap(), format!("PASS {PASSWORD}"));
    }
    peer.send("+OK logged in\r\n");
}

fn listings(peer: &mut Peer, mails: &[&Vec<u8>]) {
    peer.expect("LIST");
    let list: String = mails.iter().enumerate().map(|(i, m)| format!("{} {}\r\n", i + 1, m.len())).collect();
    peer.send(&format!("+OK\r\n{list}.\r\n"));
    peer.expect("UIDL");
    let uidl: String = (0..mails.len()).map(|i| format!("{} uid-{}\r\n", i + 1, i + 1)).collect();
    peer.send(&format!("+OK\r\n{uidl}.\r\n"));
}

fn header_block(mail: &[u8]) -> &[u8] {
    let end = mail.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    &mail[..end]
}

#[test]
fn fetch_reads_headers_with_top_downloads_with_top_and_syncs_by_uidl() {
    let (envelope, slip) = crate::sealed_pair();
    let server = Server::start(2, move |peer, session| {
        login(peer, "TOP\r\nUIDL\r\nSASL PLAIN\r\nPIPELINING\r\n");
        let mails = [&envelope, &slip];
        listings(peer, &mails);
        if session == 0 {
            // Headers for both, pipelined, then the downloads: the slip first. TOP, not RETR,
            // so a server like Dovecot flags nothing \Seen.
            peer.expect("TOP 1 0");
            peer.expect("TOP 2 0");
            for mail in mails {
                peer.send("+OK\r\n");
                peer.multiline(header_block(mail));
            }
            for n in [2, 1] {
                let line = peer.expect(&format!("TOP {n} "));
                let lines: u64 = line.rsplit(' ').next().unwrap().parse().unwrap();
                assert!(lines as usize > mails[n - 1].len(), "{line}: every body line");
                peer.send("+OK\r\n");
                peer.multiline(mails[n - 1]);
            }
        }
        peer.expect("QUIT");
        peer.send("+OK bye\r\n");
    });
    let account = account().build().unwrap();
    let mut client = Pop3Client::from_stream(&account, server.connect()).unwrap();
    let report = client.fetch_esmtp(&Opener::new(), &Pop3FetchOptions::default()).unwrap();
    client.quit().unwrap();
    assert!(!report.used_retr && !report.resynced);
    assert_eq!(report.messages.len(), 2);
    match &report.messages[0].result {
        Ok(Retrieved::Opened { mail, with_key_slip: true }) => {
            assert_eq!(mail.text.as_deref(), Some(crate::SECRET_TEXT))
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(report.messages[1].uidl(), Some("uid-2"));
    assert_eq!(report.sync.to_string(), "pop3 uid-1 uid-2");

    let mut client = Pop3Client::from_stream(&account, server.connect()).unwrap();
    let options =
        Pop3FetchOptions { since: Some(report.sync.to_string().parse().unwrap()), ..Default::default() };
    let again = client.fetch_esmtp(&Opener::new(), &options).unwrap();
    client.quit().unwrap();
    assert!(again.messages.is_empty());
    server.join();
}

#[test]
fn without_top_an_envelope_before_its_slip_opens_on_the_second_chance() {
    let (envelope, slip) = crate::sealed_pair();
    let server = Server::once(move |peer| {
        login(peer, "UIDL\r\nUSER\r\n");
        let mails = [&envelope, &slip];
        listings(peer, &mails);
        for n in [1, 2, 1] {
            peer.expect(&format!("RETR {n}"));
            peer.send("+OK\r\n");
            peer.multiline(mails[n - 1]);
        }
        peer.expect("QUIT");
        peer.send("+OK\r\n");
    });
    let (account, trace) = traced(account());
    let mut client = Pop3Client::from_stream(&account, server.connect()).unwrap();
    let report = client.fetch_esmtp(&Opener::new(), &Pop3FetchOptions::default()).unwrap();
    client.quit().unwrap();
    server.join();
    assert!(report.used_retr, "no TOP: RETR, and the report says so");
    assert!(matches!(report.messages[0].result, Ok(Retrieved::Opened { with_key_slip: true, .. })));
    trace.assert_hides(PASSWORD);
    assert!(trace.text().contains("Sent: PASS <redacted>"), "{}", trace.text());
    assert!(trace.text().contains(&format!("Sent: USER {USER}")), "{}", trace.text());
}

/// Finding: endless AUTH continuations made the client send empty lines forever.
#[test]
fn endless_auth_continuations_end_the_exchange() {
    let server = Server::once(|peer| {
        peer.send("+OK ready\r\n");
        peer.expect("CAPA");
        peer.send("+OK\r\nSASL PLAIN\r\n.\r\n");
        peer.expect("AUTH PLAIN");
        let mut answers = 0;
        loop {
            peer.send("+ \r\n");
            match peer.next_line() {
                Some(line) if line == "*" => break,
                Some(_) if answers < 100 => answers += 1,
                _ => break,
            }
        }
        assert!(answers <= 2, "the client answered {answers} continuations");
        peer.send("-ERR cancelled\r\n");
    });
    let (account, trace) = traced(account());
    let err = Pop3Client::from_stream(&account, server.connect()).unwrap_err();
    server.join();
    assert_eq!(err.kind(), ErrorKind::Protocol, "{err}");
    trace.assert_hides(PASSWORD);
}

/// A size from LIST is the server's word: a message it says is a petabyte is refused before
/// any download or allocation.
#[test]
fn a_hostile_list_size_is_refused_before_download() {
    let server = Server::once(|peer| {
        login(peer, "UIDL\r\nSASL PLAIN\r\n");
        peer.expect("LIST 1");
        peer.send("+OK 1 1000000000000000\r\n");
        peer.expect("QUIT");
        peer.send("+OK\r\n");
    });
    let mut client = Pop3Client::from_stream(&account().build().unwrap(), server.connect()).unwrap();
    assert_eq!(client.retr(1).unwrap_err().kind(), ErrorKind::TooLarge);
    client.quit().unwrap();
    server.join();
}

#[test]
fn a_trickling_greeting_meets_the_deadline() {
    let server = trickler("+OK ");
    let account = account().timeout(Duration::from_secs(5)).deadline(Duration::from_secs(1)).build().unwrap();
    let err = Pop3Client::from_stream(&account, server.connect()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout, "{err}");
    server.join();
}

#[test]
fn an_endless_greeting_is_cut_off_early() {
    let (server, sent) = flooder("+OK ");
    let err = Pop3Client::from_stream(&account().build().unwrap(), server.connect()).unwrap_err();
    server.join();
    assert_eq!(err.kind(), ErrorKind::Protocol, "{err}");
    assert!(*sent.lock().unwrap() < 16 << 20);
}
