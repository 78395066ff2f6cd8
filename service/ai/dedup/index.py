"""The blocking index of known customers: in memory, or in Redis shared by every worker.

Both backends answer the same two questions: "index this customer (again)" and "which known
customers share a blocking key with this profile, or sit next to it in name order".

The memory backend is compact enough for millions of customers in one process: postings are two
sorted numpy arrays (key hash, internal id), recent additions wait in a small dict until the next
compaction, and a replaced or removed customer's old postings are ignored through a dead-id set.

The Redis backend keeps ``<prefix>block:<key>`` sets of customer ids, a ``<prefix>records`` hash of
packed profiles and a ``<prefix>names`` sorted set (lexicographic) for the sorted neighbourhood, so
web processes and workers on any machine see the same index as customers sync.
"""

from __future__ import annotations

import bisect
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple, Protocol

import numpy as np

from service.ai.dedup.blocking import block_keys, name_order_key
from service.ai.dedup.normalise import PACK_SEPARATOR, Profile, ProfileColumns, pack, unpack

_NUL = "\x00"


@dataclass(frozen=True)
class BlockingSettings:
    max_block: int = 400
    neighbourhood: int = 4
    max_candidates: int = 200


class Candidates(NamedTuple):
    """A profile's candidates as a resolution reads them: their ids and, field by field, their
    profiles (comparing one field of all candidates at a time needs no profile per candidate)."""

    ids: list[str]
    columns: ProfileColumns

    @classmethod
    def from_rows(cls, rows: Sequence[tuple[str, Profile]]) -> Candidates:
        return cls([cid for cid, _ in rows], ProfileColumns.of([p for _, p in rows]))

    def profile(self, i: int) -> Profile:
        return Profile._make(column[i] for column in self.columns)

    def rows(self) -> list[tuple[str, Profile]]:
        return list(zip(self.ids, map(Profile._make, zip(*self.columns, strict=True)), strict=True))

    def without(self, exclude: Collection[str]) -> Candidates:
        """These candidates but those in ``exclude``."""
        if not exclude:
            return self
        keep = [i for i, cid in enumerate(self.ids) if cid not in exclude]
        if len(keep) == len(self.ids):
            return self
        return Candidates([self.ids[i] for i in keep],
                          ProfileColumns._make([column[i] for i in keep] for column in self.columns))


class CustomerIndex(Protocol):
    settings: BlockingSettings

    def add(self, customer_id: str, profile: Profile) -> None: ...

    def add_many(self, items: Iterable[tuple[str, Profile]]) -> None: ...

    def remove(self, customer_id: str) -> None: ...

    def get(self, customer_id: str) -> Profile | None: ...

    def candidates(self, profile: Profile) -> list[tuple[str, Profile]]: ...

    def candidate_columns(self, profile: Profile) -> Candidates: ...

    def __len__(self) -> int: ...


def _rank_blocks(blocks: Sequence[tuple[str, Sequence[Any]]]) -> list[tuple[str, Sequence[Any]]]:
    # Exact keys (email, phone) first, then the smallest blocks: when max_candidates cuts the list
    # the most telling candidates are still in it.
    return sorted(blocks, key=lambda kv: (kv[0][:2] not in ("e:", "p:"), len(kv[1])))


