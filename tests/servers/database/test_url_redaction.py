"""A connection URL is shown with where it goes and without its secrets."""

from __future__ import annotations

import pytest

from servers.database.url_redaction import public_url, redact, url_secrets


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://app:pw-123@db.internal:5432/shop", "postgresql://app:***@db.internal:5432/shop"),
        ("postgresql://app@/shop?host=/var/run/postgresql", "postgresql://app@/shop?host=/var/run/postgresql"),
        (
            "postgresql://app@/shop?host=/run/pg&port=5433&password=pw-123&sslmode=require",
            "postgresql://app@/shop?host=/run/pg&port=5433",
        ),
        ("redis://:tok-456@cache:6379/0?ssl_cert_reqs=none", "redis://:***@cache:6379/0"),
    ],
)
def test_a_url_is_shown_with_its_address_and_without_its_password_or_other_query(url: str, shown: str) -> None:
    assert public_url(url) == shown


def test_a_secret_in_the_query_is_scrubbed_from_a_driver_message() -> None:
    url = "postgresql://app@/shop?host=/run/pg&password=pw-123"
    message = f"could not connect with {url}: password pw-123 refused"
    scrubbed = redact(message, url_secrets(url))
    assert "pw-123" not in scrubbed and "***" in scrubbed
