//! `esmtp watch`: list what is new, then wait with IMAP IDLE and list each new mail; Ctrl-C or
//! SIGTERM ends it cleanly.
//!
//! A signal while waiting ends the program at once (nothing is being written); a signal while a
//! fetch is listed and saved lets that fetch finish and its state be stored first. A second
//! signal then ends it at once: files appear only when complete, so even that leaves none half
//! written.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use esmtp_transport::account_file::Login;
use esmtp_transport::{FetchScope, ImapClient};

use crate::args_mail::WatchArgs;
use crate::failure::{Failure, Result};
use crate::fetch::{Since, fetch_imap_with, fetch_opener};
use crate::listing::Lister;
use crate::mail::{Needs, load_account, transport_failure};
use crate::sync::SyncFile;

/// How long one IDLE wait lasts before the mailbox is looked at again.
const WAIT: Duration = Duration::from_secs(25 * 60);

/// Whether the main thread is writing (`true`) or waiting (`false`), and whether a signal asked
/// it to stop.
struct Phase {
    busy: Mutex<bool>,
    stop: AtomicBool,
}

fn handle_signals(phase: Arc<Phase>) -> Result<()> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM])
        .map_err(|e| Failure::io("cannot watch for Ctrl-C", &e))?;
    std::thread::spawn(move || {
        for signal in signals.forever() {
            let busy = phase.busy.lock().unwrap_or_else(|p| p.into_inner());
            if !*busy {
                eprintln!("esmtp: watch ended");
                std::process::exit(0);
            }
            if phase.stop.swap(true, Ordering::SeqCst) {
                std::process::exit(128 + signal);
            }
            eprintln!("esmtp: ending after the mail being saved");
        }
    });
    Ok(())
}

pub fn run(args: WatchArgs) -> Result<()> {
    let account =
        load_account(&args.account, Needs { login: Login::Needed, identity: true, verbose: args.verbose })?;
    let opener = fetch_opener(&args.keys, &account, args.out.as_deref(), args.allow_costly_passphrases)?;
    let mut state = SyncFile::load(args.state.as_deref())?;
    let scope = if args.esmtp_only { FetchScope::EsmtpOnly } else { FetchScope::All };
    let phase = Arc::new(Phase { busy: Mutex::new(true), stop: AtomicBool::new(false) });
    handle_signals(Arc::clone(&phase))?;
    let mut client = ImapClient::connect(&account).map_err(|e| transport_failure(&e))?;
    let mut lister = Lister::new(args.out.clone(), args.json, &args.mailbox);
    loop {
        let since = state.imap(&account, &args.mailbox);
        let fetch = fetch_imap_with(&mut client, &opener, &args.mailbox, scope, Since::Imap(since))?;
        let unsaved_before = lister.unsaved;
        for m in &fetch.messages {
            lister.show(m)?;
        }
        if lister.unsaved > unsaved_before {
            // The state stays where it was, so the next run saves these again; waiting now
            // would only find the same mail.
            return lister.verdict();
        }
        if let Some(sync) = fetch.imap {
            state.set_imap(&account, &args.mailbox, sync);
            state.save()?;
        }
        let sync = state.imap(&account, &args.mailbox);
        {
            let mut busy = phase.busy.lock().unwrap_or_else(|p| p.into_inner());
            if phase.stop.load(Ordering::SeqCst) {
                eprintln!("esmtp: watch ended");
                return Ok(());
            }
            *busy = false;
        }
        eprintln!("esmtp: waiting for new mail in {} (Ctrl-C ends)", args.mailbox);
        let waited = client.idle_wait(&args.mailbox, sync.as_ref(), WAIT);
        *phase.busy.lock().unwrap_or_else(|p| p.into_inner()) = true;
        waited.map_err(|e| transport_failure(&e))?;
    }
}
