//! The address book of signers and the sender check: whether an opened mail's signature says that
//! it comes from whom its `From` header names.
//!
//! An envelope's integrity is not authorship: every recipient holds its message key and could
//! have made it. Only a signature says who wrote it, and only a known key for the `From` address
//! says whether that writer is who the mail claims to be. [`Contacts`] holds those keys (the
//! account file's `[contacts]` table, plus the account's own key for its own addresses) and
//! [`Contacts::check`] gives the verdict, one home for every front end.

use std::collections::HashMap;
use std::fmt;

use esmtp_core::X25519Recipient;
use esmtp_core::mime::OpenedMail;

/// Public keys (`esmtp1...`) by mail address: whom to expect as the signer of a mail from an
/// address. Addresses are compared without regard to ASCII case. An address may have several
/// keys (a new one and the one it replaces): a signature by any of them counts.
///
/// ```
/// use esmtp_core::X25519Identity;
/// use esmtp_transport::Contacts;
///
/// let alice = X25519Identity::generate()?;
/// let mut contacts = Contacts::new();
/// contacts.add("Alice@Example.org", alice.to_public());
/// assert_eq!(contacts.keys_of("alice@example.org"), [alice.to_public()]);
/// assert_eq!(contacts.addresses_of(&alice.to_public()), ["alice@example.org"]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Contacts {
    by_address: HashMap<String, Vec<X25519Recipient>>,
}

impl fmt::Debug for Contacts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Contacts").field("addresses", &self.by_address.len()).finish()
    }
}

fn normal(address: &str) -> String {
    address.trim().to_ascii_lowercase()
}

impl Contacts {
    /// An empty address book.
    pub fn new() -> Self {
        Contacts::default()
    }

    /// Expect `key` as a signer of mail from `address` (added to the keys it has, once).
    pub fn add(&mut self, address: &str, key: X25519Recipient) {
        let keys = self.by_address.entry(normal(address)).or_default();
        if !keys.contains(&key) {
            keys.push(key);
        }
    }

    /// The keys of `address`, none when it is unknown.
    pub fn keys_of(&self, address: &str) -> &[X25519Recipient] {
        self.by_address.get(&normal(address)).map_or(&[], Vec::as_slice)
    }

    /// The addresses that list `key`, sorted.
    pub fn addresses_of(&self, key: &X25519Recipient) -> Vec<&str> {
        let mut out: Vec<&str> =
            self.by_address.iter().filter(|(_, keys)| keys.contains(key)).map(|(a, _)| a.as_str()).collect();
        out.sort_unstable();
        out
    }

    /// How many addresses have keys.
    pub fn len(&self) -> usize {
        self.by_address.len()
    }

    /// Whether no address has a key.
    pub fn is_empty(&self) -> bool {
        self.by_address.is_empty()
    }

    /// The sender check of an opened mail: its signature compared with the keys of its protected
    /// `From` (the outer one when there is no protected one), and the protected `From` compared
    /// with the outer one.
    ///
    /// ```
    /// use esmtp_core::mime::{self, Limits, MailDraft, Mailbox, PackageOptions, ReadMail};
    /// use esmtp_core::{Opener, Sealer, X25519Identity};
    /// use esmtp_transport::{Contacts, SenderVerdict};
    ///
    /// let (alice, bob) = (X25519Identity::generate()?, X25519Identity::generate()?);
    /// let draft = MailDraft::new(Mailbox::new("alice@example.org")).to(Mailbox::new("bob@example.org"));
    /// let sealer = Sealer::new().recipient(bob.to_public()).sign_with(alice.clone());
    /// let mail = mime::package(&draft, &sealer, &PackageOptions::new(1_700_000_000))?;
    /// let ReadMail::Encrypted(opened) = mime::read_mail(&mail.bytes, &Opener::new().identity(bob), &Limits::default())?
    /// else { unreachable!() };
    ///
    /// let mut contacts = Contacts::new();
    /// assert_eq!(contacts.check(&opened).verdict, SenderVerdict::UnknownSigner);
    /// contacts.add("alice@example.org", alice.to_public());
    /// assert_eq!(contacts.check(&opened).verdict, SenderVerdict::Verified);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn check(&self, mail: &OpenedMail) -> SenderCheck {
        let inner = mail.headers.from.as_ref().map(|m| m.address.as_str());
        let outer = mail.outer.from.as_ref().map(|m| m.address.as_str());
        let from_differs = match (inner, outer) {
            (Some(a), Some(b)) => normal(a) != normal(b),
            (None, None) => false,
            _ => true,
        };
        let from = inner.or(outer).map(normal);
        let expected = from.as_deref().map_or(&[][..], |a| self.keys_of(a));
        let signer = mail.signature.signer();
        let verdict = match (signer, expected.is_empty()) {
            (Some(s), false) if expected.contains(s) => SenderVerdict::Verified,
            (Some(_), false) => SenderVerdict::WrongSigner,
            (Some(_), true) => SenderVerdict::UnknownSigner,
            (None, false) => SenderVerdict::MissingSignature,
            (None, true) => SenderVerdict::Unsigned,
        };
        let signer_contact =
            signer.and_then(|s| self.addresses_of(s).first().map(|a| a.to_string())).filter(|a| {
                // Only worth naming when it is not simply the From address.
                from.as_deref() != Some(a.as_str())
            });
        SenderCheck { verdict, from, signer_contact, from_differs }
    }
}

