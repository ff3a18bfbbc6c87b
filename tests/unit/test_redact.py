"""liqwatch.redact: every password and query value of any URL is masked, whatever it looks like; the rest is kept."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from liqwatch.redact import MASK, redact_text, redact_url, redact_urls_in, url_secrets

# secrets as people choose them: dotted, numeric, one character, with ':' '@' '.' '-' '~' '%' and non-ASCII
SECRET_CHARS = st.characters(blacklist_characters="/?#&;=,\x00 ", blacklist_categories=("Cs", "Cc", "Zs"))
secret = st.text(SECRET_CHARS, min_size=1, max_size=24).filter(lambda s: s != MASK)
dotted = st.lists(st.text("abcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=8), min_size=2, max_size=4).map(".".join)
numeric = st.integers(0, 99_999).map(str)
any_secret = st.one_of(secret, dotted, numeric, st.sampled_from(["a", "1", "ab", "12", "x.y", "sk.live.secret"]))
label = st.text("abcdefghijklmnopqrstuvwxyz", min_size=1, max_size=8)
host = st.one_of(
    st.lists(label, min_size=2, max_size=3).map(".".join),
    st.tuples(*[st.integers(0, 255)] * 4).map(lambda t: ".".join(map(str, t))),
    st.just("localhost"),
    st.just("[::1]"),
)
plain_host = st.one_of(  # what a destination keeps: a host name with a top-level domain, an IP address, localhost
    st.tuples(label, st.text("abcdefghijklmnopqrstuvwxyz", min_size=2, max_size=6)).map(".".join),
    st.tuples(*[st.integers(0, 255)] * 4).map(lambda t: ".".join(map(str, t))),
    st.just("localhost"),
)
scheme = st.sampled_from(["nats", "tls", "postgresql", "postgres", "http", "https", "ws", "wss"])
path = st.lists(st.text("abcdefghijklmnopqrstuvwxyz0123456789-_.", min_size=1, max_size=10), max_size=3).map(
    lambda parts: "".join("/" + p for p in parts)
)
key = st.text("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-_", min_size=1, max_size=12)


@st.composite
def urls(draw: st.DrawFn) -> tuple[str, str, list[str]]:
    """Return (url, the url as it must be shown, its secrets): user:password@host:port/path?k=v&…#fragment."""
    kept = f"{draw(scheme)}://"
    shown = url = kept
    user = draw(st.one_of(st.none(), label))
    password = draw(st.one_of(st.none(), any_secret))
    raw_password = draw(st.booleans())  # as typed, or percent-encoded as RFC 3986 asks
    if user is not None:
        url += user + (":" + (password if raw_password else quote(password, safe="")) if password is not None else "") + "@"
        shown += user + (":***" if password is not None else "") + "@"
    where = f"{draw(host)}:{draw(st.integers(1, 65535))}{draw(path)}"
    url, shown = url + where, shown + where
    query = draw(st.lists(st.tuples(key, any_secret), max_size=3))
    if query:
        url += "?" + "&".join(f"{k}={v}" for k, v in query)
        shown += "?" + "&".join(f"{k}=***" for k, _ in query)
    fragment = draw(st.one_of(st.none(), any_secret))
    if fragment is not None:
        url, shown = url + "#" + fragment, shown + "#***"
    secrets = [v for _, v in query] + ([fragment] if fragment is not None else [])
    if user is not None and password is not None:
        secrets.append(password)
    return url, shown, secrets


