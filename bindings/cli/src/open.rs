//! `esmtp open`: authenticate and decrypt an envelope, releasing plaintext only when all of it
//! checked.

use std::io::{BufRead, BufReader, Read};

use esmtp_core::hash::{HashAlgorithm, Hasher, to_hex};
use esmtp_core::is_armored;
use esmtp_core::{ArmorReader, OpenError, Opener, Passphrase, Suite};

use crate::cli::OpenArgs;
use crate::failure::{Failure, Result};
use crate::files::{self, Output};
use crate::keys::{self, FileIdentity};
use crate::progress;

/// The identities of `-i`, `--key-slip` and the passphrase options, or a terminal prompt.
pub fn opener(
    identity_files: &[std::path::PathBuf],
    passphrase: &crate::cli::PassphraseSource,
    key_slips: &[std::path::PathBuf],
) -> Result<Opener> {
    build_opener(identity_files, passphrase, key_slips, false)
}

/// As [`opener`], but with nothing given and no terminal, an empty opener: a fetch still lists
/// every mail and opens those whose key slips arrive as mails of their own.
pub fn opener_for_fetch(
    identity_files: &[std::path::PathBuf],
    passphrase: &crate::cli::PassphraseSource,
    key_slips: &[std::path::PathBuf],
) -> Result<Opener> {
    build_opener(identity_files, passphrase, key_slips, true)
}

fn build_opener(
    identity_files: &[std::path::PathBuf],
    passphrase: &crate::cli::PassphraseSource,
    key_slips: &[std::path::PathBuf],
    allow_empty: bool,
) -> Result<Opener> {
    let mut opener = Opener::new();
    let mut any = false;
    for path in identity_files {
        for identity in keys::read_identity_file(path)? {
            opener = match identity {
                FileIdentity::X25519(id) => opener.identity(id),
                FileIdentity::Slip(slip) => opener.identity(slip),
            };
            any = true;
        }
    }
    for path in key_slips {
        opener = opener.identity(keys::read_key_slip_file(path)?);
        any = true;
    }
    if let Some(p) = keys::passphrase(passphrase)? {
        opener = opener.identity(Passphrase::new(p.as_str()));
        any = true;
    }
    if !any {
        match keys::prompted_passphrase() {
            Some(prompt) => opener = opener.identity(prompt),
            None if allow_empty => {}
            None => {
                return Err(Failure::usage("nothing to open with").hint(
                    "give -i IDENTITY_FILE, --key-slip FILE, --passphrase-file F or --passphrase-env VAR",
                ));
            }
        }
    }
    Ok(opener)
}

pub fn run(args: OpenArgs) -> Result<()> {
    let opener = opener(&args.identities, &args.passphrase, &args.key_slips)?;
    let input = files::open_input(args.input.as_deref())?;
    let bar = progress::bytes(input.len, "opening");
    let mut buffered = BufReader::with_capacity(1 << 16, bar.wrap_read(input.reader));
    let in_name = input.name;
    let armored =
        is_armored(buffered.fill_buf().map_err(|e| Failure::io(format_args!("cannot read {in_name}"), &e))?);
    let source: Box<dyn Read> =
        if armored { Box::new(ArmorReader::new(buffered)) } else { Box::new(buffered) };

    let result = (|| -> Result<_> {
        let mut reader = opener.open_reader(source)?;
        let mut output = Output::create(args.output.as_deref(), true)?;
        let out_name = output.name();
        // des-cbc-md5 envelopes carry the MD5 and the reader verifies it; for the other suites it
        // is computed here, over exactly the bytes released.
        let mut md5 = (reader.suite() != Suite::LegacyDesCbcMd5).then(|| Hasher::new(HashAlgorithm::Md5));
        files::copy(
            &mut reader,
            &mut output,
            |e| Failure::from(OpenError::from_io(e)),
            |e| Failure::io(format_args!("cannot write {out_name}"), &e),
            |chunk| {
                if let Some(h) = &mut md5 {
                    h.update(chunk);
                }
            },
        )?;
        let digest = match md5 {
            Some(h) => h.finish(),
            None => reader
                .carried_md5()
                .map(|d| d.to_vec())
                .ok_or_else(|| Failure::from(OpenError::DecryptionFailed))?,
        };
        // Everything was authenticated up to the end of the envelope: now, and only now, the
        // plaintext becomes visible.
        output.commit()?;
        Ok((digest, reader.suite()))
    })();
    bar.finish_and_clear();
    let (digest, suite) = result?;
    eprintln!("MD5 {}  suite {}", to_hex(&digest), suite.name());
    Ok(())
}
