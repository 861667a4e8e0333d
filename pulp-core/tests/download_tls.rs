//! The downloader's TLS options against a real TLS server on loopback (certificates made by
//! the `openssl` command): `ca_cert`, `tls_validation`, and a client certificate and key that
//! the server requires.

use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use pulp_core::download::Downloader;
use pulp_core::models::RemoteFields;
use pulp_core::storage::ExpectedArtifact;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};

const BODY: &[u8] = b"served over TLS\n";

fn openssl(dir: &Path, args: &[&str]) {
    let status = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .expect("openssl");
    assert!(status.success(), "openssl {args:?}");
}

/// A CA, a server certificate for 127.0.0.1 and a client certificate, both signed by the CA.
fn certificates(dir: &Path) {
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-days",
            "2",
            "-subj",
            "/CN=pulp-rs test CA",
        ],
    );
    std::fs::write(dir.join("server.ext"), "subjectAltName=IP:127.0.0.1\n").expect("ext");
    openssl(
        dir,
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
            "-subj",
            "/CN=127.0.0.1",
        ],
    );
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "server.pem",
            "-days",
            "2",
            "-extfile",
            "server.ext",
        ],
    );
    std::fs::write(dir.join("client.ext"), "extendedKeyUsage=clientAuth\n").expect("ext");
    openssl(
        dir,
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "client.key",
            "-out",
            "client.csr",
            "-subj",
            "/CN=pulp-rs client",
        ],
    );
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "client.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "client.pem",
            "-days",
            "2",
            "-extfile",
            "client.ext",
        ],
    );
}

/// Serves `BODY` over HTTPS, requiring a client certificate signed by the CA; the port.
async fn tls_server(dir: &Path) -> u16 {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(dir.join("server.pem"))
        .expect("certs")
        .collect::<Result<_, _>>()
        .expect("certs");
    let key = PrivateKeyDer::from_pem_file(dir.join("server.key")).expect("key");
    let mut roots = rustls::RootCertStore::empty();
    for ca in CertificateDer::pem_file_iter(dir.join("ca.pem")).expect("ca") {
        roots.add(ca.expect("ca")).expect("root");
    }
    let verifier = rustls::server::WebPkiClientVerifier::builder(Arc::new(roots))
        .build()
        .expect("verifier");
    let config = rustls::ServerConfig::builder()
        .with_client_cert_verifier(verifier)
        .with_single_cert(certs, key)
        .expect("server config");
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    tokio::spawn(async move {
        loop {
            let Ok((socket, _)) = listener.accept().await else {
                return;
            };
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut stream) = acceptor.accept(socket).await else {
                    return;
                };
                let mut request = Vec::new();
                let mut buf = [0u8; 1024];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => request.extend_from_slice(&buf[..n]),
                    }
                }
                let head = format!(
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    BODY.len()
                );
                let _ = stream.write_all(head.as_bytes()).await;
                let _ = stream.write_all(BODY).await;
                let _ = stream.shutdown().await;
            });
        }
    });
    port
}

fn remote(port: u16) -> RemoteFields {
    let mut fields = RemoteFields::new("tls", format!("https://127.0.0.1:{port}/PULP_MANIFEST"));
    fields.max_retries = Some(0);
    fields
}

#[tokio::test]
async fn ca_bundle_client_certificate_and_tls_validation_are_honoured() {
    let dir = tempfile::tempdir().expect("dir");
    certificates(dir.path());
    let read = |name: &str| std::fs::read_to_string(dir.path().join(name)).expect("pem");
    let port = tls_server(dir.path()).await;
    let url = format!("https://127.0.0.1:{port}/file");
    let work = tempfile::tempdir().expect("work");

    // The CA bundle and a client certificate: the download succeeds and is verified.
    let mut fields = remote(port);
    fields.ca_cert = Some(read("ca.pem"));
    fields.client_cert = Some(read("client.pem"));
    fields.client_key = Some(read("client.key"));
    let downloader = Downloader::for_remote(&fields).expect("downloader");
    let file = downloader
        .fetch(
            &url,
            &ExpectedArtifact::any().with_size(BODY.len() as u64),
            work.path(),
        )
        .await
        .expect("download over TLS with the CA and a client certificate");
    assert_eq!(std::fs::read(&file.path).expect("read"), BODY);

    // Without the CA the server's certificate is refused…
    let mut untrusted = fields.clone();
    untrusted.ca_cert = None;
    let error = Downloader::for_remote(&untrusted)
        .expect("downloader")
        .fetch(&url, &ExpectedArtifact::any(), work.path())
        .await
        .expect_err("an unknown issuer must be refused");
    assert!(
        error.to_string().contains("127.0.0.1"),
        "the error names the URL: {error}"
    );

    // …unless tls_validation is off.
    let mut unvalidated = untrusted.clone();
    unvalidated.tls_validation = false;
    let file = Downloader::for_remote(&unvalidated)
        .expect("downloader")
        .fetch(&url, &ExpectedArtifact::any(), work.path())
        .await
        .expect("tls_validation=false accepts the certificate");
    assert_eq!(std::fs::read(&file.path).expect("read"), BODY);

    // The server requires a client certificate: without one the handshake fails.
    let mut anonymous = fields.clone();
    anonymous.client_cert = None;
    anonymous.client_key = None;
    let result = Downloader::for_remote(&anonymous)
        .expect("downloader")
        .fetch(&url, &ExpectedArtifact::any(), work.path())
        .await;
    assert!(
        result.is_err(),
        "a server requiring a client certificate refuses one without"
    );

    // A malformed certificate is a clear error about that field, before any download.
    let mut broken = fields.clone();
    broken.client_key = Some("not a key".into());
    let error = Downloader::for_remote(&broken).expect_err("a bad key is refused");
    assert!(error.to_string().contains("client"), "{error}");
}
