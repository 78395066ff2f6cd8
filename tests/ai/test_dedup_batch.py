"""`tillbridge customers dedupe`: one file against itself, two files linked, only the columns given."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from click.testing import CliRunner

from service.ai.dedup.batch import ColumnsError, parse_columns
from service.cli.main import main
from training.dedup_data import generate


def _write(path: Path, header: list[str], rows: list[list[str]]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows(rows)


def _read(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


POS_HEADER = ["Customer #", "First", "Last", "Mobile", "Address", "Zip", "Notes"]
POS_ROWS = [
    ["H-1", "Jon", "Smith", "(206) 555-0142", "12 Oak Street", "98101", "likes red"],
    ["H-2", "Emily", "Smith", "206-555-0142", "12 Oak Street", "98101", ""],
    ["H-3", "Maria", "Garcia", "917 555 0100", "4 Elm Avenue", "10001", ""],
    ["H-4", "Jonathan", "Smith", "+1 206 555 0142", "12 Oak St.", "98101-2204", ""],
]
WEB_HEADER = ["entity_id", "firstname", "lastname", "telephone", "street", "postcode", "email"]
WEB_ROWS = [
    ["42", "Jonathan", "Smith", "2065550142", "12 Oak St", "98101", "jon.smith@gmail.com"],
    ["43", "Maria", "Garcia", "9175550100", "4 Elm Ave", "10001", "mgarcia@aol.com"],
    ["44", "Zoe", "Quill", "3125550199", "1 Lake Dr", "60601", "zq@example.com"],
]


def test_dedupe_one_file_finds_the_nickname_and_leaves_the_household(tmp_path: Path) -> None:
    src, out = tmp_path / "pos.csv", tmp_path / "pairs.csv"
    _write(src, POS_HEADER, POS_ROWS)
    result = CliRunner().invoke(main, [
        "customers", "dedupe", "--input", str(src), "--id-column", "Customer #", "--output", str(out),
        "--columns", "first_name=First,last_name=Last,phone=Mobile,street=Address,postcode=Zip",
    ])
    assert result.exit_code == 0, result.output
    rows = _read(out)
    assert list(rows[0]) == ["left_id", "right_id", "score", "decision"]
    decided = {(r["left_id"], r["right_id"]): r["decision"] for r in rows}
    assert decided.get(("H-1", "H-4")) == "match"
    assert decided.get(("H-1", "H-2")) != "match" and decided.get(("H-2", "H-4")) != "match"
    assert all(r["decision"] in ("match", "review") for r in rows)


def test_linking_two_files_pairs_only_across_them(tmp_path: Path) -> None:
    pos, web, out = tmp_path / "pos.csv", tmp_path / "web.csv", tmp_path / "pairs.csv"
    _write(pos, POS_HEADER, POS_ROWS)
    # Both files use one column name per field, so the web export is renamed to the POS header here.
    _write(web, POS_HEADER, [[r[0], r[1], r[2], r[3], r[4], r[5], r[6]] for r in WEB_ROWS])
    result = CliRunner().invoke(main, [
        "customers", "dedupe", "--input", str(pos), "--against", str(web), "--id-column", "Customer #",
        "--columns", "first_name=First,last_name=Last,phone=Mobile,street=Address,postcode=Zip", "--output", str(out),
    ])
    assert result.exit_code == 0, result.output
    rows = _read(out)
    assert rows and all(r["left_id"].startswith("H-") and not r["right_id"].startswith("H-") for r in rows)
    matches = {(r["left_id"], r["right_id"]) for r in rows if r["decision"] == "match"}
    assert {("H-1", "42"), ("H-4", "42"), ("H-3", "43")} <= matches


def test_only_the_given_columns_are_read(tmp_path: Path) -> None:
    src, out = tmp_path / "pos.csv", tmp_path / "pairs.csv"
    _write(src, POS_HEADER, POS_ROWS)
    result = CliRunner().invoke(main, [
        "customers", "dedupe", "--input", str(src), "--columns", "first_name=First,last_name=Last", "--output", str(out),
    ])
    assert result.exit_code == 0, result.output
    # Names alone cannot tell Jon Smith from Emily Smith, nor make Jon/Jonathan a certain match.
    rows = _read(out)
    assert not any(r["decision"] == "match" and {r["left_id"], r["right_id"]} == {"1", "2"} for r in rows)


def test_bad_columns_say_what_to_fix(tmp_path: Path) -> None:
    src = tmp_path / "pos.csv"
    _write(src, POS_HEADER, POS_ROWS)
    result = CliRunner().invoke(main, [
        "customers", "dedupe", "--input", str(src), "--columns", "first_name=Given", "--output", str(tmp_path / "o.csv"),
    ])
    assert result.exit_code != 0 and "no column 'Given'" in result.output and "First" in result.output
    with pytest.raises(ColumnsError, match="unknown field 'shoe_size'"):
        parse_columns("shoe_size=Shoe")
    with pytest.raises(ColumnsError, match="field=COLUMN"):
        parse_columns("email")


def test_generated_file_round_trip_through_the_cli(tmp_path: Path) -> None:
    customers, truth, out = tmp_path / "c.csv", tmp_path / "t.csv", tmp_path / "p.csv"
    result = CliRunner().invoke(main, ["customers", "generate", "--entities", "400", "--seed", "3",
                                       "--output", str(customers), "--truth", str(truth)])
    assert result.exit_code == 0, result.output
    columns = ",".join(f"{f}={f}" for f in ("first_name", "middle_name", "last_name", "email", "phone", "street",
                                             "city", "region", "postcode", "dob"))
    result = CliRunner().invoke(main, ["customers", "dedupe", "--input", str(customers), "--id-column", "id",
                                       "--columns", columns, "--output", str(out)])
    assert result.exit_code == 0, result.output
    entity = {r["id"]: r["entity"] for r in _read(truth)}
    matches = [(r["left_id"], r["right_id"]) for r in _read(out) if r["decision"] == "match"]
    assert len(matches) > 50
    assert sum(entity[a] == entity[b] for a, b in matches) / len(matches) > 0.97
    assert len(generate(400, seed=3)) == len(entity)
