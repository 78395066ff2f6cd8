"""The shared, deterministic data set both sandboxes start from.

``--seed demo`` (or any other string) gives both sandboxes the same catalog, customers and
locations, so every Magento SKU is a Heartland item ``public_id`` and the same shoppers exist on
both sides. The same seed always gives the same data.
"""

from __future__ import annotations

import random
import zlib
from dataclasses import dataclass, field

FIRST_NAMES = [
    "Ava", "Liam", "Olivia", "Noah", "Emma", "Oliver", "Sophia", "Elijah", "Isabella", "James",
    "Mia", "William", "Amelia", "Benjamin", "Harper", "Lucas", "Evelyn", "Henry", "Abigail", "Theodore",
    "Jonathan", "Catherine", "Robert", "Margaret", "Daniel", "Grace", "Samuel", "Chloe", "Matthew", "Zoe",
]
LAST_NAMES = [
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez", "Martinez",
    "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson", "Thomas", "Taylor", "Moore", "Jackson", "Martin",
    "Lee", "Perez", "Thompson", "White", "Harris", "Sanchez", "Clark", "Ramirez", "Lewis", "Robinson",
]
STREETS = ["Main St", "Oak Ave", "Maple Dr", "Cedar Ln", "Elm St", "Pine Rd", "Lake View Blvd", "Hill St"]
CITIES = [
    ("Austin", "TX", "Texas", "787"), ("Denver", "CO", "Colorado", "802"), ("Portland", "OR", "Oregon", "972"),
    ("Boston", "MA", "Massachusetts", "021"), ("Chicago", "IL", "Illinois", "606"),
    ("Seattle", "WA", "Washington", "981"), ("Atlanta", "GA", "Georgia", "303"),
]
REGION_IDS = {"TX": 57, "CO": 13, "OR": 49, "MA": 32, "IL": 23, "WA": 62, "GA": 19}
EMAIL_DOMAINS = ["example.com", "mail.example.org", "shopper.example.net"]
CATEGORIES = [
    ("TEE", "T-Shirt", 14.0, 38.0, 0.3), ("HOD", "Hoodie", 35.0, 85.0, 0.8), ("CAP", "Cap", 12.0, 30.0, 0.2),
    ("MUG", "Mug", 9.0, 24.0, 0.5), ("BAG", "Tote Bag", 15.0, 45.0, 0.4), ("SCK", "Socks", 6.0, 18.0, 0.1),
    ("JKT", "Jacket", 60.0, 220.0, 1.4), ("BTL", "Water Bottle", 11.0, 32.0, 0.6),
]
ADJECTIVES = ["Classic", "Trail", "Harbor", "Summit", "Urban", "Coastal", "Vintage", "Canyon", "Meadow", "Arctic"]
COLORS = ["Black", "White", "Navy", "Olive", "Red", "Heather Grey", "Sand", "Teal"]
LOCATIONS = [
    ("Downtown Store", "DT", "Austin", "TX"),
    ("Northside Store", "NS", "Austin", "TX"),
    ("Web Warehouse", "WH", "Round Rock", "TX"),
]


@dataclass(frozen=True)
class SeedProduct:
    sku: str
    name: str
    description: str
    price: float
    cost: float
    weight: float
    color: str
    category: str
    stock: tuple[int, ...]  # on hand per location, in LOCATIONS order


@dataclass(frozen=True)
class SeedAddress:
    street: str
    city: str
    region_code: str
    region: str
    region_id: int
    postcode: str
    country: str
    phone: str


@dataclass(frozen=True)
class SeedCustomer:
    first_name: str
    last_name: str
    email: str
    address: SeedAddress
    dob: str


@dataclass(frozen=True)
class SeedLocation:
    name: str
    code: str
    city: str
    region_code: str


@dataclass
class SeedData:
    seed: str
    products: list[SeedProduct] = field(default_factory=list)
    customers: list[SeedCustomer] = field(default_factory=list)
    locations: list[SeedLocation] = field(default_factory=list)


def rng_for(seed: str) -> random.Random:
    return random.Random(zlib.crc32(seed.encode("utf-8")))


def make_address(rng: random.Random) -> SeedAddress:
    city, code, region, zip3 = rng.choice(CITIES)
    return SeedAddress(
        street=f"{rng.randint(10, 9999)} {rng.choice(STREETS)}",
        city=city,
        region_code=code,
        region=region,
        region_id=REGION_IDS[code],
        postcode=f"{zip3}{rng.randint(10, 99)}",
        country="US",
        phone=f"+1512555{rng.randint(1000, 9999)}",
    )


def generate(seed: str = "demo", products: int = 500, customers: int = 200) -> SeedData:
    rng = rng_for(seed)
    data = SeedData(seed=seed)
    data.locations = [SeedLocation(name, code, city, region) for name, code, city, region in LOCATIONS]
    for n in range(products):
        prefix, noun, low, high, weight = CATEGORIES[n % len(CATEGORIES)]
        color = rng.choice(COLORS)
        adjective = rng.choice(ADJECTIVES)
        price = round(rng.uniform(low, high), 0) - 0.01
        data.products.append(
            SeedProduct(
                sku=f"{prefix}-{1000 + n}",
                name=f"{adjective} {noun} - {color}",
                description=f"{adjective} {noun.lower()} in {color.lower()}.",
                price=price,
                cost=round(price * rng.uniform(0.35, 0.55), 2),
                weight=round(weight * rng.uniform(0.9, 1.1), 2),
                color=color,
                category=noun,
                stock=tuple(rng.randint(0, 40) for _ in LOCATIONS),
            )
        )
    seen_emails: set[str] = set()
    while len(data.customers) < customers:
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        email = f"{first.lower()}.{last.lower()}{rng.randint(1, 999)}@{rng.choice(EMAIL_DOMAINS)}"
        if email in seen_emails:
            continue
        seen_emails.add(email)
        data.customers.append(
            SeedCustomer(
                first_name=first,
                last_name=last,
                email=email,
                address=make_address(rng),
                dob=f"{rng.randint(1950, 2004)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
            )
        )
    return data
