//! Helpers shared by the integration tests: they all run the real `esmtp` binary.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::Child;
use std::time::Duration;

use assert_cmd::Command;
use esmtp_core::hash::Hasher;
use tempfile::TempDir;

/// The `esmtp` binary with a clean environment for the variables the tests set.
pub fn esmtp() -> Command {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_esmtp"));
    // Never a terminal: nothing may wait for a passphrase prompt.
    cmd.env_remove("ESMTP_PASS").stdin(std::process::Stdio::null());
    Command::from_std(cmd)
}

/// A scratch directory with an identity in it.
pub struct Scratch {
    pub dir: TempDir,
}

impl Scratch {
    pub fn new() -> Scratch {
        Scratch { dir: tempfile::tempdir().expect("temp dir") }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn write(&self, name: &str, data: &[u8]) -> PathBuf {
        let p = self.path(name);
        std::fs::write(&p, data).expect("write scratch file");
        p
    }

    pub fn read(&self, name: &str) -> Vec<u8> {
        std::fs::read(self.path(name)).expect("read scratch file")
    }

    /// `esmtp keygen -o NAME`; returns the public recipient it printed.
    pub fn keygen(&self, name: &str) -> String {
        let out = esmtp().arg("keygen").arg("-o").arg(self.path(name)).output().expect("keygen runs");
        assert!(out.status.success(), "keygen failed: {}", String::from_utf8_lossy(&out.stderr));
        public_from_stderr(&out.stderr)
    }

    /// Names of the files in the scratch directory (to catch leftover temporary files).
    pub fn listing(&self) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(self.dir.path())
            .expect("list scratch dir")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }
}

pub fn public_from_stderr(stderr: &[u8]) -> String {
    let text = String::from_utf8_lossy(stderr);
    let line = text.lines().find(|l| l.starts_with("Public recipient: ")).expect("Public recipient line");
    line["Public recipient: ".len()..].trim().to_string()
}

/// The `MD5 <hex>  suite <name>` line `esmtp open` prints on stderr, as (hex, suite).
pub fn md5_line(stderr: &[u8]) -> (String, String) {
    let text = String::from_utf8_lossy(stderr);
    let line =
        text.lines().find(|l| l.starts_with("MD5 ")).unwrap_or_else(|| panic!("no MD5 line in {text:?}"));
    let rest = &line[4..];
    let (hex, suite) = rest.split_once("  suite ").expect("MD5 line format");
    (hex.to_string(), suite.to_string())
}

pub fn md5_hex(data: &[u8]) -> String {
    use esmtp_core::hash::{HashAlgorithm, digest, to_hex};
    to_hex(&digest(HashAlgorithm::Md5, data))
}

/// The exit code of a finished command.
pub fn code(out: &std::process::Output) -> i32 {
    out.status.code().expect("exited, not killed")
}

/// stderr as text, for assertion messages.
pub fn err(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Every line of stderr is an `esmtp:` line or a hint, never a panic or a Debug dump.
pub fn assert_clean_error(out: &std::process::Output) {
    let stderr = err(out);
    assert!(!stderr.contains("panicked"), "panic: {stderr}");
    assert!(!stderr.contains("RUST_BACKTRACE"), "backtrace: {stderr}");
    assert!(!stderr.contains(" { "), "Debug dump: {stderr}");
    assert!(stderr.lines().any(|l| l.starts_with("esmtp: error: ")), "no error line: {stderr}");
}

/// Peak resident set of a running child in KiB; `None` once it has exited.
pub fn vm_hwm(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Wait for `child`, polling its peak memory; returns (success, peak KiB, stderr).
pub fn watch(mut child: Child) -> (bool, u64, Vec<u8>) {
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
pub fn generate(out: &mut dyn Write, mut len: u64, hasher: &mut Hasher) {
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
