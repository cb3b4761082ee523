//! `esmtp fetch`: retrieve over IMAP or POP3, open every esmtp mail, list all, save on request,
//! and with `--new` start where the last `--new` ended.

use esmtp_core::{Argon2Params, Opener};
use esmtp_transport::account_file::Login;
use esmtp_transport::{
    Account, FetchScope, Fetched, ImapClient, ImapFetchOptions, ImapSyncState, Pop3Client, Pop3FetchOptions,
    Pop3SyncState,
};

use crate::args_mail::{FetchArgs, Protocol};
use crate::failure::{Failure, Result};
use crate::listing::Lister;
use crate::mail::{Needs, load_account, transport_failure};
use crate::progress;
use crate::sync::SyncFile;

fn transport(e: esmtp_transport::Error) -> Failure {
    transport_failure(&e)
}

/// Where a fetch starts and what it gives for next time.
pub enum Since {
    Everything,
    /// `--since-uid`: a UID (IMAP) or message number (POP3) in the mailbox as it is now.
    Number(u32),
    /// `--new` over IMAP: the stored state, if any.
    Imap(Option<ImapSyncState>),
    /// `--new` over POP3: the stored state, if any.
    Pop3(Option<Pop3SyncState>),
}

/// What a fetch brought, and where the next one starts.
pub struct Fetch {
    pub messages: Vec<Fetched>,
    pub imap: Option<ImapSyncState>,
    pub pop3: Option<Pop3SyncState>,
    /// The IMAP mailbox's UIDVALIDITY changed: everything was fetched again.
    pub resynced: bool,
    /// POP3 downloaded with RETR (the server has no TOP): it may now count the mail as read.
    pub used_retr: bool,
}

/// The opener of fetch and watch: `-i`, `--key-slip` and the passphrase options, the account's
/// identity, and the key slips saved in the output directory. Mail arrives unasked, so a
/// passphrase opens only stanzas that cost at most what esmtp seals with (Argon2id 19 MiB, 2
/// passes, 1 lane): a stanza asking for the reader limit costs seconds and hundreds of MiB per
/// mail before anything is authenticated. `costly_passphrases` allows up to that limit.
pub fn fetch_opener(
    keys: &crate::args::KeyArgs,
    account: &Account,
    out: Option<&std::path::Path>,
    costly_passphrases: bool,
) -> Result<Opener> {
    let work = if costly_passphrases { Argon2Params::READER_LIMIT } else { Argon2Params::default() };
    let mut opener = crate::keys::opener(keys, true, Some(work))?;
    if let Some(identity) = account.identity() {
        opener = opener.identity(identity.clone());
    }
    if let Some(dir) = out {
        std::fs::create_dir_all(dir).map_err(|e| Failure::write(dir, &e))?;
        for slip in crate::keys::saved_slips(dir) {
            opener = opener.identity(slip);
        }
    }
    Ok(opener)
}

