//! The transport against scripted servers speaking the real protocols on 127.0.0.1: no mail
//! server needed, so plain `cargo test` runs them. Each finding of the hostile-server review has
//! a test here that fails without its fix (endless lines, trickling servers, endless SASL
//! challenges, TLS mode mix-ups), beside the normal flows (send, fetch, key-slip pairing,
//! incremental sync) and the trace that must never show a secret.

mod imap;
mod pipelining;
mod pop3;
mod script;
mod smtp;
mod tls_mode;

use esmtp_core::Sealer;
use esmtp_core::mime::{self, MailDraft, Mailbox, PackageOptions};

pub const SECRET_TEXT: &str = "Meet at noon by the old mill.";

/// An encrypted mail for bob sealed with a key slip, and its key-slip mail.
pub fn sealed_pair() -> (Vec<u8>, Vec<u8>) {
    let draft = MailDraft::new(Mailbox::new(script::USER))
        .to(Mailbox::new("bob@example.test"))
        .subject("the plan")
        .text(SECRET_TEXT)
        .date(1_700_000_000);
    let mail = mime::package(&draft, &Sealer::new().key_slip(), &PackageOptions::new(1_700_000_000)).unwrap();
    let slip = mail.key_slip.as_ref().unwrap();
    let slip_mail = mime::key_slip_mail(slip, &draft.from, &draft.to[0], 1_700_000_000).unwrap();
    (mail.bytes, slip_mail.bytes.to_vec())
}
