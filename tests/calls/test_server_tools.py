"""Server-side tools over the sideband, on both adapters, against the scripted fake.

Each test scripts the model's tool calls in the fake, makes a call through the route,
waits for what the fake records, and asserts the exact events the backend sent back.
"""

from __future__ import annotations

import json
import logging

import httpx
import pytest

from tests.fake_realtime import call, turn

from .conftest import OFFER, SERVER_KEY

pytestmark = pytest.mark.integration

CALLS = "/navai/realtime/calls"


def start_call(served, **headers) -> str:
    response = served.client.post(CALLS, json={"sdp": OFFER}, headers=headers)
    assert response.status_code == 201, response.text
    return response.headers["x-navai-call-id"]


def output_event(tool_call: str, output: dict) -> dict:
    return {
        "type": "conversation.item.create",
        "item": {
            "type": "function_call_output",
            "call_id": tool_call,
            "output": json.dumps(output, separators=(",", ":")),
        },
    }


def test_session_carries_the_registry_tools_with_their_schemas(serve) -> None:
    with serve(server_tools=True) as served:
        start_call(served)
        [sent] = served.fake.calls
        tools = {tool["name"]: tool for tool in sent.session["tools"]}
        listed = {
            item["name"]: item for item in served.client.get("/navai/functions").json()["items"]
        }
        assert set(tools) == set(listed)
        assert tools["add"] == {
            "type": "function",
            "name": "add",
            "description": listed["add"]["description"],
            "parameters": listed["add"]["parameters"],
        }
        assert tools["add"]["parameters"]["required"] == ["a", "b"]
        assert "context" not in json.dumps(tools["whoami"]["parameters"])


def test_a_valid_call_is_answered_then_the_model_asked_to_go_on(serve) -> None:
    with serve(server_tools=True) as served:
        served.fake.script(turn(call("add", {"a": 2, "b": 3}, "call_add")))
        call_id = start_call(served)
        served.fake.wait_for(lambda: len(served.fake.sent(call_id)) >= 2)
        assert served.fake.connects[call_id] == [f"Bearer {SERVER_KEY}"]
        source = served.client.get("/navai/functions").json()["items"]
        add_source = next(item["source"] for item in source if item["name"] == "add")
        assert served.fake.sent(call_id) == [
            output_event(
                "call_add",
                {"ok": True, "function_name": "add", "source": add_source, "result": 5},
            ),
            {"type": "response.create"},
        ]


def test_failures_go_back_as_the_execute_routes_ok_false_shape(serve) -> None:
    with serve(server_tools=True) as served:
        served.fake.script(
            turn(call("add", {"a": "two", "b": 3}, "c_invalid")),
            turn(call("no_such_tool", {}, "c_unknown")),
            turn(call("explode", {}, "c_raise")),
            turn(call("add", "{not json", "c_garbled")),
            turn(call("stall", {}, "c_slow")),
        )
        call_id = start_call(served)
        served.fake.wait_for(lambda: len(served.fake.sent(call_id, "response.create")) == 5)
        outputs = served.fake.outputs(call_id)
        assert outputs["c_invalid"]["ok"] is False
        assert outputs["c_invalid"]["error"] == "Invalid arguments."
        assert "a" in outputs["c_invalid"]["details"]
        assert outputs["c_unknown"]["ok"] is False
        assert outputs["c_unknown"]["error"] == "Unknown or disallowed function."
        assert "add" in outputs["c_unknown"]["available_functions"]
        assert outputs["c_raise"] == {
            "ok": False,
            "function_name": "explode",
            "error": "Function execution failed.",
            "details": "the widget is broken",
        }
        assert outputs["c_garbled"]["error"] == "Invalid arguments."
        assert outputs["c_slow"]["ok"] is False
        assert outputs["c_slow"]["error"] == "Function timed out."
        # Every answer, then one response.create per model response, in that order.
        kinds = [event["type"] for event in served.fake.sent(call_id)]
        assert kinds == ["conversation.item.create", "response.create"] * 5


def test_the_same_failure_body_as_the_http_route(serve) -> None:
    with serve(server_tools=True) as served:
        served.fake.script(turn(call("explode", {}, "c1")))
        call_id = start_call(served)
        served.fake.wait_for(lambda: len(served.fake.sent(call_id)) == 2)
        http = served.client.post(
            "/navai/functions/execute", json={"function_name": "explode", "payload": {}}
        )
        assert served.fake.outputs(call_id)["c1"] == http.json()


def test_parallel_calls_of_one_response_run_concurrently(serve) -> None:
    # rendezvous returns only when both calls are running at once: run one after the
    # other, the first would wait for the second until its barrier breaks.
    with serve(server_tools=True) as served:
        served.fake.script(
            turn(
                call("rendezvous", {"key": f"k-{served.adapter}"}, "p1"),
                call("rendezvous", {"key": f"k-{served.adapter}"}, "p2"),
            )
        )
        call_id = start_call(served)
        served.fake.wait_for(lambda: len(served.fake.sent(call_id, "response.create")) == 1)
        outputs = served.fake.outputs(call_id)
        assert outputs["p1"]["result"] == outputs["p2"]["result"] == f"met k-{served.adapter}"
        kinds = [event["type"] for event in served.fake.sent(call_id)]
        assert kinds == ["conversation.item.create", "conversation.item.create", "response.create"]


