//! Criterion benches of the raw primitives under the cipher suites, on 64 KiB buffers (the chunk
//! size): ChaCha20-Poly1305 seal and open in place for every implementation compiled in
//! (RustCrypto always, `ring` and `aws-lc-rs` with the features of those names), DES-CBC with
//! PKCS#7 (the `des` crate and esmtp-core's `FastDes`), and MD5.
//!
//! `cargo bench -p esmtp-benches --features ring,aws-lc-rs --bench primitives -- --warm-up-time 1 --measurement-time 3`

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use des::Des;
use esmtp_benches::{CHUNK, FastDes, chacha_impls, des_cbc_decrypt_with, des_cbc_encrypt_with, input, md5};

fn chacha20_poly1305(c: &mut Criterion) {
    let plain = input(CHUNK);
    let mut group = c.benchmark_group("chacha20-poly1305/64KiB");
    group.throughput(Throughput::Bytes(CHUNK as u64));
    for aead in chacha_impls([0x42; 32]) {
        let mut buf = plain.clone();
        group.bench_function(BenchmarkId::new("seal", aead.name()), |b| {
            b.iter(|| aead.seal_in_place(0, black_box(&mut buf)));
        });

        // Open needs a valid tag: seal once, then decrypt a fresh copy of the ciphertext each
        // time (the copy, a memcpy of 64 KiB, is included and costs about 1% here).
        let mut sealed = plain.clone();
        let tag = aead.seal_in_place(0, &mut sealed);
        group.bench_function(BenchmarkId::new("open", aead.name()), |b| {
            b.iter(|| {
                buf.copy_from_slice(&sealed);
                assert!(aead.open_in_place(0, black_box(&mut buf), &tag));
            });
        });
    }
    group.finish();
}

fn des_cbc(c: &mut Criterion) {
    let plain = input(CHUNK);
    let mut group = c.benchmark_group("des-cbc-pkcs7/64KiB");
    group.throughput(Throughput::Bytes(CHUNK as u64));
    let mut buf = vec![0u8; CHUNK + 8];
    let mut sealed = plain.clone();
    sealed.resize(CHUNK + 8, 0);
    des_cbc_encrypt_with::<Des>(&mut sealed, CHUNK);
    type Encrypt = fn(&mut [u8], usize) -> usize;
    type Decrypt = fn(&mut [u8]) -> Option<usize>;
    let impls: [(&str, Encrypt, Decrypt); 2] = [
        ("des", des_cbc_encrypt_with::<Des>, des_cbc_decrypt_with::<Des>),
        ("fast", des_cbc_encrypt_with::<FastDes>, des_cbc_decrypt_with::<FastDes>),
    ];
    for (name, encrypt, decrypt) in impls {
        group.bench_function(BenchmarkId::new("encrypt", name), |b| {
            b.iter(|| {
                buf[..CHUNK].copy_from_slice(&plain);
                encrypt(black_box(&mut buf), CHUNK)
            });
        });
        group.bench_function(BenchmarkId::new("decrypt", name), |b| {
            b.iter(|| {
                buf.copy_from_slice(&sealed);
                decrypt(black_box(&mut buf))
            });
        });
    }
    group.finish();
}

fn md5_64k(c: &mut Criterion) {
    let plain = input(CHUNK);
    let mut group = c.benchmark_group("md5/64KiB");
    group.throughput(Throughput::Bytes(CHUNK as u64));
    group.bench_function("md-5", |b| b.iter(|| md5(black_box(&plain))));
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(30);
    targets = chacha20_poly1305, des_cbc, md5_64k
}
criterion_main!(benches);
