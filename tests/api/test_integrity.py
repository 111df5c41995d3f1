"""Signed checkpoints and proofs through HTTP (issue 26, items 1-3), on
SQLite and PostgreSQL. Every proof is checked here by code of the test's
own: leaf hashes recomputed from the stored events with hashlib and struct,
the RFC's MTH, PATH and PROOF written out recursively, signatures checked
with ``cryptography`` over the message built here."""

from __future__ import annotations

import base64
import hashlib
import struct
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from infrastructure.store import Services
from infrastructure.transparency_log import transparency_of, write_new_key
from tests.api.client import Api


@pytest.fixture
def api(client: Any, world: Any) -> Api:
    return Api(client, world)


@pytest.fixture
def keyed(services: Services, tmp_path: Path) -> Path:
    key = tmp_path / "checkpoint.pem"
    write_new_key(key)
    transparency_of(services).key_file = key
    return key


# ----- the test's own RFC 9162 --------------------------------------------------------------


def sha(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def unb64(text: str) -> bytes:
    return base64.b64decode(text)


def k_of(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def mth(hashes: list[bytes]) -> bytes:
    if not hashes:
        return sha(b"")
    if len(hashes) == 1:
        return hashes[0]
    k = k_of(len(hashes))
    return sha(b"\x01" + mth(hashes[:k]) + mth(hashes[k:]))


def root_from_path(index: int, leaf: bytes, path: list[bytes], n: int) -> bytes:
    if n == 1:
        assert path == []
        return leaf
    k = k_of(n)
    if index < k:
        return sha(b"\x01" + root_from_path(index, leaf, path[:-1], k) + path[-1])
    return sha(b"\x01" + path[-1] + root_from_path(index - k, leaf, path[:-1], n - k))


def subproof(m: int, hashes: list[bytes], whole: bool) -> list[bytes]:
    n = len(hashes)
    if m == n:
        return [] if whole else [mth(hashes)]
    k = k_of(n)
    if m <= k:
        return subproof(m, hashes[:k], whole) + [mth(hashes[k:])]
    return subproof(m - k, hashes[k:], False) + [mth(hashes[:k])]


def leaf_of(topic: str, originator_id: UUID, version: int, state: bytes) -> bytes:
    """The documented leaf encoding, written again here."""
    name = topic.encode()
    data = (
        bytes([1]) + struct.pack(">H", len(name)) + name + originator_id.bytes
        + struct.pack(">Q", version) + struct.pack(">I", len(state)) + state
    )
    return sha(b"\x00" + data)


def log_leaves(services: Services) -> list[tuple[int, UUID, int, bytes]]:
    """(notification id, originator id, version, leaf hash) of every stored event, in log order."""
    found = []
    start = 1
    while batch := services.app.recorder.select_notifications(start=start, limit=500):
        for n in batch:
            oid = n.originator_id if isinstance(n.originator_id, UUID) else UUID(str(n.originator_id))
            found.append((n.id, oid, n.originator_version, leaf_of(n.topic, oid, n.originator_version, n.state)))
        start = batch[-1].id + 1
    return found


def signed(checkpoint: dict[str, Any]) -> bool:
    message = (
        f"linli-checkpoint/v1\n{checkpoint['tree_size']}\n{checkpoint['root_hash']}\n"
        f"{checkpoint['timestamp']}\n"
    ).encode()
    key = Ed25519PublicKey.from_public_bytes(unb64(checkpoint["public_key"]))
    try:
        key.verify(unb64(checkpoint["signature"]), message)
    except Exception:
        return False
    return True


# ----- checkpoints -----------------------------------------------------------------------------


def test_without_a_key_a_checkpoint_is_a_409_naming_the_setting(api: Api) -> None:
    response = api.post("supervisor", "/audit/checkpoints")
    assert response.status_code == 409, response.text
    assert "LINLI_CHECKPOINT_KEY_FILE" in response.json()["detail"]
    listed = api.get("supervisor", "/audit/checkpoints").json()
    assert listed["public_key"] is None and listed["checkpoints"] == []


def test_only_a_supervisor_signs_and_auditors_read(api: Api, keyed: Path) -> None:
    assert api.post("staff", "/audit/checkpoints").status_code == 403
    assert api.post("resident", "/audit/checkpoints").status_code == 403
    assert api.get("resident", "/audit/checkpoints").status_code == 403
    assert api.get("property_company", "/audit/checkpoints").status_code == 403
    assert api.post("supervisor", "/audit/checkpoints").status_code == 201
    assert api.get("grid_worker", "/audit/checkpoints").status_code == 200


def test_a_checkpoint_signs_the_root_of_the_stored_events(
    api: Api, keyed: Path, services: Services
) -> None:
    api.to_in_progress()
    made = api.ok("supervisor", "/audit/checkpoints")
    leaves = log_leaves(services)
    assert made["tree_size"] == len(leaves)
    assert unb64(made["root_hash"]) == mth([h for *_, h in leaves])
    assert signed(made)
    listed = api.get("supervisor", "/audit/checkpoints").json()
    assert listed["checkpoints"] == [made]
    assert listed["public_key"] == made["public_key"]
    assert "BEGIN PUBLIC KEY" in listed["public_key_pem"]
    assert listed["tree_size"] == len(leaves)
    forged = {**made, "tree_size": made["tree_size"] + 1}
    assert not signed(forged)


# ----- inclusion ---------------------------------------------------------------------------------


def test_every_event_of_a_need_is_proved_against_the_latest_checkpoint(
    api: Api, keyed: Path, services: Services
) -> None:
    need = api.to_in_progress()
    checkpoint = api.ok("supervisor", "/audit/checkpoints")
    api.ok("property_company", f"/needs/{need}/resolve", {"outcome": "已修复"})  # after it
    api.to_in_progress()
    answer = api.get(
        "supervisor", "/audit/proofs/inclusion", need_id=need, after=api.log_position()
    )
    assert answer.status_code == 200, answer.text
    proofs = answer.json()
    assert proofs["checkpoint"] == checkpoint and signed(checkpoint)
    size = checkpoint["tree_size"]
    assert proofs["tree_size"] == size and proofs["root_hash"] == checkpoint["root_hash"]
    leaves = log_leaves(services)
    mine = [(i, nid, v, h) for i, (nid, oid, v, h) in enumerate(leaves) if oid == UUID(need)]
    assert [e["version"] for e in proofs["events"]] == [v for i, _, v, _ in mine if i < size]
    assert proofs["events_after"] == 1
    root = unb64(checkpoint["root_hash"])
    for event, (index, nid, _, h) in zip(proofs["events"], mine, strict=False):
        assert (event["leaf_index"], event["notification_id"]) == (index, nid)
        assert unb64(event["leaf_hash"]) == h
        path = [unb64(p) for p in event["audit_path"]]
        assert root_from_path(index, h, path, size) == root


def test_inclusion_against_a_size_asked_for(api: Api, services: Services) -> None:
    need = api.to_in_progress()
    leaves = log_leaves(services)
    size = len(leaves) - 1  # without the need's last event; no checkpoint at all
    proofs = api.get(
        "staff", "/audit/proofs/inclusion", need_id=need, tree_size=size, after=api.log_position()
    ).json()
    assert proofs["checkpoint"] is None and proofs["tree_size"] == size
    hashes = [h for *_, h in leaves]
    assert unb64(proofs["root_hash"]) == mth(hashes[:size])
    assert proofs["events_after"] == 1 and proofs["events"]
    for event in proofs["events"]:
        path = [unb64(p) for p in event["audit_path"]]
        assert root_from_path(event["leaf_index"], hashes[event["leaf_index"]], path, size) == mth(hashes[:size])
    # Without a checkpoint, the tree as it is now.
    now = api.get("staff", "/audit/proofs/inclusion", need_id=need).json()
    assert now["tree_size"] == len(leaves) and now["events_after"] == 0


def test_bad_sizes_are_422s_naming_the_parameter(api: Api, services: Services) -> None:
    need = api.register()["id"]
    after = api.log_position()
    size = len(log_leaves(services))

    def refused(path: str, name: str, **params: Any) -> str:
        response = api.get("supervisor", path, after=after, **params)
        assert response.status_code == 422, response.text
        detail = response.json()["detail"]
        assert any(d["loc"] == ["query", name] for d in detail), detail
        return " ".join(d["msg"] for d in detail)

    refused("/audit/proofs/inclusion", "tree_size", need_id=need, tree_size=0)
    refused("/audit/proofs/inclusion", "tree_size", need_id=need, tree_size="many")
    assert f"has {size} leaves" in refused("/audit/proofs/inclusion", "tree_size", need_id=need, tree_size=size + 1)
    refused("/audit/proofs/inclusion", "need_id", need_id="not-a-uuid")
    refused("/audit/proofs/consistency", "from", **{"from": 0})
    refused("/audit/proofs/consistency", "from", **{"from": 2, "to": 1})
    assert f"has {size} leaves" in refused("/audit/proofs/consistency", "to", **{"from": 1, "to": size + 5})
    refused("/audit/proofs/consistency", "from")
    unknown = api.get("supervisor", "/audit/proofs/inclusion", need_id=str(UUID(int=7)))
    assert unknown.status_code == 404


# ----- inclusion of a case's whole trail ---------------------------------------------------------


def propose(api: Api, need_ids: list[str]) -> str:
    body = {"compound_id": str(api.world.compound_id), "topic": "2号楼电梯维修方案", "need_ids": need_ids}
    return api.ok("party_branch", "/consultations", body)["id"]


def trail_proved(api: Api, services: Services, who: str, history: str, **asked: Any) -> dict[str, Any]:
    """The proofs of a case's trail, each checked here against the trail as
    ``history`` (the case's /history) shows it and against the test's own
    leaves and root: every entry, in order, with its own aggregate and version."""
    after = api.log_position()
    answer = api.get(who, "/audit/proofs/inclusion", after=after, **asked)
    assert answer.status_code == 200, answer.text
    proofs = answer.json()
    trail = api.get(who, history, after=after).json()["events"]
    leaves = log_leaves(services)
    index_of = {nid: i for i, (nid, *_) in enumerate(leaves)}
    size = proofs["tree_size"]
    hashes = [h for *_, h in leaves]
    assert unb64(proofs["root_hash"]) == mth(hashes[:size])
    proved = proofs["events"]
    assert [(e["notification_id"], e["originator_id"], e["case_type"], e["version"]) for e in proved] == [
        (t["position"], t["case_id"], t["case_type"], t["version"]) for t in trail
    ][: len(proved)]
    assert len(proved) + proofs["events_after"] == len(trail)
    for event in proved:
        index = index_of[event["notification_id"]]
        nid, oid, version, h = leaves[index]
        assert event["leaf_index"] == index and (str(oid), version) == (event["originator_id"], event["version"])
        assert unb64(event["leaf_hash"]) == h
        path = [unb64(p) for p in event["audit_path"]]
        assert root_from_path(index, h, path, size) == mth(hashes[:size])
    return proofs


def test_a_needs_trail_is_proved_with_its_consultations_events(
    api: Api, keyed: Path, services: Services
) -> None:
    need = api.to_in_progress()
    consultation = propose(api, [need])
    api.ok("party_branch", f"/consultations/{consultation}/cancel", {"reason": "双方已协商一致"})
    checkpoint = api.ok("supervisor", "/audit/checkpoints")
    api.ok("staff", f"/needs/{need}/notes", {"text": "已电话回访"})  # after the checkpoint
    for asked in ({"need_id": need}, {"case_id": need}):
        proofs = trail_proved(api, services, "supervisor", f"/needs/{need}/history", **asked)
        assert proofs["case_type"] == "need" and proofs["case_id"] == need
        assert proofs["checkpoint"] == checkpoint and proofs["tree_size"] == checkpoint["tree_size"]
        assert proofs["root_hash"] == checkpoint["root_hash"] and signed(checkpoint)
        kinds = {(e["case_type"], e["originator_id"]) for e in proofs["events"]}
        assert kinds == {("need", need), ("consultation", consultation)}
        assert [e["case_type"] for e in proofs["events"]].count("consultation") == 2
        assert proofs["events_after"] == 1  # the note
    # Against the tree as it is now, the note too.
    now = trail_proved(api, services, "staff", f"/needs/{need}/history", case_id=need, tree_size=len(log_leaves(services)))
    assert now["events_after"] == 0 and now["need_id"] == need


def test_a_consultations_trail_is_proved(api: Api, services: Services) -> None:
    first, second = api.to_in_progress(), api.to_in_progress()
    consultation = propose(api, [first, second])
    api.ok("party_branch", f"/consultations/{consultation}/cancel", {"reason": "双方已协商一致"})
    proofs = trail_proved(
        api, services, "grid_worker", f"/consultations/{consultation}/history", case_id=consultation
    )
    assert proofs["case_type"] == "consultation" and "need_id" not in proofs
    assert proofs["checkpoint"] is None and proofs["events_after"] == 0
    assert {e["originator_id"] for e in proofs["events"]} == {consultation}
    assert len(proofs["events"]) == 2
    # A consultation is not a need.
    assert api.get("supervisor", "/audit/proofs/inclusion", need_id=consultation).status_code == 404


def test_a_compounds_and_a_partys_trails_are_proved(api: Api, services: Services) -> None:
    """Case types without a /history of their own: their events, checked
    against the test's own leaves and root."""
    after = api.log_position()
    parties = api.world.parties
    for case_id, case_type in (
        (str(api.world.compound_id), "compound"),
        (str(parties["property_company"]), "party"),
    ):
        answer = api.get("supervisor", "/audit/proofs/inclusion", case_id=case_id, after=after)
        assert answer.status_code == 200, answer.text
        proofs = answer.json()
        assert proofs["case_type"] == case_type and proofs["events"]
        leaves = log_leaves(services)
        own = [(i, nid, v) for i, (nid, oid, v, _) in enumerate(leaves) if str(oid) == case_id]
        assert [(e["leaf_index"], e["notification_id"], e["version"]) for e in proofs["events"]] == own
        size = proofs["tree_size"]
        hashes = [h for *_, h in leaves]
        for event in proofs["events"]:
            index = event["leaf_index"]
            assert event["originator_id"] == case_id and unb64(event["leaf_hash"]) == hashes[index]
            path = [unb64(p) for p in event["audit_path"]]
            assert root_from_path(index, hashes[index], path, size) == mth(hashes[:size])
    other = str(api.world.other_compound_id)
    assert api.get("staff", "/audit/proofs/inclusion", case_id=other).status_code == 404


def test_only_who_may_read_the_case_proves_its_trail(api: Api) -> None:
    need = api.to_in_progress()
    consultation = propose(api, [need])
    after = api.log_position()

    def status(who: str, **asked: Any) -> int:
        return api.get(who, "/audit/proofs/inclusion", after=after, **asked).status_code

    for asked in ({"case_id": need}, {"case_id": consultation}, {"need_id": need}):
        assert status("supervisor", **asked) == 200
        assert status("staff", **asked) == 200
        assert status("other_staff", **asked) == 404  # another compound's: as if not there
        assert status("resident", **asked) == 403  # no audit.read
        assert status("property_company", **asked) == 403
    unknown = api.get("supervisor", "/audit/proofs/inclusion", case_id=str(UUID(int=9)))
    assert unknown.status_code == 404 and "case not found" in unknown.text


def test_bad_case_parameters_are_422s_naming_them(api: Api) -> None:
    need = api.register()["id"]

    def refused(name: str, **params: Any) -> str:
        response = api.get("supervisor", "/audit/proofs/inclusion", **params)
        assert response.status_code == 422, response.text
        detail = response.json()["detail"]
        assert any(d["loc"] == ["query", name] for d in detail), detail
        return " ".join(d["msg"] for d in detail)

    assert "one of the two" in refused("case_id")
    assert "one of the two" in refused("need_id", case_id=need, need_id=need)
    refused("case_id", case_id="not-a-uuid")
    refused("after", case_id=need, after=-1)


# ----- the upkeep switched off -------------------------------------------------------------------


def test_with_the_upkeep_off_no_thread_keeps_the_tree_and_proofs_catch_it_up(
    make_settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import threading
    import time

    from fastapi.testclient import TestClient

    from api.app import create_app
    from infrastructure.settings import Settings
    from infrastructure.store import build_services
    from tests.world import build_world

    monkeypatch.setenv("LINLI_TRANSPARENCY_UPKEEP", "false")
    assert Settings().transparency_upkeep is False
    monkeypatch.delenv("LINLI_TRANSPARENCY_UPKEEP")
    assert Settings().transparency_upkeep is True

    built = build_services(make_settings(transparency_upkeep=False, projection_poll_interval=0.05))
    try:
        built.updater.start()
        tlog = transparency_of(built)
        tlog.poll_interval = 0.05
        tlog.start()
        assert not any(t.name == "linli-merkle" for t in threading.enumerate())
        with TestClient(create_app(services=built)) as client:
            api = Api(client, build_world(built))
            need = api.to_in_progress()
            time.sleep(0.3)
            assert tlog.position()[1] == 0  # nothing keeps the tree
            proofs = trail_proved(api, built, "supervisor", f"/needs/{need}/history", case_id=need)
            assert proofs["tree_size"] == len(log_leaves(built))  # caught up when asked
            assert proofs["events_after"] == 0 and len(proofs["events"]) == 4
            listed = api.get("supervisor", "/audit/checkpoints").json()
            assert unb64(listed["root_hash"]) == mth([h for *_, h in log_leaves(built)])
    finally:
        built.close()


# ----- consistency -------------------------------------------------------------------------------


def test_consistency_between_two_checkpoints(api: Api, keyed: Path, services: Services) -> None:
    api.register()
    first = api.ok("supervisor", "/audit/checkpoints")
    api.to_in_progress()
    api.to_in_progress()
    second = api.ok("supervisor", "/audit/checkpoints")
    m, n = first["tree_size"], second["tree_size"]
    proof = api.get("supervisor", "/audit/proofs/consistency", **{"from": m}).json()
    assert proof["to_size"] == n and proof["checkpoint"] == second
    assert proof["from_root"] == first["root_hash"] and proof["to_root"] == second["root_hash"]
    hashes = [h for *_, h in log_leaves(services)][:n]
    assert [unb64(p) for p in proof["proof"]] == subproof(m, hashes, True)
    # Every pair of sizes of the tree, against the test's own PROOF.
    for a in range(1, n + 1):
        for b in range(a, n + 1, max(1, n // 7)):
            got = api.get("staff", "/audit/proofs/consistency", **{"from": a, "to": b}).json()
            assert unb64(got["from_root"]) == mth(hashes[:a]) and unb64(got["to_root"]) == mth(hashes[:b])
            assert [unb64(p) for p in got["proof"]] == (subproof(a, hashes[:b], True) if a < b else [])


# ----- the upkeep ---------------------------------------------------------------------------------


def test_the_upkeep_follows_the_log_and_signs_periodically(
    api: Api, keyed: Path, services: Services
) -> None:
    from tests.conftest import until

    tlog = transparency_of(services)
    tlog.checkpoint_interval = 0.3
    tlog.poll_interval = 0.05
    tlog.start()
    try:
        api.to_in_progress()
        assert until(lambda: tlog.position()[1] == len(log_leaves(services)), 10)
        assert until(lambda: len(tlog.checkpoints()) >= 1, 10)
        first = tlog.checkpoints()[-1]
        api.register()
        assert until(lambda: tlog.checkpoints()[-1]["tree_size"] > first["tree_size"], 10)
        # No new events: no new checkpoint, however long.
        count = len(tlog.checkpoints())
        settled = tlog.checkpoints()[-1]
        assert settled["tree_size"] == len(log_leaves(services))
    finally:
        tlog.stop()
    assert all(signed(c) for c in tlog.checkpoints())
    assert len(tlog.checkpoints()) == count


def test_two_writers_append_each_leaf_once_and_a_rebuild_gives_the_same_tree(
    api: Api, services: Services
) -> None:
    from infrastructure.transparency_log import TransparencyLog

    one = transparency_of(services)
    other = TransparencyLog.for_services(services)  # as another process would
    one.batch_size = other.batch_size = 3
    api.to_in_progress()
    while one.run_once() + other.run_once():
        pass
    leaves = log_leaves(services)
    stored = list(one.stored_leaves())
    assert [(i, nid, h) for i, (nid, *_, h) in enumerate(leaves)] == stored
    assert one.tree().root() == other.tree().root() == mth([h for *_, h in leaves])
    before = one.tree().root()
    assert one.rebuild() == len(leaves)
    assert other.tree().root() == before and list(other.stored_leaves()) == stored


def test_the_answers_are_typed_in_the_schema_and_validate(
    api: Api, keyed: Path, services: Services
) -> None:
    """As tests/api/test_response_models.py asks of every GET route."""
    import jsonschema_rs
    from tests.api.test_response_models import _untyped_objects

    need = api.to_in_progress()
    api.ok("supervisor", "/audit/checkpoints")
    document = api.client.get("/openapi.json").json()
    components = document["components"]["schemas"]
    asked = {
        "/audit/checkpoints": {},
        "/audit/proofs/inclusion": {"need_id": need},
        "/audit/proofs/consistency": {"from": 2},
    }
    for path, query in asked.items():
        schema = document["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
        name = schema["$ref"].rsplit("/", 1)[-1]
        assert _untyped_objects(name, components) == [], path
        body = api.get("supervisor", path, **query, after=api.log_position()).json()
        whole = {**schema, "components": document["components"]}
        jsonschema_rs.validator_for(whole, validate_formats=True).validate(body)
    created = document["paths"]["/audit/checkpoints"]["post"]["responses"]
    assert "201" in created and "409" in created
