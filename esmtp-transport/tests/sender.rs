//! Who sends and who signed, without a server: the account file's `identity_file`,
//! `encrypt_to_self`, `allow_from` and `[contacts]`; `send_secure` signing, sealing to the sender
//! and refusing a `From` the account may not use (through `StubSubmitter::for_account`); and the
//! sender check and envelope ids of fetched mail (through a real Maildir).

use std::path::{Path, PathBuf};

use esmtp_core::identity_file;
use esmtp_core::mime::{self, Limits, MailDraft, Mailbox, PackageOptions, ReadMail};
use esmtp_core::{OpenError, Opener, Passphrase, Sealer, Signature, X25519Identity};
use esmtp_transport::account_file::{self, LoadOptions, Login};
use esmtp_transport::{
    Account, Contacts, Credentials, ErrorKind, Maildir, MessageError, Retrieved, Secret, SendOptions,
    SenderVerdict, StubSubmitter, Submit,
};

const ALICE: &str = "alice@example.test";

fn key() -> X25519Identity {
    X25519Identity::generate().unwrap()
}

/// A scratch directory, removed at the end.
struct Dir(PathBuf);

impl Dir {
    fn new(name: &str) -> Dir {
        let sealed = Sealer::new().key_slip().seal(b"").unwrap();
        let path = std::env::temp_dir().join(format!("esmtp-sender-{name}-{}", sealed.envelope_id));
        std::fs::create_dir_all(&path).unwrap();
        Dir(path)
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.0.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn account_file(dir: &Dir, extra: &str) -> PathBuf {
    dir.write(
        "account.toml",
        &format!("address = \"{ALICE}\"\npassword_env = \"ESMTP_UNSET_TEST_VAR\"\n{extra}"),
    )
}

fn load(path: &Path) -> esmtp_transport::Result<Account> {
    account_file::load(path, Login::NotNeeded)
}

#[test]
fn the_account_file_names_the_identity_the_aliases_and_the_contacts() {
    let dir = Dir::new("keys");
    let (alice, bob, carol_old, carol_new) = (key(), key(), key(), key());
    dir.write("alice.key", &format!("# mine\n{}\n", alice.to_secret_string().as_str()));
    let path = account_file(
        &dir,
        &format!(
            "identity_file = \"alice.key\"\nallow_from = [\"sales@example.test\"]\n\n[contacts]\n\
             \"Bob@Example.test\" = \"{}\"\n\"carol@example.test\" = [\"{}\", \"{}\"]\n",
            bob.to_public(),
            carol_new.to_public(),
            carol_old.to_public()
        ),
    );
    let account = load(&path).unwrap();
    assert_eq!(account.identity().map(X25519Identity::to_public), Some(alice.to_public()));
    assert!(account.encrypts_to_self(), "on by default with an identity");
    assert!(account.may_send_as("Sales@example.test") && account.may_send_as(ALICE));
    assert!(!account.may_send_as("boss@example.test"));
    let contacts = account.contacts();
    assert_eq!(contacts.keys_of("bob@example.test"), [bob.to_public()]);
    assert_eq!(contacts.keys_of("carol@example.test"), [carol_new.to_public(), carol_old.to_public()]);
    // The user's own key for their own addresses: Sent copies check out.
    assert_eq!(contacts.keys_of(ALICE), [alice.to_public()]);
    assert_eq!(contacts.keys_of("sales@example.test"), [alice.to_public()]);
    assert!(!format!("{account:?}").contains(alice.to_secret_string().as_str()));

    let off = account_file(&dir, "identity_file = \"alice.key\"\nencrypt_to_self = false\n");
    let account = load(&off).unwrap();
    assert!(account.identity().is_some() && !account.encrypts_to_self());
}

#[test]
fn account_file_mistakes_are_named_without_secrets() {
    let dir = Dir::new("mistakes");
    let alice = key();
    let secret = alice.to_secret_string();
    let cases = [
        ("encrypt_to_self = true\n".to_string(), "encrypt_to_self needs identity_file"),
        ("identity_file = \"missing.key\"\n".to_string(), "cannot read"),
        (format!("[contacts]\n\"bob@example.test\" = \"{}\"\n", secret.as_str()), "secret key"),
        ("[contacts]\n\"bob@example.test\" = \"esmtp1notakey\"\n".to_string(), "not a public key"),
        (format!("[contacts]\n\"bob\" = \"{}\"\n", alice.to_public()), "not a mail address"),
        ("[contacts]\n\"bob@example.test\" = []\n".to_string(), "empty list"),
        ("allow_from = [\"sales\"]\n".to_string(), "no '@'"),
    ];
    for (extra, expected) in cases {
        let err = load(&account_file(&dir, &extra)).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Config, "{extra}");
        let text = err.to_string();
        assert!(text.contains(expected), "{extra}: {text}");
        assert!(text.contains("account.toml"), "names the file: {text}");
        assert!(!text.contains(secret.as_str()), "no secret in {text}");
    }
    // An identity file must hold exactly one secret key and no key slips.
    dir.write(
        "two.key",
        &format!("{}\n{}\n", alice.to_secret_string().as_str(), key().to_secret_string().as_str()),
    );
    let err = load(&account_file(&dir, "identity_file = \"two.key\"\n")).unwrap_err();
    assert!(err.to_string().contains("holds 2 secret keys"), "{err}");
    let slip = Sealer::new().key_slip().seal(b"x").unwrap().key_slip.unwrap();
    dir.write("slip.key", &format!("{}\n{}\n", secret.as_str(), slip.to_token().as_str()));
    let err = load(&account_file(&dir, "identity_file = \"slip.key\"\n")).unwrap_err();
    assert!(err.to_string().contains("key slips"), "{err}");
    dir.write("public.key", &format!("{}\n", alice.to_public()));
    let err = load(&account_file(&dir, "identity_file = \"public.key\"\n")).unwrap_err();
    assert!(err.to_string().contains("line 1"), "{err}");
}

#[test]
fn a_protected_identity_file_asks_for_its_passphrase_only_when_loaded() {
    let dir = Dir::new("protected");
    let alice = key();
    let text = format!("{}\n", alice.to_secret_string().as_str());
    let sealed = identity_file::protect(&text, Passphrase::new("right horse battery")).unwrap();
    dir.write("alice.key", &sealed);
    let path = account_file(&dir, "identity_file = \"alice.key\"\n");

    let err = load(&path).unwrap_err();
    assert!(err.to_string().contains("passphrase-protected"), "{err}");
    let wrong =
        LoadOptions::new(Login::NotNeeded).identity_passphrase(|_: &Path| Some(Passphrase::new("wrong")));
    let err = account_file::load_with(&path, &wrong).unwrap_err();
    assert!(err.to_string().contains("wrong passphrase"), "{err}");

    let asked = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = asked.clone();
    let right = LoadOptions::new(Login::NotNeeded).identity_passphrase(move |file: &Path| {
        assert!(file.ends_with("alice.key"));
        counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Some(Passphrase::new("right horse battery"))
    });
    let account = account_file::load_with(&path, &right).unwrap();
    assert_eq!(account.identity().map(X25519Identity::to_public), Some(alice.to_public()));
    assert_eq!(asked.load(std::sync::atomic::Ordering::SeqCst), 1);

    // A caller that only looks at the servers reads no identity and asks nothing.
    let account =
        account_file::load_with(&path, &LoadOptions::new(Login::NotNeeded).without_identity()).unwrap();
    assert!(account.identity().is_none() && !account.encrypts_to_self());
}

fn alice_account(alice: &X25519Identity) -> esmtp_transport::AccountBuilder {
    Account::builder(ALICE, Credentials::Password(Secret::new("pw"))).identity(alice.clone())
}

fn draft(from: &str) -> MailDraft {
    MailDraft::new(Mailbox::new(from)).to(Mailbox::new("bob@example.test")).subject("plan").text("noon")
}

fn open(message: &[u8], opener: &Opener) -> Result<Box<mime::OpenedMail>, mime::MimeError> {
    match mime::read_mail(message, opener, &Limits::default())? {
        ReadMail::Encrypted(mail) => Ok(mail),
        _ => panic!("an encrypted mail"),
    }
}

#[test]
fn send_secure_signs_and_seals_to_the_sender_as_the_account_says() {
    let (alice, bob) = (key(), key());
    let stub = StubSubmitter::for_account(&alice_account(&alice).build().unwrap());
    let report = stub
        .send_secure(&draft(ALICE), Sealer::new().recipient(bob.to_public()), &SendOptions::default())
        .unwrap();
    assert_eq!(report.signer, Some(alice.to_public()));
    assert!(report.encrypted_to_self);
    let sent = stub.sent();
    // Bob can require alice's signature; alice reads her own Sent copy.
    let mail = open(&sent[0].message, &Opener::new().identity(bob.clone()).require_signer(alice.to_public()))
        .unwrap();
    assert_eq!(mail.signature, Signature::Signed { signer: alice.to_public() });
    assert_eq!(
        open(&sent[0].message, &Opener::new().identity(alice.clone())).unwrap().text.as_deref(),
        Some("noon")
    );

    // Both can be turned off per mail.
    let options = SendOptions { sign: false, encrypt_to_self: false, ..SendOptions::default() };
    let report = stub.send_secure(&draft(ALICE), Sealer::new().recipient(bob.to_public()), &options).unwrap();
    assert_eq!((report.signer.as_ref(), report.encrypted_to_self), (None, false));
    let sent = stub.sent();
    assert_eq!(
        open(&sent[1].message, &Opener::new().identity(bob.clone())).unwrap().signature,
        Signature::Unsigned
    );
    let err = open(&sent[1].message, &Opener::new().identity(alice.clone())).unwrap_err();
    assert!(matches!(err, mime::MimeError::Open(OpenError::NoMatchingRecipient)), "{err:?}");

    // And encrypt-to-self for the account as a whole.
    let quiet = StubSubmitter::for_account(&alice_account(&alice).encrypt_to_self(false).build().unwrap());
    let report = quiet
        .send_secure(&draft(ALICE), Sealer::new().recipient(bob.to_public()), &SendOptions::default())
        .unwrap();
    assert!(report.signer.is_some() && !report.encrypted_to_self);
    assert!(open(&quiet.sent()[0].message, &Opener::new().identity(alice)).is_err());

    // Without an identity nothing is signed, and the key slip still follows.
    let plain = StubSubmitter::for_account(
        &Account::builder(ALICE, Credentials::Password(Secret::new("pw"))).build().unwrap(),
    );
    let report = plain.send_secure(&draft(ALICE), Sealer::new().key_slip(), &SendOptions::default()).unwrap();
    assert_eq!((report.signer.as_ref(), report.encrypted_to_self, report.key_slips.len()), (None, false, 1));
}

#[test]
fn a_from_the_account_may_not_use_is_refused_before_anything_is_sealed_or_sent() {
    let (alice, bob) = (key(), key());
    let account = alice_account(&alice).alias("sales@example.test").build().unwrap();
    let stub = StubSubmitter::for_account(&account);
    let err = stub
        .send_secure(
            &draft("boss@example.test"),
            Sealer::new().recipient(bob.to_public()),
            &SendOptions::default(),
        )
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::FromNotAllowed);
    assert!(err.to_string().contains("boss@example.test"), "{err}");
    assert!(stub.sent().is_empty());
    let err = account
        .package(
            &draft("boss@example.test"),
            Sealer::new().recipient(bob.to_public()),
            &SendOptions::default(),
        )
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::FromNotAllowed);
    // Raw submission checks the envelope sender too.
    let err = stub.send_raw("boss@example.test", &["bob@example.test".into()], b"x\r\n").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::FromNotAllowed);
    // An alias (any case) is fine.
    stub.send_secure(
        &draft("Sales@Example.test"),
        Sealer::new().recipient(bob.to_public()),
        &SendOptions::default(),
    )
    .unwrap();
    assert_eq!(stub.sent().len(), 1);
}

