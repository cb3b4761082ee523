//! What the network and the server see: a capture of the loopback traffic on the lab's ports
//! (tcpdump) during authenticated sends (implicit TLS and STARTTLS) and fetches over IMAP and
//! POP3 (implicit TLS and STARTTLS/STLS) must hold no body, subject, attachment byte or
//! password; nor may the Maildir file on the server. A canary sent in plain text on purpose
//! must be found, or the capture proves nothing.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};

use base64::Engine;
use esmtp_core::mime::{Attachment, MailDraft, Mailbox};
use esmtp_core::{Opener, Sealer, X25519Identity};
use esmtp_transport::{
    Credentials, ImapClient, ImapFetchOptions, PasswordMechanism, Pop3Client, Pop3FetchOptions, SendOptions,
    ServerSettings, Submit, Submitter, TlsMode,
};

use crate::lab::{self, Lab, tag};
use crate::{delivered, imap_now};

/// tcpdump on `lo` for the lab's ports, writing to `file`; ready when this returns.
fn start_capture(file: &std::path::Path) -> std::process::Child {
    let base = lab::port("SMTPS");
    let filter = format!("tcp portrange {base}-{}", base + 19);
    let mut child = Command::new("tcpdump")
        .args(["-i", "lo", "-U", "-n", "-s", "0", "-w"])
        .arg(file)
        .arg(&filter)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("tcpdump runs (./scripts/test installs it; capturing needs root)");
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    stderr.read_line(&mut line).unwrap();
    assert!(line.contains("listening on"), "tcpdump cannot capture: {line}");
    std::thread::spawn(move || std::io::copy(&mut stderr, &mut std::io::sink()));
    child
}

