//! Prints the throughput of esmtp's operations in MB/s (10^6 bytes per second), one line each:
//! `name<TAB>MB/s<TAB>what`. `scripts/bench-compare` runs it next to `openssl speed` and Python's
//! `hashlib` and prints the ratios.
//!
//! Usage: `throughput [--seconds S] [--only GROUP,...]`: time per operation (default 1 s); the
//! groups to run (default all): `aead`, `des`, `md5`, `api`, `hash`, `cores` (one thread
//! against every core, 25 MiB), `x25519` (operations per second, not MB/s: the key agreement and
//! the opening of a small mail to an X25519 identity, in one call and streaming with its MD5).
#![forbid(unsafe_code)]

use std::hint::black_box;
use std::io::{self, Read, Write};
use std::time::Duration;

use des::Des;
use esmtp_benches::{
    CHUNK, FastDes, KIB, MIB, chacha_impls, des_cbc_decrypt_with, des_cbc_encrypt_with, input, md5,
    seconds_arg, throughput_mb_s,
};
use esmtp_core::hash::{HashAlgorithm, digest};
use esmtp_core::{Opener, Sealer, Suite, X25519Identity};

fn report(name: &str, what: &str, mb_s: f64) {
    println!("{name}\t{mb_s:.1}\t{what}");
    // Flushed per line so a caller sees progress.
    let _ = io::stdout().flush();
}

/// Open `envelope` with [`Opener::open_reader`], reading it in `buf`-sized pieces; the byte count.
fn stream_open(
    opener: &Opener,
    envelope: &[u8],
    buf: &mut [u8],
) -> Result<usize, Box<dyn std::error::Error>> {
    let mut reader = opener.open_reader(envelope)?;
    let mut total = 0;
    loop {
        match reader.read(buf)? {
            0 => return Ok(total),
            n => total += black_box(n),
        }
    }
}

const GROUPS: [&str; 7] = ["aead", "des", "md5", "api", "hash", "cores", "x25519"];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut t = Duration::from_secs(1);
    let mut only: Vec<String> = GROUPS.iter().map(|g| g.to_string()).collect();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--seconds" => t = seconds_arg(args.next())?,
            "--only" => {
                only = args.next().ok_or("--only needs a value")?.split(',').map(str::to_owned).collect();
                if let Some(bad) = only.iter().find(|g| !GROUPS.contains(&g.as_str())) {
                    return Err(format!("unknown group {bad:?} (groups: {})", GROUPS.join(", ")).into());
                }
            }
            "-h" | "--help" => {
                println!("usage: throughput [--seconds S] [--only GROUP,...]");
                println!("  time per operation (default 1 s); groups (default all): {}", GROUPS.join(", "));
                return Ok(());
            }
            other => return Err(format!("unknown argument {other:?}").into()),
        }
    }
    let wanted = |group: &str| only.iter().any(|g| g == group);
    if wanted("aead") {
        aead(t);
    }
    if wanted("des") {
        des_cbc(t);
        des_lanes(t);
    }
    if wanted("md5") {
        let chunk = input(CHUNK);
        let mb_s = throughput_mb_s(CHUNK, t, || {
            black_box(md5(black_box(&chunk)));
        });
        report("md5-64k", "MD5, 64 KiB buffers (md-5 crate)", mb_s);
    }
    if wanted("api") {
        api(t)?;
    }
    if wanted("cores") {
        cores(t)?;
    }
    if wanted("x25519") {
        x25519(t)?;
    }
    if wanted("hash") {
        let message = input(16 * MIB);
        for (algorithm, name) in [(HashAlgorithm::Md5, "md5-16m"), (HashAlgorithm::Sha256, "sha256-16m")] {
            let mb_s = throughput_mb_s(message.len(), t, || {
                black_box(digest(algorithm, black_box(&message)));
            });
            report(name, &format!("esmtp_core::hash::digest {algorithm}, 16 MiB"), mb_s);
        }
    }
    Ok(())
}

/// Raw ChaCha20-Poly1305 sealing of 64 KiB buffers, every implementation compiled in; then 1 MiB
/// and 16 MiB sealed in place as the format's 64 KiB chunks, each under its own nonce: what the
/// envelope's payload costs with nothing else around it, the ceiling of `Sealer::seal` on one
/// core with that implementation.
fn aead(t: Duration) {
    let mut buf = input(CHUNK);
    for aead in chacha_impls([0x42; 32]) {
        let mb_s = throughput_mb_s(CHUNK, t, || {
            black_box(aead.seal_in_place(0, black_box(&mut buf)));
        });
        report(
            &format!("chacha20-poly1305-64k-{}", aead.name()),
            &format!("ChaCha20-Poly1305 seal in place, 64 KiB buffers ({})", aead.name()),
            mb_s,
        );
    }
    for (size, label) in [(MIB, "1m"), (16 * MIB, "16m")] {
        let mut message = input(size);
        for aead in chacha_impls([0x42; 32]) {
            let mb_s = throughput_mb_s(size, t, || {
                for (index, chunk) in (0u64..).zip(message.chunks_mut(CHUNK)) {
                    black_box(aead.seal_in_place(index, black_box(chunk)));
                }
            });
            report(
                &format!("chacha20-poly1305-{label}-chunked-{}", aead.name()),
                &format!(
                    "ChaCha20-Poly1305 seal in place, {} MiB as 64 KiB chunks ({})",
                    size / MIB,
                    aead.name()
                ),
                mb_s,
            );
        }
    }
}