pub fn run(args: FetchArgs) -> Result<()> {
    let account =
        load_account(&args.account, Needs { login: Login::Needed, identity: true, verbose: args.verbose })?;
    let opener = fetch_opener(&args.keys, &account, args.out.as_deref(), args.allow_costly_passphrases)?;
    let mut state = if args.new { Some(SyncFile::load(args.state.as_deref())?) } else { None };
    let since = match (&state, args.protocol, args.since_uid) {
        (Some(s), Protocol::Imap, _) => Since::Imap(s.imap(&account, &args.mailbox)),
        (Some(s), Protocol::Pop3, _) => Since::Pop3(s.pop3(&account)),
        (None, _, Some(n)) => Since::Number(n),
        (None, _, None) => Since::Everything,
    };
    let scope = if args.esmtp_only { FetchScope::EsmtpOnly } else { FetchScope::All };
    let spinner = progress::spinner("fetching");
    let fetched = match args.protocol {
        Protocol::Imap => fetch_imap(&account, &opener, &args.mailbox, scope, since),
        Protocol::Pop3 => fetch_pop3(&account, &opener, scope, since),
    };
    spinner.finish_and_clear();
    let fetch = fetched?;
    if fetch.resynced {
        eprintln!("esmtp: the mailbox's UIDVALIDITY changed: every message is listed again");
    }
    if fetch.used_retr {
        eprintln!(
            "esmtp: note: the POP3 server has no TOP, so messages were downloaded with RETR: it may \
             now show them as read to its other clients"
        );
    }

    let mut lister = Lister::new(args.out.clone(), args.json, &args.mailbox);
    let bar = progress::messages(fetch.messages.len() as u64, "saving");
    for m in &fetch.messages {
        lister.show(m)?;
        bar.inc(1);
    }
    bar.finish_and_clear();
    let count = fetch.messages.len();
    match (&mut state, args.protocol) {
        // Nothing that could not be saved is skipped next time.
        (Some(_), _) if lister.unsaved > 0 => {
            eprintln!("esmtp: {count} message(s); the state is not advanced, as some could not be saved")
        }
        (Some(s), Protocol::Imap) => {
            if let Some(sync) = fetch.imap {
                s.set_imap(&account, &args.mailbox, sync);
            }
            s.save()?;
            eprintln!("esmtp: {count} new message(s)");
        }
        (Some(s), Protocol::Pop3) => {
            if let Some(sync) = &fetch.pop3 {
                s.set_pop3(&account, sync);
            }
            s.save()?;
            eprintln!("esmtp: {count} new message(s)");
        }
        (None, Protocol::Imap) => {
            let next = fetch.imap.map_or(0, |s| s.last_uid);
            eprintln!("esmtp: {count} message(s); next time: --since-uid {next} (or --new)");
        }
        (None, Protocol::Pop3) => {
            eprintln!("esmtp: {count} message(s); next time: --new");
        }
    }
    lister.verdict()
}

/// An IMAP fetch of `mailbox` from `since`.
pub fn fetch_imap(
    account: &Account,
    opener: &Opener,
    mailbox: &str,
    scope: FetchScope,
    since: Since,
) -> Result<Fetch> {
    let mut client = ImapClient::connect(account).map_err(transport)?;
    let fetch = fetch_imap_with(&mut client, opener, mailbox, scope, since);
    let _ = client.logout();
    fetch
}

/// An IMAP fetch on an open session.
pub fn fetch_imap_with(
    client: &mut ImapClient,
    opener: &Opener,
    mailbox: &str,
    scope: FetchScope,
    since: Since,
) -> Result<Fetch> {
    let mut options = ImapFetchOptions { scope, ..ImapFetchOptions::default() };
    options.since = match since {
        // The library resumes from a (UIDVALIDITY, UID) pair; a bare UID means "in the mailbox
        // as it is now".
        Since::Number(last_uid) => {
            let state = client.examine(mailbox).map_err(transport)?;
            Some(ImapSyncState { uid_validity: state.uid_validity, last_uid })
        }
        Since::Imap(state) => state,
        Since::Everything | Since::Pop3(_) => None,
    };
    let report = client.fetch_esmtp(mailbox, opener, &options).map_err(transport)?;
    Ok(Fetch {
        messages: report.messages,
        imap: Some(report.sync),
        pop3: None,
        resynced: report.uid_validity_changed,
        used_retr: false,
    })
}

fn fetch_pop3(account: &Account, opener: &Opener, scope: FetchScope, since: Since) -> Result<Fetch> {
    let mut client = Pop3Client::connect(account).map_err(transport)?;
    let mut options = Pop3FetchOptions { scope, ..Pop3FetchOptions::default() };
    options.since = match since {
        Since::Pop3(state) => state,
        // A message number in the maildrop as it is now: everything after it is new.
        Since::Number(last) => {
            let mut entries = client.entries().map_err(transport)?;
            entries.retain(|e| e.number <= last);
            Some(Pop3SyncState::after(&entries))
        }
        Since::Everything | Since::Imap(_) => None,
    };
    let report = client.fetch_esmtp(opener, &options).map_err(transport)?;
    let _ = client.quit();
    Ok(Fetch {
        messages: report.messages,
        imap: None,
        pop3: Some(report.sync),
        resynced: report.resynced,
        used_retr: report.used_retr,
    })
}