class MemoryIndex:
    """An in-process index; fast and compact, but private to the process that built it."""

    def __init__(self, settings: BlockingSettings | None = None, compact_every: int = 50_000) -> None:
        self.settings = settings or BlockingSettings()
        self._compact_every = compact_every
        self._external: list[str] = []
        self._internal: dict[str, int] = {}
        self._records: list[str | None] = []
        self._hashes = np.empty(0, dtype=np.int64)
        self._ids = np.empty(0, dtype=np.int32)
        self._pending: dict[int, list[int]] = {}
        self._pending_postings = 0
        self._names: list[str] = []
        self._pending_names: list[str] = []
        self._dead: set[int] = set()

    def __len__(self) -> int:
        return len(self._internal)

    def _new_internal(self, customer_id: str, profile: Profile) -> int:
        old = self._internal.get(customer_id)
        if old is not None:
            self._dead.add(old)
            self._records[old] = None
        internal = len(self._external)
        self._external.append(customer_id)
        self._records.append(pack(profile))
        self._internal[customer_id] = internal
        return internal

    def add(self, customer_id: str, profile: Profile) -> None:
        internal = self._new_internal(customer_id, profile)
        for key in block_keys(profile):
            self._pending.setdefault(hash(key), []).append(internal)
            self._pending_postings += 1
        name = name_order_key(profile)
        if name:
            bisect.insort(self._pending_names, f"{name}{_NUL}{internal}")
        if self._pending_postings >= self._compact_every:
            self.compact()

    def add_many(self, items: Iterable[tuple[str, Profile]]) -> None:
        """Index many customers at once: one sort instead of one insertion each."""
        hashes: list[int] = []
        ids: list[int] = []
        names: list[str] = []
        for customer_id, profile in items:
            internal = self._new_internal(customer_id, profile)
            keys = block_keys(profile)
            hashes.extend(hash(k) for k in keys)
            ids.extend([internal] * len(keys))
            name = name_order_key(profile)
            if name:
                names.append(f"{name}{_NUL}{internal}")
        self._merge(np.array(hashes, dtype=np.int64), np.array(ids, dtype=np.int32), names)

    def compact(self) -> None:
        """Fold pending postings into the sorted arrays and drop those of replaced customers."""
        hashes = [h for h, ids in self._pending.items() for _ in ids]
        ids = [i for posting in self._pending.values() for i in posting]
        self._pending = {}
        self._pending_postings = 0
        names, self._pending_names = self._pending_names, []
        self._merge(np.array(hashes, dtype=np.int64), np.array(ids, dtype=np.int32), names)

    def _merge(self, hashes: np.ndarray, ids: np.ndarray, names: list[str]) -> None:
        all_hashes = np.concatenate([self._hashes, hashes])
        all_ids = np.concatenate([self._ids, ids])
        if self._dead:
            alive = ~np.isin(all_ids, np.fromiter(self._dead, dtype=np.int32, count=len(self._dead)))
            all_hashes, all_ids = all_hashes[alive], all_ids[alive]
        order = np.argsort(all_hashes, kind="stable")
        self._hashes, self._ids = all_hashes[order], all_ids[order]
        if names:
            self._names.extend(names)
            self._names.sort()
        if self._dead:
            self._names = [n for n in self._names if int(n.rsplit(_NUL, 1)[1]) not in self._dead]
            self._dead = set()

    def remove(self, customer_id: str) -> None:
        internal = self._internal.pop(customer_id, None)
        if internal is not None:
            self._dead.add(internal)
            self._records[internal] = None

    def get(self, customer_id: str) -> Profile | None:
        internal = self._internal.get(customer_id)
        packed = self._records[internal] if internal is not None else None
        return unpack(packed) if packed is not None else None

    def _block(self, key: str) -> list[int]:
        h = hash(key)
        lo = int(np.searchsorted(self._hashes, h, side="left"))
        hi = int(np.searchsorted(self._hashes, h, side="right"))
        found = self._ids[lo:hi].tolist() if hi > lo else []
        return found + self._pending.get(h, [])

    def _neighbours(self, name: str) -> list[int]:
        found: list[int] = []
        width = self.settings.neighbourhood
        for names in (self._names, self._pending_names):
            at = bisect.bisect_left(names, name)
            for entry in names[max(0, at - width) : at + width]:
                found.append(int(entry.rsplit(_NUL, 1)[1]))
        return found

    def candidates(self, profile: Profile) -> list[tuple[str, Profile]]:
        settings = self.settings
        blocks = [(key, self._block(key)) for key in block_keys(profile)]
        blocks = [(k, ids) for k, ids in blocks if 0 < len(ids) <= settings.max_block]
        name = name_order_key(profile)
        if name and settings.neighbourhood:
            blocks.append(("n:", self._neighbours(name)))
        seen: set[int] = set()
        out: list[tuple[str, Profile]] = []
        for _, ids in _rank_blocks(blocks):
            for internal in ids:
                if internal in seen or internal in self._dead:
                    continue
                seen.add(internal)
                packed = self._records[internal]
                if packed is None:
                    continue
                out.append((self._external[internal], unpack(packed)))
                if len(out) >= settings.max_candidates:
                    return out
        return out

    def candidate_columns(self, profile: Profile) -> Candidates:
        return Candidates.from_rows(self.candidates(profile))