/// What a mail's signature says about its `From` address (see [`Contacts::check`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SenderVerdict {
    /// Signed by a key the contacts list for the `From` address: the mail is from them.
    Verified,
    /// Signed, but the contacts list no key for the `From` address: whoever holds the signing
    /// key wrote it, and nothing says that this is the `From` address.
    UnknownSigner,
    /// Signed by a key other than those the contacts list for the `From` address: someone else
    /// wrote it and put that address in `From`.
    WrongSigner,
    /// Not signed, though the contacts list a key for the `From` address: a mail from them
    /// would be signed. Anyone holding the envelope's key (another recipient, the holder of a
    /// key slip or of the passphrase) could have written it.
    MissingSignature,
    /// Not signed, and the `From` address has no key: nothing says who wrote it.
    Unsigned,
}

impl SenderVerdict {
    /// A short name for listings and JSON: `verified`, `unknown-signer`, `wrong-signer`,
    /// `missing-signature`, `unsigned`.
    pub fn name(self) -> &'static str {
        match self {
            SenderVerdict::Verified => "verified",
            SenderVerdict::UnknownSigner => "unknown-signer",
            SenderVerdict::WrongSigner => "wrong-signer",
            SenderVerdict::MissingSignature => "missing-signature",
            SenderVerdict::Unsigned => "unsigned",
        }
    }

    /// Whether the verdict contradicts the `From` address (a wrong signer, or a missing
    /// signature where one was expected): a reason to warn.
    pub fn is_alarming(self) -> bool {
        matches!(self, SenderVerdict::WrongSigner | SenderVerdict::MissingSignature)
    }
}

impl fmt::Display for SenderVerdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The sender check of one opened mail.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SenderCheck {
    /// The signature against the keys of [`SenderCheck::from`].
    pub verdict: SenderVerdict,
    /// The address checked (lower case): the protected `From`, else the outer one.
    pub from: Option<String>,
    /// For a signed mail whose key the contacts list under another address than
    /// [`SenderCheck::from`]: that address (the first, sorted), so a front end can say who
    /// really signed.
    pub signer_contact: Option<String>,
    /// The protected `From` (inside the envelope) and the outer one (which servers saw, and
    /// anyone on the path could change) name different addresses, or only one of them exists.
    pub from_differs: bool,
}

impl SenderCheck {
    /// Nothing to warn about: the verdict is not alarming and the two `From` headers agree.
    pub fn is_consistent(&self) -> bool {
        !self.verdict.is_alarming() && !self.from_differs
    }

