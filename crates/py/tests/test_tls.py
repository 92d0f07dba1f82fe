"""TLS through Python: broker.Configuration's openssl_* fields and disable_ssl, with
certificates made by the openssl CLI as Broker users make them (a CA signing X.509 v1
leaves, a legacy encrypted key)."""

import shutil
import subprocess

import pytest

import broker
from conftest import WAIT, peer, wait_until

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl CLI")


def openssl(cwd, *args):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    """A directory with ca.pem and other-ca.pem, leaves a.pem/a.key and b.pem with
    b-encrypted.key (passphrase "secret") and b-pkcs8.key ("12345"), all signed by ca."""
    d = tmp_path_factory.mktemp("pki")
    for ca in ("ca", "other-ca"):
        openssl(d, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{ca}.key",
                "-out", f"{ca}.pem", "-days", "30", "-subj", f"/CN={ca}")
    for leaf in ("a", "b"):
        openssl(d, "genrsa", "-traditional", "-out", f"{leaf}.key", "2048")
        openssl(d, "req", "-new", "-key", f"{leaf}.key", "-out", f"{leaf}.csr", "-subj", f"/CN={leaf}")
        # No extensions: an X.509 v1 certificate.
        openssl(d, "x509", "-req", "-in", f"{leaf}.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
                "-CAcreateserial", "-out", f"{leaf}.pem", "-days", "30")
    openssl(d, "rsa", "-in", "b.key", "-des3", "-traditional", "-passout", "pass:secret",
            "-out", "b-encrypted.key")
    # PKCS#8 encryption, as Broker's own test key (key.1.enc.pem) has.
    openssl(d, "pkcs8", "-topk8", "-in", "b.key", "-passout", "pass:12345", "-out", "b-pkcs8.key")
    return d


def configuration(pki, leaf, ca="ca.pem", key=None, passphrase=""):
    cfg = broker.Configuration(broker.BrokerOptions())
    cfg.openssl_cafile = str(pki / ca)
    cfg.openssl_certificate = str(pki / f"{leaf}.pem")
    cfg.openssl_key = str(pki / (key or f"{leaf}.key"))
    cfg.openssl_passphrase = passphrase
    return cfg


def plaintext():
    opts = broker.BrokerOptions()
    opts.disable_ssl = True
    return broker.Configuration(opts)


def assert_talks(endpoints, server_cfg, client_cfg):
    server, client = endpoints(server_cfg), endpoints(client_cfg)
    sub = server.make_subscriber("/tls")
    peer(client, server)
    assert client.await_peer_subscription("/tls/x", WAIT)
    client.publish("/tls/x", "hello")
    assert sub.get(WAIT) == ("/tls/x", "hello")


def assert_refused(endpoints, server_cfg, client_cfg):
    server, client = endpoints(server_cfg), endpoints(client_cfg)
    errors = client.make_status_subscriber()
    port = server.listen("127.0.0.1", 0)
    assert port > 0
    assert client.peer("127.0.0.1", port, 0) is False
    error = errors.get(WAIT)
    assert isinstance(error, broker.Error)
    assert error.code() in (broker.EC.PeerInvalid, broker.EC.PeerUnavailable)
    assert client.peers() == [] and wait_until(lambda: server.peers() == [])


def test_ca_signed_leaves_peer_and_talk_with_an_encrypted_key(pki, endpoints):
    server = configuration(pki, "b", key="b-encrypted.key", passphrase="secret")
    assert_talks(endpoints, server, configuration(pki, "a"))


def test_ping_pong_right_after_peer_with_a_passphrase_protected_key(pki, endpoints):
    # Broker's ssl_auth_success_ca_pw: one configuration on both sides, a ping published
    # right after peer() returned, the pong right after the ping arrived. A few rounds:
    # the ping used to be lost (and Broker's unbounded get() hung) about 1 run in 4.
    cfg = configuration(pki, "b", key="b-pkcs8.key", passphrase="12345")
    for _ in range(3):
        ep1, ep2 = endpoints(cfg), endpoints(cfg)
        s1, s2 = ep1.make_subscriber("/test"), ep2.make_subscriber("/test")
        port = ep1.listen("127.0.0.1", 0)
        assert ep2.peer("127.0.0.1", port, 0) is True
        ep2.publish("/test", ["ping"])
        assert s1.get(WAIT) == ("/test", ("ping",))
        ep1.publish("/test", ["pong"])
        assert s2.get(WAIT) == ("/test", ("pong",))


def test_anonymous_tls_is_the_default_and_plaintext_talks_to_plaintext(endpoints):
    assert_talks(endpoints, None, None)
    assert_talks(endpoints, plaintext(), plaintext())


def test_mismatched_ca_fails(pki, endpoints):
    assert_refused(endpoints, configuration(pki, "b"), configuration(pki, "a", ca="other-ca.pem"))


def test_disable_ssl_on_one_side_only_fails(endpoints):
    assert_refused(endpoints, None, plaintext())
    assert_refused(endpoints, plaintext(), None)


def test_nested_options_change_the_configuration(endpoints):
    cfg = broker.Configuration()
    cfg.options.disable_ssl = True
    assert cfg.options.disable_ssl
    assert_refused(endpoints, None, cfg)


def test_wrong_passphrase_fails_endpoint_creation_naming_the_file(pki):
    cfg = configuration(pki, "b", key="b-encrypted.key", passphrase="wrong")
    with pytest.raises(RuntimeError, match="b-encrypted.key"):
        broker.Endpoint(cfg)


def test_missing_certificate_fails_endpoint_creation_naming_the_file(pki):
    cfg = configuration(pki, "a")
    cfg.openssl_certificate = str(pki / "missing.pem")
    with pytest.raises(RuntimeError, match="missing.pem"):
        broker.Endpoint(cfg)