/// Operations per second (not MB/s) of the X25519 key agreement (`x25519-dalek`, as esmtp-core's
/// recipients use it), of `Opener::open` of a 1 KiB envelope to an X25519 identity, and of
/// reading the same with `Opener::open_reader` and its MD5: one mail's fixed cost, the floor of
/// fetching and opening many small mails.
fn x25519(t: Duration) -> Result<(), Box<dyn std::error::Error>> {
    // throughput_mb_s counts bytes per microsecond; one "byte" of a million per call makes that
    // calls per second.
    let per_s = |op: &mut dyn FnMut()| throughput_mb_s(1_000_000, t, op);
    let secret = x25519_dalek::StaticSecret::from([0x42; 32]);
    let peer = x25519_dalek::PublicKey::from(&x25519_dalek::StaticSecret::from([0x24; 32]));
    let ops = per_s(&mut || {
        black_box(black_box(&secret).diffie_hellman(black_box(&peer)));
    });
    report("x25519-dalek-ops", "X25519 key agreements per second (x25519-dalek)", ops);

    let bob = X25519Identity::generate()?;
    let message = input(KIB);
    let sealed = Sealer::new().recipient(bob.to_public()).seal(&message)?;
    let opener = Opener::new().identity(bob);
    if opener.open(&sealed.envelope)?.plaintext() != &message[..] {
        return Err("round trip failed".into());
    }
    let ops = per_s(&mut || {
        black_box(opener.open(black_box(&sealed.envelope)).map(|o| o.plaintext().len()).unwrap_or(0));
    });
    report("open-x25519-1k-ops", "Opener::open of 1 KiB to an X25519 identity, per second", ops);

    // The streaming reader with the MD5 of what it releases, as the CLI and the bindings'
    // open_file use it.
    let mut buf = vec![0u8; CHUNK];
    let ops = per_s(&mut || {
        let read = opener.open_reader(black_box(&sealed.envelope[..])).and_then(|mut reader| {
            reader.hash_released();
            while reader.read(&mut buf)? > 0 {}
            Ok(reader.md5())
        });
        black_box(read.ok());
    });
    report(
        "open-reader-md5-x25519-1k-ops",
        "Opener::open_reader + hash_released of 1 KiB to an X25519 identity, per second",
        ops,
    );
    Ok(())
}

/// DES-CBC with PKCS#7 on 64 KiB buffers, the `des` crate and esmtp-core's `FastDes`.
fn des_cbc(t: Duration) {
    let chunk = input(CHUNK);
    let mut des_buf = vec![0u8; CHUNK + 8];
    type Encrypt = fn(&mut [u8], usize) -> usize;
    type Decrypt = fn(&mut [u8]) -> Option<usize>;
    let impls: [(&str, &str, Encrypt, Decrypt); 2] = [
        ("", "des + cbc crates", des_cbc_encrypt_with::<Des>, des_cbc_decrypt_with::<Des>),
        (
            "-fast",
            "esmtp-core FastDes + cbc",
            des_cbc_encrypt_with::<FastDes>,
            des_cbc_decrypt_with::<FastDes>,
        ),
    ];
    let mut sealed = chunk.clone();
    sealed.resize(CHUNK + 8, 0);
    des_cbc_encrypt_with::<Des>(&mut sealed, CHUNK);
    for (suffix, what, encrypt, decrypt) in impls {
        let mb_s = throughput_mb_s(CHUNK, t, || {
            des_buf[..CHUNK].copy_from_slice(&chunk);
            black_box(encrypt(black_box(&mut des_buf), CHUNK));
        });
        report(
            &format!("des-cbc-64k{suffix}"),
            &format!("DES-CBC encrypt (PKCS#7), 64 KiB buffers ({what})"),
            mb_s,
        );
        let mb_s = throughput_mb_s(CHUNK, t, || {
            des_buf.copy_from_slice(&sealed);
            black_box(decrypt(black_box(&mut des_buf)));
        });
        report(
            &format!("des-cbc-decrypt-64k{suffix}"),
            &format!("DES-CBC decrypt (PKCS#7), 64 KiB buffers ({what})"),
            mb_s,
        );
    }
}

