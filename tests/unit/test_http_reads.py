"""The read side in process: arrangements and mismatches per party, filters, cursor paging."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest

from adapters.cli.generate import write_run
from hub.generator import GeneratorConfig, Planned
from hub.generator.plan import moment
from hub.validation import Validator
from projections import queries
from projections.store import ProjectionStore
from tests.http_support import Api, Parties, config_for, running_app

CONFIG = GeneratorConfig(gemeenten=2, aanbieders=3, clients=80, months=2, seed=5)


def party_of(code: str) -> str:
    return f"gemeente:{code}" if len(code) == 4 else f"aanbieder:{code}"


class World:
    """A generated run posted through the API, with a token for every party in it."""

    def __init__(self, api: Api, parties: Parties, gemeenten: list[str], agbs: list[str]) -> None:
        self.api = api
        self.parties = parties
        self.gemeenten = gemeenten
        self.agbs = agbs

    def get(self, url: str, role: str, **params: Any) -> Any:
        answer = self.api.get(url, headers=self.parties.auth(role), params=params)
        assert answer.status_code == 200, answer.text
        return answer.json()

    def all_pages(
        self, url: str, role: str, limit: int, start: str | None = None, **params: Any
    ) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        cursor = start
        while True:
            extra = {"cursor": cursor} if cursor else {}
            page = self.get(url, role, limit=limit, **params, **extra)
            assert len(page["items"]) <= limit
            items.extend(page["items"])
            cursor = page["next_cursor"]
            if cursor is None:
                return items


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    messages: list[tuple[str, dt.datetime, bytes]] = []

    def collect(message: Planned, data: bytes) -> None:
        messages.append((message.sender, moment(message.sent_at), data))

    write_run(CONFIG, None, collect)
    senders = sorted({s for s, _, _ in messages})
    gemeenten = [s for s in senders if len(s) == 4]
    agbs = [s for s in senders if len(s) == 8]
    roles = (*map(party_of, senders), "operator", "gemeente:9999", "aanbieder:99999999")
    parties = Parties.make(roles)
    arrival = [messages[0][1]]
    tmp = tmp_path_factory.mktemp("reads")
    config = config_for(
        tmp, parties, validator=Validator(today=CONFIG.as_of), clock=lambda: arrival[0]
    )
    with running_app(config) as api:
        for sender, received_at, data in messages:
            arrival[0] = received_at
            answer = api.post("/v1/messages", content=data, headers=parties.xml(party_of(sender)))
            assert answer.status_code == 202, answer.text
        api.wait_projected()
        yield World(api, parties, gemeenten, agbs)


def oracle(world: World) -> ProjectionStore:
    return ProjectionStore(world.api.runtime.config.projections)


def test_a_gemeente_reads_all_its_arrangements_across_pages_in_a_stable_order(
    world: World,
) -> None:
    code = world.gemeenten[0]
    url = f"/v1/gemeenten/{code}/arrangements"
    whole = world.get(url, f"gemeente:{code}", limit=1000)
    paged = world.all_pages(url, f"gemeente:{code}", limit=7)

    with oracle(world) as store:
        expected = queries.arrangements(store, code)
    assert len(expected) > 14, "the run should give several pages"
    assert whole["items"] == expected and whole["next_cursor"] is None
    assert paged == expected
    keys = [(a["aanbieder"], a["toewijzingnummer"]) for a in paged]
    assert keys == sorted(set(keys))
    assert all(a["gemeente"] == code and "bsn" not in a for a in paged)


def test_paging_neither_repeats_nor_skips_when_data_arrives_in_between(world: World) -> None:
    code = world.gemeenten[0]
    url = f"/v1/gemeenten/{code}/arrangements"
    role = f"gemeente:{code}"
    before = world.get(url, role, limit=1000)["items"]
    first = world.get(url, role, limit=5)
    # An arrangement that sorts before the cursor appears between two page reads.
    with oracle(world) as store:
        store.db.execute("BEGIN IMMEDIATE")
        row = store.query("SELECT * FROM arrangements WHERE gemeente = ? LIMIT 1", (code,))[0]
        values = dict(row)
        values["toewijzing_nummer"] = -1
        columns = ", ".join(values)
        marks = ", ".join("?" for _ in values)
        store.db.execute(
            f"INSERT INTO arrangements ({columns}) VALUES ({marks})", list(values.values())
        )
        store.db.execute("COMMIT")
    try:
        rest = world.all_pages(url, role, limit=5, start=first["next_cursor"])
        seen = first["items"] + rest
        numbers = [(a["aanbieder"], a["toewijzingnummer"]) for a in seen]
        assert len(numbers) == len(set(numbers))
        assert [a for a in seen if a["toewijzingnummer"] != -1] == before
    finally:
        with oracle(world) as store:
            store.db.execute("DELETE FROM arrangements WHERE toewijzing_nummer = -1")


def test_filters_narrow_the_list(world: World) -> None:
    code = world.gemeenten[0]
    role = f"gemeente:{code}"
    url = f"/v1/gemeenten/{code}/arrangements"
    everything = world.get(url, role, limit=1000)["items"]
    agb = everything[0]["aanbieder"]
    status = everything[0]["status"]

    by_agb = world.get(url, role, limit=1000, aanbieder=agb)["items"]
    by_status = world.get(url, role, limit=1000, status=status)["items"]
    earlier = world.get(url, role, limit=1000, as_of=(CONFIG.first_day + dt.timedelta(days=10)))

    assert by_agb == [a for a in everything if a["aanbieder"] == agb]
    assert by_status == [a for a in everything if a["status"] == status]
    assert 0 < len(earlier["items"]) < len(everything)
    assert earlier["as_of"] == str(CONFIG.first_day + dt.timedelta(days=10))


def test_mismatches_filter_by_status_code_and_date(world: World) -> None:
    code = world.gemeenten[0]
    role = f"gemeente:{code}"
    url = f"/v1/gemeenten/{code}/mismatches"
    as_of = CONFIG.as_of.isoformat()
    open_ = world.get(url, role, as_of=as_of, limit=1000)
    every = world.get(url, role, as_of=as_of, status="all", limit=1000)["items"]

    with oracle(world) as store:
        expected = queries.mismatches(store, gemeente=code, status="all", as_of=CONFIG.as_of)
    assert every == expected and every, "the generated run has mismatches"
    assert open_["items"] == [m for m in every if m["status"] == "open"]
    assert open_["as_of"] == as_of
    chosen = every[0]["code"]
    assert world.get(url, role, as_of=as_of, status="all", code=chosen, limit=1000)["items"] == [
        m for m in every if m["code"] == chosen
    ]
    assert world.all_pages(url, role, limit=2, as_of=as_of, status="all") == every


def test_an_aanbieder_reads_its_arrangements_with_every_gemeente(world: World) -> None:
    agb = world.agbs[0]
    role = f"aanbieder:{agb}"
    mine = world.all_pages(f"/v1/aanbieders/{agb}/arrangements", role, limit=9)
    with oracle(world) as store:
        expected = [a for g in world.gemeenten for a in queries.arrangements(store, g, agb)]
    assert mine == expected and mine
    assert {a["gemeente"] for a in mine} == set(world.gemeenten)
    one = world.get(
        f"/v1/aanbieders/{agb}/arrangements", role, gemeente=world.gemeenten[1], limit=1000
    )
    assert one["items"] == [a for a in expected if a["gemeente"] == world.gemeenten[1]]
    mismatches = world.get(
        f"/v1/aanbieders/{agb}/mismatches", role, status="all", as_of=CONFIG.as_of.isoformat()
    )
    assert all(m["aanbieder"] == agb for m in mismatches["items"])


def test_the_full_bsn_only_when_asked(world: World) -> None:
    code = world.gemeenten[0]
    items = world.get(
        f"/v1/gemeenten/{code}/arrangements", f"gemeente:{code}", include_bsn=True, limit=3
    )["items"]
    assert all(len(a["bsn"]) == 9 and a["bsn_masked"].endswith(a["bsn"][-4:]) for a in items)


@pytest.mark.parametrize("kind", ["arrangements", "mismatches"])
def test_every_role_on_every_read_endpoint(world: World, kind: str) -> None:
    gemeente, agb = world.gemeenten[0], world.agbs[0]
    allowed = {f"/v1/gemeenten/{gemeente}/{kind}": f"gemeente:{gemeente}",
               f"/v1/aanbieders/{agb}/{kind}": f"aanbieder:{agb}"}  # fmt: skip
    roles = [f"gemeente:{gemeente}", f"gemeente:{world.gemeenten[1]}", f"aanbieder:{agb}",
             f"aanbieder:{world.agbs[1]}", "operator", "gemeente:9999"]  # fmt: skip
    for url, owner in allowed.items():
        for role in roles:
            answer = world.api.get(url, headers=world.parties.auth(role))
            if role == owner:
                assert answer.status_code == 200, (url, role)
            else:
                assert answer.status_code == 403, (url, role, answer.text)
                assert (
                    answer.json()["error"] == "forbidden"
                    and owner.split(":")[1] in (answer.json()["reason"])
                )
        anonymous = world.api.get(url)
        assert anonymous.status_code == 401 and anonymous.json()["reason"]


@pytest.mark.parametrize(
    ("url", "params", "reason"),
    [
        ("/v1/gemeenten/{g}/arrangements", {"limit": "0"}, "limit"),
        ("/v1/gemeenten/{g}/arrangements", {"status": "bogus"}, "status"),
        ("/v1/gemeenten/{g}/arrangements", {"as_of": "yesterday"}, "as_of"),
        ("/v1/gemeenten/{g}/arrangements", {"aanbieder": "12"}, "aanbieder"),
        ("/v1/gemeenten/{g}/mismatches", {"code": "NOPE"}, "NOPE"),
        ("/v1/gemeenten/{g}/mismatches", {"status": "closed"}, "status"),
        ("/v1/gemeenten/{g}/arrangements", {"cursor": "!!"}, "cursor"),
    ],
)
def test_bad_filters_are_400_with_a_reason(
    world: World, url: str, params: dict[str, str], reason: str
) -> None:
    code = world.gemeenten[0]
    answer = world.api.get(
        url.format(g=code), headers=world.parties.auth(f"gemeente:{code}"), params=params
    )
    assert answer.status_code == 400, answer.text
    assert reason in answer.json()["reason"]


def test_a_cursor_only_works_for_the_query_it_came_from(world: World) -> None:
    code = world.gemeenten[0]
    role = f"gemeente:{code}"
    cursor = world.get(f"/v1/gemeenten/{code}/arrangements", role, limit=2)["next_cursor"]
    answer = world.api.get(
        f"/v1/gemeenten/{code}/arrangements",
        headers=world.parties.auth(role),
        params={"cursor": cursor, "status": "gestart"},
    )
    assert answer.status_code == 400 and answer.json()["error"] == "bad_cursor"


def test_a_gemeente_path_that_is_not_a_code_is_400_for_its_owner_too(world: World) -> None:
    role = f"gemeente:{world.gemeenten[0]}"
    answer = world.api.get("/v1/gemeenten/abc/arrangements", headers=world.parties.auth(role))
    assert answer.status_code == 400


def test_a_gemeente_without_data_reads_an_empty_list(world: World) -> None:
    assert world.get("/v1/gemeenten/9999/arrangements", "gemeente:9999")["items"] == []
