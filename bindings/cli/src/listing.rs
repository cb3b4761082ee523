//! The listing of fetched messages (tab-separated or JSON lines) and their saving: shared by
//! `fetch` and `watch`.

use std::io::Write;
use std::path::PathBuf;

use esmtp_core::mime::MailHeaders;
use esmtp_transport::{Fetched, MessageError, MessageRef, Retrieved, SenderCheck};

use crate::failure::{Code, Failure, Result};
use crate::saved;
use crate::text::clean;

/// Lists messages one by one and remembers how they went.
pub struct Lister {
    pub out: Option<PathBuf>,
    pub json: bool,
    pub mailbox: String,
    /// The code of the first message that failed.
    pub first_failure: Option<Code>,
    pub failed: usize,
    pub unsaved: usize,
    pub listed: usize,
}

/// One message's fields, for either form of the listing.
struct Row<'a> {
    id: String,
    kind: &'static str,
    headers: &'a MailHeaders,
    md5: Option<String>,
    suite: Option<&'static str>,
    envelope_id: Option<String>,
    saved: Option<String>,
    error: Option<(Code, String)>,
    /// The signer's public key, for an opened mail that is signed.
    signer: Option<String>,
    /// The sender check, for an opened mail.
    check: Option<&'a SenderCheck>,
}

/// The CHECK column: the verdict, and `+from-differs` when the two From headers disagree.
fn check_text(check: &SenderCheck) -> String {
    let differs = if check.from_differs { "+from-differs" } else { "" };
    format!("{}{differs}", check.verdict)
}

impl Lister {
    pub fn new(out: Option<PathBuf>, json: bool, mailbox: &str) -> Lister {
        Lister {
            out,
            json,
            mailbox: mailbox.to_string(),
            first_failure: None,
            failed: 0,
            unsaved: 0,
            listed: 0,
        }
    }

    fn fail(&mut self, code: Code) {
        self.first_failure.get_or_insert(code);
    }

    /// List (and save) one message.
    pub fn show(&mut self, m: &Fetched) -> Result<()> {
        let id = match &m.location {
            MessageRef::Imap { uid } => uid.to_string(),
            MessageRef::Pop3 { number, .. } => number.to_string(),
            MessageRef::Maildir { name } => clean(name),
        };
        let row = match &m.result {
            Ok(Retrieved::Opened { mail, with_key_slip }) => {
                let mut saved_dir = None;
                if let Some(dir) = &self.out {
                    let name = match &m.location {
                        MessageRef::Pop3 { uidl, .. } => format!("pop3-{uidl}"),
                        _ => format!("{}-{id}", self.mailbox),
                    };
                    // Mailbox names and UIDLs may hold separators: keep all of the name.
                    let target = dir.join(saved::safe_name(&name.replace(['/', '\\'], "_"), "message"));
                    match saved::write_mail(&target, mail) {
                        Ok(s) => {
                            if s.written == 0 {
                                eprintln!("esmtp: message {id}: already saved in {}", target.display());
                            }
                            saved_dir = Some(s.dir.display().to_string());
                        }
                        Err(e) => {
                            eprintln!("esmtp: message {id}: {e}");
                            self.fail(Code::Failure);
                            self.unsaved += 1;
                        }
                    }
                }
                if let Some(warning) = m.sender.as_ref().and_then(SenderCheck::warning) {
                    eprintln!("esmtp: message {id}: warning: {}", clean(&warning));
                }
                Row {
                    id,
                    kind: if *with_key_slip { "esmtp+slip" } else { "esmtp" },
                    headers: &mail.headers,
                    md5: Some(mail.md5_hex()),
                    suite: Some(mail.suite.name()),
                    envelope_id: Some(mail.envelope_id.to_string()),
                    saved: saved_dir,
                    error: None,
                    signer: mail.signature.signer().map(ToString::to_string),
                    check: m.sender.as_ref(),
                }
            }
            Ok(Retrieved::KeySlip(slip)) => {
                let mut saved_file = None;
                if let Some(dir) = &self.out {
                    match saved::write_key_slip(dir, &slip.key_slip) {
                        Ok((path, _)) => saved_file = Some(path.display().to_string()),
                        Err(e) => {
                            eprintln!("esmtp: message {id}: {e}");
                            self.fail(Code::Failure);
                            self.unsaved += 1;
                        }
                    }
                }
                let envelope = slip.envelope_id.to_string();
                Row {
                    id,
                    kind: "key-slip",
                    headers: &slip.headers,
                    md5: Some(envelope.clone()),
                    suite: None,
                    envelope_id: Some(envelope),
                    saved: saved_file,
                    error: None,
                    signer: None,
                    check: None,
                }
            }
            Ok(Retrieved::Plain(plain)) => Row {
                id,
                kind: "plain",
                headers: &plain.headers,
                md5: None,
                suite: None,
                envelope_id: None,
                saved: None,
                error: None,
                signer: None,
                check: None,
            },
            Err(e) => {
                let code = message_code(e);
                let mut why = clean(&e.to_string());
                // The envelope id matches the key slip that would open it (saved as
                // key-slip-<envelope id>.txt); the Message-ID finds the mail in a mail program.
                let names: Vec<String> = m
                    .envelope_id
                    .map(|id| format!("envelope {id}"))
                    .into_iter()
                    .chain(m.outer.message_id.as_ref().map(|mid| format!("Message-ID <{}>", clean(mid))))
                    .collect();
                if !names.is_empty() {
                    why.push_str(&format!(" ({})", names.join(", ")));
                }
                eprintln!("esmtp: message {id}: {why}");
                self.fail(code);
                self.failed += 1;
                Row {
                    id,
                    kind: "failed",
                    headers: &m.outer,
                    md5: None,
                    suite: None,
                    envelope_id: m.envelope_id.map(|id| id.to_string()),
                    saved: None,
                    error: Some((code, why)),
                    signer: None,
                    check: None,
                }
            }
        };
        self.listed += 1;
        let line = if self.json { self.json_line(m, &row) } else { tsv_line(&row) };
        let mut stdout = std::io::stdout().lock();
        writeln!(stdout, "{line}")
            .and_then(|()| stdout.flush())
            .map_err(|e| Failure::io("cannot write standard output", &e))
    }

