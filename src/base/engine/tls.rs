//! The cluster's mutual TLS. A cluster has its own certificate authority;
//! its scheduler, executors and drivers each hold a certificate it signed
//! (`credence cluster certs` makes the set), and every connection between
//! them is encrypted and accepted only from a holder of such a
//! certificate: a plan sent to a node can read and write its files, so an
//! unknown peer is refused before it can send one.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use ballista_core::extension::EndpointOverrideFn;
use ballista_core::utils::{create_grpc_client_endpoint, GrpcClientConfig};
use tonic::transport::{Certificate, ClientTlsConfig, Endpoint, Identity, ServerTlsConfig};

/// The name every node's certificate is issued to and checked against
/// (nodes are reached by address; the name is the cluster's, not a host's).
pub const CLUSTER_NAME: &str = "credence-cluster";

/// The environment variable naming the certificates' folder, for a driver
/// (`run --engine ballista://…`) and the cluster's processes alike.
pub const TLS_ENV: &str = "CREDENCE_CLUSTER_TLS";

/// The authority's certificate, which every node trusts.
const CA_FILE: &str = "ca.pem";
/// The node's certificate, signed by the authority.
const CERT_FILE: &str = "node.pem";
/// The node's private key.
const KEY_FILE: &str = "node.key";

/// How long the certificates `credence cluster certs` makes are valid.
const VALID_DAYS: i64 = 730;

/// The cluster's certificates could not be read, made or used.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("the cluster's certificates are needed: set {TLS_ENV} to the folder `credence cluster certs` wrote (every connection to the cluster is mutual TLS)")]
    NotGiven,
    #[error("the cluster's certificates: reading {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error(
        "the cluster's certificates: {path} holds no PEM {what} (expected the file `credence cluster certs` wrote)"
    )]
    NotPem { path: PathBuf, what: &'static str },
    #[error("the cluster's certificates in {dir} cannot be used: {reason}")]
    Unusable { dir: PathBuf, reason: String },
    #[error("the cluster's certificates: {path} already exists; certificates are never overwritten (remove the folder's files to make new ones)")]
    Exists { path: PathBuf },
    #[error("the cluster's certificates: writing {path}: {source}")]
    Write { path: PathBuf, source: std::io::Error },
    #[error("the cluster's certificates could not be made: {0}")]
    Make(#[from] rcgen::Error),
}

/// A node's side of the cluster's mutual TLS: the authority it trusts and
/// the certificate and key it shows (never printed: `Debug` names the
/// folder alone).
#[derive(Clone)]
pub struct ClusterTls {
    dir: PathBuf,
    ca: Certificate,
    identity: Identity,
}

impl std::fmt::Debug for ClusterTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClusterTls").field("dir", &self.dir).finish_non_exhaustive()
    }
}

impl ClusterTls {
    /// Reads the folder `credence cluster certs` wrote, and checks that
    /// its files make a working TLS configuration.
    pub fn load(dir: &Path) -> Result<ClusterTls, TlsError> {
        let read = |file: &str, what: &'static str, marker: &str| {
            let path = dir.join(file);
            let pem = std::fs::read(&path).map_err(|source| TlsError::Read { path: path.clone(), source })?;
            match String::from_utf8_lossy(&pem).contains(marker) {
                true => Ok(pem),
                false => Err(TlsError::NotPem { path, what }),
            }
        };
        let ca = read(CA_FILE, "certificate", "-----BEGIN CERTIFICATE-----")?;
        let cert = read(CERT_FILE, "certificate", "-----BEGIN CERTIFICATE-----")?;
        let key = read(KEY_FILE, "private key", "PRIVATE KEY-----")?;
        let tls = ClusterTls {
            dir: dir.to_path_buf(),
            ca: Certificate::from_pem(ca),
            identity: Identity::from_pem(cert, key),
        };
        // Both halves built once here, so that a bad file is told now and
        // not at a node's first connection.
        let unusable = |e: tonic::transport::Error| TlsError::Unusable { dir: dir.to_path_buf(), reason: full(&e) };
        tonic::transport::Server::builder().tls_config(tls.server()).map_err(unusable)?;
        Endpoint::from_static("https://127.0.0.1:1").tls_config(tls.client()).map_err(unusable)?;
        Ok(tls)
    }

    /// The certificates in the folder [`TLS_ENV`] names; none is an error
    /// (a cluster is never reached in the clear).
    pub fn from_env() -> Result<ClusterTls, TlsError> {
        match std::env::var_os(TLS_ENV) {
            Some(dir) if !dir.is_empty() => ClusterTls::load(Path::new(&dir)),
            _ => Err(TlsError::NotGiven),
        }
    }

    /// Where the certificates were read from.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// A server's side: it shows the node's certificate and requires the
    /// client's, signed by the cluster's authority.
    pub fn server(&self) -> ServerTlsConfig {
        ServerTlsConfig::new().identity(self.identity.clone()).client_ca_root(self.ca.clone())
    }

    /// A client's side: it trusts only the cluster's authority, checks the
    /// server's certificate against [`CLUSTER_NAME`], and shows its own.
    pub fn client(&self) -> ClientTlsConfig {
        ClientTlsConfig::new().ca_certificate(self.ca.clone()).identity(self.identity.clone()).domain_name(CLUSTER_NAME)
    }

    /// What Ballista calls on every gRPC endpoint it makes (to the
    /// scheduler, to an executor's Flight service): TLS with
    /// [`ClusterTls::client`]. Ballista names some endpoints `http://`
    /// whatever its settings say; they are made again as `https://`.
    pub fn endpoint_override(&self) -> EndpointOverrideFn {
        let client = self.client();
        Arc::new(move |endpoint: Endpoint| {
            let endpoint = match endpoint.uri().scheme_str() {
                Some("https") => endpoint,
                _ => {
                    let authority = endpoint.uri().authority().ok_or("a gRPC endpoint without an address")?;
                    create_grpc_client_endpoint(format!("https://{authority}"), Some(&GrpcClientConfig::default()))?
                }
            };
            Ok(endpoint.tls_config(client.clone())?)
        })
    }
}

