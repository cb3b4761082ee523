//! The wire tests' own certificates, made with openssl (as `scripts/mail-lab` makes the lab's)
//! once per test run, never in the lab's config: a CA, a valid certificate for 127.0.0.1 and
//! localhost, and an expired one for the same names from the same CA, so that expiry is the
//! only thing wrong with it. Also the rustls configurations the proxies use.

use std::path::Path;
use std::process::Command;
use std::sync::{Arc, OnceLock};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::{ClientConfig, RootCertStore, ServerConfig};

pub struct Certs {
    /// The CA a client must trust to accept the proxies.
    pub ca_pem: Vec<u8>,
    valid: (Vec<u8>, Vec<u8>),
    expired: (Vec<u8>, Vec<u8>),
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl").args(args).current_dir(dir).output().expect("openssl runs");
    assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

fn make(dir: &Path) -> Certs {
    std::fs::create_dir_all(dir.join("db")).unwrap();
    let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];
    let mut ca = vec!["req", "-x509", "-new", "-keyout", "ca.key", "-out", "ca.crt", "-days", "30"];
    ca.extend(ec);
    ca.extend(["-subj", "/CN=esmtp wire test CA", "-addext", "basicConstraints=critical,CA:TRUE"]);
    ca.extend(["-addext", "keyUsage=critical,keyCertSign,cRLSign"]);
    openssl(dir, &ca);
    let mut csr = vec!["req", "-new", "-keyout", "leaf.key", "-out", "leaf.csr", "-subj", "/CN=localhost"];
    csr.extend(ec);
    csr.extend(["-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"]);
    csr.extend(["-addext", "extendedKeyUsage=serverAuth"]);
    openssl(dir, &csr);
    // `openssl ca` sets both dates, so the expired certificate ended in 2020, long ago.
    std::fs::write(
        dir.join("ca.cnf"),
        "[ca]\ndefault_ca = wire\n[wire]\ndatabase = db/index.txt\nnew_certs_dir = db\nserial = db/serial\n\
         default_md = sha256\npolicy = any\ncopy_extensions = copy\nunique_subject = no\n[any]\ncommonName = supplied\n",
    )
    .unwrap();
    std::fs::write(dir.join("db/index.txt"), "").unwrap();
    std::fs::write(dir.join("db/serial"), "1000\n").unwrap();
    let sign = |out: &str, start: &str, end: &str| {
        openssl(
            dir,
            &[
                "ca",
                "-batch",
                "-notext",
                "-config",
                "ca.cnf",
                "-cert",
                "ca.crt",
                "-keyfile",
                "ca.key",
                "-in",
                "leaf.csr",
                "-out",
                out,
                "-startdate",
                start,
                "-enddate",
                end,
            ],
        )
    };
    sign("expired.crt", "20200101000000Z", "20200201000000Z");
    sign("valid.crt", "20200101000000Z", "20991231000000Z");
    let read = |name: &str| std::fs::read(dir.join(name)).unwrap();
    Certs {
        ca_pem: read("ca.crt"),
        valid: (read("valid.crt"), read("leaf.key")),
        expired: (read("expired.crt"), read("leaf.key")),
    }
}

/// The certificates, made on first use.
pub fn certs() -> &'static Certs {
    static CERTS: OnceLock<Certs> = OnceLock::new();
    CERTS.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("esmtp-wire-certs-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let certs = make(&dir);
        let _ = std::fs::remove_dir_all(&dir);
        certs
    })
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn server_config((cert, key): &(Vec<u8>, Vec<u8>)) -> Arc<ServerConfig> {
    let chain: Vec<CertificateDer<'static>> =
        CertificateDer::pem_slice_iter(cert).collect::<Result<_, _>>().expect("certificate PEM");
    let key = PrivateKeyDer::from_pem_slice(key).expect("key PEM");
    let config = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .expect("a usable certificate");
    Arc::new(config)
}

impl Certs {
    /// A TLS server with the valid certificate.
    pub fn valid_server(&self) -> Arc<ServerConfig> {
        server_config(&self.valid)
    }

    /// A TLS server with the expired certificate.
    pub fn expired_server(&self) -> Arc<ServerConfig> {
        server_config(&self.expired)
    }
}

/// A TLS client that trusts the lab CA (the proxies' side towards the lab).
pub fn lab_client(lab_ca_pem: &[u8]) -> Arc<ClientConfig> {
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(lab_ca_pem) {
        roots.add(cert.expect("lab CA PEM")).unwrap();
    }
    let config = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    Arc::new(config)
}
