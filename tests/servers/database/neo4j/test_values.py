"""Neo4j values as JSON, with the driver's own types built the way the driver builds them from the wire.

:func:`wire` hydrates Bolt structures bottom-up through the driver's own hydration (``neo4j._codec``), as
its unpacker does for a record: nodes, relationships and paths are made by its graph hydrator (so a path's
relationships have their start and end nodes set from the path's sequence), temporal and spatial values
by its temporal and spatial hydrators.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from neo4j import Record
from neo4j._codec.hydration.bolt.v2 import HydrationHandler
from neo4j._codec.packstream import Structure
from neo4j.exceptions import BrokenRecordError
from neo4j.graph import Node, Path, Relationship
from neo4j.spatial import CartesianPoint, WGS84Point
from neo4j.time import Date, DateTime, Duration, Time

from servers.database.neo4j.values import collect, to_json


def wire(value: Any, scope: Any = None) -> Any:
    """``value`` with every Bolt :class:`Structure` in it hydrated, innermost first, in one hydration scope."""
    scope = scope or HydrationHandler().new_hydration_scope()
    hooks = scope.hydration_hooks
    if isinstance(value, Structure):
        return hooks[Structure](Structure(value.tag, *(wire(f, scope) for f in value.fields)))
    if isinstance(value, list):
        return [wire(v, scope) for v in value]
    if isinstance(value, dict):
        return {k: wire(v, scope) for k, v in value.items()}
    return value


def node(n: int, labels: list[str], **properties: Any) -> Structure:
    return Structure(b"N", n, labels, properties, f"4:db:{n}")


def test_a_node_keeps_its_element_id_sorted_labels_and_converted_properties() -> None:
    keanu = wire(node(1, ["Person", "Actor"], name="Keanu", born=Structure(b"D", -2000), score=float("nan")))
    assert isinstance(keanu, Node)
    assert to_json(keanu) == {
        "element_id": "4:db:1",
        "labels": ["Actor", "Person"],
        "properties": {"name": "Keanu", "born": "1964-07-11", "score": "nan"},
    }


def test_a_relationship_names_its_type_and_the_element_ids_of_both_ends() -> None:
    acted = wire(Structure(b"R", 7, 1, 2, "ACTED_IN", {"roles": ["Neo"]}, "5:db:7", "4:db:1", "4:db:2"))
    assert isinstance(acted, Relationship)
    assert to_json(acted) == {
        "element_id": "5:db:7",
        "type": "ACTED_IN",
        "start_element_id": "4:db:1",
        "end_element_id": "4:db:2",
        "properties": {"roles": ["Neo"]},
    }


def test_a_path_lists_its_nodes_in_order_and_a_relationship_walked_backwards_keeps_its_direction() -> None:
    # (1)-[:ACTED_IN]->(2)<-[:DIRECTED]-(3): the second relationship is walked against its direction
    path = wire(
        Structure(
            b"P",
            [node(1, ["Person"]), node(2, ["Movie"]), node(3, ["Person"])],
            [Structure(b"r", 7, "ACTED_IN", {}, "5:db:7"), Structure(b"r", 8, "DIRECTED", {"year": 1999}, "5:db:8")],
            [1, 1, -2, 2],
        )
    )
    assert isinstance(path, Path)
    converted = to_json(path)
    assert [n["element_id"] for n in converted["nodes"]] == ["4:db:1", "4:db:2", "4:db:3"]
    assert [(r["type"], r["start_element_id"], r["end_element_id"]) for r in converted["relationships"]] == [
        ("ACTED_IN", "4:db:1", "4:db:2"),
        ("DIRECTED", "4:db:3", "4:db:2"),
    ]
    assert converted["relationships"][1]["properties"] == {"year": 1999}
    json.dumps(converted)  # plain JSON all the way down


@pytest.mark.parametrize(
    ("structure", "kind", "text"),
    [
        (Structure(b"D", 19723), Date, "2024-01-01"),
        (Structure(b"T", 3600 * 10**9 + 7, -18000), Time, "01:00:00.000000007-05:00"),
        (Structure(b"t", 45296 * 10**9), Time, "12:34:56.000000000"),
        (Structure(b"I", 1700000000, 123456789, 3600), DateTime, "2023-11-14T23:13:20.123456789+01:00"),
        (Structure(b"I", 1700000000, 0, 0), DateTime, "2023-11-14T22:13:20.000000000+00:00"),
        (Structure(b"d", 1700000000, 5), DateTime, "2023-11-14T22:13:20.000000005"),
        (Structure(b"i", 1700000000, 0, "Europe/Paris"), DateTime, "2023-11-14T23:13:20.000000000+01:00[Europe/Paris]"),
        (Structure(b"i", 1700000000, 0, "UTC"), DateTime, "2023-11-14T22:13:20.000000000+00:00"),
        (Structure(b"E", 14, 3, 4 * 3600 + 5 * 60 + 6, 7), Duration, "P1Y2M3DT4H5M6.000000007S"),
    ],
    ids=["date", "time-offset", "local-time", "datetime-offset", "datetime-utc", "local-datetime",
         "datetime-zone", "datetime-zone-utc", "duration"],
)  # fmt: skip
def test_temporal_values_become_iso_8601_text_with_nanoseconds_and_the_zone(
    structure: Structure, kind: type, text: str
) -> None:
    value = wire(structure)
    assert isinstance(value, kind)
    assert to_json(value) == text


def test_a_named_zone_is_kept_where_an_offset_alone_would_lose_it() -> None:
    summer = to_json(wire(Structure(b"i", 1719792000, 0, "Europe/Paris")))
    winter = to_json(wire(Structure(b"i", 1704067200, 0, "Europe/Paris")))
    assert summer.endswith("+02:00[Europe/Paris]") and winter.endswith("+01:00[Europe/Paris]")


def test_points_give_their_srid_and_coordinates() -> None:
    flat, earth = wire(Structure(b"X", 7203, 1.5, -2.0)), wire(Structure(b"Y", 4979, 12.5, 55.7, 100.0))
    assert isinstance(flat, CartesianPoint) and isinstance(earth, WGS84Point)
    assert to_json(flat) == {"srid": 7203, "coordinates": [1.5, -2.0]}
    assert to_json(earth) == {"srid": 4979, "coordinates": [12.5, 55.7, 100.0]}


def test_graph_values_nested_in_lists_and_maps_are_converted_too() -> None:
    value = wire({"people": [node(1, ["Person"], at=Structure(b"X", 7203, 0.0, 1.0))], "n": 1})
    assert to_json(value) == {
        "people": [
            {
                "element_id": "4:db:1",
                "labels": ["Person"],
                "properties": {"at": {"srid": 7203, "coordinates": [0.0, 1.0]}},
            }
        ],
        "n": 1,
    }


@pytest.mark.anyio
async def test_a_value_the_driver_cannot_represent_fails_the_record_instead_of_showing_a_placeholder() -> None:
    # a date before year 1: Neo4j has it, Python's date does not, so the driver leaves a broken value
    record = Record({"d": wire(Structure(b"D", -800000)), "n": 1})  # type: ignore[no-untyped-call]

    async def records() -> Any:
        yield record

    with pytest.raises(BrokenRecordError, match="'d'"):
        await collect(records(), ["d", "n"], 10, 10_000)
