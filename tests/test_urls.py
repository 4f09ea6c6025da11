"""URL checks, story keys and GUIDs."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from feeds.urls import check_iri, check_url, story_guid, story_key, with_query

BASE = "https://www.example.com/news/story"


@pytest.mark.parametrize(
    "variant",
    [
        "http://www.example.com/news/story",
        "https://example.com/news/story/",
        "https://EXAMPLE.com/news/story#comments",
        "https://www.example.com:443/news/story?utm_source=x&utm_medium=email",
        "http://example.com:80/news/story/?UTM_Campaign=w48#top",
    ],
)
def test_variants_share_one_key_and_guid(variant: str) -> None:
    assert story_key(variant) == story_key(BASE) == "example.com/news/story"
    assert story_guid(story_key(variant)) == story_guid(story_key(BASE))


def test_meaningful_differences_keep_keys_apart() -> None:
    assert story_key("https://example.com/a?id=1") != story_key("https://example.com/a?id=2")
    assert story_key("https://example.com/a") != story_key("https://example.com/A")
    assert story_key("https://example.com:8080/a") != story_key("https://example.com/a")
    assert story_key("https://example.com/a?b=2&a=1") == story_key("https://example.com/a?a=1&b=2")


def test_guid_is_a_urn() -> None:
    guid = story_guid("example.com/a")
    assert guid.startswith("urn:uuid:") and len(guid) == 45


@pytest.mark.parametrize(
    "value",
    [
        None,
        5,
        "",
        "javascript:alert(1)",
        "data:text/html,x",
        "/relative",
        "//example.com/x",
        "ftp://example.com/x",
        "https://",
        "https://exa mple.com/",
        "https://example.com/\nx",
        "https://example.com:99999/",
    ],
)
def test_check_url_rejects(value: object) -> None:
    assert check_url(value) is None


def test_check_url_accepts_and_strips() -> None:
    assert check_url("  https://example.com/a?b=c  ") == "https://example.com/a?b=c"
    assert check_url("HTTP://example.com") == "http://example.com"


def test_with_query_keeps_existing_parameters_and_fragment() -> None:
    url = with_query("https://example.com/a?x=1&utm_source=old#frag", {"utm_source": "new"})
    assert url == "https://example.com/a?x=1&utm_source=new#frag"


@given(
    path=st.lists(st.text("abcxyz0123-_", min_size=1, max_size=8), max_size=4),
    params=st.dictionaries(st.text("abcdef", min_size=1, max_size=5), st.text("xyz01", max_size=4)),
    www=st.booleans(),
    https=st.booleans(),
    slash=st.booleans(),
)
def test_key_ignores_presentation_details(
    path: list[str], params: dict[str, str], www: bool, https: bool, slash: bool
) -> None:
    plain = "https://example.org/" + "/".join(path)
    query = "&".join(f"{k}={v}" for k, v in params.items())
    noisy = (
        ("https://" if https else "http://")
        + ("www." if www else "")
        + "example.org/"
        + "/".join(path)
        + ("/" if slash else "")
        + "?"
        + "&".join(filter(None, [query, "utm_source=feed"]))
        + "#frag"
    )
    assert story_key(noisy) == story_key(plain + ("?" + query if query else ""))


@pytest.mark.parametrize(
    ("iri", "uri"),
    [
        ("https://example.com/a?b=c#d", "https://example.com/a?b=c#d"),
        ("https://hostile.example/café?q=☃", "https://hostile.example/caf%C3%A9?q=%E2%98%83"),
        ("https://Bücher.example:8443/ü", "https://xn--bcher-kva.example:8443/%C3%BC"),
        ("https://example.com/a%20b/%E2%98%83", "https://example.com/a%20b/%E2%98%83"),  # kept
        ("https://example.com/100%/x?y=50%", "https://example.com/100%25/x?y=50%25"),
        (
            "https://例え.テスト/パス#片",
            "https://xn--r8jz45g.xn--zckzah/%E3%83%91%E3%82%B9#%E7%89%87",
        ),
    ],
)
def test_urls_are_written_as_uris(iri: str, uri: str) -> None:
    assert check_url(iri) == uri
    assert check_url(uri) == uri  # idempotent


def test_the_guid_of_an_iri_story_is_what_it_was() -> None:
    # the key is taken from the URL as the record wrote it (urls.check_iri), so a
    # story whose URL has non-ASCII characters keeps the GUID it had before URIs
    iri = "https://hostile.example/café?q=☃"
    assert check_iri(iri) == iri
    assert story_key(iri) == "hostile.example/café?q=%E2%98%83"
    assert (
        story_guid(story_key(iri)) == "urn:uuid:0395f8e8-e183-5808-93fa-30062e774736"
    )  # as released before


def test_a_host_that_is_no_domain_name_is_rejected() -> None:
    assert check_url("https://☃☃.example/x") is None
