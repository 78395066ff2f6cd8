"""A seeded generator of realistic customer records with duplicates, and the truth about them.

Each *entity* is one real person; each gets a primary record and, for some, further records as a
till or a web shop would have captured them: typos, nicknames, swapped first/last names, missing
fields, another phone format, a moved house, a married name, a day-first date of birth, a dotted
gmail address. Some entities live in a *household* with another entity: same surname, same address,
often the same landline, but a different person, which must never be matched.

Entity-level choices are drawn with numpy in one go (a million entities take seconds); only the
per-record string edits run in a Python loop.
"""

from __future__ import annotations

import csv
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import numpy as np

from service.ai.dedup.normalise import FIELDS


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


MALE = _words(
    "James John Robert Michael William David Richard Joseph Thomas Charles Christopher Daniel Matthew "
    "Anthony Mark Donald Steven Paul Andrew Joshua Kenneth Kevin Brian George Timothy Ronald Edward "
    "Jason Jeffrey Ryan Jacob Gary Nicholas Eric Jonathan Stephen Larry Justin Scott Brandon Benjamin "
    "Samuel Gregory Alexander Frank Patrick Raymond Jack Dennis Jerry Tyler Aaron Jose Adam Nathan Henry "
    "Douglas Zachary Peter Kyle Ethan Walter Noah Jeremy Christian Keith Roger Terry Gerald Harold Sean "
    "Austin Carl Arthur Lawrence Dylan Jesse Jordan Bryan Billy Joe Bruce Gabriel Logan Albert Willie "
    "Alan Juan Wayne Elijah Randy Roy Vincent Ralph Eugene Russell Bobby Mason Philip Louis Oliver Liam "
    "Lucas Theodore Frederick Bernard Victor Martin Luis Carlos Miguel Omar Hiroshi Wei Raj Mohammed"
)
FEMALE = _words(
    "Mary Patricia Jennifer Linda Elizabeth Barbara Susan Jessica Sarah Karen Lisa Nancy Betty Margaret "
    "Sandra Ashley Kimberly Emily Donna Michelle Carol Amanda Dorothy Melissa Deborah Stephanie Rebecca "
    "Sharon Laura Cynthia Kathleen Amy Angela Shirley Anna Brenda Pamela Emma Nicole Helen Samantha "
    "Katherine Christine Debra Rachel Carolyn Janet Catherine Maria Heather Diane Ruth Julie Olivia "
    "Joyce Virginia Victoria Kelly Lauren Christina Joan Evelyn Judith Megan Andrea Cheryl Hannah Jacqueline "
    "Martha Gloria Teresa Ann Sara Madison Frances Kathryn Janice Jean Abigail Alice Judy Sophia Grace "
    "Denise Amber Doris Marilyn Danielle Beverly Isabella Theresa Diana Natalie Brittany Charlotte Marie "
    "Kayla Alexis Lori Rosemary Josephine Eleanor Gabrielle Alexandra Priya Mei Fatima Yuki Lucia Ana"
)
SURNAMES = _words(
    "Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez Hernandez Lopez Gonzalez "
    "Wilson Anderson Thomas Taylor Moore Jackson Martin Lee Perez Thompson White Harris Sanchez Clark "
    "Ramirez Lewis Robinson Walker Young Allen King Wright Scott Torres Nguyen Hill Flores Green Adams "
    "Nelson Baker Hall Rivera Campbell Mitchell Carter Roberts Gomez Phillips Evans Turner Diaz Parker "
    "Cruz Edwards Collins Reyes Stewart Morris Morales Murphy Cook Rogers Gutierrez Ortiz Morgan Cooper "
    "Peterson Bailey Reed Kelly Howard Ramos Kim Cox Ward Richardson Watson Brooks Chavez Wood James "
    "Bennett Gray Mendoza Ruiz Hughes Price Alvarez Castillo Sanders Patel Myers Long Ross Foster Jimenez "
    "Powell Jenkins Perry Russell Sullivan Bell Coleman Butler Henderson Barnes Gonzales Fisher Vasquez "
    "Simmons Romero Jordan Patterson Alexander Hamilton Graham Reynolds Griffin Wallace Moreno West Cole "
    "Hayes Bryant Herrera Gibson Ellis Tran Medina Aguilar Stevens Murray Ford Castro Marshall Owens "
    "Harrison Fernandez McDonald Woods Washington Kennedy Wells Vargas Henry Chen Freeman Webb Tucker "
    "Guzman Burns Crawford Olson Simpson Porter Hunter Gordon Mendez Silva Shaw Snyder Mason Dixon Munoz "
    "Hunt Hicks Holmes Palmer Wagner Black Robertson Boyd Rose Stone Salazar Fox Warren Mills Meyer Rice "
    "Schmidt Garza Daniels Ferguson Nichols Stephens Soto Weaver Ryan Gardner Payne Grant Dunn Kelley "
    "Spencer Hawkins Arnold Pierce Vazquez Hansen Peters Santos Hart Bradley Knight Elliott Cunningham "
    "Duncan Armstrong Hudson Carroll Lane Riley Andrews Alvarado Ray Delgado Berry Perkins Hoffman "
    "Johnston Matthews Pena Richards Contreras Willis Carpenter Lawrence Sandoval Guerrero George Chapman "
    "Rios Estrada Ortega Watkins Greene Nunez Wheeler Valdez Harper Burke Larson Santiago Maldonado "
    "Morrison Franklin Carlson Austin Dominguez Carr Lawson Jacobs OBrien Lynch Singh Vega Bishop "
    "Montgomery Oliver Jensen Harvey Williamson Gilbert Dean Sims Espinoza Howell Li Wong Reid Hanson "
    "Le McCoy Garrett Burton Fuller Wang Weber Welch Rojas Lucas Marquez Fields Park Yang Little Banks "
    "Padilla Day Walsh Bowman Schultz Luna Fowler Mejia Davidson Acosta Brewer May Holland Juarez Newman "
    "Pearson Curtis Cortez Douglas Schneider Joseph Barrett Navarro Figueroa Keller Avila Wade Molina "
    "Stanley Hopkins Campos Barnett Bates Chambers Caldwell Beck Lambert Miranda Byrd Craig Ayala Lowe "
    "Frazier Powers Neal Leonard Gregory Carrillo Sutton Fleming Rhodes Shelton Schwartz Norris Jennings "
    "Watts Duran Walters Cohen McDaniel Moran Parks Steele Vaughn Becker Holt DeLeon Barker Terry Hale "
    "Leon Hail Benson Haynes Horton Miles Lyons Pham Graves Bush Thornton Wolfe Warner Cabrera McKinney"
)
SURNAME_HEADS = _words(
    "Ash Bar Bel Black Brad Brook Cal Carl Chad Clay Cor Dal Dar Ed El Fair Fen Gar Gold Hal Ham Har "
    "Hart Hol Kel Ken Lang Lin Mar Mel Mont Nor Os Pen Ral Red Rock Roth Sal Shel Stan Sum Thorn Van "
    "Wal Wes Whit Win Wood Kow Nov Ber Lind Hof Sch Dra Ost Pet Jan"
)
SURNAME_TAILS = _words(
    "son sen ton ley man mann berg field ford well wood worth ridge stein ski ska ovich enko ez ard "
    "by more wick dale hurst land stead mere brook"
)
STREETS = _words(
    "Main Oak Maple Pine Cedar Elm Washington Lake Hill Park Walnut Sunset Lincoln Jackson Church River "
    "Highland Willow Adams Jefferson Madison Franklin Spring Ridge Meadow Forest Chestnut Cherry Dogwood "
    "Sycamore Birch Lakeview Hickory Center Mill Union Valley Broad Prospect Locust Spruce Laurel Grove "
    "Magnolia Poplar Aspen Heritage Orchard Sunrise Fairview Woodland College Green School Bridge Liberty "
    "Market Canal Hawthorn Juniper Rosewood Kingston Bayview Harbor Cypress Lexington Clinton Monroe"
)
SUFFIXES = ("Street", "Avenue", "Road", "Drive", "Lane", "Court", "Boulevard", "Way", "Place", "Circle")
CITIES = (
    ("Seattle", "WA"), ("Spokane", "WA"), ("Tacoma", "WA"), ("Portland", "OR"), ("Eugene", "OR"),
    ("San Francisco", "CA"), ("Los Angeles", "CA"), ("San Diego", "CA"), ("Sacramento", "CA"), ("Fresno", "CA"),
    ("Phoenix", "AZ"), ("Tucson", "AZ"), ("Denver", "CO"), ("Boulder", "CO"), ("Salt Lake City", "UT"),
    ("Boise", "ID"), ("Austin", "TX"), ("Dallas", "TX"), ("Houston", "TX"), ("San Antonio", "TX"),
    ("El Paso", "TX"), ("Oklahoma City", "OK"), ("Tulsa", "OK"), ("Kansas City", "MO"), ("St. Louis", "MO"),
    ("Omaha", "NE"), ("Minneapolis", "MN"), ("Saint Paul", "MN"), ("Chicago", "IL"), ("Springfield", "IL"),
    ("Milwaukee", "WI"), ("Madison", "WI"), ("Detroit", "MI"), ("Grand Rapids", "MI"), ("Columbus", "OH"),
    ("Cleveland", "OH"), ("Cincinnati", "OH"), ("Indianapolis", "IN"), ("Louisville", "KY"),
    ("Nashville", "TN"), ("Memphis", "TN"), ("Atlanta", "GA"), ("Savannah", "GA"), ("Charlotte", "NC"),
    ("Raleigh", "NC"), ("Charleston", "SC"), ("Miami", "FL"), ("Orlando", "FL"), ("Tampa", "FL"),
    ("Jacksonville", "FL"), ("Birmingham", "AL"), ("New Orleans", "LA"), ("Richmond", "VA"),
    ("Arlington", "VA"), ("Baltimore", "MD"), ("Philadelphia", "PA"), ("Pittsburgh", "PA"),
    ("New York", "NY"), ("Buffalo", "NY"), ("Albany", "NY"), ("Newark", "NJ"), ("Boston", "MA"),
    ("Worcester", "MA"), ("Providence", "RI"), ("Hartford", "CT"), ("Burlington", "VT"), ("Portland", "ME"),
    ("Manchester", "NH"), ("Anchorage", "AK"), ("Honolulu", "HI"), ("Albuquerque", "NM"), ("Las Vegas", "NV"),
    ("Reno", "NV"), ("Des Moines", "IA"), ("Little Rock", "AR"), ("Jackson", "MS"), ("Wichita", "KS"),
)
AREA_CODES = (
    206, 253, 360, 425, 509, 503, 541, 971, 415, 510, 650, 213, 310, 323, 619, 858, 916, 559, 602, 480,
    520, 303, 720, 801, 208, 512, 214, 972, 713, 281, 210, 915, 405, 918, 816, 314, 402, 612, 651, 312,
    773, 217, 414, 608, 313, 616, 614, 216, 513, 317, 502, 615, 901, 404, 770, 912, 704, 919, 843, 305,
    407, 813, 904, 205, 504, 804, 703, 410, 215, 412, 212, 718, 716, 518, 973, 617, 508, 401, 860, 802,
    207, 603, 907, 808, 505, 702, 775, 515, 501, 601, 316,
)
DOMAINS = ("gmail.com", "yahoo.com", "hotmail.com", "outlook.com", "aol.com", "icloud.com", "comcast.net",
           "msn.com", "live.com", "proton.me")
