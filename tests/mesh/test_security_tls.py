"""TLS settings and contexts: files checked when the settings load, clear errors for unusable ones,
and a server context that completes a mutual handshake only with a client certificate from its CA."""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any

import pytest

from mesh.config import ConfigError
from mesh.security.settings import TlsClientSettings, TlsListenerSettings
from mesh.security.tls import TlsSetupError, client_context, server_context
from suite.settings import load_suite_settings
from tests.support.certificates import Issued, TestAuthority


@pytest.fixture
def authority(tmp_path: Path) -> TestAuthority:
    return TestAuthority(tmp_path / "pki", "main")


@pytest.fixture
def server_cert(authority: TestAuthority) -> Issued:
    return authority.issue("server")


@pytest.fixture
def client_cert(authority: TestAuthority) -> Issued:
    return authority.issue("gateway", client=True)


def listener(authority: TestAuthority, issued: Issued, **extra: Any) -> TlsListenerSettings:
    return TlsListenerSettings(
        cert_file=issued.cert_file, key_file=issued.key_file, ca_file=authority.cert_file, **extra
    )


# ---- settings --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("section", "key"),
    [("tls", "cert_file"), ("tls", "key_file"), ("tls", "ca_file"), ("upstream_tls", "ca_file")],
)
def test_a_missing_file_is_refused_naming_the_key_and_the_path(
    authority: TestAuthority, server_cert: Issued, tmp_path: Path, section: str, key: str
) -> None:
    files = {"cert_file": str(server_cert.cert_file), "key_file": str(server_cert.key_file)}
    block = {**files, "ca_file": str(authority.cert_file)} if section == "tls" else {}
    missing = tmp_path / "nowhere" / "missing.pem"
    block[key] = str(missing)
    with pytest.raises(ConfigError) as refused:
        load_suite_settings(auth={section: block})
    message = str(refused.value)
    assert f"auth.{section}.{key}" in message
    assert f"{missing} does not exist" in message


