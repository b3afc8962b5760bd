//! The HTTP client agents and the CLI use to reach the controller: plain HTTP on a trusted
//! network, or HTTPS — trusting the system's roots plus an optional CA file (a site's own CA),
//! and presenting a client certificate when the controller requires one. rustls on the ring
//! provider, installed once per process.

use std::path::{Path, PathBuf};
use std::time::Duration;

/// TLS settings of a client.
#[derive(Debug, Clone, Default)]
pub struct ClientTls {
    /// PEM file of CA certificates to trust besides the system's (the controller's CA).
    pub ca_file: Option<PathBuf>,
    /// PEM client certificate (chain) and its private key, presented to the controller.
    pub client_cert: Option<PathBuf>,
    pub client_key: Option<PathBuf>,
}

/// Why a client could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("{path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{path}: {message}")]
    Pem { path: PathBuf, message: String },
    #[error("client certificate and key go together: {0} is set without the other")]
    HalfIdentity(&'static str),
    #[error("HTTP client: {0}")]
    Build(String),
}

fn read(path: &Path) -> Result<Vec<u8>, ClientError> {
    std::fs::read(path).map_err(|source| ClientError::Read { path: path.to_owned(), source })
}

/// Make ring the process's TLS provider (a no-op when one is installed already).
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// A blocking client with these TLS settings; `timeout` bounds each request (`None`: no bound).
pub fn client(tls: &ClientTls, timeout: Option<Duration>) -> Result<reqwest::blocking::Client, ClientError> {
    install_crypto_provider();
    let mut builder = reqwest::blocking::Client::builder().connect_timeout(Duration::from_secs(10)).timeout(timeout);
    if let Some(ca) = &tls.ca_file {
        let pem = read(ca)?;
        let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| ClientError::Pem { path: ca.clone(), message: e.to_string() })?;
        if certs.is_empty() {
            return Err(ClientError::Pem { path: ca.clone(), message: "no certificate in it".into() });
        }
        for c in certs {
            builder = builder.add_root_certificate(c);
        }
    }
    match (&tls.client_cert, &tls.client_key) {
        (Some(cert), Some(key)) => {
            let mut pem = read(cert)?;
            pem.push(b'\n');
            pem.extend(read(key)?);
            let identity = reqwest::Identity::from_pem(&pem).map_err(|e| ClientError::Pem { path: cert.clone(), message: e.to_string() })?;
            builder = builder.identity(identity);
        }
        (Some(_), None) => return Err(ClientError::HalfIdentity("the client certificate")),
        (None, Some(_)) => return Err(ClientError::HalfIdentity("the client key")),
        (None, None) => {}
    }
    builder.build().map_err(|e| ClientError::Build(e.to_string()))
}
