//! `esmtp read` and `esmtp reply`: a mail saved from a mail program, opened, shown, saved, and
//! answered.

use std::path::{Path, PathBuf};

use esmtp_core::mime::{self, MailDraft, MailKind, Mailbox, MimeError, OpenedMail, ReadMail};
use esmtp_core::{OpenError, Opener};
use esmtp_transport::account_file::Login;
use esmtp_transport::{Account, Contacts};

use crate::args::KeyArgs;
use crate::args_mail::{ReadArgs, ReplyArgs};
use crate::failure::{Code, Failure, Result};
use crate::files::{self, MAIL_LIMIT};
use crate::mail::{Needs, load_account};
use crate::open::signature_line;
use crate::saved;
use crate::send::{self, Delivery};
use crate::text::{clean, clean_text, utc};

/// At most this many ids are carried in `References` (the newest): enough for any thread.
const MAX_REFERENCES: usize = 30;

/// What reading a mail file gave.
enum MailFile {
    Mail(Box<OpenedMail>),
    Slip(Box<mime::ReceivedKeySlip>),
}

/// Read and open the mail in `path` (`-`: standard input) with `keys` and the account's
/// identity.
fn read_file(path: &Path, keys: &KeyArgs, allow_empty: bool, account: Option<&Account>) -> Result<MailFile> {
    let raw = zeroize::Zeroizing::new(files::read_limited(path, MAIL_LIMIT)?);
    let identity = account.and_then(Account::identity);
    let mut opener: Opener = crate::keys::opener(keys, allow_empty || identity.is_some(), None)?;
    if let Some(identity) = identity {
        opener = opener.identity(identity.clone());
    }
    let name =
        if files::is_stdio(Some(path)) { "standard input".to_string() } else { path.display().to_string() };
    match mime::read_mail(&raw, &opener, &mime::Limits::default()) {
        Ok(ReadMail::Encrypted(mail)) => Ok(MailFile::Mail(mail)),
        Ok(ReadMail::KeySlip(slip)) => Ok(MailFile::Slip(slip)),
        Ok(_) => Err(Failure::new(Code::Malformed, format!("{name} is not an esmtp mail"))
            .hint("`esmtp read` opens encrypted mails and key-slip mails; a plain mail needs no esmtp")),
        Err(MimeError::Open(OpenError::NoMatchingRecipient)) => {
            // Name the envelope, so the key slip that opens it can be found.
            let envelope = match mime::classify(&raw, &mime::Limits::default()) {
                Ok(MailKind::Encrypted { envelope_id, .. }) => format!(" (envelope {envelope_id})"),
                _ => String::new(),
            };
            Err(Failure::new(
                Code::NoMatchingRecipient,
                format!("{name}: no matching recipient: wrong key, passphrase or key slip{envelope}"),
            )
            .hint(
                "give the identity file (-i), the passphrase, or the key slip (--key-slip) it was sealed to",
            ))
        }
        Err(MimeError::Open(open)) => {
            let failure = Failure::from(open);
            Err(Failure::new(failure.code, format!("{name}: {}", failure.message())))
        }
        Err(e) => Err(Failure::new(Code::Malformed, format!("{name}: {e}"))),
    }
}

pub fn run(args: ReadArgs) -> Result<()> {
    let path = args.input.clone().unwrap_or_else(|| PathBuf::from("-"));
    let needs = Needs { login: Login::NotNeeded, identity: true, verbose: false };
    let account = args.account.as_deref().map(|a| load_account(a, needs)).transpose()?;
    match read_file(&path, &args.keys, true, account.as_ref())? {
        MailFile::Slip(slip) => {
            println!("Key slip for envelope {}", slip.envelope_id);
            match &args.out {
                Some(dir) => {
                    let (file, _) = saved::write_key_slip(dir, &slip.key_slip)?;
                    eprintln!("esmtp: key slip saved as {}", file.display());
                }
                None => eprintln!("esmtp: give --out DIR to save it"),
            }
        }
        MailFile::Mail(mail) => {
            print!("{}", saved::headers_text(&mail.headers));
            for a in &mail.attachments {
                println!(
                    "Attachment: {} ({}, {} bytes)",
                    clean(&a.filename),
                    clean(&a.content_type),
                    a.data.len()
                );
            }
            println!();
            match &mail.text {
                Some(text) => print!("{}", clean_text(text)),
                None if mail.html.is_some() => println!("(HTML only: save it with --out DIR)"),
                None => {}
            }
            if let Some(dir) = &args.out {
                let saved = saved::write_mail(dir, &mail)?;
                eprintln!("esmtp: saved in {} ({} new files)", saved.dir.display(), saved.written);
            }
            eprintln!("MD5 {}  suite {}", mail.md5_hex(), mail.suite.name());
            eprintln!("{}", signature_line(&mail.signature));
            let none = Contacts::new();
            let check = account.as_ref().map_or(&none, Account::contacts).check(&mail);
            eprintln!("Sender check: {}", check.verdict);
            if let Some(warning) = check.warning() {
                eprintln!("esmtp: warning: {}", clean(&warning));
            }
        }
    }
    Ok(())
}

