"""Where Consul is and how the suite authenticates to it: settings first, then Consul's own variables."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest
from pydantic import SecretStr

from mesh.config import ConsulSettings
from mesh.consul import ConsulEndpoint, ConsulHttp, ConsulRefused, ConsulUnavailable
from mesh.discovery import registry_from_settings, uses_consul
from mesh.registry import StaticRegistry
from suite.settings import SuiteSettings
from tests.support.consul_double import ConsulDouble


def test_the_address_comes_from_consul_http_addr_when_the_settings_leave_it_unset() -> None:
    endpoint = ConsulEndpoint.from_settings(ConsulSettings(), {"CONSUL_HTTP_ADDR": "consul.internal:8501"})
    assert endpoint.base_url == "http://consul.internal:8501"
    assert endpoint.token is None


def test_settings_win_over_the_environment() -> None:
    settings = ConsulSettings(address="https://a.example:8501", token=SecretStr("from-settings"), verify=False)
    env = {"CONSUL_HTTP_ADDR": "b:8500", "CONSUL_HTTP_TOKEN": "from-env", "CONSUL_HTTP_SSL_VERIFY": "true"}
    endpoint = ConsulEndpoint.from_settings(settings, env)
    assert (endpoint.base_url, endpoint.token, endpoint.verify) == ("https://a.example:8501", "from-settings", False)


def test_consul_http_ssl_turns_a_bare_address_into_https_and_tls_variables_are_read() -> None:
    env = {
        "CONSUL_HTTP_ADDR": "10.0.0.5:8501",
        "CONSUL_HTTP_SSL": "true",
        "CONSUL_HTTP_SSL_VERIFY": "false",
        "CONSUL_CACERT": "/etc/consul/ca.pem",
        "CONSUL_CLIENT_CERT": "/etc/consul/cli.pem",
        "CONSUL_CLIENT_KEY": "/etc/consul/cli-key.pem",
        "CONSUL_TLS_SERVER_NAME": "server.dc1.consul",
        "CONSUL_HTTP_TOKEN": "s3cret",
    }
    endpoint = ConsulEndpoint.from_settings(ConsulSettings(), env)
    assert endpoint.base_url == "https://10.0.0.5:8501"
    assert (endpoint.verify, endpoint.ca_file, endpoint.cert_file, endpoint.key_file) == (
        False,
        "/etc/consul/ca.pem",
        "/etc/consul/cli.pem",
        "/etc/consul/cli-key.pem",
    )
    assert endpoint.server_name == "server.dc1.consul"
    assert "s3cret" not in endpoint.describe()


def test_a_token_file_is_read_when_no_token_is_given(tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text("from-file\n")
    endpoint = ConsulEndpoint.from_settings(ConsulSettings(), {"CONSUL_HTTP_TOKEN_FILE": str(token_file)})
    assert endpoint.token == "from-file"


@pytest.mark.parametrize("address", ["unix:///var/run/consul.sock", "ftp://consul:8500"])
def test_an_address_the_client_cannot_use_is_refused_with_a_reason(address: str) -> None:
    with pytest.raises(ValueError, match=r"Consul address|unix://"):
        ConsulEndpoint.from_settings(ConsulSettings(address=address), {})


def test_consul_is_chosen_by_config_or_by_consul_http_addr_and_static_otherwise() -> None:
    assert not uses_consul(SuiteSettings(), {})
    assert isinstance(registry_from_settings(SuiteSettings(), {}), StaticRegistry)
    assert uses_consul(SuiteSettings(registry="consul"), {})  # type: ignore[arg-type]
    from_env = registry_from_settings(SuiteSettings(), {"CONSUL_HTTP_ADDR": "127.0.0.1:8500"})
    assert type(from_env).__name__ == "ConsulRegistry"


@pytest.mark.anyio
async def test_the_token_travels_as_x_consul_token_and_never_in_the_url() -> None:
    double = ConsulDouble(acl_token="s3cret")
    async with anyio.create_task_group() as tg:
        await double.start(tg)
        http = ConsulHttp(ConsulEndpoint(base_url=double.url, token="s3cret"))
        try:
            response = await http.request("GET", "/v1/health/service/mcp-demo")
        finally:
            await http.aclose()
            await double.stop()
    assert response.status == 200
    seen = double.seen("/v1/health/service/mcp-demo")
    assert [r.token for r in seen] == ["s3cret"]
    assert all("token" not in r.query for r in seen)


@pytest.mark.anyio
async def test_an_unknown_token_is_refused_with_a_hint_about_the_acl_token() -> None:
    double = ConsulDouble(acl_token="s3cret")
    async with anyio.create_task_group() as tg:
        await double.start(tg)
        http = ConsulHttp(ConsulEndpoint(base_url=double.url, token="not-a-token"))
        try:
            with pytest.raises(ConsulRefused, match="CONSUL_HTTP_TOKEN") as refused:
                await http.request("GET", "/v1/health/service/mcp-demo")
        finally:
            await http.aclose()
            await double.stop()
    assert refused.value.status == 403 and "ACL not found" in str(refused.value)
    assert "not-a-token" not in str(refused.value)
    assert double.services == {}


@pytest.mark.anyio
async def test_an_unreachable_agent_is_reported_as_unavailable_with_its_address() -> None:
    double = ConsulDouble()  # never started: nothing listens on its port
    http = ConsulHttp(ConsulEndpoint(base_url=double.url))
    try:
        with pytest.raises(ConsulUnavailable, match=double.address):
            await http.request("GET", "/v1/health/service/mcp-demo")
    finally:
        await http.aclose()
