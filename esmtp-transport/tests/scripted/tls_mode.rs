//! The account's TLS mode against what the port speaks, over real loopback connections: each
//! mix-up is told at once, naming the setting to change (before: a 30 s wait for a greeting,
//! or "received corrupt message of type InvalidContentType").

use std::time::Duration;

use esmtp_transport::{Account, ErrorKind, ImapClient, Pop3Client, ServerSettings, Submitter, TlsMode};

use crate::script::{Server, account, implicit_tls_port, plaintext_port, trickler};

#[derive(Clone, Copy, Debug)]
enum Client {
    Smtp,
    Imap,
    Pop3,
}

fn connect(client: Client, port: u16, tls: TlsMode) -> esmtp_transport::Error {
    let server = ServerSettings::new("127.0.0.1", port, tls);
    let account: Account = account()
        .smtp(server.clone())
        .imap(server.clone())
        .pop3(server)
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap();
    match client {
        Client::Smtp => Submitter::new(&account).unwrap().capabilities().unwrap_err(),
        Client::Imap => ImapClient::connect(&account).unwrap_err(),
        Client::Pop3 => Pop3Client::connect(&account).unwrap_err(),
    }
}

#[test]
fn starttls_on_an_implicit_tls_port_says_so() {
    for client in [Client::Smtp, Client::Imap, Client::Pop3] {
        let server = implicit_tls_port();
        let err = connect(client, server.port, TlsMode::StartTls);
        server.join();
        assert_eq!(err.kind(), ErrorKind::WrongTlsMode, "{client:?}: {err}");
        assert!(err.is_tls());
        let want =
            format!("127.0.0.1: port {} speaks implicit TLS; set tls = \"implicit\"", server_port(&err));
        assert_eq!(err.to_string(), want, "{client:?}");
    }
}

fn server_port(err: &esmtp_transport::Error) -> String {
    err.to_string().split("port ").nth(1).unwrap().split(' ').next().unwrap().to_string()
}

#[test]
fn implicit_tls_on_a_plaintext_port_says_so() {
    for (client, greeting) in [
        (Client::Smtp, "220 mail ESMTP\r\n"),
        (Client::Imap, "* OK ready\r\n"),
        (Client::Pop3, "+OK ready\r\n"),
    ] {
        let server = plaintext_port(greeting);
        let port = server.port;
        let err = connect(client, port, TlsMode::Implicit);
        server.join();
        assert_eq!(err.kind(), ErrorKind::WrongTlsMode, "{client:?}: {err}");
        assert_eq!(
            err.to_string(),
            format!("127.0.0.1: port {port} speaks plain text first (STARTTLS); set tls = \"starttls\"")
        );
    }
}

/// A STARTTLS server that is only slow to greet gets a second connection, not an error.
#[test]
fn a_slow_greeting_is_not_mistaken_for_implicit_tls() {
    let server = Server::start(2, |peer, n| {
        if n == 0 {
            std::thread::sleep(Duration::from_millis(2500));
            peer.send("220 slow\r\n");
            let _ = peer.closed();
        } else {
            peer.send("220 ready\r\n");
            peer.expect("EHLO");
            peer.send("250-mail\r\n250 SIZE 10\r\n");
        }
    });
    let err = connect(Client::Smtp, server.port, TlsMode::StartTls);
    server.join();
    assert_eq!(err.kind(), ErrorKind::Tls, "{err}");
    assert_eq!(err.to_string(), "the server does not offer STARTTLS");
}

/// The deadline over the network path too (socket timeouts shortened to what is left).
#[test]
fn a_trickling_starttls_greeting_meets_the_deadline() {
    let server = trickler("220 ");
    let account = account()
        .smtp(ServerSettings::new("127.0.0.1", server.port, TlsMode::StartTls))
        .timeout(Duration::from_secs(5))
        .deadline(Duration::from_secs(1))
        .build()
        .unwrap();
    let err = Submitter::new(&account).unwrap().capabilities().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout, "{err}");
    server.join();
}
