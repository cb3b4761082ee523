//! 100 MiB sealed and opened through the real binary in flat memory: the peak resident set of
//! the child (VmHWM from /proc, polled while it runs) stays far below the data size.

mod common;

use std::io::{Read, Write};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{Scratch, md5_line};
use esmtp_core::hash::{HashAlgorithm, Hasher, digest_reader, to_hex};

const SIZE: u64 = 100 << 20;
/// Far below the 100 MiB streamed, far above the few MiB the binary needs.
const LIMIT_KIB: u64 = 64 << 10;

/// Peak resident set of a running child in KiB; `None` once it has exited.
fn vm_hwm(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Wait for `child`, polling its peak memory; returns (success, peak KiB, stderr).
fn watch(mut child: Child) -> (bool, u64, Vec<u8>) {
    let mut stderr = child.stderr.take().expect("stderr piped");
    let reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = stderr.read_to_end(&mut buf);
        buf
    });
    let mut peak = 0;
    let status = loop {
        if let Some(kib) = vm_hwm(child.id()) {
            peak = peak.max(kib);
        }
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    (status.success(), peak, reader.join().expect("stderr reader"))
}

/// Deterministic, incompressible-looking bytes (xorshift64*), generated on the fly.
fn generate(out: &mut dyn Write, mut len: u64, hasher: &mut Hasher) {
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let mut block = vec![0u8; 1 << 20];
    while len > 0 {
        for word in block.chunks_exact_mut(8) {
            state ^= state >> 12;
            state ^= state << 25;
            state ^= state >> 27;
            word.copy_from_slice(&state.wrapping_mul(0x2545_F491_4F6C_DD1D).to_le_bytes());
        }
        let n = len.min(block.len() as u64) as usize;
        hasher.update(&block[..n]);
        out.write_all(&block[..n]).expect("the child reads its input");
        len -= n as u64;
    }
}

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