    /// One sentence for people, when there is something to warn about: a wrong signer, a
    /// missing signature, or two different `From` addresses.
    pub fn warning(&self) -> Option<String> {
        let from = self.from.as_deref().unwrap_or("(no From)");
        let mut parts = Vec::new();
        match self.verdict {
            SenderVerdict::WrongSigner => parts.push(match &self.signer_contact {
                Some(other) => format!("signed by the key of {other}, not by a key of {from}"),
                None => format!("signed by a key that is not {from}'s"),
            }),
            SenderVerdict::MissingSignature => parts.push(format!(
                "not signed, though {from} has a key: anyone holding the mail's key could have written it"
            )),
            _ => {}
        }
        if self.from_differs {
            parts.push("the protected From differs from the outer From".to_string());
        }
        (!parts.is_empty()).then(|| parts.join("; "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use esmtp_core::X25519Identity;
    use esmtp_core::mime::{self, Limits, MailDraft, Mailbox, PackageOptions, ReadMail};
    use esmtp_core::{Opener, Sealer};

    fn key() -> X25519Identity {
        X25519Identity::generate().unwrap()
    }

    /// A mail from `from` for bob, signed by `signer`, its outer From changed to `outer`.
    fn opened(from: &str, signer: Option<&X25519Identity>, outer: Option<&str>) -> OpenedMail {
        let bob = key();
        let draft = MailDraft::new(Mailbox::new(from)).to(Mailbox::new("bob@example.test")).text("hi");
        let mut sealer = Sealer::new().recipient(bob.to_public());
        if let Some(s) = signer {
            sealer = sealer.sign_with(s.clone());
        }
        let mut bytes = mime::package(&draft, &sealer, &PackageOptions::new(1_700_000_000)).unwrap().bytes;
        if let Some(outer) = outer {
            let text = String::from_utf8(bytes).unwrap();
            bytes = text.replacen(&format!("From: <{from}>"), &format!("From: <{outer}>"), 1).into_bytes();
        }
        match mime::read_mail(&bytes, &Opener::new().identity(bob), &Limits::default()).unwrap() {
            ReadMail::Encrypted(mail) => *mail,
            _ => unreachable!(),
        }
    }

    #[test]
    fn every_verdict() {
        let (alice, mallory) = (key(), key());
        let mut contacts = Contacts::new();
        contacts.add("alice@example.test", alice.to_public());
        contacts.add("mallory@example.test", mallory.to_public());

        let check = contacts.check(&opened("alice@example.test", Some(&alice), None));
        assert_eq!((check.verdict, check.from_differs), (SenderVerdict::Verified, false));
        assert!(check.is_consistent() && check.warning().is_none());
        assert_eq!(check.signer_contact, None);

        // Mallory signs, claiming to be alice.
        let check = contacts.check(&opened("alice@example.test", Some(&mallory), None));
        assert_eq!(check.verdict, SenderVerdict::WrongSigner);
        assert_eq!(check.signer_contact.as_deref(), Some("mallory@example.test"));
        assert!(check.warning().unwrap().contains("key of mallory@example.test"), "{:?}", check.warning());

        // A stranger's key.
        let check = contacts.check(&opened("alice@example.test", Some(&key()), None));
        assert_eq!((check.verdict, check.signer_contact.as_deref()), (SenderVerdict::WrongSigner, None));

        // Unsigned, though alice has a key: a co-recipient may have written it.
        let check = contacts.check(&opened("alice@example.test", None, None));
        assert_eq!(check.verdict, SenderVerdict::MissingSignature);
        assert!(check.warning().unwrap().contains("not signed"));

        // Someone without a key: nothing alarming, nothing proven.
        let check = contacts.check(&opened("carol@example.test", None, None));
        assert_eq!(check.verdict, SenderVerdict::Unsigned);
        assert!(check.is_consistent());
        let check = contacts.check(&opened("carol@example.test", Some(&key()), None));
        assert_eq!(check.verdict, SenderVerdict::UnknownSigner);
        assert!(check.is_consistent());
    }

    #[test]
    fn a_changed_outer_from_is_flagged_and_the_protected_one_is_checked() {
        let alice = key();
        let mut contacts = Contacts::new();
        contacts.add("alice@example.test", alice.to_public());
        let mail = opened("alice@example.test", Some(&alice), Some("boss@example.test"));
        assert_eq!(mail.outer.from.as_ref().unwrap().address, "boss@example.test");
        let check = contacts.check(&mail);
        assert_eq!(check.verdict, SenderVerdict::Verified);
        assert_eq!(check.from.as_deref(), Some("alice@example.test"));
        assert!(check.from_differs && !check.is_consistent());
        assert!(check.warning().unwrap().contains("outer From"));
        // Case alone is no difference.
        let check = contacts.check(&opened("alice@example.test", Some(&alice), Some("Alice@Example.TEST")));
        assert!(!check.from_differs);
    }

    #[test]
    fn addresses_are_case_blind_and_keys_are_kept_once() {
        let (old, new) = (key(), key());
        let mut contacts = Contacts::new();
        contacts.add("Bob@Example.test", old.to_public());
        contacts.add("bob@example.test", new.to_public());
        contacts.add(" bob@EXAMPLE.test ", new.to_public());
        assert_eq!(contacts.keys_of("BOB@example.test"), [old.to_public(), new.to_public()]);
        assert_eq!(contacts.len(), 1);
        assert!(contacts.keys_of("carol@example.test").is_empty());
        assert!(!format!("{contacts:?}").contains("esmtp1"));
    }
}
