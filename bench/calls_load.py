"""Load: many concurrent WebRTC calls with server-side tools, against the fake Realtime.

Everything is on 127.0.0.1: the fake OpenAI (tests/fake_realtime.py) in one thread, the
NAVAI Starlette app under uvicorn in another, and the callers here. Each call is created
through ``POST /navai/realtime/calls``; its sideband plays two model responses (one tool
call, then two parallel ones); the run waits until every call's three tool outputs and two
``response.create`` have reached the fake, then hangs every call up, and checks that no
sideband task, slot or socket is left. A second round checks that memory stays flat.

    python bench/calls_load.py --calls 200 --rounds 2
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from navai_adapters.starlette import create_app  # noqa: E402
from navai_core import NavaiVoiceBackendOptions, RetryPolicy  # noqa: E402
from tests.fake_realtime import FakeRealtime, call, turn  # noqa: E402
from tests.servers import serve_asgi  # noqa: E402

OFFER = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n"


def rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def open_fds() -> int:
    return sum(1 for _ in Path("/proc/self/fd").iterdir())


async def one_round(client: httpx.AsyncClient, fake: FakeRealtime, calls: int) -> dict:
    fake.clear()
    fake.script(
        turn(call("add", {"a": 1, "b": 2}, "t1")),
        turn(call("add", {"a": 3, "b": 4}, "t2"), call("add", {"a": 5, "b": 6}, "t3")),
    )
    started = time.perf_counter()
    answers = await asyncio.gather(
        *(
            client.post(
                "/navai/realtime/calls", content=OFFER, headers={"content-type": "application/sdp"}
            )
            for _ in range(calls)
        )
    )
    created = time.perf_counter()
    statuses = sorted({answer.status_code for answer in answers})
    assert statuses == [201], statuses
    ids = [answer.headers["x-navai-call-id"] for answer in answers]

    def all_answered() -> bool:
        return all(len(fake.sent(call_id, "response.create")) == 2 for call_id in ids)

    await asyncio.to_thread(fake.wait_for, all_answered, 120)
    answered = time.perf_counter()
    for call_id in ids:
        outputs = fake.outputs(call_id)
        assert [outputs[key]["result"] for key in ("t1", "t2", "t3")] == [3, 7, 11], outputs
    hangups = await asyncio.gather(
        *(client.post(f"/navai/realtime/calls/{call_id}/hangup") for call_id in ids)
    )
    assert {answer.status_code for answer in hangups} == {200}
    await asyncio.to_thread(fake.wait_for, lambda: not (set(ids) & fake.open_sidebands), 60)
    ended = time.perf_counter()
    return {
        "calls": calls,
        "create_s": round(created - started, 3),
        "all_tools_answered_s": round(answered - started, 3),
        "hangup_and_close_s": round(ended - answered, 3),
        "tool_calls": calls * 3,
    }


async def main_async(args: argparse.Namespace) -> list[dict]:
    results = []
    with FakeRealtime() as fake:
        options = NavaiVoiceBackendOptions(
            openai_api_key="sk-load-test-key-0123456789",
            openai_base_url=fake.url,
            openai_timeout_seconds=30,
            retry=RetryPolicy(max_attempts=1),
        )
        app = create_app(
            options,
            env={"NAVAI_FUNCTION_TIMEOUT": "10"},
            functions_base_dir=ROOT / "tests" / "calls",
            functions_folders="call_functions",
            server_tools=True,
            max_sidebands=args.calls,
        )
        handler = app.state.navai.handler
        with serve_asgi(app) as url:
            limits = httpx.Limits(max_connections=args.calls, max_keepalive_connections=args.calls)
            async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as client:
                for number in range(args.rounds):
                    gc.collect()
                    before = {"rss_kib": rss_kib(), "fds": open_fds()}
                    row = await one_round(client, fake, args.calls)
                    gc.collect()
                    row["round"] = number + 1
                    row["rss_kib_before"] = before["rss_kib"]
                    row["rss_kib_after"] = rss_kib()
                    row["fds_before"] = before["fds"]
                    row["fds_after"] = open_fds()
                    row["sidebands_left"] = handler.sidebands.active
                    row["sideband_calls_left"] = len(handler.sidebands.calls())
                    results.append(row)
                    assert row["sidebands_left"] == 0
                    assert row["sideband_calls_left"] == 0
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    results = asyncio.run(main_async(args))
    print(
        "| round | calls | tool calls | create (s) | all tools answered (s) | hangup+close (s) | RSS KiB before -> after | fds before -> after | sidebands left |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for row in results:
        print(
            f"| {row['round']} | {row['calls']} | {row['tool_calls']} | {row['create_s']} | "
            f"{row['all_tools_answered_s']} | {row['hangup_and_close_s']} | "
            f"{row['rss_kib_before']} -> {row['rss_kib_after']} | {row['fds_before']} -> {row['fds_after']} | "
            f"{row['sidebands_left']} |"
        )
    print(json.dumps(results))


if __name__ == "__main__":
    main()
