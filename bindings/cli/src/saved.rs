//! Saving opened mails to disk. Names come from mail anyone could send, so every one is reduced
//! to a plain file name inside the target directory.

use std::collections::HashSet;
use std::io::Write;
use std::path::Path;

use esmtp_core::mime::{MailHeaders, Mailbox, OpenedMail};

use crate::failure::{Failure, Result};
use crate::files::create_secret;

/// A file name that stays inside its directory: no separators, no `..`, no leading dot, no
/// control characters, at most 120 characters; `fallback` when nothing is left.
pub fn safe_name(name: &str, fallback: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or("");
    let cleaned: String = base
        .chars()
        .map(|c| if c.is_control() || matches!(c, ':' | '*' | '?' | '"' | '<' | '>' | '|') { '_' } else { c })
        .take(120)
        .collect();
    let cleaned = cleaned.trim().trim_start_matches('.').to_string();
    if cleaned.is_empty() { fallback.to_string() } else { cleaned }
}

/// Write `mail` into the new directory `target`; `Ok(false)` when it already exists.
pub fn write_mail(target: &Path, mail: &OpenedMail) -> Result<bool> {
    match std::fs::create_dir(target) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => return Ok(false),
        Err(e) => return Err(Failure::write(target, &e)),
    }
    let mut taken: HashSet<String> =
        ["message.eml", "message.txt", "message.html"].iter().map(|s| s.to_string()).collect();
    // The decrypted mail exactly as sealed, for any mail program; the files below are its parts.
    write_new(&target.join("message.eml"), &mail.inner)?;
    let mut text = headers_text(&mail.headers);
    text.push_str(&format!("X-Esmtp-Suite: {}\nX-Esmtp-MD5: {}\n\n", mail.suite.name(), mail.md5_hex()));
    text.push_str(mail.text.as_deref().unwrap_or(""));
    write_new(&target.join("message.txt"), text.as_bytes())?;
    if let Some(html) = &mail.html {
        write_new(&target.join("message.html"), html.as_bytes())?;
    }
    for (n, attachment) in mail.attachments.iter().enumerate() {
        let wanted = safe_name(&attachment.filename, &format!("attachment-{}", n + 1));
        let name = unique(&wanted, &mut taken);
        write_new(&target.join(name), &attachment.data)?;
    }
    Ok(true)
}

fn write_new(path: &Path, data: &[u8]) -> Result<()> {
    let mut file = create_secret(path)?;
    file.write_all(data).map_err(|e| Failure::write(path, &e))
}

/// `name`, or `name-2`, `name-3`... before the extension, whichever is free.
fn unique(name: &str, taken: &mut HashSet<String>) -> String {
    let mut candidate = name.to_string();
    let (stem, ext) = match name.rsplit_once('.') {
        Some((stem, ext)) if !stem.is_empty() => (stem, format!(".{ext}")),
        _ => (name, String::new()),
    };
    let mut n = 2;
    while !taken.insert(candidate.to_lowercase()) {
        candidate = format!("{stem}-{n}{ext}");
        n += 1;
    }
    candidate
}

fn mailboxes(list: &[Mailbox]) -> String {
    list.iter().map(|m| crate::fetch::clean(&m.to_string())).collect::<Vec<_>>().join(", ")
}

/// The protected headers, for people to read (not a wire-format header block).
fn headers_text(h: &MailHeaders) -> String {
    let mut out = String::new();
    if let Some(from) = &h.from {
        out.push_str(&format!("From: {}\n", crate::fetch::clean(&from.to_string())));
    }
    if !h.to.is_empty() {
        out.push_str(&format!("To: {}\n", mailboxes(&h.to)));
    }
    if !h.cc.is_empty() {
        out.push_str(&format!("Cc: {}\n", mailboxes(&h.cc)));
    }
    if let Some(subject) = &h.subject {
        out.push_str(&format!("Subject: {}\n", crate::fetch::clean(subject)));
    }
    if let Some(date) = h.date {
        out.push_str(&format!("Date: {}\n", utc(date)));
    }
    if let Some(id) = &h.message_id {
        out.push_str(&format!("Message-ID: <{}>\n", crate::fetch::clean(id)));
    }
    out
}

/// Unix seconds as `YYYY-MM-DD HH:MM:SS UTC` (days to civil date: H. Hinnant's algorithm).
pub fn utc(unix: i64) -> String {
    let days = unix.div_euclid(86_400);
    let secs = unix.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02} UTC", secs / 3600, secs / 60 % 60, secs % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_stay_inside_the_directory() {
        assert_eq!(safe_name("../../etc/passwd", "x"), "passwd");
        assert_eq!(safe_name("C:\\Users\\a.txt", "x"), "a.txt");
        assert_eq!(safe_name("..", "x"), "x");
        assert_eq!(safe_name(".bashrc", "x"), "bashrc");
        assert_eq!(safe_name("a\nb\u{1b}[31m", "x"), "a_b_[31m");
        assert_eq!(safe_name("", "attachment-1"), "attachment-1");
        let mut taken = HashSet::new();
        assert_eq!(unique("a.txt", &mut taken), "a.txt");
        assert_eq!(unique("A.txt", &mut taken), "A-2.txt");
        assert_eq!(unique("a.txt", &mut taken), "a-3.txt");
    }

    #[test]
    fn utc_dates() {
        assert_eq!(utc(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(utc(1_700_000_000), "2023-11-14 22:13:20 UTC");
        assert_eq!(utc(951_782_400), "2000-02-29 00:00:00 UTC");
    }
}
