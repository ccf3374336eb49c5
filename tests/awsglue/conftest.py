"""Fixtures for the awsglue tests: a GlueContext on the shared Spark session."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest


@pytest.fixture
def glue_context(spark_session: Any) -> Iterator[Any]:
    from awsglue.context import GlueContext

    yield GlueContext(spark_session.sparkContext)


def write_medicare(folder: Path, rows: int = 200) -> Path:
    """Hospital payment records shaped like Glue's medicare sample: a numeric provider id
    column with two bad text ids at the end, money as "$123.45" text."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "medicare.csv"
    with path.open("w", newline="") as handle:
        out = csv.writer(handle)
        out.writerow(
            [
                "DRG Definition",
                "Provider Id",
                "Provider Name",
                "Provider Street Address",
                "Provider City",
                "Provider State",
                "Provider Zip Code",
                "Hospital Referral Region Description",
                "Total Discharges",
                "Average Covered Charges",
                "Average Total Payments",
                "Average Medicare Payments",
            ]
        )
        for i in range(rows):
            out.writerow(
                [
                    f"{39 + i % 5:03d} - EXTRACRANIAL PROCEDURES",
                    10001 + i,
                    f"HOSPITAL {i}",
                    f"{i} MAIN ST",
                    "DOTHAN",
                    "AL",
                    36301 + i,
                    "AL - Dothan",
                    10 + i % 40,
                    f"${32963.07 + i:.2f}",
                    f"${5777.24 + i:.2f}",
                    f"${4763.73 + i:.2f}",
                ]
            )
        for bad in ("ten thousand", "unknown"):
            out.writerow(
                [
                    "948 - SIGNS & SYMPTOMS",
                    bad,
                    "BAD HOSPITAL",
                    "1 X ST",
                    "TOWN",
                    "WY",
                    82001,
                    "WY - Casper",
                    11,
                    "$1.00",
                    "$2.00",
                    "$3.00",
                ]
            )
    return path


def write_legislators(root: Path, people: int = 10) -> None:
    """persons / memberships / organizations JSON Lines shaped like Glue's us-legislators."""
    for name in ("persons", "memberships", "organizations"):
        (root / name).mkdir(parents=True, exist_ok=True)
    with (root / "persons" / "persons.json").open("w") as handle:
        for i in range(1, people + 1):
            contacts = [{"type": "twitter", "value": f"@p{i}"}]
            if i % 3 == 0:
                contacts.append({"type": "fax", "value": f"555-{i}"})
            person = {
                "id": f"p{i}",
                "name": f"Person {i}",
                "family_name": f"F{i}",
                "gender": "female" if i % 2 else "male",
                "contact_details": contacts,
                "links": [{"note": "wikipedia", "url": f"https://example.org/{i}"}],
                "identifiers": [{"scheme": "bioguide", "identifier": f"B{i}"}],
                "other_names": [{"lang": "en", "name": f"P{i}", "note": "alternate"}],
                "images": [{"url": f"https://example.org/{i}.jpg"}],
            }
            handle.write(json.dumps(person) + "\n")
    with (root / "memberships" / "memberships.json").open("w") as handle:
        for i in range(1, people + 1):
            membership = {
                "area_id": f"ocd/{i}",
                "on_behalf_of_id": "party/independent",
                "organization_id": "senate" if i <= 4 else "house",
                "person_id": f"p{i}",
                "role": "member",
                "start_date": "2015-01-03",
                "legislative_period_id": "term/114",
            }
            handle.write(json.dumps(membership) + "\n")
    with (root / "organizations" / "organizations.json").open("w") as handle:
        for oid, name, seats in (("senate", "Senate", 100), ("house", "House", 435)):
            org = {
                "classification": "legislature",
                "id": oid,
                "identifiers": [{"identifier": f"Q{seats}", "scheme": "wikidata"}],
                "name": name,
                "seats": seats,
                "type": "chamber",
                "other_names": [{"lang": "fr", "name": f"{name}e", "note": "multilingual"}],
            }
            handle.write(json.dumps(org) + "\n")
