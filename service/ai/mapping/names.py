"""Field names as words: split, expanded, singular and rewritten with the synonyms in rules/synonyms.yaml."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from service.settings import repo_path

SYNONYMS_FILE = "rules/synonyms.yaml"

_SEGMENT = re.compile(r"\[(\d*)\]|\.")
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_WORD = re.compile(r"[a-z]+|\d+|#")
_STOPWORDS = frozenset({"the", "a", "an", "of", "for", "in", "to", "is", "and", "or", "this", "that", "if",
                        "it", "on", "at", "be", "by", "with", "as", "are", "its", "data"})
# Plural folding leaves these alone: they are not plurals.
_NOT_PLURAL = frozenset({"status", "address", "class", "gross", "sku", "is", "its", "bus", "plus", "canvas",
                         "tax", "previous", "bonus", "alias", "mass", "gas", "process"})


@dataclass(frozen=True)
class NameForms:
    """The forms of one field's name that the name evidence compares."""

    full: str  # canonical words of the whole path
    leaf: str  # canonical words of the last segment
    parent: str  # canonical words of the enclosing path ("root" at the top)
    raw: str  # lower-cased words before expansions and synonyms


class Vocabulary:
    """Expansions, plural folding and synonym groups (see rules/synonyms.yaml)."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.expansions: dict[str, list[str]] = {
            str(k).lower(): [str(w).lower() for w in v] for k, v in (data.get("expansions") or {}).items()
        }
        self.street_words = frozenset(str(w).lower() for w in data.get("street_line_words") or ())
        self.ignored = frozenset(_singular(str(w).lower()) for w in data.get("ignore") or ())
        phrases: dict[tuple[str, ...], tuple[str, ...]] = {}
        for canonical, variants in (data.get("synonyms") or {}).items():
            target = tuple(self._fold(str(canonical).lower().split()))
            for variant in [canonical, *variants]:
                key = tuple(self._fold(str(variant).lower().split()))
                phrases.setdefault(key, target)
        self.phrases = phrases
        self.longest = max((len(k) for k in phrases), default=1)

    @classmethod
    def load(cls, path: str | Path | None = None) -> Vocabulary:
        file = repo_path(str(path or SYNONYMS_FILE))
        return cls(yaml.safe_load(file.read_text(encoding="utf-8")) or {})

    def words(self, text: str) -> list[str]:
        """Canonical words of free text or one name segment."""
        raw = split_words(text)
        expanded: list[str] = []
        for w in raw:
            expanded.extend(self.expansions.get(w, [w]))
        folded = self._fold(expanded)
        words = self._rewrite(folded)
        kept = [w for w in words if w not in _STOPWORDS and w not in self.ignored]
        # A name made only of small words ("a", "to") is still a name.
        return kept or words

    def forms(self, name: str) -> NameForms:
        segments = [s for s in name_segments(name) if s]
        words = [self.words(s) for s in segments] or [[]]
        leaf = " ".join(words[-1])
        parent = " ".join(w for seg in words[:-1] for w in seg) or "root"
        full = " ".join(w for seg in words for w in seg)
        raw = " ".join(w for s in segments for w in split_words(s))
        return NameForms(full=full, leaf=leaf, parent=parent, raw=raw)

    def _fold(self, words: list[str]) -> list[str]:
        return [_singular(w) for w in words]

    def _rewrite(self, words: list[str]) -> list[str]:
        out: list[str] = []
        i = 0
        while i < len(words):
            if (words[i] in self.street_words and i + 1 < len(words) and words[i + 1].isdigit()
                    and len(words[i + 1]) == 1):
                out.extend(["street", words[i + 1]])
                i += 2
                continue
            for n in range(min(self.longest, len(words) - i), 0, -1):
                target = self.phrases.get(tuple(words[i:i + n]))
                if target is not None:
                    out.extend(target)
                    i += n
                    break
            else:
                out.append(words[i])
                i += 1
        return out


def name_segments(name: str) -> list[str]:
    """Path segments; a list index becomes its 1-based position (``street[0]`` → ``street``, ``1``)."""
    out: list[str] = []
    pos = 0
    for m in _SEGMENT.finditer(name):
        out.append(name[pos:m.start()])
        if m.group(1):
            out[-1] = f"{out[-1]} {int(m.group(1)) + 1}"
        pos = m.end()
    out.append(name[pos:])
    return [s.strip() for s in out if s.strip()]


def split_words(text: str) -> list[str]:
    spaced = _CAMEL.sub(" ", text.replace("@", " "))
    spaced = re.sub(r"(?<=[A-Za-z])(?=\d)|(?<=\d)(?=[A-Za-z])", " ", spaced)
    return _WORD.findall(spaced.lower())


def _singular(word: str) -> str:
    if len(word) <= 3 or word in _NOT_PLURAL or not word.endswith("s"):
        return word
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith(("sses", "xes", "ches", "shes")):
        return word[:-2]
    if word.endswith("ss") or word.endswith("us"):
        return word
    return word[:-1]


@lru_cache(maxsize=4)
def default_vocabulary(path: str | None = None) -> Vocabulary:
    return Vocabulary.load(path)