/// Writes a new cluster's certificates into `dir`: the authority's
/// certificate, and one node certificate and key that every node of the
/// cluster is given. The authority's key is not kept: a cluster that needs
/// new certificates gets a new set, given to all its nodes at once.
pub fn make(dir: &Path, today: chrono::NaiveDate) -> Result<(), TlsError> {
    use chrono::Datelike;
    use rcgen::{
        BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose,
    };

    let paths = [CA_FILE, CERT_FILE, KEY_FILE].map(|f| dir.join(f));
    if let Some(path) = paths.iter().find(|p| p.exists()) {
        return Err(TlsError::Exists { path: path.clone() });
    }
    let day = |d: chrono::NaiveDate| rcgen::date_time_ymd(d.year(), d.month() as u8, d.day() as u8);
    // A day's leeway for clocks that differ.
    let from = day(today - chrono::Days::new(1));
    let until = day(today + chrono::Duration::days(VALID_DAYS));

    let ca_key = KeyPair::generate()?;
    let mut ca = CertificateParams::new(Vec::<String>::new())?;
    ca.distinguished_name.push(DnType::CommonName, "credence cluster authority");
    ca.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    (ca.not_before, ca.not_after) = (from, until);
    let ca_cert = ca.self_signed(&ca_key)?;

    let node_key = KeyPair::generate()?;
    let mut node = CertificateParams::new(vec![CLUSTER_NAME.to_string()])?;
    node.distinguished_name.push(DnType::CommonName, CLUSTER_NAME);
    node.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    node.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth, ExtendedKeyUsagePurpose::ClientAuth];
    (node.not_before, node.not_after) = (from, until);
    let node_cert = node.signed_by(&node_key, &Issuer::new(ca, ca_key))?;

    std::fs::create_dir_all(dir).map_err(|source| TlsError::Write { path: dir.to_path_buf(), source })?;
    let [ca_path, cert_path, key_path] = paths;
    write_new(&ca_path, ca_cert.pem().as_bytes(), 0o644)?;
    write_new(&cert_path, node_cert.pem().as_bytes(), 0o644)?;
    write_new(&key_path, node_key.serialize_pem().as_bytes(), 0o600)
}

/// Writes a file that must not exist yet, readable as `mode` says.
fn write_new(path: &Path, bytes: &[u8], mode: u32) -> Result<(), TlsError> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let err = |source| TlsError::Write { path: path.to_path_buf(), source };
    let mut file = std::fs::OpenOptions::new().write(true).create_new(true).mode(mode).open(path).map_err(err)?;
    file.write_all(bytes).and_then(|()| file.sync_all()).map_err(err)
}

/// An error and its sources on one line (tonic's own message is terse).
pub(super) fn full(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let said = s.to_string();
        if !text.contains(&said) {
            text.push_str(": ");
            text.push_str(&said);
        }
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn today() -> chrono::NaiveDate {
        chrono::NaiveDate::from_ymd_opt(2026, 12, 5).unwrap()
    }

    #[test]
    fn made_certificates_load_and_are_never_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        make(dir.path(), today()).unwrap();
        let tls = ClusterTls::load(dir.path()).unwrap();
        assert_eq!(tls.dir(), dir.path());
        let key = std::fs::read_to_string(dir.path().join(KEY_FILE)).unwrap();
        let body = key.lines().nth(1).unwrap();
        assert!(!format!("{tls:?}").contains(body), "the key is never printed");
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join(KEY_FILE)).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "the key is the owner's alone");
        let before = std::fs::read(dir.path().join(KEY_FILE)).unwrap();
        assert!(matches!(make(dir.path(), today()), Err(TlsError::Exists { .. })));
        assert_eq!(std::fs::read(dir.path().join(KEY_FILE)).unwrap(), before);
    }

    #[test]
    fn a_missing_or_foreign_file_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let e = ClusterTls::load(dir.path()).unwrap_err();
        assert!(matches!(&e, TlsError::Read { path, .. } if path.ends_with(CA_FILE)), "{e}");
        make(dir.path(), today()).unwrap();
        std::fs::write(dir.path().join(KEY_FILE), "not a key").unwrap();
        let e = ClusterTls::load(dir.path()).unwrap_err();
        assert!(matches!(&e, TlsError::NotPem { path, .. } if path.ends_with(KEY_FILE)), "{e}");
    }

    #[test]
    fn a_key_that_is_not_the_certificates_is_refused() {
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        make(a.path(), today()).unwrap();
        make(b.path(), today()).unwrap();
        std::fs::copy(b.path().join(KEY_FILE), a.path().join(KEY_FILE)).unwrap();
        let e = ClusterTls::load(a.path()).unwrap_err();
        assert!(matches!(e, TlsError::Unusable { .. }), "{e}");
    }
}
