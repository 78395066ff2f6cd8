"""A strict reader of Prometheus' text exposition format (0.0.4), for tests: every line must be a
HELP, a TYPE or a sample of the family last declared; anything else fails the test."""

from __future__ import annotations

import re

NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
LABEL = r'[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*"'
VALUE = r"(?:[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?|[-+]?Inf|NaN)"
HELP = re.compile(rf"^# HELP ({NAME}) (.*)$")
TYPE = re.compile(rf"^# TYPE ({NAME}) (counter|gauge|histogram|summary|untyped)$")
SAMPLE = re.compile(rf"^({NAME})(?:\{{((?:{LABEL})(?:,{LABEL})*)?\}})? ({VALUE})(?: -?\d+)?$")
PAIR = re.compile(rf'({NAME})="((?:[^"\\\n]|\\[\\"n])*)"')

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def parse_samples(text: str) -> Samples:
    """{(name, sorted label pairs): value}; raises AssertionError on the first malformed line."""
    assert text.endswith("\n"), "the exposition must end with a newline"
    samples: Samples = {}
    typed: dict[str, str] = {}
    current = ""
    for number, line in enumerate(text.splitlines(), start=1):
        if match := HELP.match(line):
            current = match.group(1)
            continue
        if match := TYPE.match(line):
            assert match.group(1) == current, f"line {number}: TYPE for {match.group(1)} after HELP for {current}"
            assert current not in typed, f"line {number}: {current} declared twice"
            typed[current] = match.group(2)
            continue
        match = SAMPLE.match(line)
        assert match is not None, f"line {number} is not Prometheus text: {line!r}"
        name = match.group(1)
        assert name == current or name.startswith(current + "_"), f"line {number}: {name} outside its family"
        labels = tuple(sorted(PAIR.findall(match.group(2) or "")))
        key = (name, labels)
        assert key not in samples, f"line {number}: {name}{labels} repeated"
        samples[key] = float(match.group(3).replace("Inf", "inf"))
    return samples
