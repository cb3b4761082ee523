//! Output files: never replaced without --force, never the input, never a temporary name in an
//! error, and nothing left on disk when a signal ends `esmtp open -o` half-way (real signals to
//! the real binary), both with Linux's unnamed temporary files and with the named fallback.

mod common;

use std::io::Write;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{Scratch, assert_clean_error, code, err, esmtp};

fn sealed(s: &Scratch, len: usize) -> (String, Vec<u8>) {
    let bob = s.keygen("bob.key");
    let msg: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
    let out = esmtp().args(["seal", "-r", &bob]).write_stdin(msg.clone()).output().unwrap();
    assert!(out.status.success(), "{}", err(&out));
    (bob, out.stdout)
}

#[test]
fn an_existing_output_is_refused_unless_forced() {
    let s = Scratch::new();
    let (bob, envelope) = sealed(&s, 1000);
    s.write("note.txt", b"the plaintext");
    s.write("env", &envelope);
    // seal -o over an existing file: refused, the file untouched.
    s.write("taken.esmtp", b"keep me");
    let out = esmtp()
        .args(["seal", "-r", &bob, "-o"])
        .arg(s.path("taken.esmtp"))
        .arg(s.path("note.txt"))
        .output()
        .unwrap();
    assert_eq!(code(&out), 1, "{}", err(&out));
    assert_clean_error(&out);
    assert!(err(&out).contains("already exists") && err(&out).contains("--force"), "{}", err(&out));
    assert_eq!(s.read("taken.esmtp"), b"keep me");
    // open -o likewise.
    let open = |extra: &[&str]| {
        esmtp()
            .arg("open")
            .arg("-i")
            .arg(s.path("bob.key"))
            .args(extra)
            .arg("-o")
            .arg(s.path("taken.esmtp"))
            .arg(s.path("env"))
            .output()
            .unwrap()
    };
    let out = open(&[]);
    assert_eq!(code(&out), 1, "{}", err(&out));
    assert_eq!(s.read("taken.esmtp"), b"keep me");
    // --force replaces it.
    let out = open(&["--force"]);
    assert!(out.status.success(), "{}", err(&out));
    assert_eq!(s.read("taken.esmtp").len(), 1000);
    let out = esmtp()
        .args(["seal", "--force", "-r", &bob, "-o"])
        .arg(s.path("taken.esmtp"))
        .arg(s.path("note.txt"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", err(&out));
    assert!(s.read("taken.esmtp").starts_with(b"ESMTPENV"));
    assert_eq!(s.listing().iter().filter(|n| n.starts_with('.')).count(), 0, "{:?}", s.listing());
}

#[test]
fn the_output_is_never_the_input_whatever_the_path() {
    let s = Scratch::new();
    let (bob, _) = sealed(&s, 10);
    let plain = b"plaintext that must survive".to_vec();
    s.write("note.txt", &plain);
    std::os::unix::fs::symlink(s.path("note.txt"), s.path("link.txt")).unwrap();
    std::fs::hard_link(s.path("note.txt"), s.path("hard.txt")).unwrap();
    std::fs::create_dir(s.path("sub")).unwrap();
    let dotted = s.path("sub/../note.txt");
    for out_path in [s.path("note.txt"), dotted, s.path("link.txt"), s.path("hard.txt")] {
        for force in [false, true] {
            let mut cmd = esmtp();
            cmd.args(["seal", "-r", &bob]);
            if force {
                cmd.arg("--force");
            }
            let out = cmd.arg("-o").arg(&out_path).arg(s.path("note.txt")).output().unwrap();
            assert_ne!(code(&out), 0, "{out_path:?} force={force}");
            assert_clean_error(&out);
            if force {
                assert!(err(&out).contains("is the input itself"), "{}", err(&out));
            }
            assert_eq!(s.read("note.txt"), plain, "{out_path:?} force={force}: the input was destroyed");
        }
    }
    // Standard input redirected from the output file.
    let input = std::fs::File::open(s.path("note.txt")).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_esmtp"))
        .args(["seal", "--force", "-r", &bob, "-o"])
        .arg(s.path("note.txt"))
        .stdin(input)
        .output()
        .unwrap();
    assert_eq!(code(&out), 2, "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(s.read("note.txt"), plain);
}

#[test]
fn an_unwritable_directory_is_named_without_any_temporary_file_name() {
    let s = Scratch::new();
    let (_, envelope) = sealed(&s, 10);
    s.write("env", &envelope);
    for named in [false, true] {
        let mut cmd = esmtp();
        if named {
            cmd.env("ESMTP_TEST_NAMED_TEMP", "1");
        }
        let out = cmd
            .arg("open")
            .arg("-i")
            .arg(s.path("bob.key"))
            .args(["-o", "/nonexistent/dir/out"])
            .arg(s.path("env"))
            .output()
            .unwrap();
        assert_eq!(code(&out), 1, "{}", err(&out));
        assert_clean_error(&out);
        let text = err(&out);
        assert!(text.contains("cannot write /nonexistent/dir/out: No such file or directory"), "{text}");
        assert!(!text.contains(".esmtp-") && !text.contains(".part") && !text.contains(".tmp"), "{text}");
    }
}

/// Start `esmtp open -o OUT` reading the envelope from a pipe; write its first part and wait
/// until the program holds its output file open (seen in /proc), so the signal hits mid-write.
fn open_half_way(s: &Scratch, envelope: &[u8], named: bool) -> (Child, std::process::ChildStdin) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_esmtp"));
    if named {
        cmd.env("ESMTP_TEST_NAMED_TEMP", "1");
    }
    let mut child = cmd
        .arg("open")
        .arg("-i")
        .arg(s.path("bob.key"))
        .arg("-o")
        .arg(s.path("out.bin"))
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(&envelope[..envelope.len() / 2]).unwrap();
    stdin.flush().unwrap();
    let fd_dir = format!("/proc/{}/fd", child.id());
    let dir = s.dir.path().to_string_lossy().into_owned();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let holds_output = std::fs::read_dir(&fd_dir).into_iter().flatten().flatten().any(|e| {
            std::fs::read_link(e.path()).is_ok_and(|target| target.to_string_lossy().starts_with(&dir))
        });
        if holds_output {
            break;
        }
        assert!(Instant::now() < deadline, "the output file never opened");
        std::thread::sleep(Duration::from_millis(20));
    }
    // Let the written half reach the file.
    std::thread::sleep(Duration::from_millis(300));
    (child, stdin)
}

fn visible_files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn signals_during_open_leave_nothing_on_disk() {
    let s = Scratch::new();
    let (_, envelope) = sealed(&s, 4 << 20);
    let before = visible_files(s.dir.path());
    let cases: [(&str, bool); 5] =
        [("INT", false), ("TERM", false), ("KILL", false), ("INT", true), ("TERM", true)];
    for (signal, named) in cases {
        let (mut child, stdin) = open_half_way(&s, &envelope, named);
        if named {
            let during = visible_files(s.dir.path());
            assert!(
                during.iter().any(|n| n.starts_with(".esmtp-") && n.ends_with(".part")),
                "the named fallback was not used: {during:?}"
            );
        } else {
            assert_eq!(visible_files(s.dir.path()), before, "O_TMPFILE: nothing visible while writing");
        }
        let status =
            Command::new("kill").arg(format!("-{signal}")).arg(child.id().to_string()).status().unwrap();
        assert!(status.success());
        let ended = child.wait().unwrap();
        drop(stdin);
        assert!(!ended.success(), "{signal}: {ended:?}");
        assert_eq!(visible_files(s.dir.path()), before, "SIG{signal} (named: {named}) left files behind");
    }
}
