//! 100 MiB sealed and opened through the real binary in flat memory: the peak resident set of
//! the child (VmHWM from /proc, polled while it runs) stays far below the data size.

mod common;

use std::process::{Command, Stdio};
use std::time::Instant;

use common::{Scratch, generate, md5_line, watch};
use esmtp_core::hash::{HashAlgorithm, Hasher, digest_reader, to_hex};

const SIZE: u64 = 100 << 20;
/// Far below the 100 MiB streamed, far above the few MiB the binary needs.
const LIMIT_KIB: u64 = 64 << 10;

fn round_trip(suite: &str, armor: bool, to_stdout: bool) {
    let s = Scratch::new();
    let bob = s.keygen("bob.key");
    let envelope = s.path("big.env");

    // Seal from a pipe fed 100 MiB that never exist whole anywhere.
    let started = Instant::now();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_esmtp"));
    cmd.args(["seal", "--suite", suite, "-r", &bob]);
    if armor {
        cmd.arg("--armor");
    }
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(std::fs::File::create(&envelope).unwrap())
        .stderr(Stdio::piped())
        .spawn()
        .expect("esmtp runs");
    let mut stdin = child.stdin.take().unwrap();
    let feeder = std::thread::spawn(move || {
        let mut hasher = Hasher::new(HashAlgorithm::Md5);
        generate(&mut stdin, SIZE, &mut hasher);
        to_hex(&hasher.finish())
    });
    let (ok, seal_peak, stderr) = watch(child);
    let expected_md5 = feeder.join().expect("feeder");
    assert!(ok, "seal failed: {}", String::from_utf8_lossy(&stderr));
    let seal_time = started.elapsed();
    let env_len = std::fs::metadata(&envelope).unwrap().len();
    assert!(env_len > SIZE, "the envelope holds all of it");

    // Open to a file (a temporary file beside OUT, renamed at the end) or to standard output
    // (through an unnamed temporary file, copied out once everything authenticated).
    let started = Instant::now();
    let out = s.path("big.out");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_esmtp"));
    cmd.arg("open").arg("-i").arg(s.path("bob.key")).arg(&envelope);
    if to_stdout {
        cmd.stdout(Stdio::piped());
    } else {
        cmd.arg("-o").arg(&out).stdout(Stdio::null());
    }
    let mut child = cmd.stdin(Stdio::null()).stderr(Stdio::piped()).spawn().expect("esmtp runs");
    let stdout_digest = child.stdout.take().map(|mut pipe| {
        std::thread::spawn(move || {
            let mut hasher = Hasher::new(HashAlgorithm::Md5);
            let n = std::io::copy(&mut pipe, &mut hasher).expect("read stdout");
            (n, to_hex(&hasher.finish()))
        })
    });
    let (ok, open_peak, stderr) = watch(child);
    assert!(ok, "open failed: {}", String::from_utf8_lossy(&stderr));
    let open_time = started.elapsed();

    let (md5, opened_suite) = md5_line(&stderr);
    assert_eq!((md5.as_str(), opened_suite.as_str()), (expected_md5.as_str(), suite));
    let (len, digest) = match stdout_digest {
        Some(reader) => reader.join().expect("stdout reader"),
        None => {
            let file = std::fs::File::open(&out).unwrap();
            (file.metadata().unwrap().len(), to_hex(&digest_reader(HashAlgorithm::Md5, file).unwrap()))
        }
    };
    assert_eq!((len, digest.as_str()), (SIZE, expected_md5.as_str()), "the output is exactly the input");

    eprintln!(
        "{suite} armor={armor} stdout={to_stdout}: seal {seal_time:.1?} peak {seal_peak} KiB; \
         open {open_time:.1?} peak {open_peak} KiB"
    );
    assert!(seal_peak > 0 && open_peak > 0, "memory was measured");
    assert!(seal_peak < LIMIT_KIB, "seal peak {seal_peak} KiB for 100 MiB");
    assert!(open_peak < LIMIT_KIB, "open peak {open_peak} KiB for 100 MiB");
}

#[test]
fn hundred_mib_chacha20_poly1305_binary_in_flat_memory() {
    round_trip("chacha20-poly1305", false, false);
}

#[test]
fn hundred_mib_des_cbc_md5_armored_to_stdout_in_flat_memory() {
    round_trip("des-cbc-md5", true, true);
}

/// `send --draft` with a large `--attach`: the file is read while the mail is packaged into the
/// draft, so memory does not grow with the attachment (1 MiB against 64 MiB), and the mail holds
/// the attachment exactly (read back for the small one; the packaging is the same code, and
/// esmtp-core tests it byte for byte against the in-memory packager).
#[test]
fn send_draft_with_a_large_attachment_in_flat_memory() {
    let s = Scratch::new();
    let bob = s.keygen("bob.key");
    let account = s.write(
        "alice.toml",
        b"address = \"alice@example.test\"\npassword_env = \"ESMTP_TEST_UNSET\"\n\
          [smtp]\nhost = \"127.0.0.1\"\nport = 1\ntls = \"implicit\"\n",
    );
    s.write("body.txt", b"See attached.\n");
    let mut peaks = Vec::new();
    for (name, len) in [("small.bin", 1u64 << 20), ("large.bin", 64 << 20)] {
        let path = s.path(name);
        let mut hasher = Hasher::new(HashAlgorithm::Md5);
        generate(&mut std::fs::File::create(&path).unwrap(), len, &mut hasher);
        let draft = s.path(&format!("{name}.eml"));
        let child = Command::new(env!("CARGO_BIN_EXE_esmtp"))
            .args(["send", "--account"])
            .arg(&account)
            .args(["--to", "bob@example.test", "-r", &bob, "--subject", "big", "--attach"])
            .arg(&path)
            .arg("--draft")
            .arg(&draft)
            .arg(s.path("body.txt"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("esmtp runs");
        let (ok, peak, stderr) = watch(child);
        assert!(ok, "send --draft failed: {}", String::from_utf8_lossy(&stderr));
        let mail_len = std::fs::metadata(&draft).unwrap().len();
        assert!(mail_len > len * 4 / 3 && mail_len < len * 7 / 5 + 4096, "{mail_len} bytes for {len}");
        eprintln!("send --draft, {} MiB attachment: {mail_len} bytes, peak {peak} KiB", len >> 20);
        peaks.push(peak);
        if len == 1 << 20 {
            let saved = s.path("saved");
            let out = common::esmtp()
                .arg("read")
                .arg("-i")
                .arg(s.path("bob.key"))
                .arg("--out")
                .arg(&saved)
                .arg(&draft)
                .output()
                .unwrap();
            assert!(out.status.success(), "read: {}", common::err(&out));
            let file = std::fs::File::open(saved.join(name)).expect("attachment saved");
            let digest = to_hex(&digest_reader(HashAlgorithm::Md5, file).unwrap());
            assert_eq!(digest, to_hex(&hasher.finish()), "the attachment came back exactly");
        }
    }
    assert!(peaks.iter().all(|&p| p > 0), "memory was measured");
    assert!(peaks[1] < 48 << 10, "peak {} KiB for a 64 MiB attachment", peaks[1]);
    assert!(peaks[1] < peaks[0] + (16 << 10), "peak grew from {} to {} KiB", peaks[0], peaks[1]);
}
