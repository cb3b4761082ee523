//! `esmtp hash`: byte for byte the output of md5sum / sha256sum, and `--check` like `md5sum -c`.

mod common;

use std::process::Command as Std;

use common::{Scratch, code, err, esmtp};
use predicates::prelude::*;

fn coreutils(tool: &str, dir: &std::path::Path, args: &[&str], stdin: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut child = Std::new(tool)
        .args(args)
        .current_dir(dir)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|_| panic!("{tool} is installed"));
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    child.wait_with_output().unwrap().stdout
}

#[test]
fn lines_are_exactly_those_of_md5sum_and_sha256sum() {
    let s = Scratch::new();
    s.write("a.txt", b"abc");
    s.write("with space.bin", &[0u8, 1, 2, 255]);
    s.write("empty", b"");
    s.write("back\\slash", b"odd name");
    let files = ["a.txt", "with space.bin", "empty", "-", "back\\slash"];
    for (flag, tool) in [("--md5", "md5sum"), ("--sha256", "sha256sum")] {
        let expected = coreutils(tool, s.dir.path(), &files, b"from stdin");
        let out = esmtp()
            .current_dir(s.dir.path())
            .arg("hash")
            .arg(flag)
            .args(files)
            .write_stdin("from stdin")
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", err(&out));
        assert_eq!(String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&expected), "{tool}");
    }
    // MD5 is the default, and no FILE means standard input.
    esmtp().arg("hash").write_stdin("abc").assert().success().stdout("900150983cd24fb0d6963f7d28e17f72  -\n");
}

#[test]
fn check_accepts_coreutils_sum_files_and_reports_like_md5sum_c() {
    let s = Scratch::new();
    s.write("a.txt", b"abc");
    s.write("b.txt", b"def");
    let dir = s.dir.path();
    s.write("MD5SUMS", &coreutils("md5sum", dir, &["a.txt", "b.txt"], b""));
    s.write("SHA256SUMS", &coreutils("sha256sum", dir, &["a.txt", "b.txt"], b""));
    for sums in ["MD5SUMS", "SHA256SUMS"] {
        esmtp()
            .current_dir(dir)
            .args(["hash", "--check", sums])
            .assert()
            .success()
            .stdout("a.txt: OK\nb.txt: OK\n");
        esmtp().current_dir(dir).args(["hash", "-c", "--quiet", sums]).assert().success().stdout("");
    }
    // The sums file on standard input.
    esmtp().current_dir(dir).args(["hash", "--check"]).write_stdin(s.read("MD5SUMS")).assert().success();
    // Our own output checks too.
    let ours = esmtp().current_dir(dir).args(["hash", "--sha256", "a.txt"]).output().unwrap().stdout;
    esmtp()
        .current_dir(dir)
        .args(["hash", "--check"])
        .write_stdin(ours)
        .assert()
        .success()
        .stdout("a.txt: OK\n");

    // A mismatch: exit 4, like an altered envelope; the other lines still checked.
    s.write("b.txt", b"changed");
    let out = esmtp().current_dir(dir).args(["hash", "--check", "MD5SUMS"]).output().unwrap();
    assert_eq!(code(&out), 4, "{}", err(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "a.txt: OK\nb.txt: FAILED\n");
    assert!(err(&out).contains("WARNING: 1 computed checksum did NOT match"), "{}", err(&out));

    // An unreadable listed file: exit 1.
    std::fs::remove_file(s.path("b.txt")).unwrap();
    s.write("MD5SUMS", &coreutils("md5sum", dir, &["a.txt"], b""));
    let mut sums = s.read("MD5SUMS");
    sums.extend_from_slice(b"d41d8cd98f00b204e9800998ecf8427e  b.txt\n");
    s.write("MD5SUMS", &sums);
    let out = esmtp().current_dir(dir).args(["hash", "--check", "MD5SUMS"]).output().unwrap();
    assert_eq!(code(&out), 1, "{}", err(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("b.txt: FAILED open or read"));
    assert!(err(&out).contains("1 listed file could not be read"));

    // No properly formatted line: malformed input, exit 5. A restricted algorithm skips the others.
    esmtp().args(["hash", "--check"]).write_stdin("not a sums file\n").assert().code(5);
    esmtp().current_dir(dir).args(["hash", "--check", "--sha256", "MD5SUMS"]).assert().code(5);
    esmtp()
        .current_dir(dir)
        .args(["hash", "--check", "--md5", "SHA256SUMS"])
        .assert()
        .code(5)
        .stderr(predicate::str::contains("no properly formatted"));
}

#[test]
fn hash_of_a_missing_file_is_exit_1_after_the_others() {
    let s = Scratch::new();
    s.write("a.txt", b"abc");
    let out = esmtp().current_dir(s.dir.path()).args(["hash", "missing", "a.txt"]).output().unwrap();
    assert_eq!(code(&out), 1);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "900150983cd24fb0d6963f7d28e17f72  a.txt\n");
    assert!(err(&out).contains("cannot read missing"));
}