/// Stop tcpdump (SIGINT, by its pid) and return the capture.
fn stop_capture(mut child: std::process::Child, file: &std::path::Path) -> Vec<u8> {
    std::thread::sleep(std::time::Duration::from_millis(500));
    let status = Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
    assert!(status.success());
    child.wait().unwrap();
    std::fs::read(file).unwrap()
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// The positive control: a line sent in plain text before STARTTLS.
fn canary(lab: &Lab, text: &str) {
    let mut tcp = TcpStream::connect((lab.host.as_str(), lab::port("SUBMISSION"))).unwrap();
    let mut reader = BufReader::new(tcp.try_clone().unwrap());
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    write!(tcp, "NOOP {text}\r\nQUIT\r\n").unwrap();
    let mut rest = Vec::new();
    let _ = reader.read_to_end(&mut rest);
}

#[test]
#[ignore = "needs the mail lab and root: ./scripts/test starts it"]
fn nothing_secret_crosses_the_wire_or_rests_on_the_server() {
    let lab = Lab::get();
    let bob = X25519Identity::generate().unwrap();
    let t = tag();
    let subject = format!("capture subject {t}");
    let body = format!("capture body {t}");
    let attachment: Vec<u8> = format!("capture attachment bytes {t} ").repeat(40).into_bytes();
    let file = std::env::temp_dir().join(format!("esmtp-capture-{t}.pcap"));
    let since = imap_now(&lab);

    let capture = start_capture(&file);
    let canary_text = format!("plaintext-canary-{t}");
    canary(&lab, &canary_text);
    // Sends: AUTH PLAIN over implicit TLS, AUTH LOGIN over STARTTLS.
    for (tls, mechanism) in
        [(TlsMode::Implicit, PasswordMechanism::Plain), (TlsMode::StartTls, PasswordMechanism::Login)]
    {
        let account = lab
            .account("alice", tls, Credentials::Password(lab.password("alice")))
            .password_mechanism(mechanism)
            .build()
            .unwrap();
        let draft = MailDraft::new(Mailbox::new(lab.address("alice")))
            .to(Mailbox::new(lab.address("bob")))
            .subject(subject.clone())
            .text(body.clone())
            .attachment(Attachment::new("capture.bin", "application/octet-stream", attachment.clone()));
        let options =
            SendOptions { message_id_domain: Some(format!("{t}.example.test")), ..Default::default() };
        Submitter::new(&account)
            .unwrap()
            .send_secure(&draft, Sealer::new().recipient(bob.to_public()), &options)
            .unwrap();
    }
    assert_eq!(delivered(&lab, "bob", &t, 2), 2);
    // Fetches: IMAP and POP3, each over implicit TLS and STARTTLS/STLS; every one opens both.
    let opener = Opener::new().identity(bob.clone());
    for (imap_port, tls) in [("IMAPS", TlsMode::Implicit), ("IMAP", TlsMode::StartTls)] {
        let account = lab
            .account("bob", TlsMode::Implicit, Credentials::Password(lab.password("bob")))
            .imap(ServerSettings::new(&lab.host, lab::port(imap_port), tls))
            .build()
            .unwrap();
        let mut imap = ImapClient::connect(&account).unwrap();
        let options = ImapFetchOptions { since: Some(since), ..ImapFetchOptions::default() };
        let report = imap.fetch_esmtp("INBOX", &opener, &options).unwrap();
        let _ = imap.logout();
        let opened: Vec<_> = crate::tagged(&report.messages, &t);
        assert_eq!(opened.len(), 2, "{imap_port}");
        assert!(opened.iter().all(|m| m.opened().unwrap().attachments[0].data == attachment));
    }
    for (pop3_port, tls) in [("POP3S", TlsMode::Implicit), ("POP3", TlsMode::StartTls)] {
        let account = lab
            .account("bob", TlsMode::Implicit, Credentials::Password(lab.password("bob")))
            .pop3(ServerSettings::new(&lab.host, lab::port(pop3_port), tls))
            .password_mechanism(if tls == TlsMode::Implicit {
                PasswordMechanism::Plain
            } else {
                PasswordMechanism::Login
            })
            .build()
            .unwrap();
        let mut pop3 = Pop3Client::connect(&account).unwrap();
        let report = pop3.fetch_esmtp(&opener, &Pop3FetchOptions::default()).unwrap();
        let _ = pop3.quit();
        assert_eq!(crate::tagged(&report.messages, &t).len(), 2, "{pop3_port}");
    }
    let pcap = stop_capture(capture, &file);
    let _ = std::fs::remove_file(&file);

    assert!(
        contains(&pcap, canary_text.as_bytes()),
        "the capture must see plain text ({} bytes)",
        pcap.len()
    );
    let b64 = |bytes: &[u8]| base64::engine::general_purpose::STANDARD.encode(bytes);
    let mut secrets: Vec<(String, Vec<u8>)> = vec![
        ("subject".into(), subject.clone().into_bytes()),
        ("body".into(), body.clone().into_bytes()),
        ("attachment".into(), attachment[..48].to_vec()),
        ("attachment, base64".into(), b64(&attachment).as_bytes()[..64].to_vec()),
    ];
    for user in ["alice", "bob"] {
        let password = lab.password(user).expose().to_string();
        let address = lab.address(user);
        secrets.push((format!("{user}'s password"), password.clone().into_bytes()));
        secrets.push((format!("{user}'s password, base64"), b64(password.as_bytes()).into_bytes()));
        secrets.push((
            format!("{user}'s AUTH PLAIN"),
            b64(format!("\0{address}\0{password}").as_bytes()).into_bytes(),
        ));
    }
    for (what, secret) in &secrets {
        assert!(!contains(&pcap, secret), "{what} on the wire");
    }
    // The server keeps only the sealed mail.
    let stored = lab::wait_for_mail(&lab.maildir("bob"), t.as_bytes(), 2);
    assert_eq!(stored.len(), 2);
    for file in &stored {
        for (what, secret) in &secrets {
            assert!(!contains(file, secret), "{what} in the stored mail");
        }
    }
    crate::remove_mail(&lab, "bob", &t);
}