# Writes customers into the index in one server-side pass: packing one command per posting in
# Python, and parsing one reply each, was most of a bulk load's time. ARGV: block-key prefix,
# records hash, names sorted set, then per customer: id, packed profile, name-order member (or ""),
# its old name-order member (or ""), the count and list of its keys, the count and list of stale
# keys to drop. Block keys are built inside the script, so this is for a single Redis, not a cluster.
_UPSERT = """
local block, records, names = ARGV[1], ARGV[2], ARGV[3]
local i = 4
while i <= #ARGV do
  local id, packed, name, old_name = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3]
  local n_new = tonumber(ARGV[i + 4])
  local first_new = i + 5
  local n_old = tonumber(ARGV[first_new + n_new])
  local first_old = first_new + n_new + 1
  for k = first_old, first_old + n_old - 1 do redis.call('SREM', block .. ARGV[k], id) end
  if old_name ~= '' and old_name ~= name then redis.call('ZREM', names, old_name) end
  for k = first_new, first_new + n_new - 1 do redis.call('SADD', block .. ARGV[k], id) end
  if name ~= '' then redis.call('ZADD', names, 0, name) end
  redis.call('HSET', records, id, packed)
  i = first_old + n_old
end
return 1
"""


# Reads one profile's candidates in one server-side pass (three round trips each cost a context switch
# to Redis and back, most of a lookup's time on a busy machine). ARGV: block-key prefix, records hash,
# names sorted set, max_block, max_candidates, neighbourhood, the name-order key (or ""), then the
# profile's block keys. Blocks are ranked as _rank_blocks does (exact keys first, then the smallest,
# ties in key order, the neighbourhood after the keys); members are read only until max_candidates
# ids are taken. Returns id, packed profile (nil when the record is gone) pairs.
_CANDIDATES = """
local block, records, names = ARGV[1], ARGV[2], ARGV[3]
local max_block, max_candidates, width = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
local name = ARGV[7]
local blocks = {}
for i = 8, #ARGV do
  local key = ARGV[i]
  local size = redis.call('SCARD', block .. key)
  if size > 0 and size <= max_block then
    local prefix = string.sub(key, 1, 2)
    local rank = (prefix == 'e:' or prefix == 'p:') and 0 or 1
    blocks[#blocks + 1] = {rank, size, #blocks + 1, block .. key}
  end
end
if name ~= '' and width > 0 then
  local ids = {}
  local after = redis.call('ZRANGEBYLEX', names, '[' .. name, '+', 'LIMIT', 0, width)
  local before = redis.call('ZREVRANGEBYLEX', names, '(' .. name, '-', 'LIMIT', 0, width)
  for _, list in ipairs({after, before}) do
    for _, member in ipairs(list) do ids[#ids + 1] = string.match(member, '%z([^%z]*)$') end
  end
  blocks[#blocks + 1] = {1, #ids, #blocks + 1, false, ids}
end
table.sort(blocks, function(a, b)
  if a[1] ~= b[1] then return a[1] < b[1] end
  if a[2] ~= b[2] then return a[2] < b[2] end
  return a[3] < b[3]
end)
local seen, ordered = {}, {}
for _, b in ipairs(blocks) do
  if #ordered >= max_candidates then break end
  local ids = b[5] or redis.call('SMEMBERS', b[4])
  for _, id in ipairs(ids) do
    if not seen[id] then
      seen[id] = true
      ordered[#ordered + 1] = id
      if #ordered >= max_candidates then break end
    end
  end
end
if #ordered == 0 then return {} end
local packed = redis.call('HMGET', records, unpack(ordered))
local out = {}
for i, id in ipairs(ordered) do
  out[2 * i - 1] = id
  out[2 * i] = packed[i]
end
return out
"""


