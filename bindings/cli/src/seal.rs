//! `esmtp seal`: stream a file or pipe into an envelope.

use std::io::{IsTerminal, Read, Write};

use esmtp_core::{ArmorWriter, Passphrase, Sealer};

use crate::args::SealArgs;
use crate::failure::{Failure, Result};
use crate::files::{self, Output};
use crate::{keys, progress};

pub fn run(args: SealArgs) -> Result<()> {
    let recipients = keys::recipients(&args.recipients, &args.recipients_files)?;
    let passphrase = keys::sealing_passphrase(&args.passphrase, args.passphrase_prompt)?;
    if recipients.is_empty() && passphrase.is_none() && args.key_slip_out.is_none() {
        return Err(Failure::usage("no recipient: refusing to seal for nobody").hint(concat!(
            "give -r RECIPIENT, -R RECIPIENTS_FILE, --passphrase-file F, --passphrase-env VAR, -p ",
            "or --key-slip-out FILE"
        )));
    }
    if !args.armor && files::is_stdio(args.output.as_deref()) && std::io::stdout().is_terminal() {
        return Err(Failure::usage("refusing to write a binary envelope to the terminal")
            .hint("use --armor, -o OUT, or redirect standard output"));
    }
    if let Some(path) = &args.key_slip_out
        && path.symlink_metadata().is_ok()
    {
        return Err(Failure::exists(path, files::KEEP_HINT));
    }
    // Read (and unlocked) before any output exists: a wrong passphrase leaves nothing behind.
    let signer = args.sign_with.as_deref().map(keys::signing_identity).transpose()?;
    warn_if_legacy(args.suite);

    let mut sealer = Sealer::new().suite(args.suite);
    if let Some(identity) = signer {
        sealer = sealer.sign_with(identity);
    }
    for r in recipients {
        sealer = sealer.recipient(r);
    }
    if let Some(p) = passphrase {
        sealer = sealer.recipient(Passphrase::new(p.as_str()));
    }
    if args.key_slip_out.is_some() {
        sealer = sealer.key_slip();
    }

    let mut output = Output::create(args.output.as_deref(), args.input.as_deref(), args.force, false)?;
    let input = files::open_input(args.input.as_deref())?;
    let bar = progress::bytes(input.len, "sealing");
    let mut reader = bar.wrap_read(input.reader);
    let out_name = output.name();
    let in_name = input.name;

    let mut slip_written = None;
    let result = (|| {
        let on_slip = |slip: Option<esmtp_core::KeySlip>| -> Result<()> {
            if let (Some(path), Some(slip)) = (&args.key_slip_out, slip) {
                files::write_secret(path, &format!("{}\n", slip.to_token().as_str()))?;
                slip_written = Some(path.clone());
            }
            Ok(())
        };
        if args.armor {
            let armor = ArmorWriter::new(&mut output);
            let armor = stream(&sealer, &mut reader, armor, &in_name, &out_name, on_slip)?;
            armor.finish().map_err(|e| write_failure(&out_name, &e))?;
        } else {
            stream(&sealer, &mut reader, &mut output, &in_name, &out_name, on_slip)?;
        }
        output.commit()
    })();
    bar.finish_and_clear();
    if result.is_err()
        && let Some(path) = slip_written
    {
        // A slip for an envelope that was never completed opens nothing: don't leave it around.
        let _ = std::fs::remove_file(path);
    }
    result
}

/// The legacy suite is never chosen silently: say what it is worth, on standard error.
pub fn warn_if_legacy(suite: esmtp_core::Suite) {
    if suite.is_legacy() {
        eprintln!(
            "esmtp: warning: {suite} is of legacy strength (56-bit DES keys can be brute-forced, MD5 \
             collisions are practical): use it to reproduce or interoperate with the paper's scheme, \
             not to protect secrets"
        );
    }
}

fn write_failure(out_name: &str, e: &std::io::Error) -> Failure {
    Failure::io(format_args!("cannot write {out_name}"), e)
}

/// Seal everything `input` yields into `out`; the key slip, if any, is handed to `on_slip`
/// before any payload is written, so it exists once the envelope does.
fn stream<W: Write>(
    sealer: &Sealer,
    input: &mut dyn Read,
    out: W,
    in_name: &str,
    out_name: &str,
    on_slip: impl FnOnce(Option<esmtp_core::KeySlip>) -> Result<()>,
) -> Result<W> {
    let mut writer = sealer.seal_writer(out)?;
    on_slip(writer.take_key_slip())?;
    files::copy(
        input,
        &mut writer,
        |e| Failure::io(format_args!("cannot read {in_name}"), &e),
        |e| write_failure(out_name, &e),
    )?;
    writer.finish().map_err(|e| write_failure(out_name, &e))
}
