//! `open_file` and `seal_file` outputs: absent or whole. A failed open leaves neither the output
//! nor a temporary file in the directory, whichever way the file is made: an unnamed `O_TMPFILE`
//! (the default on Linux) or a named temporary file (forced with `ESMTP_TEST_NAMED_TEMP`, in a
//! child run of this test, as the environment of a running test cannot be changed safely).

use std::path::Path;
use std::process::Command;

use esmtp_ffi::{ErrorKind, Identity, OpenOptions, SealOptions, open_file, seal_file};

const NAMED_VAR: &str = "ESMTP_TEST_NAMED_TEMP";

fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn a_tampered_envelope_leaves_no_output_and_no_temporary_file() {
    let dir = tempfile::tempdir().unwrap();
    let bob = Identity::generate().unwrap();
    let seal = SealOptions { recipients: vec![bob.public_key()], ..SealOptions::default() };
    let open = OpenOptions { identities: vec![bob.clone()], ..OpenOptions::default() };
    let (plain, sealed) = (dir.path().join("plain"), dir.path().join("sealed"));
    // Several chunks, so the first ones are written out before the damaged one is reached.
    let message: Vec<u8> = (0..1_000_000u32).map(|i| (i % 251) as u8).collect();
    std::fs::write(&plain, &message).unwrap();
    seal_file(&plain, &sealed, &seal, false).unwrap();

    let mut bytes = std::fs::read(&sealed).unwrap();
    // A byte in the middle of the envelope: a later chunk fails its tag.
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x40;
    let damaged = dir.path().join("damaged");
    std::fs::write(&damaged, &bytes).unwrap();
    let before = names(dir.path());

    let opened = dir.path().join("opened");
    let error = open_file(&damaged, &opened, &open, false).unwrap_err();
    assert_eq!(error.kind, ErrorKind::DecryptionFailed);
    assert!(!opened.exists());
    assert_eq!(names(dir.path()), before, "nothing added to the directory");

    // Replacing an existing output: it stays as it was.
    std::fs::write(&opened, b"earlier").unwrap();
    assert_eq!(open_file(&damaged, &opened, &open, true).unwrap_err().kind, ErrorKind::DecryptionFailed);
    assert_eq!(std::fs::read(&opened).unwrap(), b"earlier");
    std::fs::remove_file(&opened).unwrap();
    assert_eq!(names(dir.path()), before, "nothing added to the directory");

    // The intact envelope opens, and only the output is added.
    open_file(&sealed, &opened, &open, false).unwrap();
    assert_eq!(std::fs::read(&opened).unwrap(), message);
    let mut after = before.clone();
    after.push("opened".into());
    after.sort();
    assert_eq!(names(dir.path()), after);
}

/// The same with named temporary files.
#[test]
fn the_same_with_named_temporary_files() {
    if std::env::var_os(NAMED_VAR).is_some() {
        return; // the child run: the test above does the work
    }
    let status = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "a_tampered_envelope_leaves_no_output_and_no_temporary_file", "--test-threads=1"])
        .env(NAMED_VAR, "1")
        .status()
        .unwrap();
    assert!(status.success());
}
