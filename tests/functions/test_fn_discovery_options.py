"""The original's discovery options: agent folders, exclude globs, and exported objects."""

from __future__ import annotations

import pytest

from navai_core.exceptions import InvalidOptionError

SIMPLE = "def {name}() -> str:\n    return {name!r}\n"


def fn(name: str) -> str:
    return SIMPLE.format(name=name)


AGENT_TREE = {
    "src/agents/sales/quote.py": fn("quote"),
    "src/agents/sales/deep/more.py": fn("more"),
    "src/agents/support/ticket.py": fn("ticket"),
    "src/agents/billing/invoice.py": fn("invoice"),
    "src/agents/top.py": fn("top"),
    "src/shared/util.py": fn("util"),
}


# --- NAVAI_AGENTS_FOLDERS ------------------------------------------------------------------


def test_agents_limit_a_plain_folder_token_to_their_folders(tree, load):
    tree(AGENT_TREE)
    registry = load("src/agents", agents_folders="sales, support")
    assert registry.names == ["more", "quote", "ticket"]
    assert registry.agents_folders == ("sales", "support")


def test_agents_from_the_environment(tree, load):
    tree(AGENT_TREE)
    registry = load("src/agents", env={"NAVAI_AGENTS_FOLDERS": "billing"})
    assert registry.names == ["invoice"]


def test_without_agents_every_folder_matches(tree, load):
    tree(AGENT_TREE)
    assert load("src/agents").names == ["invoice", "more", "quote", "ticket", "top"]


def test_agents_leave_recursive_wildcard_and_file_tokens_alone(tree, load):
    # As the original's createPathMatcher: only a plain folder token is narrowed.
    tree(AGENT_TREE)
    assert load("src/shared/...", agents_folders="sales").names == ["util"]
    assert load("src/agents/*.py", agents_folders="sales").names == ["top"]
    assert load("src/agents/billing/invoice.py", agents_folders="sales").names == ["invoice"]


def test_agents_matching_nothing_fall_back_with_a_warning(tree, load):
    # The default folder is a plain folder token too: the agents narrow it as well.
    tree(
        {
            **AGENT_TREE,
            "src/ai/functions-modules/nobody/base.py": fn("base"),
            "src/ai/functions-modules/other.py": fn("other"),
        }
    )
    registry = load("src/agents", agents_folders="nobody")
    assert registry.names == ["base"]
    assert "falling back to the default folder" in registry.warnings[0]


@pytest.mark.parametrize("agents", ["sales/deep", "..", "a\\b"])
def test_an_agent_must_be_one_folder_name(load, agents):
    with pytest.raises(InvalidOptionError, match="is not a folder name"):
        load("src/agents", agents_folders=agents)
    with pytest.raises(InvalidOptionError) as caught:
        load("src/agents", env={"NAVAI_AGENTS_FOLDERS": agents})
    assert caught.value.variable == "NAVAI_AGENTS_FOLDERS"


# --- exclude / NAVAI_FUNCTIONS_EXCLUDE --------------------------------------------------------


EXCLUDE_TREE = {
    "tools/a.py": fn("a_tool"),
    "tools/draft_b.py": fn("draft_b"),
    "tools/tests/test_a.py": fn("test_only"),
    "tools/deep/tests/t.py": fn("deep_test"),
    "tools/deep/c.py": fn("c_tool"),
}


def test_exclude_globs_skip_files_and_folders(tree, load):
    tree(EXCLUDE_TREE)
    registry = load("tools", exclude=["**/tests/**", "tools/draft_*.py"])
    assert registry.names == ["a_tool", "c_tool"]
    assert registry.exclude == ("**/tests/**", "tools/draft_*.py")


def test_exclude_from_the_environment(tree, load):
    tree(EXCLUDE_TREE)
    registry = load("tools", env={"NAVAI_FUNCTIONS_EXCLUDE": "tools/deep/**, tools/draft_?.py"})
    assert registry.names == ["a_tool", "test_only"]


def test_a_single_star_stays_within_a_segment(tree, load):
    tree(EXCLUDE_TREE)
    # "tools/*.py" is not "tools/deep/c.py".
    assert load("tools", exclude="tools/*.py").names == ["c_tool", "deep_test", "test_only"]


