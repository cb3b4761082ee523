//! Criterion benches of esmtp-core's public API: `Sealer::seal` / `Opener::open` throughput for
//! both suites at 1 KiB .. 16 MiB (key-slip recipient, so the header costs next to nothing), the
//! header cost of an x25519 and a passphrase recipient, streaming, and the hash tool.
//!
//! `cargo bench -p esmtp-benches --bench api -- --warm-up-time 1 --measurement-time 3`

use std::cell::OnceCell;
use std::hint::black_box;
use std::io::{self, Read, Write};
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, SamplingMode, Throughput, criterion_group, criterion_main};
use esmtp_benches::{CHUNK, MIB, SIZES, input};
use esmtp_core::hash::{HashAlgorithm, digest};
use esmtp_core::{Opener, Passphrase, Sealer, Suite, X25519Identity};

/// Flat sampling and the minimum sample count for inputs of 1 MiB and more: at DES speed a
/// 16 MiB seal takes most of a second, and linear sampling would need 55 of them.
fn configure_for(group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>, len: usize) {
    if len >= MIB {
        group.sampling_mode(SamplingMode::Flat).sample_size(10);
    } else {
        group.sampling_mode(SamplingMode::Auto).sample_size(30);
    }
}

fn seal_open(c: &mut Criterion) {
    let messages: Vec<(Vec<u8>, &str)> = SIZES.iter().map(|&(len, label)| (input(len), label)).collect();

    let mut group = c.benchmark_group("seal");
    for suite in Suite::ALL {
        let sealer = Sealer::new().suite(suite).key_slip();
        for (message, label) in &messages {
            configure_for(&mut group, message.len());
            group.throughput(Throughput::Bytes(message.len() as u64));
            group.bench_with_input(BenchmarkId::new(suite.name(), label), message, |b, m| {
                b.iter(|| sealer.seal(black_box(m)).map(|s| s.envelope));
            });
        }
    }
    group.finish();

    let mut group = c.benchmark_group("open");
    for suite in Suite::ALL {
        for (message, label) in &messages {
            // Sealed on first use, so a filtered run (`-- open/chacha`) does not seal everything.
            let setup = OnceCell::new();
            configure_for(&mut group, message.len());
            group.throughput(Throughput::Bytes(message.len() as u64));
            group.bench_with_input(BenchmarkId::new(suite.name(), label), message, |b, m| {
                let (envelope, opener) = setup.get_or_init(|| sealed_with_slip(suite, m));
                b.iter(|| opener.open(black_box(envelope)));
            });
        }
    }
    group.finish();
}

/// `message` sealed with a key slip, and an opener holding that slip (checked to round-trip).
fn sealed_with_slip(suite: Suite, message: &[u8]) -> (Vec<u8>, Opener) {
    let sealed = Sealer::new().suite(suite).key_slip().seal(message).expect("seal");
    let opener = Opener::new().identity(sealed.key_slip.expect("key slip"));
    assert_eq!(opener.open(&sealed.envelope).expect("open").plaintext(), message);
    (sealed.envelope, opener)
}

/// Seal and open of an empty message: what one recipient stanza costs.
fn header(c: &mut Criterion) {
    let mut group = c.benchmark_group("header");
    group.sample_size(30);

    let slip_sealer = Sealer::new().key_slip();
    group.bench_function("seal/key-slip", |b| b.iter(|| slip_sealer.seal(black_box(b""))));
    let sealed = slip_sealer.seal(b"").expect("seal");
    let slip_opener = Opener::new().identity(sealed.key_slip.expect("key slip"));
    group.bench_function("open/key-slip", |b| b.iter(|| slip_opener.open(black_box(&sealed.envelope))));

    let bob = X25519Identity::generate().expect("x25519 key");
    let x_sealer = Sealer::new().recipient(bob.to_public());
    group.bench_function("seal/x25519", |b| b.iter(|| x_sealer.seal(black_box(b""))));
    let envelope = x_sealer.seal(b"").expect("seal").envelope;
    let x_opener = Opener::new().identity(bob);
    group.bench_function("open/x25519", |b| b.iter(|| x_opener.open(black_box(&envelope))));

    // The default cost: Argon2id, 19 MiB, t=2, p=1; tens of milliseconds per call.
    group.sampling_mode(SamplingMode::Flat).sample_size(10);
    let passphrase = Passphrase::new("correct horse battery staple");
    let p_sealer = Sealer::new().recipient(passphrase.clone());
    group.bench_function("seal/passphrase-argon2id-19MiB-t2", |b| b.iter(|| p_sealer.seal(black_box(b""))));
    let envelope = p_sealer.seal(b"").expect("seal").envelope;
    let p_opener = Opener::new().identity(passphrase);
    group.bench_function("open/passphrase-argon2id-19MiB-t2", |b| {
        b.iter(|| p_opener.open(black_box(&envelope)))
    });
    group.finish();
}

/// `seal_writer` / `open_reader` over 16 MiB, in 64 KiB writes and reads, to a sink.
fn streaming(c: &mut Criterion) {
    let message = input(16 * MIB);
    let mut group = c.benchmark_group("stream");
    group.sampling_mode(SamplingMode::Flat).sample_size(10);
    group.throughput(Throughput::Bytes(message.len() as u64));
    for suite in Suite::ALL {
        let sealer = Sealer::new().suite(suite).key_slip();
        group.bench_function(BenchmarkId::new("seal_writer", format!("{}/16MiB", suite.name())), |b| {
            b.iter(|| {
                let mut writer = sealer.seal_writer(io::sink()).expect("header");
                for piece in message.chunks(CHUNK) {
                    writer.write_all(piece).expect("write");
                }
                writer.finish().expect("finish")
            });
        });

        let setup = OnceCell::new();
        let mut buf = vec![0u8; CHUNK];
        group.bench_function(BenchmarkId::new("open_reader", format!("{}/16MiB", suite.name())), |b| {
            let (envelope, opener) = setup.get_or_init(|| sealed_with_slip(suite, &message));
            b.iter(|| {
                let mut reader = opener.open_reader(black_box(&envelope[..])).expect("header");
                let mut total = 0;
                loop {
                    let n = reader.read(&mut buf).expect("read");
                    if n == 0 {
                        break;
                    }
                    total += n;
                }
                assert_eq!(total, message.len());
            });
        });
    }
    group.finish();
}

fn hash(c: &mut Criterion) {
    let message = input(16 * MIB);
    let mut group = c.benchmark_group("hash");
    group.sampling_mode(SamplingMode::Flat).sample_size(10);
    group.throughput(Throughput::Bytes(message.len() as u64));
    for algorithm in [HashAlgorithm::Md5, HashAlgorithm::Sha256] {
        group.bench_function(BenchmarkId::new(algorithm.name(), "16MiB"), |b| {
            b.iter(|| digest(algorithm, black_box(&message)));
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = seal_open, header, streaming, hash
}
criterion_main!(benches);
