//! `esmtp open`: authenticate and decrypt an envelope, releasing plaintext only when all of it
//! checked.

use std::io::{BufRead, BufReader, Cursor, Read};

use esmtp_core::hash::to_hex;
use esmtp_core::{ARMOR_BEGIN as BEGIN, is_armored};
use esmtp_core::{ArmorReader, OpenError, Signature, Suite};

use crate::args::OpenArgs;
use crate::failure::{Failure, Result};
use crate::files::{self, MAIL_LIMIT, Output};
use crate::{keys, progress};

/// What an open released.
struct Report {
    bytes: u64,
    /// Absent when nothing shows it (`--quiet` without `--json`) and the suite does not carry it.
    md5: Option<Vec<u8>>,
    suite: Suite,
    envelope_id: esmtp_core::EnvelopeId,
    signature: Signature,
}

/// `Signed by esmtp1...` or `Unsigned`: the line beside the MD5 line (also for `read`).
pub fn signature_line(signature: &Signature) -> String {
    match signature.signer() {
        Some(signer) => format!("Signed by {signer}"),
        None => "Unsigned".to_string(),
    }
}

pub fn run(args: OpenArgs) -> Result<()> {
    let result = open(&args);
    if args.json {
        let json = match &result {
            Ok(r) => serde_json::json!({
                "ok": true,
                "output": args.output.as_ref().map(|p| p.display().to_string()),
                "bytes": r.bytes,
                "md5": r.md5.as_deref().map(to_hex),
                "suite": r.suite.name(),
                "envelope_id": r.envelope_id.to_string(),
                "signer": r.signature.signer().map(ToString::to_string),
            }),
            Err(f) => serde_json::json!({
                "ok": false,
                "error": { "code": f.code as u8, "message": f.message() },
            }),
        };
        println!("{json}");
    }
    let report = result?;
    if !args.quiet && !args.json {
        let md5 = report.md5.as_deref().map(to_hex).unwrap_or_default();
        eprintln!("MD5 {md5}  suite {}", report.suite.name());
        eprintln!("{}", signature_line(&report.signature));
    }
    Ok(())
}

/// The envelope in `input`: streamed when binary or armored from the first line; read whole and
/// searched when the armor sits inside other text (pasted in a mail, quoted by a reply).
fn envelope_source(input: Box<dyn Read>, name: &str) -> Result<Box<dyn Read>> {
    let mut buffered = BufReader::with_capacity(1 << 16, input);
    let head = buffered.fill_buf().map_err(|e| Failure::io(format_args!("cannot read {name}"), &e))?;
    if is_armored(head) {
        return Ok(Box::new(ArmorReader::new(buffered)));
    }
    if !head.windows(BEGIN.len()).any(|w| w == BEGIN.as_bytes()) {
        return Ok(Box::new(buffered));
    }
    let mut text = Vec::new();
    buffered
        .take(MAIL_LIMIT + 1)
        .read_to_end(&mut text)
        .map_err(|e| Failure::io(format_args!("cannot read {name}"), &e))?;
    if text.len() as u64 > MAIL_LIMIT {
        return Err(Failure::usage(format!("{name}: armored text larger than {} MiB", MAIL_LIMIT >> 20)));
    }
    match esmtp_core::mime::extract_armor(&text) {
        Ok(Some(envelope)) => Ok(Box::new(Cursor::new(envelope))),
        Ok(None) => Ok(Box::new(Cursor::new(text))),
        Err(e) => {
            Err(Failure::from(OpenError::Malformed("armor inside the text is damaged")).hint(format!("{e}")))
        }
    }
}

fn open(args: &OpenArgs) -> Result<Report> {
    // The output is checked (exists, is the input) before anything is asked or read.
    let mut output = Output::create(args.output.as_deref(), args.input.as_deref(), args.force, true)?;
    let out_name = output.name();
    let mut opener = keys::opener(&args.keys, false, None)?;
    for signer in keys::expected_signers(&args.expect_signer, &args.expect_signer_file)? {
        opener = opener.require_signer(signer);
    }
    let input = files::open_input(args.input.as_deref())?;
    let bar = progress::bytes(input.len, "opening");
    let in_name = input.name;
    let source = envelope_source(Box::new(bar.wrap_read(input.reader)), &in_name)?;

    let result = (|| -> Result<_> {
        let mut reader = opener.open_reader(source)?;
        // The MD5 is computed (the modern suite) only when it is shown.
        if !args.quiet || args.json {
            reader.hash_released();
        }
        let bytes = files::copy(
            &mut reader,
            &mut output,
            |e| Failure::from(OpenError::from_io(e)),
            |e| Failure::io(format_args!("cannot write {out_name}"), &e),
        )?;
        let md5 = reader.md5().map(|digest| digest.to_vec());
        if !reader.is_verified() {
            // Invariant: the copy read to the end, which verifies every chunk and the signature.
            return Err(Failure::from(OpenError::DecryptionFailed));
        }
        // Everything was authenticated up to the end of the envelope: now, and only now, the
        // plaintext becomes visible.
        output.commit()?;
        // The end of the stream was read, so a signature has been verified (a bad one failed the
        // copy above).
        Ok(Report {
            bytes,
            md5,
            suite: reader.suite(),
            envelope_id: reader.envelope_id(),
            signature: reader.signature().clone(),
        })
    })();
    bar.finish_and_clear();
    result
}