/// DES-CBC encryption of four 64 KiB chains side by side (`FastDes::cbc_encrypt_lanes`, as the
/// `des-cbc-md5` suite seals full chunks), against the one-chain rows of [`des_cbc`].
fn des_lanes(t: Duration) {
    use des::cipher::KeyInit;
    let des = FastDes::new(&[0x13, 0x34, 0x57, 0x79, 0x9B, 0xBC, 0xDF, 0xF1].into());
    let chunk = input(CHUNK);
    let mut chains = [chunk.clone(), chunk.clone(), chunk.clone(), chunk];
    let mb_s = throughput_mb_s(4 * CHUNK, t, || {
        des.cbc_encrypt_lanes([[0u8; 8]; 4], chains.each_mut().map(|c| &mut c[..]));
        black_box(&chains);
    });
    report(
        "des-cbc-64k-fast-x4",
        "DES-CBC encrypt, four 64 KiB chains side by side (esmtp-core FastDes)",
        mb_s,
    );
}

/// `Sealer::seal`, `Opener::open` and `Opener::open_reader` of 1 MiB and 16 MiB, both suites,
/// on one thread (`threads(1)`): the one-core figures.
fn api(t: Duration) -> Result<(), Box<dyn std::error::Error>> {
    for (size, label) in [(MIB, "1m"), (16 * MIB, "16m")] {
        let message = input(size);
        for suite in Suite::ALL {
            let name = suite.name();
            let sealer = Sealer::new().suite(suite).key_slip().threads(1);
            let mb_s = throughput_mb_s(message.len(), t, || {
                black_box(sealer.seal(black_box(&message)).map(|s| s.envelope.len()).unwrap_or(0));
            });
            report(
                &format!("seal-{name}-{label}"),
                &format!("Sealer::seal, {label}, {name}, one thread"),
                mb_s,
            );

            let sealed = sealer.seal(&message)?;
            let slip = sealed.key_slip.ok_or("no key slip")?;
            let opener = Opener::new().identity(slip).threads(1);
            let check = opener.open(&sealed.envelope)?;
            if check.plaintext() != &message[..] {
                return Err("round trip failed".into());
            }
            let mb_s = throughput_mb_s(message.len(), t, || {
                black_box(opener.open(black_box(&sealed.envelope)).map(|o| o.plaintext().len()).unwrap_or(0));
            });
            report(
                &format!("open-{name}-{label}"),
                &format!("Opener::open, {label}, {name}, one thread"),
                mb_s,
            );

            let mut read_buf = vec![0u8; CHUNK];
            let mb_s = throughput_mb_s(message.len(), t, || {
                black_box(stream_open(&opener, &sealed.envelope, &mut read_buf).unwrap_or(0));
            });
            report(
                &format!("open-reader-{name}-{label}"),
                &format!("Opener::open_reader, {label}, {name}, one thread"),
                mb_s,
            );
        }
    }
    Ok(())
}

/// Seal and open of 25 MiB, both suites, one-call and streaming, on one thread and on every
/// core, the two measured one after the other: `<op>-<suite>-25m-t1` and `-tN`.
fn cores(t: Duration) -> Result<(), Box<dyn std::error::Error>> {
    let all = std::thread::available_parallelism().map_or(1, |n| n.get());
    let message = input(25 * MIB);
    for suite in Suite::ALL {
        let name = suite.name();
        for threads in [1, all] {
            let sealer = Sealer::new().suite(suite).key_slip().threads(threads);
            let mb_s = throughput_mb_s(message.len(), t, || {
                black_box(sealer.seal(black_box(&message)).map(|s| s.envelope.len()).unwrap_or(0));
            });
            report(
                &format!("seal-{name}-25m-t{threads}"),
                &format!("Sealer::seal, 25 MiB, {name}, {threads} thread(s)"),
                mb_s,
            );
            let sealed = sealer.seal(&message)?;
            let slip = sealed.key_slip.ok_or("no key slip")?;
            let opener = Opener::new().identity(slip).threads(threads);
            let mb_s = throughput_mb_s(message.len(), t, || {
                black_box(opener.open(black_box(&sealed.envelope)).map(|o| o.plaintext().len()).unwrap_or(0));
            });
            report(
                &format!("open-{name}-25m-t{threads}"),
                &format!("Opener::open, 25 MiB, {name}, {threads} thread(s)"),
                mb_s,
            );
            let mb_s = throughput_mb_s(message.len(), t, || {
                if let Ok(mut writer) = sealer.seal_writer(io::sink()) {
                    black_box(writer.write_all(black_box(&message)).and_then(|()| writer.finish()).is_ok());
                }
            });
            report(
                &format!("seal-writer-{name}-25m-t{threads}"),
                &format!("Sealer::seal_writer, 25 MiB, {name}, {threads} thread(s)"),
                mb_s,
            );
            let mut read_buf = vec![0u8; CHUNK];
            let mb_s = throughput_mb_s(message.len(), t, || {
                black_box(stream_open(&opener, &sealed.envelope, &mut read_buf).unwrap_or(0));
            });
            report(
                &format!("open-reader-{name}-25m-t{threads}"),
                &format!("Opener::open_reader, 25 MiB, {name}, {threads} thread(s)"),
                mb_s,
            );
        }
    }
    Ok(())
}
