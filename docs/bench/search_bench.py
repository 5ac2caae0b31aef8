"""Search benchmark: queries over 100,000 stored messages (goal: each answers in < 50 ms).

Run from the repository root:  .venv/bin/python docs/bench/search_bench.py [--messages N]

Builds a real history database (server.store.HistoryStore, the server's own batches) with N
messages of mixed English and Chinese text, 90 % of them in one room (the worst case for a
room's search) and the rest in nine others, indexes it with server.search.SearchIndex (the
time of that catch-up is printed too), then times each kind of query end to end through
``SearchIndex.search`` (queue, search thread at nice 19, answer), 30 runs each, and the query
alone (``SearchIndex.find`` on this thread: wall and CPU time), which is what a quiet machine
sees end to end; on a busy one the nice-19 search thread also waits for a core.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from server.protocol import ChatRecord  # noqa: E402
from server.search import SearchIndex  # noqa: E402
from server.store import HistoryStore  # noqa: E402

ENGLISH = ("the meeting notes lunch build release server deploy review coffee tomorrow friday "
           "please check issue branch merge window fixed broken test green red great idea").split()
CHINESE = "我们 明天 北京 开会 午饭 代码 发布 服务器 测试 通过 失败 周五 咖啡 问题 合并 分支 好的 谢谢".split()
ROOMS = [f"room-{i}" for i in range(10)]

QUERIES = {
    "rare English word (1 hit)": "zebracorn",
    "common English word": "meeting",
    "common English prefix": "re",
    "two common words": "release friday",
    "no match": "xylophone",
    "Chinese 3 chars": "服务器",
    "Chinese 2 chars, common": "北京",
    "Chinese 2 chars, no match": "火锅",
    "Chinese 1 char (prefix)": "京",
    "English + Chinese word": "deploy 北京",
    "common word + rare pair": "deploy 京开",
    "private messages included": "secret",
    "8 words (the most a query may have)": "the meeting notes build release 北京 开会 咖啡",
}


def build(path: Path, count: int) -> None:
    rng = random.Random(14)
    store = HistoryStore(path, retention=0)
    ids = dict.fromkeys(ROOMS, 0)
    batch: list[ChatRecord] = []
    for n in range(count):
        room = ROOMS[0] if rng.random() < 0.9 else rng.choice(ROOMS[1:])
        ids[room] += 1
        words = rng.choices(ENGLISH, k=rng.randint(3, 12)) + rng.choices(CHINESE, k=rng.randint(0, 6))
        rng.shuffle(words)
        text = " ".join(words)
        to = None
        if n == count // 2:
            text = "zebracorn sighting"
        if n % 97 == 0:
            text, to = "secret " + text, "bob"
        batch.append(ChatRecord(ids[room], room, rng.choice(["alice", "bob", "carol"]), text, n, to))
        if len(batch) == 500:
            store.append_batch(batch)
            batch = []
    if batch:
        store.append_batch(batch)
    store.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="search-bench-"))
    history = folder / "history.sqlite3"
    started = time.perf_counter()
    build(history, args.messages)
    print(f"built {args.messages:,} messages in {time.perf_counter() - started:.1f} s")
    store = HistoryStore(history, retention=0)  # the server keeps it open (WAL) while searching
    index = SearchIndex(folder / "search.sqlite3", history)
    index.start(lambda callback: callback())
    answered = threading.Event()
    results: list = []

    def done(records) -> None:
        results.append(records)
        answered.set()

    def one(query: str) -> float:
        answered.clear()
        t0 = time.perf_counter()
        index.search(ROOMS[0], "alice", query, private=True, limit=50, done=done)
        answered.wait()
        return (time.perf_counter() - t0) * 1000

    t0 = time.perf_counter()
    one("warm-up")  # waits for the first catch-up: the whole history is indexed
    print(f"indexed in {time.perf_counter() - t0:.1f} s "
          f"(index file {(folder / 'search.sqlite3').stat().st_size / 2**20:.1f} MiB, "
          f"history {history.stat().st_size / 2**20:.1f} MiB)")
    print(f"\n{'':46} {'':>5} {'through the search thread':^28} {'query alone':^20}")
    print(f"{'query':46} {'hits':>5} {'median ms':>10} {'p95 ms':>8} {'max ms':>8}"
          f" {'median ms':>10} {'cpu ms':>8} {'max ms':>8}")
    direct = SearchIndex(folder / "search.sqlite3", history)  # not started: find() on this thread
    worst = worst_alone = 0.0
    for label, query in QUERIES.items():
        times = sorted(one(query) for _ in range(args.runs))
        hits = len(results[-1] or ())
        alone, cpu = [], []
        for _ in range(args.runs):
            w0, c0 = time.perf_counter(), time.thread_time()
            direct.find(ROOMS[0], "alice", query, private=True, limit=50)
            alone.append((time.perf_counter() - w0) * 1000)
            cpu.append((time.thread_time() - c0) * 1000)
        p95 = times[int(len(times) * 0.95) - 1]
        worst, worst_alone = max(worst, times[-1]), max(worst_alone, max(alone))
        print(f"{label:46} {hits:5d} {statistics.median(times):10.2f} {p95:8.2f} {times[-1]:8.2f}"
              f" {statistics.median(alone):10.2f} {statistics.median(cpu):8.2f} {max(alone):8.2f}")
    print(f"\nslowest answer: {worst:.1f} ms through the thread, {worst_alone:.1f} ms alone (goal < 50 ms)")
    direct.stop()
    index.stop()
    store.close()


if __name__ == "__main__":
    main()
