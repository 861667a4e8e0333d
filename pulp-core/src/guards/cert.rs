//! pulp-certguard's `x509` guard: the client certificate (from the `X-CLIENT-CERT` header a
//! TLS-terminating proxy sets, URL-encoded PEM) must chain to the guard's CA certificate(s)
//! and be valid now.

use http::request::Parts;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, UnixTime};
use serde::{Deserialize, Serialize};

use crate::app::App;
use crate::content_guard::{GuardDenied, GuardType};
use crate::models::{Column, ContentGuardKind, Detail, Model};
use crate::validation::{Validate, ValidationErrors};

/// The header holding the client certificate.
pub const CLIENT_CERT_HEADER: &str = "x-client-cert";

/// A guard letting through requests with a client certificate issued by its CA
/// (`certguard.x509`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct X509CertGuard {
    /// The CA certificate (or a bundle), PEM.
    pub ca_certificate: String,
}

/// The certificates of a PEM text (other text between them is ignored).
fn certificates(pem: &[u8]) -> Vec<CertificateDer<'static>> {
    CertificateDer::pem_slice_iter(pem)
        .filter_map(Result::ok)
        .collect()
}

impl Validate for X509CertGuard {
    fn validate(&self, errors: &mut ValidationErrors) {
        let certs = certificates(self.ca_certificate.as_bytes());
        if certs.is_empty()
            || certs
                .iter()
                .any(|der| webpki::anchor_from_trusted_cert(der).is_err())
        {
            errors.add("ca_certificate", "Must be PEM encoded X.509 certificate.");
        }
    }
}

impl Detail for X509CertGuard {
    type Kind = ContentGuardKind;
    const PULP_TYPE: &'static str = "certguard.x509";
    const TABLE: &'static str = "certguard_x509certguard";
    const COLUMNS: &'static [Column] = &[Column::text("ca_certificate")];
    const PRN_MODEL: &'static str = "certguard.x509certguard";
    const ENDPOINT: &'static str = "certguard/x509";
    const HREF_PARAM: &'static str = "certguard_x509_cert_guard_href";
}

/// The client certificate of a request: the URL-decoded header, its body's spaces put back
/// to line breaks when the proxy sent it on one line (as pulp-certguard does).
fn client_certificate(request: &Parts) -> Result<CertificateDer<'static>, GuardDenied> {
    let header = request.headers.get(CLIENT_CERT_HEADER).ok_or_else(|| {
        GuardDenied("A client certificate was not received via the `X-CLIENT-CERT` header.".into())
    })?;
    let unquoted = percent_encoding::percent_decode(header.as_bytes()).decode_utf8_lossy();
    const BEGIN: &str = "-----BEGIN CERTIFICATE-----";
    const END: &str = "-----END CERTIFICATE-----";
    let pem = match unquoted
        .strip_prefix(BEGIN)
        .and_then(|rest| rest.split_once(END))
    {
        Some((body, _)) if !body.contains('\n') => {
            format!("{BEGIN}\n{}\n{END}\n", body.trim().replace(' ', "\n"))
        }
        _ => unquoted.into_owned(),
    };
    CertificateDer::from_pem_slice(pem.as_bytes()).map_err(|_| {
        GuardDenied("The client certificate is not a PEM encoded X.509 certificate.".into())
    })
}

/// Checks that `client` chains to one of the certificates of `ca_pem` and is valid now.
pub(crate) fn verify(ca_pem: &str, client: &CertificateDer<'_>) -> Result<(), GuardDenied> {
    let cas = certificates(ca_pem.as_bytes());
    let anchors: Vec<_> = cas
        .iter()
        .filter_map(|der| webpki::anchor_from_trusted_cert(der).ok())
        .collect();
    let end_entity = webpki::EndEntityCert::try_from(client)
        .map_err(|e| GuardDenied(format!("The client certificate cannot be read: {e}.")))?;
    end_entity
        .verify_for_usage(
            webpki::ALL_VERIFICATION_ALGS,
            &anchors,
            &[],
            UnixTime::now(),
            webpki::KeyUsage::client_auth(),
            None,
            None,
        )
        .map(|_| ())
        .map_err(|e| {
            GuardDenied(match e {
                webpki::Error::UnknownIssuer | webpki::Error::InvalidSignatureForPublicKey => {
                    "Client certificate is not signed by the stored 'ca_certificate'.".into()
                }
                // A validity ending before it starts has ended too (OpenSSL says expired).
                webpki::Error::CertExpired { .. } | webpki::Error::InvalidCertValidity => {
                    "Client certificate is expired.".into()
                }
                webpki::Error::CertNotValidYet { .. } => {
                    "Client certificate is not valid yet.".into()
                }
                other => format!("The client certificate is not trusted: {other}."),
            })
        })
}

impl GuardType for X509CertGuard {
    async fn permit(_app: &App, request: &Parts, guard: &Model<Self>) -> Result<(), GuardDenied> {
        let client = client_certificate(request)?;
        verify(&guard.ca_certificate, &client)
    }
}