@settings(max_examples=300, deadline=None)
@given(urls())
def test_no_password_or_query_value_survives_and_scheme_host_port_path_are_kept(case: tuple[str, str, list[str]]) -> None:
    url, expected, secrets = case
    shown = redact_url(url)
    assert shown == expected  # scheme, user, host, port, path and query keys kept; each secret is exactly `***`
    skeleton = expected.replace(MASK, "")
    # a short secret may also be, by chance, a letter of the host, or a '*' of the mask itself: for those, absence
    # cannot be checked, and the exact form above already says they were masked
    checkable = [v for v in secrets if v not in skeleton and v not in MASK]
    for value in checkable:
        assert value not in shown and quote(value, safe="") not in shown
    assert redact_url(shown) == shown  # idempotent
    for value in secrets:  # an error text quoting the URL and a secret shows neither
        # ';' around the value: a character no secret here holds ('(' would be a secret's own character, masked too)
        text = redact_urls_in(f"failed: {url} ;{value};", [url])
        assert text.startswith(f"failed: {expected} ;")
        if value in checkable:
            assert value not in text.removeprefix(f"failed: {expected}")


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(["mailto", "tgram", "discord", "json", "pover", "https"]), plain_host, any_secret, any_secret, any_secret, path)
def test_a_destination_shows_only_scheme_plain_host_and_port(kind: str, hostname: str, user: str, password: str, token: str, rest: str) -> None:
    url = f"{kind}://{quote(user, safe='')}:{password}@{hostname}:8080/{quote(token, safe='')}{rest}?key={token}"
    shown = redact_url(url, secret_path=True)
    assert shown.startswith(f"{kind}://***:***@{hostname}:8080/***")
    assert shown.endswith("?key=***")
    assert "/" not in shown.split("8080", 1)[1].replace("/***", "").split("?")[0]  # every path segment masked
    assert redact_url(shown, secret_path=True) == shown


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("mailto://alice:correct.horse.battery@gmail.com", "mailto://***:***@gmail.com"),  # dotted password
        ("json://hooks.example.com/notify?-X-Api-Key=sk.live.secret", "json://hooks.example.com/***?-X-Api-Key=***"),
        ("json://127.0.0.1:8080/a?pin=1234&b=x", "json://127.0.0.1:8080/***?pin=***&b=***"),  # numeric, 1 char
        ("mailto://bob:12345@mail.example.org", "mailto://***:***@mail.example.org"),
        ("tgram://123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw/12345", "tgram://***:***/***"),
        ("pover://ukey@apptoken", "pover://***@***"),
        ("https://discord.com/api/webhooks/4174216298/JHMHI8qBe7bk", "https://discord.com/***/***/***/***"),
    ],
)
def test_the_alert_urls_of_the_issue_are_masked(url: str, shown: str) -> None:
    assert redact_url(url, secret_path=True) == shown


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("nats://user:s3cr3t.pw@127.0.0.1:4222", "nats://user:***@127.0.0.1:4222"),
        ("nats://a:1@10.0.0.5:4222, nats://a:b@10.0.0.6:4222", "nats://a:***@10.0.0.5:4222, nats://a:***@10.0.0.6:4222"),
        ("postgresql://lw:p@ss:w0rd@db.example.com:5432/liq?sslmode=require&password=x", "postgresql://lw:***@db.example.com:5432/liq?sslmode=***&password=***"),
        ("wss://stream.example.com/ws?token=ab#f", "wss://stream.example.com/ws?token=***#***"),
        ("/var/lib/liqwatch/liqwatch.duckdb", "/var/lib/liqwatch/liqwatch.duckdb"),  # a file path is no URL: kept
        ("mysql://root:pw@db/x", "mysql://***:***@***/***"),  # a scheme liqwatch does not connect to: a destination
    ],
)
def test_server_urls_keep_user_host_port_and_path(url: str, shown: str) -> None:
    assert redact_url(url) == shown


def test_error_texts_lose_the_secrets_of_their_urls() -> None:
    url = "nats://user:a@gmail.com:4222"
    assert url_secrets(url) == ["a"]
    text = f"cannot reach {url}: password a rejected, see data"
    assert redact_urls_in(text, [url]) == "cannot reach nats://user:***@gmail.com:4222: password *** rejected, see data"
    assert redact_text("token=sk.live.secret%2E failed", ["sk.live.secret"]) == "token=***%2E failed"
    dest = "json://hooks.example.com/notify?key=correct.horse%2Ebattery"
    assert redact_urls_in("POST /notify?key=correct.horse.battery: 403", [dest], secret_path=True) == "POST /***?key=***: 403"