/// `Re: subject`, without piling up prefixes.
fn reply_subject(subject: Option<&str>) -> String {
    let subject = subject.unwrap_or("").trim();
    let has_prefix = subject.get(..3).is_some_and(|p| p.eq_ignore_ascii_case("re:"));
    if has_prefix { subject.to_string() } else { format!("Re: {subject}") }
}

/// The original text, quoted with `> ` under an attribution line.
fn quoted(mail: &OpenedMail) -> String {
    let who = mail.headers.from.as_ref().map_or_else(|| "someone".to_string(), |f| f.to_string());
    let mut out = match mail.headers.date {
        Some(date) => format!("On {}, {who} wrote:\n", utc(date)),
        None => format!("{who} wrote:\n"),
    };
    for line in mail.text.as_deref().unwrap_or("").lines() {
        out.push_str(if line.is_empty() { ">" } else { "> " });
        out.push_str(line);
        out.push('\n');
    }
    out
}

pub fn reply(args: ReplyArgs) -> Result<()> {
    let delivery = Delivery {
        draft: args.draft.as_deref().map(|p| (p, args.force)),
        key_slip_to: None,
        key_slip_out: None,
        sign: !args.seal.no_sign,
        to_self: !args.seal.no_self,
    };
    if let Some((path, false)) = delivery.draft
        && path.symlink_metadata().is_ok()
    {
        return Err(Failure::exists(path, files::FORCE_HINT));
    }
    let sealer = send::sealer(&args.seal, None, false)?;
    let login = if delivery.draft.is_some() { Login::NotNeeded } else { Login::Needed };
    let account = load_account(&args.account, Needs { login, identity: true, verbose: args.verbose })?;
    let MailFile::Mail(mail) = read_file(&args.input, &args.keys, false, Some(&account))? else {
        return Err(Failure::usage(format!(
            "{} is a key-slip mail: there is nothing to answer",
            args.input.display()
        )));
    };
    let body = files::read_limited(args.body.as_deref().unwrap_or(Path::new("-")), MAIL_LIMIT)?;
    let body = String::from_utf8(body).map_err(|_| Failure::usage("the answer is not UTF-8 text"))?;

    let h = &mail.headers;
    let mine: std::collections::HashSet<String> = std::iter::once(account.address())
        .chain(account.aliases().iter().map(String::as_str))
        .map(str::to_ascii_lowercase)
        .collect();
    let mut to: Vec<Mailbox> =
        if h.reply_to.is_empty() { h.from.iter().cloned().collect() } else { h.reply_to.clone() };
    let mut cc: Vec<Mailbox> = Vec::new();
    if args.all {
        to.extend(h.to.iter().cloned());
        cc.extend(h.cc.iter().cloned());
    }
    let mut seen = std::collections::HashSet::new();
    let mut keep = |m: &Mailbox| {
        let address = m.address.to_ascii_lowercase();
        !mine.contains(&address) && seen.insert(address)
    };
    to.retain(&mut keep);
    cc.retain(&mut keep);
    if to.is_empty() && cc.is_empty() {
        return Err(Failure::usage("the mail names nobody to answer (no From or Reply-To besides you)"));
    }
    let mut text = body;
    if !text.is_empty() && !text.ends_with('\n') {
        text.push('\n');
    }
    text.push('\n');
    text.push_str(&quoted(&mail));
    let from = args.seal.from.clone().unwrap_or_else(|| account.address().to_string());
    let mut draft =
        MailDraft::new(Mailbox::new(from)).subject(reply_subject(h.subject.as_deref())).text(text);
    for m in to {
        draft = draft.to(m);
    }
    for m in cc {
        draft = draft.cc(m);
    }
    if let Some(id) = &h.message_id {
        draft = draft.in_reply_to(id.clone());
        let mut references: Vec<String> = h.references.clone();
        if references.is_empty() {
            references.extend(h.in_reply_to.iter().cloned());
        }
        references.push(id.clone());
        let skip = references.len().saturating_sub(MAX_REFERENCES);
        for r in references.into_iter().skip(skip) {
            draft = draft.reference(r);
        }
    }
    send::deliver(&account, draft, Vec::new(), sealer, &delivery)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_get_one_re() {
        assert_eq!(reply_subject(Some("The plan")), "Re: The plan");
        assert_eq!(reply_subject(Some("RE: The plan")), "RE: The plan");
        assert_eq!(reply_subject(None), "Re: ");
    }
}
