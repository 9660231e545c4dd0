"""The collection record: its JSON round trip, new revisions, and refusing what it cannot read."""

from __future__ import annotations

import json

import pytest

from servers.vectorstore.record import CollectionRecord, RecordError


def test_a_record_round_trips_through_its_json() -> None:
    record = CollectionRecord.new(
        embedder_kind="ollama", model="nomic-embed-text", dimension=768, distance="ip", metadata_fields=("a", "b")
    )
    assert CollectionRecord.from_json(record.to_json()) == record
    assert record.created_at.endswith("+00:00")


def test_a_bumped_record_differs_only_in_its_revision() -> None:
    record = CollectionRecord.new(embedder_kind="local", model="m", dimension=3)
    bumped = record.bumped()
    assert bumped.revision != record.revision
    assert {**bumped.__dict__, "revision": record.revision} == record.__dict__


@pytest.mark.parametrize(
    "change",
    [{"version": 2}, {"distance": "manhattan"}, {"dimension": 0}, {"dimension": True}, {"model": None, "x": 1}],
)
def test_a_record_it_cannot_read_is_refused(change: dict[str, object]) -> None:
    body = json.loads(CollectionRecord.new(embedder_kind="local", model="m", dimension=3).to_json())
    body.update(change)
    if change.get("model", "") is None:
        del body["model"]
    with pytest.raises(RecordError):
        CollectionRecord.from_json(json.dumps(body))
    with pytest.raises(RecordError):
        CollectionRecord.from_json("not json")
