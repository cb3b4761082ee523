//! Saving opened mails and received key slips to disk: one home for `fetch --out`, `watch
//! --out` and `read --out`. Names come from mail anyone could send, so every one is reduced to a
//! plain file name inside the target directory. Every file appears only when complete
//! ([`crate::atomic`]), so a file that exists is whole: saving again completes what an
//! interruption left undone and never replaces anything.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use esmtp_core::KeySlip;
use esmtp_core::mime::{MailHeaders, Mailbox, OpenedMail};

use crate::atomic::write_new;
use crate::failure::{Failure, Result};
use crate::text::{clean, utc};

/// Names are cut to this many bytes (on a character boundary): file systems allow 255, and
/// `-N` may still be added to make a name unique.
const MAX_NAME_BYTES: usize = 200;
/// An extension longer than this is not kept apart when a name is cut.
const MAX_EXTENSION_BYTES: usize = 16;

/// A file name that stays inside its directory: no separators, no `..`, no leading dot, no
/// control characters, at most [`MAX_NAME_BYTES`] bytes (the extension kept when cut);
/// `fallback` when nothing is left.
pub fn safe_name(name: &str, fallback: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or("");
    let cleaned: String = base
        .chars()
        .map(|c| if c.is_control() || matches!(c, ':' | '*' | '?' | '"' | '<' | '>' | '|') { '_' } else { c })
        .collect();
    let cleaned = cleaned.trim().trim_start_matches('.');
    let cut = cut_name(cleaned);
    if cut.is_empty() { fallback.to_string() } else { cut }
}

/// `name` within [`MAX_NAME_BYTES`], cut on a character boundary, keeping a short extension.
fn cut_name(name: &str) -> String {
    if name.len() <= MAX_NAME_BYTES {
        return name.to_string();
    }
    let (stem, ext) = match name.rsplit_once('.') {
        Some((stem, ext)) if !stem.is_empty() && ext.len() < MAX_EXTENSION_BYTES => {
            (stem, &name[stem.len()..])
        }
        _ => (name, ""),
    };
    let mut end = MAX_NAME_BYTES - ext.len();
    while !stem.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}{ext}", stem[..end].trim_end())
}

/// What saving one mail did.
pub struct Saved {
    pub dir: PathBuf,
    /// Files written now.
    pub written: usize,
    /// Files that were there already (complete, from an earlier save).
    pub present: usize,
}

/// Save `mail` in the directory `target` (created if needed): `message.eml`, `message.txt`,
/// `message.html` and the attachments. Files already there are left as they are.
pub fn write_mail(target: &Path, mail: &OpenedMail) -> Result<Saved> {
    std::fs::create_dir_all(target).map_err(|e| Failure::write(target, &e))?;
    let mut saved = Saved { dir: target.to_path_buf(), written: 0, present: 0 };
    let mut put = |name: &str, data: &[u8]| -> Result<()> {
        if write_new(&target.join(name), data)? {
            saved.written += 1;
        } else {
            saved.present += 1;
        }
        Ok(())
    };
    let mut taken: HashSet<String> =
        ["message.eml", "message.txt", "message.html"].iter().map(|s| s.to_string()).collect();
    // The decrypted mail exactly as sealed, for any mail program; the files below are its parts.
    put("message.eml", &mail.inner)?;
    put("message.txt", message_text(mail).as_bytes())?;
    if let Some(html) = &mail.html {
        put("message.html", html.as_bytes())?;
    }
    // Names are made unique in the order of the parts, so a second save finds the same names.
    for (n, attachment) in mail.attachments.iter().enumerate() {
        let wanted = safe_name(&attachment.filename, &format!("attachment-{}", n + 1));
        put(&unique(&wanted, &mut taken), &attachment.data)?;
    }
    Ok(saved)
}

/// Save a received key slip as `dir/key-slip-<envelope id>.txt` (mode 0600), for `esmtp open
/// --key-slip`; `None` when that file was there already.
pub fn write_key_slip(dir: &Path, slip: &KeySlip) -> Result<(PathBuf, bool)> {
    std::fs::create_dir_all(dir).map_err(|e| Failure::write(dir, &e))?;
    let id = slip.envelope_id();
    let path = dir.join(format!("key-slip-{id}.txt"));
    let text = zeroize::Zeroizing::new(format!(
        "# esmtp key slip for envelope {id}\n# open with: esmtp read --key-slip {} MAIL.eml\n{}\n",
        path.display(),
        slip.to_token().as_str()
    ));
    let written = write_new(&path, text.as_bytes())?;
    Ok((path, written))
}

/// The protected headers and the text, for people to read.
pub fn message_text(mail: &OpenedMail) -> String {
    let mut text = headers_text(&mail.headers);
    let signer = mail.signature.signer().map_or_else(|| "unsigned".to_string(), ToString::to_string);
    text.push_str(&format!(
        "X-Esmtp-Suite: {}\nX-Esmtp-MD5: {}\nX-Esmtp-Signer: {signer}\n\n",
        mail.suite.name(),
        mail.md5_hex()
    ));
    text.push_str(mail.text.as_deref().unwrap_or(""));
    text
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
    list.iter().map(|m| clean(&m.to_string())).collect::<Vec<_>>().join(", ")
}

/// Headers for people to read (not a wire-format header block).
pub fn headers_text(h: &MailHeaders) -> String {
    let mut out = String::new();
    if let Some(from) = &h.from {
        out.push_str(&format!("From: {}\n", clean(&from.to_string())));
    }
    if !h.to.is_empty() {
        out.push_str(&format!("To: {}\n", mailboxes(&h.to)));
    }
    if !h.cc.is_empty() {
        out.push_str(&format!("Cc: {}\n", mailboxes(&h.cc)));
    }
    if let Some(subject) = &h.subject {
        out.push_str(&format!("Subject: {}\n", clean(subject)));
    }
    if let Some(date) = h.date {
        out.push_str(&format!("Date: {}\n", utc(date)));
    }
    if let Some(id) = &h.message_id {
        out.push_str(&format!("Message-ID: <{}>\n", clean(id)));
    }
    out
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
    fn long_multibyte_names_are_cut_by_bytes_on_a_character_boundary() {
        let euros = "€".repeat(120); // 360 bytes
        let cut = safe_name(&format!("{euros}.pdf"), "x");
        assert!(cut.len() <= MAX_NAME_BYTES, "{}", cut.len());
        assert!(cut.ends_with(".pdf") && cut.starts_with("€€€"), "{cut}");
        let cut = safe_name(&euros, "x");
        assert!(cut.len() <= MAX_NAME_BYTES && cut.chars().all(|c| c == '€'));
        // Still short enough with a uniqueness suffix.
        let mut taken = HashSet::new();
        let _ = unique(&cut, &mut taken);
        assert!(unique(&cut, &mut taken).len() <= 255);
        assert_eq!(safe_name("short.txt", "x"), "short.txt");
    }
}
