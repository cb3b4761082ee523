//! `esmtp`: the command-line front end of esmtp-core and esmtp-transport. Arguments in, library
//! calls, results out, errors as one line and a documented exit code.
//!
//! Modules depend downwards only: `cli` -> `args_mail` -> `args` -> `failure`; the commands
//! (`seal`, `open`, `send`, `fetch`, `watch`, `read`, `hash`) use the helpers (`keys`, `mail`,
//! `listing`, `saved`, `sync`, `files`, `atomic`, `text`, `progress`), and no helper uses a
//! command, except `send`'s delivery shared with `reply` and `fetch`'s IMAP fetch shared with
//! `watch`.
#![forbid(unsafe_code)]

mod args;
mod args_mail;
mod atomic;
mod cli;
mod failure;
mod fetch;
mod files;
mod hash;
mod keys;
mod listing;
mod mail;
mod open;
mod progress;
mod read;
mod saved;
mod seal;
mod send;
mod sync;
mod text;
mod watch;

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;
use esmtp_core::identity_file::{self, IdentityEntry};
use esmtp_core::{Passphrase, X25519Identity};

use crate::args::{KeygenArgs, RecipientArgs};
use crate::cli::{Cli, Command};
use crate::failure::{Failure, Result};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Keygen(args) => keygen(args),
        Command::Recipient(args) => recipient(args),
        Command::Seal(args) => seal::run(args),
        Command::Open(args) => open::run(args),
        Command::Hash(args) => hash::run(args),
        Command::Capabilities(args) => mail::capabilities(args),
        Command::Send(args) => send::run(args),
        Command::Fetch(args) => fetch::run(args),
        Command::Watch(args) => watch::run(args),
        Command::Read(args) => read::run(args),
        Command::Reply(args) => read::reply(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => failure.report(),
    }
}

fn keygen(args: KeygenArgs) -> Result<()> {
    let passphrase = keys::sealing_passphrase(&args.passphrase, args.passphrase_prompt)?;
    if let Some(path) = &args.output
        && !files::is_stdio(Some(path))
        && path.symlink_metadata().is_ok()
    {
        return Err(Failure::exists(path, files::KEEP_HINT));
    }
    let identity = X25519Identity::generate().map_err(Failure::from)?;
    let public = identity.to_public();
    let mut text = zeroize::Zeroizing::new(format!(
        "# esmtp identity (x25519); keep this file secret\n# public recipient: {public}\n{}\n",
        identity.to_secret_string().as_str()
    ));
    if let Some(p) = passphrase {
        text = identity_file::protect(&text, Passphrase::new(p.as_str())).map_err(Failure::from)?;
    }
    match &args.output {
        Some(path) if !files::is_stdio(Some(path)) => files::write_secret(path, &text)?,
        _ => {
            let mut stdout = std::io::stdout().lock();
            stdout
                .write_all(text.as_bytes())
                .and_then(|()| stdout.flush())
                .map_err(|e| Failure::io("cannot write standard output", &e))?;
        }
    }
    eprintln!("Public recipient: {public}");
    Ok(())
}

fn recipient(args: RecipientArgs) -> Result<()> {
    let path = args.identity.unwrap_or_else(|| "-".into());
    let mut any = false;
    for entry in keys::read_identity_file(&path)? {
        if let IdentityEntry::X25519(id) = entry {
            println!("{}", id.to_public());
            any = true;
        }
    }
    if !any {
        return Err(Failure::usage(format!(
            "{}: holds only key slips, which have no public recipient",
            path.display()
        )));
    }
    Ok(())
}
