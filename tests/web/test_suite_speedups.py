"""The suite's own speed-ups keep its meaning: the simulator key pool gives every account a key of its own and
reuses keys only across runs; `make test`'s scheduler starts the longest files first and loses no test."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import httpx

from kalshiweb.pytest_plugin import (
    heaviest_files_first,
    pytest_xdist_auto_num_workers,
    pytest_xdist_make_scheduler,
)
from kalshiweb.simulator.auth import generate_rsa_key_pair
from tests.keypool import KeyPool
from tests.simulator.simhelp import API, sign_headers

BALANCE = API + "/portfolio/balance"


def get(sim, path: str, headers: dict[str, str]) -> httpx.Response:
    return httpx.get(f"http://{sim.host}:{sim.port}{path}", headers=headers, timeout=5)


def counting_generator() -> tuple[list[int], object]:
    calls: list[int] = []

    def generate() -> tuple[bytes, bytes]:
        calls.append(1)
        return generate_rsa_key_pair()

    return calls, generate


def test_the_pool_hands_out_distinct_keys_and_reuses_them_only_in_a_later_run(tmp_path: Path) -> None:
    calls, generate = counting_generator()
    first_run = KeyPool(tmp_path / "keys", generate)  # type: ignore[arg-type]
    a, b = first_run(), first_run()
    assert a != b and a[1] != b[1]
    assert len(calls) == 2

    second_run = KeyPool(tmp_path / "keys", generate)  # type: ignore[arg-type]
    assert second_run() == a and second_run() == b
    assert len(calls) == 2  # read back, not generated
    c = second_run()
    assert c not in (a, b) and len(calls) == 3


def test_the_pool_regenerates_a_damaged_key_file(tmp_path: Path) -> None:
    calls, generate = counting_generator()
    KeyPool(tmp_path, generate)()  # type: ignore[arg-type]
    (tmp_path / "00000.pem").write_bytes(b"truncated")
    private, public = KeyPool(tmp_path, generate)()  # type: ignore[arg-type]
    assert len(calls) == 2 and private.startswith(b"-----BEGIN PRIVATE KEY-----")
    assert public.startswith(b"-----BEGIN PUBLIC KEY-----")


def test_simulator_accounts_from_the_pool_have_their_own_keys(sim, simulator_key_pool) -> None:
    before = simulator_key_pool.handed_out
    alice_id, alice_pem = sim.add_account()
    _bob_id, bob_pem = sim.add_account()
    assert simulator_key_pool.handed_out == before + 2
    assert alice_pem != bob_pem
    assert get(sim, BALANCE, sign_headers(alice_id, alice_pem, "GET", BALANCE)).status_code == 200
    # Bob's key does not sign for Alice's key id.
    assert get(sim, BALANCE, sign_headers(alice_id, bob_pem, "GET", BALANCE)).status_code == 401


class FakeConfig:
    def __init__(self, known: dict[str, float]) -> None:
        self.values = {"dist": "loadfile", "tx": ["popen", "popen"]}
        self.cache = FakeCache(known)
        self.option = SimpleNamespace(loadscopereorder=True)  # xdist's default: most tests first

    def getvalue(self, name: str) -> object:
        return self.values[name]


class FakeCache:
    def __init__(self, known: dict[str, float]) -> None:
        self.known = known

    def get(self, key: str, default: object) -> object:
        return self.known


class FakeWorker:
    """What xdist's scheduler sees of a worker: it is sent indexes into the collection the worker reported."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.sent: list[int] = []
        self.shutting_down = False
        self.gateway = type("Gateway", (), {"id": name})()

    def send_runtest_some(self, indexes: list[int]) -> None:
        self.sent.extend(indexes)

    def shutdown(self) -> None:
        self.shutting_down = True


def test_the_longest_files_start_first_and_each_file_stays_on_one_worker() -> None:
    from xdist.remote import Producer

    known = {"tests/slow.py": 60.0, "tests/b.py": 1.0, "tests/a.py": 0.2}
    nodeids = [
        "tests/a.py::t1",
        "tests/slow.py::t1",
        "tests/a.py::t2",
        "tests/unknown_big.py::t1",  # no duration known yet: 3 tests at 0.5 s each
        "tests/unknown_big.py::t2",
        "tests/unknown_big.py::t3",
        "tests/slow.py::t2",
        "tests/b.py::t1",
        "tests/b.py::t2",
        "tests/b.py::t3",
        "tests/b.py::t4",
    ]
    assert heaviest_files_first({"tests/a.py": 2, "tests/slow.py": 2, "tests/unknown_big.py": 3}, known) == [
        "tests/slow.py",
        "tests/unknown_big.py",
        "tests/a.py",
    ]
    scheduler = pytest_xdist_make_scheduler(FakeConfig(known), Producer("test", enabled=False))
    first, second = FakeWorker("gw0"), FakeWorker("gw1")
    # The order every worker collected in (pytest-randomly's, the same seed in each); the scheduler must send
    # indexes into these lists, not into an order of its own.
    collections = {first: list(nodeids), second: list(nodeids)}
    for worker, collection in collections.items():
        scheduler.add_node(worker)
        scheduler.add_node_collection(worker, collection)
    scheduler.schedule()

    ran = {w: [collections[w][i] for i in w.sent] for w in collections}
    # The heaviest file went out first, to the first worker, whole; the second-heaviest whole to the other.
    assert ran[first][:2] == ["tests/slow.py::t1", "tests/slow.py::t2"]
    assert sorted(ran[second][:3]) == [
        "tests/unknown_big.py::t1",
        "tests/unknown_big.py::t2",
        "tests/unknown_big.py::t3",
    ]
    sent = ran[first] + ran[second]
    assert len(sent) == len(set(sent))  # nothing twice
    files_of = {w: {n.split("::")[0] for n in ran[w]} for w in ran}
    assert not files_of[first] & files_of[second]  # no file split over two workers


def test_auto_starts_one_worker_per_cpu_unless_told_otherwise(monkeypatch) -> None:
    monkeypatch.setattr("os.sched_getaffinity", lambda pid: {0, 1})
    monkeypatch.delenv("KALSHIWEB_TEST_WORKERS_PER_CPU", raising=False)
    assert pytest_xdist_auto_num_workers(None) == 2
    monkeypatch.setenv("KALSHIWEB_TEST_WORKERS_PER_CPU", "2")
    assert pytest_xdist_auto_num_workers(None) == 4