#[test]
fn a_mail_only_its_sender_could_open_is_refused() {
    let alice = key();
    let stub = StubSubmitter::for_account(&alice_account(&alice).build().unwrap());
    let err = stub.send_secure(&draft(ALICE), Sealer::new(), &SendOptions::default()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Encryption, "{err:?}");
    assert!(stub.sent().is_empty());
}

/// A mail from `from` to bob (and whoever else `to` names), signed by `signer`.
fn package(from: &str, to: &[&X25519Identity], signer: Option<&X25519Identity>) -> mime::EncryptedMail {
    let mut sealer = Sealer::new();
    for r in to {
        sealer = sealer.recipient(r.to_public());
    }
    if let Some(s) = signer {
        sealer = sealer.sign_with(s.clone());
    }
    mime::package(&draft(from), &sealer, &PackageOptions::new(1_700_000_000)).unwrap()
}

#[test]
fn fetched_mail_carries_its_sender_check_and_its_envelope_id() {
    let dir = Dir::new("maildir");
    let (alice, bob, mallory, carol) = (key(), key(), key(), key());
    let mut contacts = Contacts::new();
    contacts.add(ALICE, alice.to_public());
    contacts.add("mallory@example.test", mallory.to_public());
    let maildir = Maildir::create(dir.0.join("Maildir")).unwrap().with_contacts(contacts);

    let good = package(ALICE, &[&bob], Some(&alice));
    let forged = package(ALICE, &[&bob], Some(&mallory));
    let unsigned = package(ALICE, &[&bob], None);
    let stranger = package("dave@example.test", &[&bob], Some(&key()));
    // The outer From changed on the way: the protected one still says alice.
    let rerouted = package(ALICE, &[&bob], Some(&alice));
    let rerouted_bytes = String::from_utf8(rerouted.bytes.clone()).unwrap().replacen(
        &format!("From: <{ALICE}>"),
        "From: <boss@example.test>",
        1,
    );
    assert!(rerouted_bytes.contains("From: <boss@example.test>"), "the outer From was rewritten");
    let for_carol = package(ALICE, &[&carol], Some(&alice));
    let mut expected = Vec::new();
    for (bytes, verdict, differs) in [
        (good.bytes.clone(), Some(SenderVerdict::Verified), false),
        (forged.bytes.clone(), Some(SenderVerdict::WrongSigner), false),
        (unsigned.bytes.clone(), Some(SenderVerdict::MissingSignature), false),
        (stranger.bytes.clone(), Some(SenderVerdict::UnknownSigner), false),
        (rerouted_bytes.into_bytes(), Some(SenderVerdict::Verified), true),
        (for_carol.bytes.clone(), None, false),
    ] {
        let name = maildir.deliver(&bytes).unwrap();
        expected.push((name, verdict, differs));
    }
    let fetched = maildir.fetch_esmtp(&Opener::new().identity(bob)).unwrap();
    assert_eq!(fetched.len(), expected.len());
    let ids = [
        good.envelope_id,
        forged.envelope_id,
        unsigned.envelope_id,
        stranger.envelope_id,
        rerouted.envelope_id,
        for_carol.envelope_id,
    ];
    for ((name, verdict, differs), id) in expected.iter().zip(ids) {
        let f = fetched
            .iter()
            .find(|f| matches!(&f.location, esmtp_transport::MessageRef::Maildir { name: n } if n == name))
            .unwrap();
        assert_eq!(f.envelope_id, Some(id), "{name}");
        match verdict {
            Some(v) => {
                let check = f.sender.as_ref().unwrap_or_else(|| panic!("{name}: {:?}", f.result));
                assert_eq!((check.verdict, check.from_differs), (*v, *differs), "{name}");
                assert!(matches!(f.result, Ok(Retrieved::Opened { .. })));
            }
            None => {
                // Not for bob: the line that says so can name the envelope.
                assert_eq!(f.result.as_ref().unwrap_err(), &MessageError::NoMatchingRecipient);
                assert!(f.sender.is_none());
            }
        }
    }
    let forged = fetched.iter().find(|f| f.envelope_id == Some(forged.envelope_id)).unwrap();
    let check = forged.sender.as_ref().unwrap();
    assert_eq!(check.signer_contact.as_deref(), Some("mallory@example.test"));
    assert!(check.warning().unwrap().contains("mallory@example.test"));
}
