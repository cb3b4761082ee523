//! An in-memory submitter that records what it is given, in the manner of lettre's
//! `StubTransport`: for testing code that sends mail, without a server.

use std::sync::Mutex;

use super::{Submit, SubmitReply};
use crate::account::Account;
use crate::error::{Error, ErrorKind, Result};

/// One mail a [`StubSubmitter`] took.
#[derive(Clone, PartialEq, Eq)]
pub struct SubmittedMail {
    /// The envelope sender.
    pub from: String,
    /// The envelope recipients.
    pub recipients: Vec<String>,
    /// The message as submitted.
    pub message: Vec<u8>,
}

impl std::fmt::Debug for SubmittedMail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // A key-slip mail holds a key: its bytes are not printed.
        f.debug_struct("SubmittedMail")
            .field("from", &self.from)
            .field("recipients", &self.recipients)
            .field("size", &self.message.len())
            .finish()
    }
}

impl Drop for SubmittedMail {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.message);
    }
}

/// Accepts every mail (or the first `n`, see [`StubSubmitter::refusing_after`]) and keeps it
/// in memory. Checks nothing the server would check; made [`StubSubmitter::for_account`], it
/// applies the account's sending rules as [`crate::Submitter`] does.
#[derive(Debug, Default)]
pub struct StubSubmitter {
    sent: Mutex<Vec<SubmittedMail>>,
    accept: Option<usize>,
    account: Option<Account>,
}

impl StubSubmitter {
    /// A stub that accepts everything.
    pub fn new() -> Self {
        StubSubmitter::default()
    }

    /// A stub that accepts `n` mails and refuses every later one with a permanent error (reply
    /// 554 5.0.0), e.g. to see what a caller does when a key slip cannot be sent.
    pub fn refusing_after(n: usize) -> Self {
        StubSubmitter { sent: Mutex::default(), accept: Some(n), account: None }
    }

    /// A stub that sends as `account`: [`Submit::send_secure`] checks the `From`, signs and
    /// seals to the sender as the account says, and [`Submit::send_raw`] refuses a `From` the
    /// account may not use, as [`crate::Submitter`] does. Nothing else of the account is used.
    pub fn for_account(account: &Account) -> Self {
        StubSubmitter { account: Some(account.clone()), ..StubSubmitter::default() }
    }

    /// The mails accepted so far, oldest first.
    pub fn sent(&self) -> Vec<SubmittedMail> {
        self.sent.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

impl Submit for StubSubmitter {
    fn account(&self) -> Option<&Account> {
        self.account.as_ref()
    }

    fn send_raw(&self, from: &str, recipients: &[String], message: &[u8]) -> Result<SubmitReply> {
        if self.account.as_ref().is_some_and(|a| !a.may_send_as(from)) {
            return Err(super::secure::from_not_allowed(from));
        }
        let mut sent = self.sent.lock().unwrap_or_else(|p| p.into_inner());
        if self.accept.is_some_and(|n| sent.len() >= n) {
            return Err(Error::new(ErrorKind::Permanent, "the stub refused the mail")
                .with_reply(554, Some("5.0.0".into())));
        }
        sent.push(SubmittedMail {
            from: from.to_string(),
            recipients: recipients.to_vec(),
            message: message.to_vec(),
        });
        Ok(SubmitReply {
            code: 250,
            enhanced: Some("2.0.0".into()),
            text: format!("Ok: queued as stub-{}", sent.len()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use esmtp_core::mime::{self, MailDraft, Mailbox, ReadMail};
    use esmtp_core::{Opener, Sealer};

    fn draft() -> MailDraft {
        MailDraft::new(Mailbox::new("alice@example.test"))
            .to(Mailbox::new("bob@example.test"))
            .cc(Mailbox::new("carol@example.test"))
            .subject("numbers")
            .text("q3 is up")
    }

    #[test]
    fn send_secure_sends_the_envelope_then_one_slip_per_recipient() {
        let stub = StubSubmitter::new();
        let report = stub.send_secure(&draft(), Sealer::new().key_slip(), &Default::default()).unwrap();
        let sent = stub.sent();
        assert_eq!(sent.len(), 3);
        assert_eq!(sent[0].recipients, ["bob@example.test", "carol@example.test"]);
        assert_eq!(
            (sent[1].recipients.as_slice(), sent[2].recipients.as_slice()),
            (&["bob@example.test".to_string()][..], &["carol@example.test".to_string()][..])
        );
        assert_eq!(report.key_slips.len(), 2);
        assert!(sent.iter().all(|m| m.from == "alice@example.test"));
        // The slip opens the envelope; nothing readable travels in the envelope mail.
        let Ok(ReadMail::KeySlip(slip)) =
            mime::read_mail(&sent[1].message, &Opener::new(), &mime::Limits::default())
        else {
            panic!()
        };
        let Ok(ReadMail::Encrypted(opened)) = mime::read_mail(
            &sent[0].message,
            &Opener::new().identity(slip.key_slip),
            &mime::Limits::default(),
        ) else {
            panic!()
        };
        assert_eq!(opened.text.as_deref(), Some("q3 is up"));
        assert!(!sent[0].message.windows(8).any(|w| w == b"q3 is up"));
    }

    #[test]
    fn a_refused_slip_names_the_sent_envelope() {
        let stub = StubSubmitter::refusing_after(1);
        let err = stub.send_secure(&draft(), Sealer::new().key_slip(), &Default::default()).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Permanent);
        assert_eq!(err.code(), Some(554));
        assert!(err.to_string().contains("was sent, but its key slip was not"), "{err}");
        assert_eq!(stub.sent().len(), 1);
    }

    #[test]
    fn an_invalid_draft_is_its_own_kind() {
        let bad = MailDraft::new(Mailbox::new("not an address")).to(Mailbox::new("bob@example.test"));
        let err = StubSubmitter::new()
            .send_secure(&bad, Sealer::new().key_slip(), &Default::default())
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidDraft, "{err:?}");
        assert!(std::error::Error::source(&err).is_some());
    }

    #[test]
    fn submitters_are_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<StubSubmitter>();
        check::<super::super::Submitter>();
        check::<crate::Account>();
    }

    #[test]
    fn submitters_are_object_safe() {
        let stub = StubSubmitter::new();
        let dynamic: &dyn Submit = &stub;
        dynamic.send_raw("a@example.test", &["b@example.test".into()], b"x\r\n").unwrap();
        assert_eq!(stub.sent().len(), 1);
    }
}