def test_tools_get_the_call_id_and_the_callers_headers(serve) -> None:
    with serve(server_tools=True) as served:
        served.fake.script(turn(call("whoami", {}, "w1")))
        call_id = start_call(served, **{"x-user": "ada"})
        served.fake.wait_for(lambda: len(served.fake.sent(call_id)) == 2)
        assert served.fake.outputs(call_id)["w1"]["result"] == {
            "call_id": call_id,
            "function": "whoami",
            "user": "ada",
        }


def test_hangup_closes_the_sideband_and_frees_its_slot(serve) -> None:
    with serve(server_tools=True, max_sidebands=1) as served:
        call_id = start_call(served)
        served.fake.wait_for(lambda: call_id in served.fake.open_sidebands)
        # The one slot is taken: the next call is refused before OpenAI is asked.
        refused = served.client.post(CALLS, json={"sdp": OFFER})
        assert refused.status_code == 503
        assert "NAVAI_MAX_SIDEBANDS" in refused.json()["error"]
        assert len(served.fake.calls) == 1
        assert served.client.post(f"{CALLS}/{call_id}/hangup").status_code == 200
        served.fake.wait_for(lambda: call_id not in served.fake.open_sidebands)
        assert served.handler.sidebands is not None
        assert served.handler.sidebands.active == 0
        assert served.handler.sidebands.calls() == []
        assert start_call(served) != call_id  # the slot is free again


def test_a_call_ended_by_openai_frees_its_slot(serve) -> None:
    with serve(server_tools=True, max_sidebands=1) as served:
        served.fake.script(turn(call("add", {"a": 1, "b": 1}, "e1")), end_call=True)
        call_id = start_call(served)
        served.fake.wait_for(lambda: len(served.fake.sent(call_id)) == 2)
        served.fake.wait_for(lambda: call_id not in served.fake.open_sidebands)
        second = served.client.post(CALLS, json={"sdp": OFFER})
        if second.status_code == 503:  # the backend may not have seen the close yet
            served.fake.wait_for(lambda: served.handler.sidebands.active == 0)
            second = served.client.post(CALLS, json={"sdp": OFFER})
        assert second.status_code == 201


def test_a_dropped_sideband_is_logged_and_reopened(serve, caplog) -> None:
    caplog.set_level(logging.WARNING, logger="navai")
    with serve(server_tools=True) as served:
        served.fake.script(turn(call("add", {"a": 4, "b": 4}, "d1")), drop_first=True)
        call_id = start_call(served)
        served.fake.wait_for(lambda: len(served.fake.sent(call_id)) == 2)
        assert len(served.fake.connects[call_id]) == 2
        assert served.fake.outputs(call_id)["d1"]["result"] == 8
    dropped = [r.getMessage() for r in caplog.records if "dropped" in r.getMessage()]
    assert dropped
    assert call_id in dropped[0]
    assert SERVER_KEY not in caplog.text


def test_an_idle_sideband_is_closed(serve) -> None:
    with serve(server_tools=True, sideband_idle_timeout=0.2) as served:
        call_id = start_call(served)
        served.fake.wait_for(lambda: call_id in served.fake.connects)
        served.fake.wait_for(lambda: served.handler.sidebands.active == 0)
        served.fake.wait_for(lambda: call_id not in served.fake.open_sidebands)


def test_server_shutdown_closes_every_sideband(serve) -> None:
    with serve(server_tools=True) as served:
        ids = [start_call(served) for _ in range(3)]
        served.fake.wait_for(lambda: set(ids) <= served.fake.open_sidebands)
        fake = served.fake
        handler = served.handler
    fake.wait_for(lambda: not (set(ids) & fake.open_sidebands))
    assert handler.sidebands is not None
    assert handler.sidebands.active == 0


def test_attach_hands_an_ephemeral_key_call_to_the_server(serve) -> None:
    with serve(server_tools=True) as served:
        # Today's flow: the browser made the call itself (here: straight to the fake).
        served.fake.script(turn(call("add", {"a": 5, "b": 6}, "a1")))
        files = {
            "sdp": (None, OFFER, "application/sdp"),
            "session": (None, json.dumps({"type": "realtime"}), "application/json"),
        }
        direct = httpx.post(f"{served.fake.url}/realtime/calls", files=files)
        call_id = direct.headers["location"].rsplit("/", 1)[-1]
        response = served.client.post(f"{CALLS}/{call_id}/attach")
        assert response.status_code == 202
        assert response.json() == {"ok": True, "call_id": call_id}
        served.fake.wait_for(lambda: len(served.fake.sent(call_id, "response.create")) == 1)
        first = served.fake.sent(call_id)[0]
        assert first["type"] == "session.update"
        assert first["session"]["type"] == "realtime"
        assert "add" in [tool["name"] for tool in first["session"]["tools"]]
        assert served.fake.outputs(call_id)["a1"]["result"] == 11


def test_a_call_openai_refused_gives_its_slot_back(serve) -> None:
    with serve(server_tools=True, max_sidebands=1) as served:
        served.fake.fail_calls(400, {"error": {"message": "bad offer"}})
        refused = served.client.post(CALLS, json={"sdp": OFFER})
        assert refused.status_code == 400
        assert served.handler.sidebands.active == 0
        assert start_call(served)  # the one slot is free