def test_exclude_applies_to_explicit_tokens_too(tree, load):
    tree({**EXCLUDE_TREE, "src/ai/functions-modules/base.py": fn("base")})
    registry = load("tools/draft_b.py", exclude="tools/draft_*")
    assert registry.names == ["base"]  # excluded, so nothing matched: the default folder


def test_exclude_is_on_top_of_the_built_in_skips(tree, load):
    tree({**EXCLUDE_TREE, "tools/.hidden/h.py": fn("hidden"), "tools/__pycache__/p.py": fn("p")})
    names = load("tools", exclude="tools/draft_*.py").names
    assert "hidden" not in names
    assert "p" not in names
    assert "draft_b" not in names


# --- objects named in __all__ -----------------------------------------------------------------


OBJECTS = '''
import logging
import types

__all__ = ["weather", "helpers", "log", "settings", "LIMIT", "plain"]

log = logging.getLogger("tools")
settings = {"units": "metric"}
LIMIT = 3


class WeatherService:
    """Weather, from one configured service."""

    def __init__(self, units: str) -> None:
        self.units = units
        self.debug = log.info  # a bound method of another object: not a tool

    def forecast(self, city: str, days: int = 1) -> dict:
        """Forecast for a city.

        Args:
            city: Where.
            days: How many days.
        """
        return {"city": city, "days": days, "units": self.units}

    async def alerts(self, city: str) -> list:
        return [f"storm in {city}"]

    @staticmethod
    def ping() -> str:
        return "pong"

    def _private(self) -> None:
        pass


weather = WeatherService("metric")


def _double(n: int) -> int:
    return n * 2


helpers = types.SimpleNamespace(double=_double, shout=lambda text: text.upper(), name="x")


def plain() -> str:
    return "plain"
'''


def test_an_object_in_all_gives_one_tool_per_public_callable_member(one):
    registry = one(OBJECTS)
    assert registry.names == [
        "weather_forecast",
        "weather_alerts",
        "weather_ping",
        "helpers_double",
        "helpers_shout",
        "plain",
    ]
    forecast = registry.get("weather_forecast")
    assert forecast.source == "tools.py#weather.forecast"
    assert forecast.description == "Forecast for a city."
    assert forecast.parameters["required"] == ["city"]
    assert set(forecast.parameters["properties"]) == {"city", "days"}
    assert forecast.parameters["properties"]["city"]["description"] == "Where."


def test_object_members_run_bound_to_the_object(one):
    registry = one(OBJECTS)
    assert registry.execute("weather_forecast", {"city": "Lima"}) == {
        "city": "Lima",
        "days": 1,
        "units": "metric",
    }
    assert registry.execute("weather_alerts", {"value": "Quito"}) == ["storm in Quito"]
    assert registry.execute("weather_ping") == "pong"
    assert registry.execute("helpers_double", {"n": 4}) == 8
    assert registry.execute("helpers_shout", {"text": "hi"}) == "HI"


def test_objects_are_tools_only_through_all(one):
    source = OBJECTS.replace(
        '__all__ = ["weather", "helpers", "log", "settings", "LIMIT", "plain"]', ""
    )
    registry = one(source)
    # Without __all__: the class and the functions defined here, never the instances.
    assert registry.names == [
        "weather_service_forecast",
        "weather_service_alerts",
        "weather_service_ping",
        "plain",
    ]


def test_require_decorator_applies_to_object_members(one):
    source = OBJECTS.replace("    def forecast(", "    @navai_function\n    def forecast(").replace(
        "import logging", "import logging\nfrom navai_core import navai_function"
    )
    registry = one(source, require_decorator=True)
    assert registry.names == ["weather_forecast"]


def test_an_object_without_a_dict_gives_its_class_methods(one):
    registry = one(
        """
        __all__ = ["slotted"]


        class Slotted:
            __slots__ = ("n",)

            def __init__(self) -> None:
                self.n = 2

            def twice(self, x: int) -> int:
                return x * self.n


        slotted = Slotted()
        """
    )
    assert registry.names == ["slotted_twice"]
    assert registry.execute("slotted_twice", {"x": 4}) == 8