def test_a_directory_is_not_a_certificate_file(server_cert: Issued, tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as refused:
        load_suite_settings(
            auth={
                "tls": {
                    "cert_file": str(tmp_path),
                    "key_file": str(server_cert.key_file),
                    "client_cert_required": False,
                }
            }
        )
    assert "auth.tls.cert_file" in str(refused.value) and "is not a regular file" in str(refused.value)


def test_requiring_client_certificates_needs_the_ca_that_signs_them(server_cert: Issued) -> None:
    files = {"cert_file": str(server_cert.cert_file), "key_file": str(server_cert.key_file)}
    with pytest.raises(ConfigError) as refused:
        load_suite_settings(auth={"tls": files})
    assert "client_cert_required needs ca_file" in str(refused.value)
    server_only = load_suite_settings(auth={"tls": {**files, "client_cert_required": False}})
    assert server_only.auth.tls is not None and not server_only.auth.server_protected


def test_a_client_certificate_needs_its_key(client_cert: Issued) -> None:
    with pytest.raises(ConfigError) as refused:
        load_suite_settings(auth={"upstream_tls": {"cert_file": str(client_cert.cert_file)}})
    assert "cert_file and key_file go together" in str(refused.value)


def test_the_tls_blocks_come_from_mcp_suite_environment_variables(
    authority: TestAuthority, server_cert: Issued, client_cert: Issued, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MCP_SUITE_AUTH__TLS__CERT_FILE", str(server_cert.cert_file))
    monkeypatch.setenv("MCP_SUITE_AUTH__TLS__KEY_FILE", str(server_cert.key_file))
    monkeypatch.setenv("MCP_SUITE_AUTH__TLS__CA_FILE", str(authority.cert_file))
    monkeypatch.setenv("MCP_SUITE_AUTH__UPSTREAM_TLS__CA_FILE", str(authority.cert_file))
    monkeypatch.setenv("MCP_SUITE_AUTH__UPSTREAM_TLS__CERT_FILE", str(client_cert.cert_file))
    monkeypatch.setenv("MCP_SUITE_AUTH__UPSTREAM_TLS__KEY_FILE", str(client_cert.key_file))
    settings = load_suite_settings()
    assert settings.auth.tls is not None and settings.auth.upstream_tls is not None
    assert settings.auth.tls.cert_file == server_cert.cert_file and settings.auth.tls.client_cert_required
    assert settings.auth.upstream_tls.key_file == client_cert.key_file
    assert settings.auth.server_protected


# ---- contexts --------------------------------------------------------------------------------


def test_a_server_context_requiring_client_certificates_verifies_them(
    authority: TestAuthority, server_cert: Issued
) -> None:
    required = server_context(listener(authority, server_cert))
    optional = server_context(listener(authority, server_cert, client_cert_required=False))
    plain = server_context(
        TlsListenerSettings(cert_file=server_cert.cert_file, key_file=server_cert.key_file, client_cert_required=False)
    )
    assert required.verify_mode == ssl.CERT_REQUIRED
    assert optional.verify_mode == ssl.CERT_OPTIONAL
    assert plain.verify_mode == ssl.CERT_NONE
    assert required.minimum_version == ssl.TLSVersion.TLSv1_2


def test_a_client_context_verifies_the_server_and_its_host_name(authority: TestAuthority, client_cert: Issued) -> None:
    context = client_context(
        TlsClientSettings(ca_file=authority.cert_file, cert_file=client_cert.cert_file, key_file=client_cert.key_file)
    )
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    assert context.minimum_version == ssl.TLSVersion.TLSv1_2


def _handshake(server: ssl.SSLContext, client: ssl.SSLContext) -> ssl.SSLObject:
    """Run a TLS handshake between the two contexts in memory; the server's side when it completes."""
    to_server, to_client = ssl.MemoryBIO(), ssl.MemoryBIO()
    server_in, server_out = ssl.MemoryBIO(), ssl.MemoryBIO()
    server_side = server.wrap_bio(server_in, server_out, server_side=True)
    client_side = client.wrap_bio(to_client, to_server, server_hostname="127.0.0.1")
    done = {"client": False, "server": False}
    for _round in range(10):
        for name, side in (("client", client_side), ("server", server_side)):
            if not done[name]:
                try:
                    side.do_handshake()
                    done[name] = True
                except ssl.SSLWantReadError:
                    pass
        server_in.write(to_server.read())
        to_client.write(server_out.read())
        if all(done.values()):
            # TLS 1.3: the server's verdict on the client certificate travels after the client's Finished.
            client_side.write(b"ping")
            server_in.write(to_server.read())
            server_side.read(4)
            return server_side
    raise AssertionError("the handshake did not finish")


def test_the_contexts_complete_a_mutual_handshake_and_the_server_sees_the_gateway(
    authority: TestAuthority, server_cert: Issued, client_cert: Issued
) -> None:
    server = server_context(listener(authority, server_cert))
    client = client_context(
        TlsClientSettings(ca_file=authority.cert_file, cert_file=client_cert.cert_file, key_file=client_cert.key_file)
    )
    peer = _handshake(server, client).getpeercert()
    assert peer is not None
    assert (("commonName", "gateway"),) in peer["subject"]


@pytest.mark.parametrize(
    ("certificate", "reason"),
    [("none", "PEER_DID_NOT_RETURN_A_CERTIFICATE"), ("another CA", "CERTIFICATE_VERIFY_FAILED")],
)
def test_the_server_context_refuses_a_client_without_a_certificate_from_its_ca(
    authority: TestAuthority, server_cert: Issued, tmp_path: Path, certificate: str, reason: str
) -> None:
    server = server_context(listener(authority, server_cert))
    settings = TlsClientSettings(ca_file=authority.cert_file)
    if certificate == "another CA":
        stranger = TestAuthority(tmp_path / "other", "other").issue("intruder", client=True)
        settings = TlsClientSettings(
            ca_file=authority.cert_file, cert_file=stranger.cert_file, key_file=stranger.key_file
        )
    with pytest.raises(ssl.SSLError) as refused:
        _handshake(server, client_context(settings))
    assert refused.value.reason == reason


# ---- unusable files --------------------------------------------------------------------------


def test_a_file_that_is_not_a_pem_certificate_is_named(authority: TestAuthority, server_cert: Issued) -> None:
    bogus = server_cert.cert_file.with_name("bogus.der")
    bogus.write_bytes(b"\x30\x82\x01\x0a not a pem file")
    with pytest.raises(TlsSetupError) as refused:
        server_context(listener(authority, Issued(bogus, server_cert.key_file)))
    assert "auth.tls.cert_file" in str(refused.value) and str(bogus) in str(refused.value)
    assert "no PEM certificate" in str(refused.value)


def test_a_ca_file_without_certificates_is_named(authority: TestAuthority, server_cert: Issued) -> None:
    settings = TlsClientSettings(ca_file=server_cert.key_file)  # a key where the CA bundle should be
    with pytest.raises(TlsSetupError) as refused:
        client_context(settings)
    assert "auth.upstream_tls.ca_file" in str(refused.value) and "no PEM certificate" in str(refused.value)


def test_a_key_file_that_holds_no_key_is_named(authority: TestAuthority, server_cert: Issued) -> None:
    with pytest.raises(TlsSetupError) as refused:
        server_context(listener(authority, Issued(server_cert.cert_file, server_cert.cert_file)))
    assert "auth.tls.key_file" in str(refused.value) and "no PEM private key" in str(refused.value)


def test_a_key_that_belongs_to_another_certificate_is_refused(
    authority: TestAuthority, server_cert: Issued, client_cert: Issued
) -> None:
    with pytest.raises(TlsSetupError) as refused:
        server_context(listener(authority, Issued(server_cert.cert_file, client_cert.key_file)))
    assert "does not belong to the certificate" in str(refused.value)
    assert str(client_cert.key_file) in str(refused.value)


def test_an_encrypted_key_needs_its_password_and_never_prompts(authority: TestAuthority) -> None:
    locked = authority.issue("locked", password=b"correct horse")
    with pytest.raises(TlsSetupError) as missing:
        server_context(listener(authority, locked))
    with pytest.raises(TlsSetupError) as wrong:
        server_context(listener(authority, locked, key_password="battery staple"))
    unlocked = server_context(listener(authority, locked, key_password="correct horse"))
    assert "is encrypted; set auth.tls.key_password" in str(missing.value)
    assert "auth.tls.key_password: wrong password" in str(wrong.value)
    assert "battery staple" not in str(wrong.value)
    assert unlocked.verify_mode == ssl.CERT_REQUIRED


def test_an_expired_certificate_is_refused_before_anyone_connects(authority: TestAuthority) -> None:
    stale = authority.issue("stale", expired=True)
    with pytest.raises(TlsSetupError) as refused:
        server_context(listener(authority, stale), setting="auth.gateway_tls")
    assert "auth.gateway_tls.cert_file" in str(refused.value) and "expired on" in str(refused.value)
