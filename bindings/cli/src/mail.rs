//! What the mail commands share: loading the account file (with the identity's passphrase and
//! the `--verbose` trace), transport errors as exit codes, and `esmtp capabilities`.

use std::sync::Arc;

use esmtp_transport::account_file::{self, LoadOptions, Login};
use esmtp_transport::{Account, Direction, Error, ErrorKind, Protocol, Submitter};

use crate::args_mail::CapabilitiesArgs;
use crate::failure::{Code, Failure, Result};

/// A transport error as one line and an exit code. The library's messages never hold a secret;
/// the source chain adds what the operating system or the server said.
pub fn transport_failure(e: &Error) -> Failure {
    let mut message = e.to_string();
    if !e.is_auth() {
        let mut source = std::error::Error::source(e);
        while let Some(s) = source {
            let text = crate::failure::strip_os_error(&s.to_string());
            if !text.is_empty() && !message.contains(&text) {
                message.push_str(": ");
                message.push_str(&text);
            }
            source = s.source();
        }
    }
    let code = match e.kind() {
        ErrorKind::Auth => Code::TransportAuth,
        ErrorKind::Config => Code::Usage,
        // A draft that cannot become a mail (an invalid address) is the caller's to fix; a seal
        // that failed is not.
        ErrorKind::InvalidDraft => Code::Usage,
        ErrorKind::FromNotAllowed => Code::Usage,
        ErrorKind::Encryption => Code::Failure,
        // A local file: an attachment, or the temporary copy of the mail.
        ErrorKind::Io => Code::Failure,
        _ => Code::Transport,
    };
    let failure = Failure::new(code, message);
    match e.kind() {
        ErrorKind::Auth => failure.hint(concat!(
            "check username and the password or token the account file names ",
            "(Gmail needs an app password or OAuth2)"
        )),
        ErrorKind::Tls => failure.hint(concat!(
            "for a server with a private CA, set ca_file in the account file; ",
            "check host, port and tls"
        )),
        ErrorKind::Connection | ErrorKind::Timeout => {
            failure.hint("check host and port in the account file, and that the server is reachable")
        }
        ErrorKind::FromNotAllowed => {
            failure.hint("list the address in the account file's allow_from (the server must allow it too)")
        }
        ErrorKind::Config if e.to_string().contains("passphrase-protected") => {
            failure.hint("run it at a terminal, where the identity's passphrase is asked for")
        }
        _ => failure,
    }
}

/// What a command needs of its account file.
#[derive(Debug, Clone, Copy)]
pub struct Needs {
    /// Whether it logs in (the secret must then be at hand).
    pub login: Login,
    /// Whether it signs, seals to the sender or opens with the account's identity (a protected
    /// identity file then asks for its passphrase).
    pub identity: bool,
    /// `--verbose`: the protocol trace on standard error.
    pub verbose: bool,
}

/// Load the account file; its problems (syntax, a missing secret) are usage errors.
pub fn load_account(path: &std::path::Path, needs: Needs) -> Result<Account> {
    let mut options = LoadOptions::new(needs.login).identity_passphrase(crate::keys::identity_passphrase);
    if !needs.identity {
        options = options.without_identity();
    }
    if needs.verbose {
        options = options.trace(Arc::new(trace_line));
    }
    account_file::load_with(path, &options).map_err(|e| transport_failure(&e))
}

/// One line of the protocol trace on standard error. The library has replaced every secret by
/// `<redacted>`; what the server sent is cleaned of control characters here.
fn trace_line(protocol: Protocol, direction: Direction, line: &str) {
    let arrow = match direction {
        Direction::Sent => "C:",
        Direction::Received => "S:",
        Direction::Note => "--",
    };
    eprintln!("{} {arrow} {}", protocol.name(), crate::text::clean(line));
}

pub fn capabilities(args: CapabilitiesArgs) -> Result<()> {
    let needs = Needs { login: Login::NotNeeded, identity: false, verbose: args.verbose };
    let account = load_account(&args.account, needs)?;
    let server = account.smtp().cloned().ok_or_else(|| {
        Failure::usage(format!("account file {}: no [smtp] server", args.account.display()))
    })?;
    let caps = Submitter::new(&account).and_then(|s| s.capabilities()).map_err(|e| transport_failure(&e))?;
    let tls = match server.tls {
        esmtp_transport::TlsMode::Implicit => "implicit",
        esmtp_transport::TlsMode::StartTls => "starttls",
    };
    if args.json {
        let report = serde_json::json!({
            "server": { "host": server.host, "port": server.port, "tls": tls },
            "size": caps.size,
            "eight_bit_mime": caps.eight_bit_mime,
            "smtputf8": caps.smtputf8,
            "pipelining": caps.pipelining,
            "auth": caps.auth,
            "starttls": caps.starttls,
            "dsn": caps.dsn,
            "enhanced_status_codes": caps.enhanced_status_codes,
            "chunking": caps.chunking,
            "ehlo": caps.lines,
        });
        println!("{report}");
        return Ok(());
    }
    let yes_no = |b: bool| if b { "yes" } else { "no" };
    let size = match caps.size {
        Some(0) => "yes (no fixed limit)".to_string(),
        Some(n) => format!("{n} bytes ({:.1} MiB)", n as f64 / (1024.0 * 1024.0)),
        None => "no".to_string(),
    };
    let tls = if tls == "implicit" { "implicit TLS" } else { "STARTTLS" };
    println!("Server               {}:{} ({tls})", server.host, server.port);
    println!("SIZE                 {size}");
    println!("8BITMIME             {}", yes_no(caps.eight_bit_mime));
    println!("SMTPUTF8             {}", yes_no(caps.smtputf8));
    println!("PIPELINING           {}", yes_no(caps.pipelining));
    println!(
        "AUTH                 {}",
        if caps.auth.is_empty() { "none".to_string() } else { caps.auth.join(" ") }
    );
    println!("STARTTLS             {}", yes_no(caps.starttls));
    println!("DSN                  {}", yes_no(caps.dsn));
    println!("ENHANCEDSTATUSCODES  {}", yes_no(caps.enhanced_status_codes));
    println!("CHUNKING             {}", yes_no(caps.chunking));
    println!("EHLO keywords        {}", caps.lines.join(", "));
    Ok(())
}