    fn json_line(&self, m: &Fetched, row: &Row<'_>) -> String {
        let (uid, uidl) = match &m.location {
            MessageRef::Imap { uid } => (Some(*uid), None),
            MessageRef::Pop3 { uidl, .. } => (None, Some(uidl.clone())),
            MessageRef::Maildir { .. } => (None, None),
        };
        serde_json::json!({
            "id": row.id,
            "uid": uid,
            "uidl": uidl,
            "mailbox": uid.map(|_| self.mailbox.clone()),
            "kind": row.kind,
            "from": row.headers.from.as_ref().map(|f| f.address.clone()),
            "subject": row.headers.subject,
            "date": row.headers.date,
            "message_id": row.headers.message_id,
            "md5": row.md5,
            "suite": row.suite,
            "envelope_id": row.envelope_id,
            "saved": row.saved,
            "error": row.error.as_ref().map(|(code, message)| serde_json::json!({
                "code": *code as u8, "message": message,
            })),
            "signer": row.signer,
            "sender_check": row.check.map(|c| serde_json::json!({
                "verdict": c.verdict.name(),
                "from_differs": c.from_differs,
                "signer_contact": c.signer_contact,
            })),
        })
        .to_string()
    }

    /// The closing verdict: `Ok` when every esmtp mail opened and was saved.
    pub fn verdict(&self) -> Result<()> {
        let Some(code) = self.first_failure else { return Ok(()) };
        let mut why = Vec::new();
        if self.failed > 0 {
            why.push(format!("{} of {} messages could not be opened", self.failed, self.listed));
        }
        if self.unsaved > 0 {
            why.push(format!("{} could not be saved", self.unsaved));
        }
        Err(Failure::new(code, why.join("; ")))
    }
}

/// `ID KIND FROM SUBJECT MD5 SUITE SIGNER CHECK`; fields come from mail anyone could send, so
/// they are cleaned of control characters.
fn tsv_line(row: &Row<'_>) -> String {
    let from = row.headers.from.as_ref().map(|m| m.address.clone()).unwrap_or_else(|| "-".into());
    let subject = row.headers.subject.clone().filter(|s| !s.is_empty()).unwrap_or_else(|| "-".into());
    format!(
        "{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}",
        row.id,
        row.kind,
        clean(&from),
        clean(&subject),
        row.md5.as_deref().unwrap_or("-"),
        row.suite.unwrap_or("-"),
        row.signer.as_deref().unwrap_or("-"),
        row.check.map_or_else(|| "-".to_string(), check_text),
    )
}

pub fn message_code(e: &MessageError) -> Code {
    match e {
        MessageError::NoMatchingRecipient => Code::NoMatchingRecipient,
        MessageError::DecryptionFailed | MessageError::BadSignature => Code::Integrity,
        MessageError::UnexpectedSigner(_) => Code::UnexpectedSigner,
        MessageError::Malformed(_) | MessageError::Unsupported(_) | MessageError::TooLarge(_) => {
            Code::Malformed
        }
        _ => Code::Failure,
    }
}
