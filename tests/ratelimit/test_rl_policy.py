"""The pure part of rate limits: rate strings, caller keys, headers and the 429 body."""

from __future__ import annotations

import ipaddress

import pytest

from navai_core._ratelimit import (
    Rate,
    RateState,
    caller_key,
    client_address,
    limit_headers,
    parse_networks,
    parse_rates,
    too_many_requests,
)

TRUSTED = parse_networks("10.0.0.0/8, ::1")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("10/minute", (Rate(10, "minute"),)),
        ("100/day;10/minute", (Rate(10, "minute"), Rate(100, "day"))),
        ("10 per minute, 2/second", (Rate(2, "second"), Rate(10, "minute"))),
        (" 5/10 seconds ; ", (Rate(5, "second", 10),)),
        ("1/HOURS", (Rate(1, "hour"),)),
        ("3/month;4/year", (Rate(3, "month"), Rate(4, "year"))),
        ("", ()),
    ],
)
def test_rate_strings_are_read_shortest_window_first(text: str, expected: tuple) -> None:
    assert parse_rates(text) == expected


@pytest.mark.parametrize("text", ["ten/minute", "10/fortnight", "10", "/minute", "0/minute"])
def test_a_bad_rate_string_is_refused_quoting_it(text: str) -> None:
    with pytest.raises(ValueError, match="rate") as caught:
        parse_rates(text)
    assert text in str(caught.value)


def test_rates_are_shown_and_described_as_policies() -> None:
    rates = parse_rates("10/minute;100/day;5/10 seconds")
    assert [str(rate) for rate in rates] == ["5/10 seconds", "10/minute", "100/day"]
    assert [rate.policy for rate in rates] == ["5;w=10", "10;w=60", "100;w=86400"]
    assert parse_rates([Rate(1, "second"), "2/minute"]) == (Rate(1, "second"), Rate(2, "minute"))


def test_networks_are_read_and_bad_ones_quoted() -> None:
    assert parse_networks("10.0.0.1, 192.168.0.0/16,, ::1") == (
        ipaddress.ip_network("10.0.0.1/32"),
        ipaddress.ip_network("192.168.0.0/16"),
        ipaddress.ip_network("::1/128"),
    )
    with pytest.raises(ValueError, match=r"'proxy\.local' is not an IP address"):
        parse_networks("proxy.local")


def test_forwarded_for_is_never_believed_by_default() -> None:
    assert client_address("203.0.113.9", "1.2.3.4", ()) == "203.0.113.9"
    # Nor from a peer outside the trusted proxies.
    assert client_address("203.0.113.9", "1.2.3.4", TRUSTED) == "203.0.113.9"


def test_behind_a_trusted_proxy_the_first_untrusted_hop_from_the_right_is_the_client() -> None:
    assert client_address("10.0.0.2", "198.51.100.7", TRUSTED) == "198.51.100.7"
    # The client wrote the left part itself: a proxy appended what it saw.
    assert client_address("10.0.0.2", "6.6.6.6, 198.51.100.7, 10.0.0.3", TRUSTED) == (
        "198.51.100.7"
    )
    assert client_address("::1", "2001:db8::5", TRUSTED) == "2001:db8::5"


def test_a_chain_of_only_proxies_or_garbage_is_read_safely() -> None:
    assert client_address("10.0.0.2", "10.0.0.9, 10.0.0.3", TRUSTED) == "10.0.0.9"
    assert client_address("10.0.0.2", "1.2.3.4, not-an-ip", TRUSTED) == "10.0.0.2"
    assert client_address("10.0.0.2", " , ", TRUSTED) == "10.0.0.2"
    assert client_address("10.0.0.2", None, TRUSTED) == "10.0.0.2"
    assert client_address(None, "1.2.3.4", TRUSTED) is None


def test_caller_keys_separate_identities_from_addresses() -> None:
    assert caller_key("alice", "1.2.3.4") == "id:alice"
    assert caller_key(True, "1.2.3.4") == "ip:1.2.3.4"
    assert caller_key(None, "1.2.3.4") == "ip:1.2.3.4"
    assert caller_key("  ", None) == "ip:unknown"
    # An identity that looks like an address is still not that address's key.
    assert caller_key("1.2.3.4", "1.2.3.4") != caller_key(None, "1.2.3.4")
    # A `/` cannot run into the limiter's own key separators; a huge identity is hashed.
    assert "/" not in caller_key("team/alice", None)
    long_key = caller_key("x" * 10_000, None)
    assert long_key.startswith("id:sha256:")
    assert len(long_key) < 100


def test_headers_describe_the_rate_closest_to_being_used_up() -> None:
    rates = parse_rates("10/minute;100/day")
    now = 1000.0
    states = [
        RateState(rates[0], True, 7, now + 42.2),
        RateState(rates[1], True, 3, now + 86000),
    ]
    assert dict(limit_headers(rates, states, now)) == {
        "ratelimit-limit": "100",
        "ratelimit-remaining": "3",
        "ratelimit-reset": "86000",
        "ratelimit-policy": "10;w=60, 100;w=86400",
    }


def test_the_429_names_the_limit_and_when_to_retry() -> None:
    rates = parse_rates("10/minute;100/day")
    now = 1000.0
    states = [RateState(rates[0], False, 0, now + 41.5)]
    body, headers = too_many_requests(rates, states, now)
    assert body == {
        "error": "Too many requests: the limit is 10/minute on this route. Retry in 42 seconds.",
        "limit": "10/minute",
        "retry_after": 42,
    }
    assert dict(headers) == {
        "retry-after": "42",
        "ratelimit-limit": "10",
        "ratelimit-remaining": "0",
        "ratelimit-reset": "42",
        "ratelimit-policy": "10;w=60, 100;w=86400",
    }
    # A window that frees up within the second still asks for one second.
    assert (
        too_many_requests(rates, [RateState(rates[0], False, 0, now)], now)[0]["retry_after"] == 1
    )