class RedisIndex:
    """The shared index in Redis: every web process and worker resolves against the same customers."""

    def __init__(self, client: Any, settings: BlockingSettings | None = None, prefix: str = "tb:dedup:") -> None:
        self.client = client
        self.settings = settings or BlockingSettings()
        self.prefix = prefix
        self._records_key = prefix + "records"
        self._names_key = prefix + "names"
        self._upsert: Any = None
        self._candidates: Any = None

    def __len__(self) -> int:
        return int(self.client.hlen(self._records_key))

    def _block_key(self, key: str) -> str:
        return f"{self.prefix}block:{key}"

    def _unlink(self, pipe: Any, customer_id: str, profile: Profile) -> None:
        for key in block_keys(profile):
            pipe.srem(self._block_key(key), customer_id)
        name = name_order_key(profile)
        if name:
            pipe.zrem(self._names_key, f"{name}{_NUL}{customer_id}")

    @staticmethod
    def _script_args(customer_id: str, profile: Profile, old: str | None) -> list[str]:
        name = name_order_key(profile)
        keys = block_keys(profile)
        args = [customer_id, pack(profile), f"{name}{_NUL}{customer_id}" if name else ""]
        if old is None:
            return [*args, "", str(len(keys)), *keys, "0"]
        previous = unpack(old)
        old_name = name_order_key(previous)
        old_keys = [k for k in block_keys(previous) if k not in keys]
        return [*args, f"{old_name}{_NUL}{customer_id}" if old_name else "", str(len(keys)), *keys,
                str(len(old_keys)), *old_keys]

    def _write(self, records: list[tuple[str, Profile]], olds: Sequence[Any]) -> None:
        args = [self.prefix + "block:", self._records_key, self._names_key]
        for (customer_id, profile), old in zip(records, olds, strict=True):
            args.extend(self._script_args(customer_id, profile, _decode(old)))
        if self._upsert is None:
            self._upsert = self.client.register_script(_UPSERT)
        self._upsert(keys=[], args=args)

    def add(self, customer_id: str, profile: Profile) -> None:
        self._write([(customer_id, profile)], [self.client.hget(self._records_key, customer_id)])

    def add_many(self, items: Iterable[tuple[str, Profile]], chunk: int = 2_000) -> None:
        """Index many customers: one script call per ``chunk`` (Redis is busy a few ms for each)."""
        batch: list[tuple[str, Profile]] = []
        for item in items:
            batch.append(item)
            if len(batch) >= chunk:
                self._write(batch, self.client.hmget(self._records_key, [cid for cid, _ in batch]))
                batch = []
        if batch:
            self._write(batch, self.client.hmget(self._records_key, [cid for cid, _ in batch]))

    def remove(self, customer_id: str) -> None:
        old = _decode(self.client.hget(self._records_key, customer_id))
        if old is None:
            return
        pipe = self.client.pipeline(transaction=True)
        self._unlink(pipe, customer_id, unpack(old))
        pipe.hdel(self._records_key, customer_id)
        pipe.execute()

    def get(self, customer_id: str) -> Profile | None:
        packed = _decode(self.client.hget(self._records_key, customer_id))
        return unpack(packed) if packed is not None else None

    def candidates(self, profile: Profile) -> list[tuple[str, Profile]]:
        return self.candidate_columns(profile).rows()

    def candidate_columns(self, profile: Profile) -> Candidates:
        """The same candidates as :meth:`MemoryIndex.candidates`, in one round trip: the block sizes,
        members, neighbours and records are read inside Redis (``_CANDIDATES``), which returns the
        ranked, capped ids with their packed profiles."""
        settings = self.settings
        if self._candidates is None:
            self._candidates = self.client.register_script(_CANDIDATES)
        reply = self._candidates(keys=[], args=[
            self.prefix + "block:", self._records_key, self._names_key, settings.max_block,
            settings.max_candidates, settings.neighbourhood, name_order_key(profile), *block_keys(profile)])
        return _decode_candidates(reply)

    def clear(self) -> None:
        """Drop every key of this index (tests, and rebuilding the index from the store)."""
        cursor = 0
        while True:
            cursor, keys = self.client.scan(cursor, match=f"{self.prefix}*", count=10_000)
            if keys:
                self.client.delete(*keys)
            if cursor == 0:
                break


def _decode(value: Any) -> Any:
    return value.decode("utf-8") if isinstance(value, bytes) else value


_WIDTH = len(Profile._fields) + 1  # an id and its profile's fields


def _decode_candidates(reply: Sequence[Any]) -> Candidates:
    """The candidates script's id, packed profile pairs as :class:`Candidates`, those without a record
    left out.

    Up to 200 pairs: the reply joined, decoded and split at once, then cut into an id column and a
    column per field, instead of two decodes and a split each (a fifth of a lookup). The ids must
    land where they were: else (a profile of another width, written by other code) the pairs are
    read one by one, where such a profile fails as it always did."""
    if None in reply:  # records removed meanwhile (rare): their ids go too
        reply = [v for i in range(0, len(reply), 2) if reply[i + 1] is not None for v in reply[i : i + 2]]
    # A client's replies are all bytes, or all text when it decodes them itself.
    if reply and isinstance(reply[0], bytes):
        sep = PACK_SEPARATOR.encode()
        flat = sep.join(reply).decode("utf-8").split(PACK_SEPARATOR)
        ids = sep.join(reply[::2]).decode("utf-8").split(PACK_SEPARATOR)
        if len(flat) == _WIDTH * (len(reply) // 2) and flat[::_WIDTH] == ids:
            return Candidates(ids, ProfileColumns._make(flat[k::_WIDTH] for k in range(1, _WIDTH)))
    pairs = zip(reply[::2], reply[1::2], strict=True)
    return Candidates.from_rows([(_decode(cid), unpack(_decode(packed))) for cid, packed in pairs])
