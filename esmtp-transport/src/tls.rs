//! TLS trust, built once per account: Mozilla's roots plus the account's extra CAs, parsed when
//! the account is built, with certificate and host-name verification always on. SMTP, IMAP and
//! POP3 all start their TLS sessions from it.

use std::sync::Arc;

use rustls::{ClientConnection, RootCertStore};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName};

use crate::error::{Error, ErrorKind, Result};

/// Whom TLS sessions trust: a ready rustls client configuration, shared by every session.
#[derive(Clone)]
pub(crate) struct Trust {
    config: Arc<rustls::ClientConfig>,
    dangerous: bool,
}

impl std::fmt::Debug for Trust {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Trust")
            .field("dangerous_accept_invalid_certs", &self.dangerous)
            .finish_non_exhaustive()
    }
}

/// Every certificate in a PEM text; an error when there is none.
fn parse_pem_roots(pem: &[u8]) -> Result<Vec<CertificateDer<'static>>> {
    let certs: Vec<_> = CertificateDer::pem_slice_iter(pem)
        .collect::<std::result::Result<_, _>>()
        .map_err(|_| Error::new(ErrorKind::Config, "the CA file is not valid PEM"))?;
    if certs.is_empty() {
        return Err(Error::new(ErrorKind::Config, "the CA file holds no certificate"));
    }
    Ok(certs)
}

impl Trust {
    /// Mozilla's roots and the certificates of `extra_pems`; with `accept_invalid` any
    /// certificate (the `dangerous_accept_invalid_certs` escape hatch).
    pub(crate) fn new(extra_pems: &[Vec<u8>], accept_invalid: bool) -> Result<Self> {
        let mut roots = RootCertStore::empty();
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        for pem in extra_pems {
            for cert in parse_pem_roots(pem)? {
                roots.add(cert).map_err(|e| {
                    Error::new(ErrorKind::Config, "a CA certificate was rejected").with_source(e)
                })?;
            }
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| Error::new(ErrorKind::Tls, "TLS setup failed").with_source(e))?;
        let config = if accept_invalid {
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(danger::AcceptAny(provider)))
                .with_no_client_auth()
        } else {
            builder.with_root_certificates(roots).with_no_client_auth()
        };
        Ok(Trust { config: Arc::new(config), dangerous: accept_invalid })
    }

    /// A client session for `host`, whose certificate must name it.
    pub(crate) fn client(&self, host: &str) -> Result<ClientConnection> {
        let name = ServerName::try_from(host.to_string()).map_err(|e| {
            Error::new(ErrorKind::Config, format!("invalid server name {host}")).with_source(e)
        })?;
        ClientConnection::new(self.config.clone(), name)
            .map_err(|e| Error::new(ErrorKind::Tls, "TLS setup failed").with_source(e))
    }
}

mod danger {
    use rustls::DigitallySignedStruct;
    use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
    use rustls::crypto::CryptoProvider;
    use rustls_pki_types::{CertificateDer, ServerName, UnixTime};
    use std::sync::Arc;

    /// Only behind `dangerous_accept_invalid_certs`: signatures are still checked, so the session
    /// is encrypted, but nobody vouches for whom to.
    #[derive(Debug)]
    pub(super) struct AcceptAny(pub(super) Arc<CryptoProvider>);

    impl ServerCertVerifier for AcceptAny {
        fn verify_server_cert(
            &self,
            _: &CertificateDer<'_>,
            _: &[CertificateDer<'_>],
            _: &ServerName<'_>,
            _: &[u8],
            _: UnixTime,
        ) -> Result<ServerCertVerified, rustls::Error> {
            Ok(ServerCertVerified::assertion())
        }

        fn verify_tls12_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            rustls::crypto::verify_tls12_signature(
                message,
                cert,
                dss,
                &self.0.signature_verification_algorithms,
            )
        }

        fn verify_tls13_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            rustls::crypto::verify_tls13_signature(
                message,
                cert,
                dss,
                &self.0.signature_verification_algorithms,
            )
        }

        fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
            self.0.signature_verification_algorithms.supported_schemes()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pem_without_certificates_is_a_config_error() {
        assert_eq!(Trust::new(&[b"not pem".to_vec()], false).unwrap_err().kind(), ErrorKind::Config);
        assert!(Trust::new(&[], false).is_ok());
        assert_eq!(
            Trust::new(&[], false).unwrap().client("bad name!").unwrap_err().kind(),
            ErrorKind::Config
        );
    }
}