DOMAIN_WEIGHTS = np.array([40, 15, 10, 9, 5, 8, 4, 3, 3, 3], dtype=np.float64)

#: Nicknames by formal name (a small subset of rules/nicknames.yaml, inverted the other way).
NICKNAMES = {
    "james": ["Jim", "Jimmy", "Jamie"], "john": ["Jack", "Johnny", "Jon"], "robert": ["Bob", "Rob", "Bobby"],
    "michael": ["Mike", "Mikey", "Mick"], "william": ["Bill", "Will", "Billy", "Liam"],
    "david": ["Dave", "Davey"], "richard": ["Rick", "Rich", "Dick"], "joseph": ["Joe", "Joey"],
    "thomas": ["Tom", "Tommy"], "charles": ["Charlie", "Chuck"], "christopher": ["Chris", "Kit"],
    "daniel": ["Dan", "Danny"], "matthew": ["Matt"], "anthony": ["Tony"], "steven": ["Steve"],
    "andrew": ["Andy", "Drew"], "joshua": ["Josh"], "kenneth": ["Ken", "Kenny"], "timothy": ["Tim"],
    "ronald": ["Ron", "Ronnie"], "edward": ["Ed", "Eddie", "Ted"], "jeffrey": ["Jeff"],
    "nicholas": ["Nick"], "jonathan": ["Jon", "Nate"], "benjamin": ["Ben", "Benny"], "samuel": ["Sam"],
    "gregory": ["Greg"], "alexander": ["Alex", "Alec"], "patrick": ["Pat", "Paddy"], "douglas": ["Doug"],
    "zachary": ["Zach", "Zack"], "peter": ["Pete"], "lawrence": ["Larry"], "albert": ["Al", "Bert"],
    "theodore": ["Ted", "Theo"], "frederick": ["Fred", "Freddie"], "philip": ["Phil"], "henry": ["Hank"],
    "elizabeth": ["Liz", "Beth", "Betsy", "Eliza"], "patricia": ["Pat", "Patty", "Trish"],
    "jennifer": ["Jen", "Jenny"], "margaret": ["Maggie", "Peggy", "Meg"], "susan": ["Sue", "Susie"],
    "jessica": ["Jess", "Jessie"], "kimberly": ["Kim"], "deborah": ["Deb", "Debbie"],
    "stephanie": ["Steph"], "rebecca": ["Becky", "Becca"], "cynthia": ["Cindy"], "katherine": ["Kate", "Katie"],
    "christine": ["Chris", "Chrissy"], "catherine": ["Cathy", "Kate"], "samantha": ["Sam", "Sammy"],
    "victoria": ["Vicky", "Tori"], "kathryn": ["Kathy", "Kate"], "abigail": ["Abby"],
    "alexandra": ["Alex", "Sandy"], "josephine": ["Josie", "Jo"], "eleanor": ["Ellie", "Nell"],
    "gabrielle": ["Gabby"], "pamela": ["Pam"], "amanda": ["Mandy"], "dorothy": ["Dot", "Dottie"],
    "isabella": ["Bella", "Izzy"], "danielle": ["Dani"], "rosemary": ["Rosie"], "melissa": ["Missy", "Mel"],
}

