//! Certificate material as Broker users make it with the `openssl` CLI, in a temporary
//! directory: a v3 CA signing X.509 v1 leaves, PKCS#1, PKCS#8 and legacy encrypted
//! keys, a self-signed pair and a second CA.
#![allow(dead_code)] // Each test binary uses a different subset.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

use broker::actors::TlsConfig;

/// A directory of certificates and keys written by the `openssl` CLI.
pub struct Pki {
    pub dir: PathBuf,
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("the openssl CLI (scripts/bootstrap installs it)");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

impl Pki {
    /// Writes `ca`, `other-ca` and `self` (key + self-signed certificate), leaves `a`
    /// and `b` signed by `ca` (X.509 v1, PKCS#1 keys), `b-encrypted.key` (legacy DES3,
    /// passphrase `secret`) and `a-pkcs8.key`.
    pub fn new() -> Pki {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let unique = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("broker-tls-{}-{unique}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        for ca in ["ca", "other-ca", "self"] {
            openssl(
                &dir,
                &[
                    "req",
                    "-x509",
                    "-newkey",
                    "rsa:2048",
                    "-nodes",
                    "-keyout",
                    &format!("{ca}.key"),
                    "-out",
                    &format!("{ca}.pem"),
                    "-days",
                    "30",
                    "-subj",
                    &format!("/CN={ca}"),
                ],
            );
        }
        for leaf in ["a", "b"] {
            let (key, csr, pem) = (
                format!("{leaf}.key"),
                format!("{leaf}.csr"),
                format!("{leaf}.pem"),
            );
            openssl(&dir, &["genrsa", "-traditional", "-out", &key, "2048"]);
            openssl(
                &dir,
                &[
                    "req",
                    "-new",
                    "-key",
                    &key,
                    "-out",
                    &csr,
                    "-subj",
                    &format!("/CN={leaf}"),
                ],
            );
            // No extensions: OpenSSL writes an X.509 v1 certificate.
            openssl(
                &dir,
                &[
                    "x509",
                    "-req",
                    "-in",
                    &csr,
                    "-CA",
                    "ca.pem",
                    "-CAkey",
                    "ca.key",
                    "-CAcreateserial",
                    "-out",
                    &pem,
                    "-days",
                    "30",
                ],
            );
        }
        openssl(
            &dir,
            &[
                "rsa",
                "-in",
                "b.key",
                "-des3",
                "-traditional",
                "-passout",
                "pass:secret",
                "-out",
                "b-encrypted.key",
            ],
        );
        openssl(
            &dir,
            &[
                "pkcs8",
                "-topk8",
                "-nocrypt",
                "-in",
                "a.key",
                "-out",
                "a-pkcs8.key",
            ],
        );
        Pki { dir }
    }

    /// The file `name` of this directory.
    pub fn file(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// Authenticated TLS with the certificate `cert`, its `key` (decrypted with
    /// `passphrase`) and the CA file `ca`, all files of this directory.
    pub fn tls(&self, cert: &str, key: &str, ca: &str, passphrase: Option<&str>) -> TlsConfig {
        TlsConfig {
            cafile: Some(self.file(ca)),
            capath: None,
            certificate: Some(self.file(cert)),
            key: Some(self.file(key)),
            passphrase: passphrase.map(str::to_owned),
        }
    }
}

impl Drop for Pki {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
