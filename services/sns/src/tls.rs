//! TLS for deliveries to `https://` subscribers (cargo feature `https`, on by default).
//!
//! **Certificates are not verified by default.** nephos runs on developer machines and in
//! CI, where the HTTPS endpoints SNS delivers to are local test servers with self-signed
//! certificates; refusing them would make HTTPS subscriptions useless there, and nothing
//! secret travels (the messages are the developer's own test data). The connection is
//! still real TLS: handshake signatures are checked, only the certificate chain and the
//! host name are not. Setting `NEPHOS_SNS_VERIFY_TLS=1` turns verification on against
//! Mozilla's root certificates compiled into the binary (`webpki-roots`: no system files,
//! no extra build step, the same result on every machine), plus the PEM certificates in
//! the file `NEPHOS_SNS_TLS_CA_FILE` names, if any (a private CA). A certificate that
//! fails verification fails the delivery like an unreachable endpoint: retried per the
//! delivery policy, then dead-lettered.
//!
//! rustls runs on the `ring` provider (aws-lc-rs needs cmake and a long C build).

#[cfg(feature = "https")]
mod imp {
    use std::sync::{Arc, OnceLock};
    use tokio::net::TcpStream;
    use tokio_rustls::TlsConnector;
    use tokio_rustls::client::TlsStream;
    use tokio_rustls::rustls::client::danger::{
        HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier,
    };
    use tokio_rustls::rustls::crypto::{
        WebPkiSupportedAlgorithms, ring, verify_tls12_signature, verify_tls13_signature,
    };
    use tokio_rustls::rustls::pki_types::pem::PemObject;
    use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName, UnixTime};
    use tokio_rustls::rustls::{
        ClientConfig, DigitallySignedStruct, Error, RootCertStore, SignatureScheme,
    };

    /// Accepts any certificate chain, but still checks that the server holds the key of
    /// the certificate it presented.
    #[derive(Debug)]
    struct AcceptAnyCertificate(WebPkiSupportedAlgorithms);

    impl ServerCertVerifier for AcceptAnyCertificate {
        fn verify_server_cert(
            &self,
            _end_entity: &CertificateDer<'_>,
            _intermediates: &[CertificateDer<'_>],
            _server_name: &ServerName<'_>,
            _ocsp_response: &[u8],
            _now: UnixTime,
        ) -> Result<ServerCertVerified, Error> {
            Ok(ServerCertVerified::assertion())
        }

        fn verify_tls12_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, Error> {
            verify_tls12_signature(message, cert, dss, &self.0)
        }

        fn verify_tls13_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, Error> {
            verify_tls13_signature(message, cert, dss, &self.0)
        }

        fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
            self.0.supported_schemes()
        }
    }

    fn verify_requested() -> bool {
        std::env::var("NEPHOS_SNS_VERIFY_TLS")
            .is_ok_and(|v| matches!(v.to_ascii_lowercase().as_str(), "1" | "true" | "yes"))
    }

    fn build() -> Result<Arc<ClientConfig>, String> {
        let provider = Arc::new(ring::default_provider());
        let algorithms = provider.signature_verification_algorithms;
        let builder = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?;
        let config = if verify_requested() {
            let mut roots =
                RootCertStore::from_iter(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
            if let Ok(file) = std::env::var("NEPHOS_SNS_TLS_CA_FILE") {
                for cert in CertificateDer::pem_file_iter(&file)
                    .map_err(|e| format!("NEPHOS_SNS_TLS_CA_FILE {file}: {e}"))?
                {
                    let cert = cert.map_err(|e| format!("NEPHOS_SNS_TLS_CA_FILE {file}: {e}"))?;
                    roots
                        .add(cert)
                        .map_err(|e| format!("NEPHOS_SNS_TLS_CA_FILE {file}: {e}"))?;
                }
            }
            builder.with_root_certificates(roots).with_no_client_auth()
        } else {
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(AcceptAnyCertificate(algorithms)))
                .with_no_client_auth()
        };
        Ok(Arc::new(config))
    }

    /// One client configuration per process (the environment is read once).
    fn config() -> Result<Arc<ClientConfig>, String> {
        static CONFIG: OnceLock<Result<Arc<ClientConfig>, String>> = OnceLock::new();
        CONFIG.get_or_init(build).clone()
    }

    pub async fn connect(host: &str, tcp: TcpStream) -> Result<TlsStream<TcpStream>, String> {
        let name = ServerName::try_from(host.to_owned())
            .map_err(|e| format!("invalid TLS server name {host}: {e}"))?;
        TlsConnector::from(config()?)
            .connect(name, tcp)
            .await
            .map_err(|e| format!("TLS handshake with {host}: {e}"))
    }
}

#[cfg(feature = "https")]
pub use imp::connect;

/// Without the `https` feature, deliveries to `https://` fail as an unreachable endpoint
/// would (retried, then dead-lettered), never silently succeed.
#[cfg(not(feature = "https"))]
pub async fn connect(
    _host: &str,
    _tcp: tokio::net::TcpStream,
) -> Result<tokio::net::TcpStream, String> {
    Err("nephos was built without the `https` feature: no TLS client".to_owned())
}