PHONE_FORMATS = ("({a}) {b}-{c}", "{a}-{b}-{c}", "{a}.{b}.{c}", "{a}{b}{c}", "+1 {a} {b} {c}", "1-{a}-{b}-{c}")


@dataclass
class Dataset:
    """Customer records (columns of strings, one entry per record) and the truth about them."""

    columns: dict[str, list[str]]
    entity: np.ndarray  # the person each record belongs to
    household: np.ndarray  # entities of one household share this id
    primary: np.ndarray  # True for each entity's first record
    ids: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.entity)

    def record(self, i: int) -> dict[str, str]:
        return {name: values[i] for name, values in self.columns.items()}

    def records(self, indices: np.ndarray | list[int] | None = None) -> Iterator[tuple[str, dict[str, str]]]:
        for i in range(len(self)) if indices is None else indices:
            yield self.ids[int(i)], self.record(int(i))

    def true_pairs(self, indices: np.ndarray | None = None) -> set[tuple[int, int]]:
        """Record index pairs (i < j) that are the same person."""
        chosen = np.arange(len(self)) if indices is None else np.asarray(indices)
        order = chosen[np.argsort(self.entity[chosen], kind="stable")]
        ents = self.entity[order]
        pairs: set[tuple[int, int]] = set()
        starts = np.flatnonzero(np.r_[True, ents[1:] != ents[:-1]])
        ends = np.r_[starts[1:], len(order)]
        for s, e in zip(starts, ends, strict=True):
            if e - s > 1:
                members = sorted(int(x) for x in order[s:e])
                pairs.update((members[x], members[y]) for x in range(len(members)) for y in range(x + 1, len(members)))
        return pairs

    def write_csv(self, path: str | Path, indices: np.ndarray | None = None, truth: str | Path | None = None) -> None:
        """Write records as CSV (``id`` + the canonical fields), and optionally ``id,entity,household``."""
        chosen = range(len(self)) if indices is None else [int(i) for i in indices]
        with open(path, "w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh)
            writer.writerow(["id", *self.columns])
            cols = list(self.columns.values())
            for i in chosen:
                writer.writerow([self.ids[i], *(c[i] for c in cols)])
        if truth is not None:
            with open(truth, "w", newline="", encoding="utf-8") as fh:
                writer = csv.writer(fh)
                writer.writerow(["id", "entity", "household"])
                for i in chosen:
                    writer.writerow([self.ids[i], int(self.entity[i]), int(self.household[i])])


@dataclass
class _People:
    """Entity-level truth, one array entry per person."""

    first: list[str]
    middle: list[str]
    last: list[str]
    female: np.ndarray
    dob: list[date]
    street: list[tuple[int, str, str]]  # house number, street name, suffix
    place: np.ndarray  # index into the zip table
    phone: list[str]  # 10 digits
    email: list[str]
    household: np.ndarray


def _zipf_weights(n: int, s: float = 1.0) -> np.ndarray:
    w = 1.0 / np.arange(1, n + 1) ** s
    return w / w.sum()


def _places(rng: np.random.Generator, n_zips: int) -> tuple[np.ndarray, list[str]]:
    """A table of (city index, zip code) sized to the population, zips unique."""
    zips = rng.choice(np.arange(10_000, 99_999), size=n_zips, replace=False)
    city = rng.integers(0, len(CITIES), size=n_zips)
    return city, [f"{z:05d}" for z in zips]


def _people(rng: np.random.Generator, n: int, household_rate: float, zip_codes: int) -> _People:
    female = rng.random(n) < 0.52
    male_pick = rng.choice(len(MALE), size=n, p=_zipf_weights(len(MALE), 0.7))
    female_pick = rng.choice(len(FEMALE), size=n, p=_zipf_weights(len(FEMALE), 0.7))
    first = [FEMALE[f] if is_f else MALE[m] for is_f, m, f in zip(female, male_pick, female_pick, strict=True)]
    mid_kind = rng.random(n)
    mid_pick = rng.integers(0, len(MALE), size=n)
    mid_pick_f = rng.integers(0, len(FEMALE), size=n)
    middle = [
        "" if k < 0.45 else (FEMALE[mf] if is_f else MALE[mm])
        for k, is_f, mm, mf in zip(mid_kind, female, mid_pick, mid_pick_f, strict=True)
    ]
    common = rng.random(n) < 0.75
    surname_pick = rng.choice(len(SURNAMES), size=n, p=_zipf_weights(len(SURNAMES), 0.9))
    heads = rng.integers(0, len(SURNAME_HEADS), size=n)
    tails = rng.integers(0, len(SURNAME_TAILS), size=n)
    last = [
        SURNAMES[s] if c else SURNAME_HEADS[h] + SURNAME_TAILS[t]
        for c, s, h, t in zip(common, surname_pick, heads, tails, strict=True)
    ]
    today = date(2026, 1, 1)
    age_days = rng.integers(18 * 365, 88 * 365, size=n)
    dob = [today - timedelta(days=int(d)) for d in age_days]
    house = np.minimum(rng.geometric(1 / 900, size=n), 19_999)
    street_pick = rng.integers(0, len(STREETS), size=n)
    suffix_pick = rng.choice(len(SUFFIXES), size=n, p=_zipf_weights(len(SUFFIXES), 0.8))
    street = [(int(h), STREETS[s], SUFFIXES[x]) for h, s, x in zip(house, street_pick, suffix_pick, strict=True)]
    place = rng.integers(0, zip_codes, size=n)
    area = rng.choice(np.array(AREA_CODES), size=n)
    exchange = rng.integers(200, 1000, size=n)
    line = rng.integers(0, 10_000, size=n)
    phone = [f"{a}{e}{x:04d}" for a, e, x in zip(area, exchange, line, strict=True)]
    household = np.arange(n)
    members = np.flatnonzero(rng.random(n) < household_rate)
    members = members[members > 0]
    if len(members):
        heads_of = (rng.random(len(members)) * members).astype(np.int64)  # an earlier entity
        same_phone = rng.random(len(members)) < 0.5
        married_name = rng.random(len(members)) < 0.85
        for m, h, share, keep_name in zip(members, heads_of, same_phone, married_name, strict=True):
            household[m] = household[h]
            street[m] = street[h]
            place[m] = place[h]
            if keep_name:
                last[m] = last[h]
            if share:
                phone[m] = phone[h]
            age_gap = int(rng.integers(-30 * 365, 30 * 365))
            dob[m] = min(max(dob[h] + timedelta(days=age_gap), date(1930, 1, 1)), date(2008, 1, 1))
    email = _emails(rng, first, last, dob)
    return _People(first, middle, last, female, dob, street, place, phone, email, household)


def _emails(rng: np.random.Generator, first: list[str], last: list[str], dob: list[date]) -> list[str]:
    n = len(first)
    domain = rng.choice(len(DOMAINS), size=n, p=DOMAIN_WEIGHTS / DOMAIN_WEIGHTS.sum())
    style = rng.integers(0, 6, size=n)
    number = rng.integers(1, 999, size=n)
    out: list[str] = []
    seen: set[str] = set()
    for i in range(n):
        f, last_name = first[i].lower(), last[i].lower()
        local = (
            f"{f}.{last_name}",
            f"{f}{last_name}{number[i]}",
            f"{f[0]}{last_name}",
            f"{f}_{last_name}{dob[i].year % 100:02d}",
            f"{last_name}.{f}{number[i]}",
            f"{f}{dob[i].year}",
        )[int(style[i])]
        email = f"{local}@{DOMAINS[int(domain[i])]}"
        if email in seen:
            email = f"{local}{i}@{DOMAINS[int(domain[i])]}"  # one address belongs to one person
        seen.add(email)
        out.append(email)
    return out


def _typo(rnd: random.Random, word: str) -> str:
    if len(word) < 3:
        return word
    i = rnd.randrange(1, len(word))
    op = rnd.random()
    letters = "abcdefghijklmnopqrstuvwxyz"
    if op < 0.3:
        return word[:i] + word[i + 1 :]
    if op < 0.55:
        return word[:i] + rnd.choice(letters) + word[i:]
    if op < 0.8:
        return word[:i] + rnd.choice(letters) + word[i + 1 :]
    i = min(i, len(word) - 2)
    return word[:i] + word[i + 1] + word[i] + word[i + 2 :]


def _case(rnd: random.Random, text: str) -> str:
    r = rnd.random()
    if r < 0.08:
        return text.upper()
    if r < 0.16:
        return text.lower()
    return text


def _street_text(rnd: random.Random, house: int, name: str, suffix: str) -> str:
    short = {"Street": "St", "Avenue": "Ave", "Road": "Rd", "Drive": "Dr", "Lane": "Ln", "Court": "Ct",
             "Boulevard": "Blvd", "Way": "Way", "Place": "Pl", "Circle": "Cir"}[suffix]
    r = rnd.random()
    written = suffix if r < 0.5 else (short + "." if r < 0.7 else short)
    text = f"{house} {name} {written}"
    if rnd.random() < 0.12:
        text += f" Apt {rnd.randint(1, 40)}" if rnd.random() < 0.7 else f" #{rnd.randint(100, 499)}"
    return text


def _phone_text(rnd: random.Random, digits: str) -> str:
    fmt = rnd.choice(PHONE_FORMATS)
    return fmt.format(a=digits[:3], b=digits[3:6], c=digits[6:])


def _dob_text(rnd: random.Random, d: date) -> str:
    return d.isoformat() if rnd.random() < 0.6 else f"{d.month:02d}/{d.day:02d}/{d.year}"


def generate(
    entities: int,
    duplicate_rate: float = 0.3,
    household_rate: float = 0.12,
    seed: int = 0,
    without_contact: float = 0.3,
) -> Dataset:
    """``entities`` people; about ``duplicate_rate`` of them have more than one record.

    ``without_contact`` of the records come from a source that keeps no email or phone (a till, a
    mailing list, a census-style export), so the classifier learns to match on names, address and
    date of birth alone instead of holding every such pair for review.
    """
    rng = np.random.default_rng(seed)
    rnd = random.Random(seed)
    n_zips = max(20, entities // 60)
    zip_city, zip_codes = _places(rng, n_zips)
    people = _people(rng, entities, household_rate, n_zips)
    extra = np.where(rng.random(entities) < duplicate_rate, rng.choice([1, 2, 3], size=entities, p=[0.72, 0.23, 0.05]), 0)
    owner = np.concatenate([np.arange(entities), np.repeat(np.arange(entities), extra)])
    primary = np.zeros(len(owner), dtype=bool)
    primary[:entities] = True
    columns: dict[str, list[str]] = {name: [] for name in FIELDS}
    new_zip = rng.integers(0, n_zips, size=len(owner))
    for r, e in enumerate(owner):
        _record(rnd, people, int(e), bool(primary[r]), columns, zip_city, zip_codes, int(new_zip[r]))
    for r in np.flatnonzero(rng.random(len(owner)) < without_contact).tolist():
        columns["email"][r] = columns["phone"][r] = ""
    ids = [f"c{r:07d}" for r in range(len(owner))]
    return Dataset(columns, owner.astype(np.int64), people.household[owner].astype(np.int64), primary, ids)


def _record(
    rnd: random.Random,
    people: _People,
    e: int,
    is_primary: bool,
    columns: dict[str, list[str]],
    zip_city: np.ndarray,
    zip_codes: list[str],
    moved_zip: int,
) -> None:
    first, middle, last = people.first[e], people.middle[e], people.last[e]
    house, street_name, suffix = people.street[e]
    place = int(people.place[e])
    phone, email, dob = people.phone[e], people.email[e], people.dob[e]
    variant = not is_primary
    if variant:
        r = rnd.random
        nicks = NICKNAMES.get(first.lower())
        if nicks and r() < 0.3:
            first = rnd.choice(nicks)
        if r() < 0.1:
            first = _typo(rnd, first)
        if r() < 0.12:
            last = _typo(rnd, last)
        if people.female[e] and r() < 0.07:
            last = rnd.choice(SURNAMES)  # married or maiden name
        if r() < 0.12:
            house, street_name, suffix = rnd.randint(1, 4000), rnd.choice(STREETS), rnd.choice(SUFFIXES)
            if r() < 0.6:  # four moves in ten stay in the same postcode (a new street in town)
                place = moved_zip
            if r() < 0.5:
                phone = phone[:3] + f"{rnd.randint(200, 999)}{rnd.randint(0, 9999):04d}"
        if r() < 0.08:
            street_name = _typo(rnd, street_name)
        if email.endswith("@gmail.com") and r() < 0.3:
            local = email.split("@")[0]
            email = (local.replace(".", "") if "." in local and r() < 0.5 else local + "+shop") + "@gmail.com"
        elif r() < 0.08:
            email = email.split("@")[0] + "@" + rnd.choice(DOMAINS)
        if dob.day <= 12 and dob.day != dob.month and r() < 0.1:
            dob = date(dob.year, dob.day, dob.month)
        elif r() < 0.03:
            dob = dob.replace(year=dob.year + rnd.choice((-1, 1)), day=min(dob.day, 28) if dob.month == 2 else dob.day)
        if r() < 0.04:
            first, last = last, first
        # Whole-value errors a clerk makes: another person's first name typed in, a surname
        # mistyped twice, a field left empty, a digit slip in the date or house number.
        if r() < 0.06:
            first = rnd.choice(FEMALE if r() < 0.5 else MALE)
        if r() < 0.05:
            first = _typo(rnd, _typo(rnd, first))
        if r() < 0.04:
            last = _typo(rnd, _typo(rnd, last))
        if r() < 0.04:
            first = ""
        elif r() < 0.03:
            last = ""
        if r() < 0.04:
            dob = dob.replace(day=min(28, max(1, dob.day + rnd.choice((-10, -1, 1, 10)))))
        if r() < 0.03:
            house = int(str(house)[::-1]) if house > 9 else house + 1
    r = rnd.random
    miss = (0.15, 0.1, 0.5, 0.05, 0.55) if is_primary else (0.35, 0.3, 0.45, 0.12, 0.6)
    columns["first_name"].append(_case(rnd, first))
    columns["middle_name"].append("" if r() < miss[4] else (middle[:1] if r() < 0.4 else middle))
    columns["last_name"].append(_case(rnd, last))
    columns["email"].append("" if r() < miss[0] else (email.upper() if r() < 0.03 else email))
    columns["phone"].append("" if r() < miss[1] else _phone_text(rnd, phone))
    no_address = r() < miss[3]
    columns["street"].append("" if no_address else _case(rnd, _street_text(rnd, house, street_name, suffix)))
    city, region = CITIES[int(zip_city[place])]
    columns["city"].append("" if no_address else city)
    columns["region"].append("" if no_address else region)
    code = zip_codes[place]
    columns["postcode"].append("" if no_address else (code + f"-{rnd.randint(1000, 9999)}" if r() < 0.05 else code))
    columns["country"].append("US")
    columns["dob"].append("" if r() < miss[2] else _dob_text(rnd, dob))
