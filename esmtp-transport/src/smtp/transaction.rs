//! One mail transaction on a session (RFC 5321 section 3.3): MAIL FROM, one RCPT TO per
//! recipient, DATA, then the message. When the server offers PIPELINING (RFC 2920) the three
//! kinds of command go out in one write and their replies are read in order, one round trip
//! instead of two plus one per recipient; otherwise each command waits for its reply.
//!
//! Either way the message itself is only sent after DATA's go-ahead, so a transaction that
//! fails before that point cannot have delivered anything. That is what makes it safe to redo
//! one whose session turned out to be gone ([`Failed::session_gone`]), and it is the only
//! failure that is ever redone here: once the final dot is out, an error stays an error
//! ([`crate::Error::may_have_been_delivered`]).

use lettre::Address;
use lettre::transport::smtp::commands::{Data, Mail, Rcpt};
use lettre::transport::smtp::extension::MailParameter;

use super::Body;
use super::conn::{Reply, SmtpConn, line, refused};
use super::reply::SubmitReply;
use crate::error::{Error, ErrorKind};

/// The reply of a server closing the session (RFC 5321 section 3.8), e.g. Postfix's
/// `421 4.4.2 Error: timeout exceeded` to a client that stayed idle too long.
const CLOSING: u16 = 421;

/// A transaction that failed.
pub(super) struct Failed {
    pub(super) error: Error,
    /// The session was gone before the server answered MAIL FROM: the write failed, the
    /// connection ended, or the server said it was closing (421). Nothing of this mail reached
    /// the server, so it may be sent again on a new session.
    pub(super) session_gone: bool,
}

impl From<Error> for Failed {
    fn from(error: Error) -> Self {
        Failed { error, session_gone: false }
    }
}

/// Whether `error`, met before any reply to MAIL FROM, says the connection is gone (and not,
/// say, that the server is slow: a timeout is not redone, it would wait as long again).
fn gone(error: &Error) -> bool {
    error.kind() == ErrorKind::Connection && error.code().is_none()
}

/// Run one transaction: `from`, `rcpts` and `params` as given, then `message`.
pub(super) fn run(
    conn: &mut SmtpConn,
    from: &Address,
    rcpts: &[Address],
    params: Vec<MailParameter>,
    message: &mut Body<'_>,
) -> Result<SubmitReply, Failed> {
    let mail = line(Mail::new(Some(from.clone()), params));
    let rcpts: Vec<String> = rcpts.iter().map(|r| line(Rcpt::new(r.clone(), vec![]))).collect();
    if conn.caps.pipelining {
        pipelined(conn, mail, rcpts)?;
    } else {
        one_by_one(conn, &mail, &rcpts)?;
    }
    let reply = match message {
        Body::Bytes(bytes) => conn.data(bytes)?,
        Body::Reader { reader, size, .. } => conn.data_from(&mut **reader, *size)?,
    };
    Ok(SubmitReply::from_lines(reply.code, reply.lines.iter().map(String::as_str)))
}

/// Without PIPELINING: each command, then its reply. Returns once DATA was accepted.
fn one_by_one(conn: &mut SmtpConn, mail: &str, rcpts: &[String]) -> Result<(), Failed> {
    conn.command(mail, "MAIL FROM").map_err(|error| {
        let session_gone = gone(&error) || error.code() == Some(CLOSING);
        Failed { error, session_gone }
    })?;
    for rcpt in rcpts {
        conn.command(rcpt, "RCPT TO")?;
    }
    conn.command(&line(Data), "DATA")?;
    Ok(())
}

/// With PIPELINING: MAIL FROM, every RCPT TO and DATA in one write (RFC 2920 section 3.1: DATA
/// ends the group), then every reply in order, each checked. Returns once DATA was accepted
/// after an accepted MAIL and accepted recipients; otherwise the first refusal, in command
/// order, with the codes and kind it has without pipelining.
fn pipelined(conn: &mut SmtpConn, mail: String, rcpts: Vec<String>) -> Result<(), Failed> {
    let count = rcpts.len();
    let mut group = Vec::with_capacity(count + 2);
    group.push(mail);
    group.extend(rcpts);
    group.push(line(Data));
    let gone_before_mail = |error: Error| {
        let session_gone = gone(&error);
        Failed { error, session_gone }
    };
    conn.send_group(&group, "MAIL FROM").map_err(gone_before_mail)?;
    let mail = conn.reply("MAIL FROM").map_err(gone_before_mail)?;
    if mail.code == CLOSING {
        return Err(Failed { error: refused(&mail, "MAIL FROM"), session_gone: true });
    }
    let mut first_refusal = (mail.code >= 400).then(|| refused(&mail, "MAIL FROM"));
    let mut accepted = 0usize;
    for _ in 0..count {
        let rcpt = conn.reply("RCPT TO")?;
        closing(&rcpt, "RCPT TO")?;
        if rcpt.code < 400 {
            accepted += 1;
        } else if first_refusal.is_none() {
            first_refusal = Some(refused(&rcpt, "RCPT TO"));
        }
    }
    let data = conn.reply("DATA")?;
    closing(&data, "DATA")?;
    match first_refusal {
        None if data.code < 400 => Ok(()),
        None => Err(refused(&data, "DATA").into()),
        Some(refusal) if data.code >= 400 => Err(refusal.into()),
        Some(refusal) => {
            // DATA was accepted although MAIL or a recipient was not (RFC 2920 section 3.1
            // warns that servers may do this). A lone dot ends the message empty: harmless when
            // no recipient was accepted, since the server has nobody to deliver it to, but it
            // would deliver an empty mail to the accepted ones, and RSET here would be message
            // content. So then the session is given up without another byte, and the server
            // discards the unfinished message.
            if accepted == 0 {
                end_empty(conn);
            } else {
                conn.abandon();
            }
            Err(refusal.into())
        }
    }
}

/// A 421 in the middle of the replies: the server is closing, the rest will not come.
fn closing(reply: &Reply, during: &str) -> Result<(), Failed> {
    if reply.code == CLOSING { Err(refused(reply, during).into()) } else { Ok(()) }
}

/// End an accepted DATA with no content and no recipient: the lone dot of RFC 2920 section
/// 3.1. Its reply (a refusal, there being no recipient) is read and dropped; a session that
/// fails here is given up.
fn end_empty(conn: &mut SmtpConn) {
    let _ = conn.command(".", "the end of an empty message");
}
