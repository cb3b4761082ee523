//! `esmtp`: the command-line front end of esmtp-core and esmtp-transport. Arguments in, library
//! calls, results out, errors as one line and a documented exit code.
#![forbid(unsafe_code)]

mod cli;
mod failure;
mod fetch;
mod files;
mod hash;
mod keys;
mod mail;
mod open;
mod progress;
mod saved;
mod seal;
mod send;

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;
use esmtp_core::X25519Identity;

use crate::cli::{Cli, Command, KeygenArgs, RecipientArgs};
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
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => failure.report(),
    }
}

fn keygen(args: KeygenArgs) -> Result<()> {
    let identity = X25519Identity::generate().map_err(Failure::from)?;
    let public = identity.to_public();
    let text = zeroize::Zeroizing::new(format!(
        "# esmtp identity (x25519); keep this file secret\n# public recipient: {public}\n{}\n",
        identity.to_secret_string().as_str()
    ));
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
    for identity in keys::read_identity_file(&path)? {
        if let keys::FileIdentity::X25519(id) = identity {
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
