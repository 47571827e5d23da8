"""Finding files: tokens, skipped folders, fallback, containment, broken modules, reload."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from navai_core import load_navai_functions

SIMPLE = "def {name}() -> str:\n    return {name!r}\n"


def fn(name: str) -> str:
    return SIMPLE.format(name=name)


def sources(registry) -> list[str]:
    return [item.source for item in registry.items]


# --- tokens -------------------------------------------------------------------------------


def test_default_folder_when_nothing_is_configured(tree, load):
    tree({"src/ai/functions-modules/tools.py": fn("alpha"), "other/x.py": fn("beta")})
    registry = load(folders=None)
    assert registry.names == ["alpha"]
    assert registry.warnings == []
    assert registry.folders is None


def test_folder_is_recursive_and_sorted(tree, load):
    tree(
        {
            "tools/b.py": fn("b_tool"),
            "tools/a.py": fn("a_tool"),
            "tools/deep/er/c.py": fn("c_tool"),
        }
    )
    registry = load("tools")
    assert sources(registry) == [
        "tools/a.py#a_tool",
        "tools/b.py#b_tool",
        "tools/deep/er/c.py#c_tool",
    ]


def test_recursive_marker_and_csv_tokens(tree, load):
    tree(
        {
            "one/a.py": fn("a1"),
            "one/sub/b.py": fn("b1"),
            "two/c.py": fn("c1"),
            "three/d.py": fn("d1"),
        }
    )
    registry = load("one/..., two")
    assert registry.names == ["a1", "b1", "c1"]
    assert registry.warnings == []


def test_sequence_of_tokens(tree, load):
    tree({"one/a.py": fn("a1"), "two/c.py": fn("c1")})
    assert load(["one", " two "]).names == ["a1", "c1"]


def test_wildcard_token(tree, load):
    tree(
        {
            "src/features/orders/voice/tools.py": fn("orders_tool"),
            "src/features/users/voice/tools.py": fn("users_tool"),
            "src/features/users/web/tools.py": fn("web_tool"),
        }
    )
    registry = load("src/features/*/voice")
    assert registry.names == ["orders_tool", "users_tool"]


def test_wildcard_matching_files(tree, load):
    tree({"tools/get_a.py": fn("get_a"), "tools/set_b.py": fn("set_b"), "tools/get_c.txt": "x"})
    assert load("tools/get_*").names == ["get_a"]


def test_explicit_file_token(tree, load):
    tree(
        {
            "src/ai/functions-modules/secret.py": fn("secret"),
            "src/ai/functions-modules/other.py": fn("other"),
        }
    )
    assert load("src/ai/functions-modules/secret.py").names == ["secret"]


def test_dot_slash_and_backslash_tokens(tree, load):
    tree({"tools/a.py": fn("a1")})
    assert load("./tools/").names == ["a1"]
    assert load("tools\\a.py").names == ["a1"]


def test_a_file_named_by_two_tokens_is_imported_once(tree, load, base: Path):
    counter = base.parent / "count.txt"
    tree(
        {
            "tools/a.py": f"""
            with open({str(counter)!r}, "a") as handle:
                handle.write("x")
            def a1():
                return 1
            """
        }
    )
    registry = load("tools, tools/a.py, tools/...")
    assert registry.names == ["a1"]
    assert counter.read_text() == "x"
    assert registry.warnings == []


def test_token_matching_nothing_among_tokens_that_match(tree, load):
    tree({"tools/a.py": fn("a1")})
    registry = load("tools, nothing/here, empty")
    assert registry.names == ["a1"]
    assert registry.warnings == [
        "[navai] Functions folder 'nothing/here' matched no .py files.",
        "[navai] Functions folder 'empty' matched no .py files.",
    ]


def test_tokens_matching_nothing_fall_back_to_the_default_folder(tree, load):
    tree({"src/ai/functions-modules/tools.py": fn("fallback")})
    registry = load("nope, also/nope")
    assert registry.names == ["fallback"]
    assert registry.warnings == [
        (
            "[navai] The configured functions folders ('nope', 'also/nope') matched no .py files; "
            "falling back to the default folder 'src/ai/functions-modules'."
        )
    ]


def test_no_default_folder_either_gives_an_empty_registry(load, base: Path):
    registry = load("nope")
    assert registry.items == ()
    assert len(registry.warnings) == 2
    assert registry.warnings[1] == (
        "[navai] The default functions folder 'src/ai/functions-modules' has no .py files "
        f"under {os.path.realpath(base)}; no functions were loaded."
    )


def test_no_configuration_and_no_default_folder_warns(load):
    registry = load(None)
    assert registry.items == ()
    assert registry.warnings[0].startswith("[navai] The default functions folder")


# --- skipped folders ----------------------------------------------------------------------


def test_hidden_pycache_venv_site_packages_and_node_modules_are_skipped(tree, load):
    tree(
        {
            "tools/ok.py": fn("ok"),
            "tools/.hidden/h.py": fn("hidden"),
            "tools/.h.py": fn("hidden_file"),
            "tools/__pycache__/p.py": fn("cached"),
            "tools/venv/pyvenv.cfg": "home = /usr\n",
            "tools/venv/lib/v.py": fn("in_venv"),
            "tools/myenv/pyvenv.cfg": "home = /usr\n",
            "tools/myenv/x.py": fn("in_named_venv"),
            "tools/lib/site-packages/s.py": fn("site"),
            "tools/node_modules/n.py": fn("node"),
            "tools/notes.txt": "not python",
        }
    )
    assert load("tools").names == ["ok"]


def test_tokens_naming_skipped_folders_match_nothing(tree, load):
    tree(
        {
            "tools/ok.py": fn("ok"),
            ".hidden/h.py": fn("hidden"),
            "venv/pyvenv.cfg": "home = /usr\n",
            "venv/lib/v.py": fn("in_venv"),
            "node_modules/x/n.py": fn("node"),
        }
    )
    registry = load("tools, .hidden, venv/lib, node_modules/x, tools/.h.py")
    assert registry.names == ["ok"]
    assert len(registry.warnings) == 4


def test_wildcards_skip_hidden_entries(tree, load):
    tree({"a/tools.py": fn("visible"), ".b/tools.py": fn("hidden")})
    assert load("*").names == ["visible"]


# --- containment --------------------------------------------------------------------------


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A module outside the base directory that leaves a marker file if it is ever run."""
    folder = tmp_path / "outside"
    folder.mkdir()
    marker = tmp_path / "outside-was-imported"
    (folder / "evil.py").write_text(
        f"open({str(marker)!r}, 'w').write('imported')\n"
        "import sys\nsys.modules['navai_test_evil_marker'] = sys\n"
        "def evil():\n    return 'pwned'\n"
    )
    return folder


def never_imported(tmp_path: Path) -> bool:
    return not (tmp_path / "outside-was-imported").exists() and (
        "navai_test_evil_marker" not in sys.modules
    )


def test_parent_traversal_is_refused(tree, load, outside, tmp_path: Path):
    tree({"tools/ok.py": fn("ok")})
    registry = load("tools, ../outside, tools/../../outside/evil.py")
    assert registry.names == ["ok"]
    assert never_imported(tmp_path)
    assert registry.warnings == [
        (
            "[navai] Ignored functions folder '../outside': '..' is not allowed; "
            "functions must live inside the base directory."
        ),
        (
            "[navai] Ignored functions folder 'tools/../../outside/evil.py': '..' is not allowed; "
            "functions must live inside the base directory."
        ),
    ]


def test_absolute_paths_are_refused(tree, load, outside, tmp_path: Path):
    tree({"tools/ok.py": fn("ok")})
    registry = load(["tools", str(outside), str(outside / "evil.py"), "C:/outside"])
    assert registry.names == ["ok"]
    assert never_imported(tmp_path)
    assert all("absolute paths are not allowed" in warning for warning in registry.warnings)
    assert len(registry.warnings) == 3


def test_only_refused_tokens_fall_back_to_the_default_without_importing(load, outside, tmp_path):
    registry = load("../outside")
    assert registry.items == ()
    assert never_imported(tmp_path)


def test_symlinked_folder_pointing_outside_is_not_imported(tree, load, outside, base, tmp_path):
    tree({"tools/ok.py": fn("ok")})
    (base / "tools" / "linked").symlink_to(outside, target_is_directory=True)
    registry = load("tools")
    assert registry.names == ["ok"]
    assert never_imported(tmp_path)
    assert registry.warnings == [
        (
            "[navai] Skipped tools/linked: it resolves outside the base directory, "
            "and nothing outside it is ever imported."
        )
    ]


def test_symlinked_file_pointing_outside_is_not_imported(tree, load, outside, base, tmp_path):
    tree({"tools/ok.py": fn("ok")})
    (base / "tools" / "evil.py").symlink_to(outside / "evil.py")
    registry = load("tools")
    assert registry.names == ["ok"]
    assert never_imported(tmp_path)
    assert "Skipped tools/evil.py: it resolves outside" in registry.warnings[0]


def test_token_that_is_a_symlink_out_is_not_imported(tree, load, outside, base, tmp_path):
    tree({"tools/ok.py": fn("ok")})
    (base / "linked").symlink_to(outside, target_is_directory=True)
    (base / "evil.py").symlink_to(outside / "evil.py")
    for token in ("linked", "linked/evil.py", "evil.py", "link*", "*"):
        registry = load(f"tools, {token}")
        assert registry.names == ["ok"], token
        assert any("resolves outside" in warning for warning in registry.warnings), token
    assert never_imported(tmp_path)


def test_symlinks_inside_the_base_are_followed_once(tree, load, base):
    tree({"real/a.py": fn("a1")})
    (base / "tools").mkdir()
    (base / "tools" / "alias").symlink_to(base / "real", target_is_directory=True)
    (base / "tools" / "loop").symlink_to(base / "tools", target_is_directory=True)
    registry = load("tools, real")
    assert registry.names == ["a1"]
    assert registry.warnings == []


def test_base_dir_must_be_a_directory(tmp_path: Path):
    from navai_core.exceptions import InvalidOptionError

    with pytest.raises(InvalidOptionError, match=r"base_dir=.* is not a directory"):
        load_navai_functions(tmp_path / "missing", env={})
    with pytest.raises(InvalidOptionError, match=r"NAVAI_FUNCTIONS_BASE_DIR=.* is not a directory"):
        load_navai_functions(env={"NAVAI_FUNCTIONS_BASE_DIR": str(tmp_path / "missing")})


# --- importing ----------------------------------------------------------------------------


def test_broken_modules_warn_and_the_rest_loads(tree, load):
    tree(
        {
            "tools/a_syntax.py": "def broken(:\n",
            "tools/b_import.py": "import navai_module_that_does_not_exist\n",
            "tools/c_raises.py": "raise RuntimeError('boom at import')\n",
            "tools/d_exit.py": "import sys\nsys.exit(3)\n",
            "tools/e_good.py": fn("good"),
        }
    )
    registry = load("tools")
    assert registry.names == ["good"]
    warnings = registry.warnings
    assert warnings[0].startswith("[navai] Failed to load tools/a_syntax.py: SyntaxError: ")
    assert warnings[1] == (
        "[navai] Failed to load tools/b_import.py: ModuleNotFoundError: "
        "No module named 'navai_module_that_does_not_exist'"
    )
    assert warnings[2] == "[navai] Failed to load tools/c_raises.py: RuntimeError: boom at import"
    assert warnings[3] == "[navai] Failed to load tools/d_exit.py: SystemExit: 3"
    assert not any(name.endswith("c_raises") for name in sys.modules)


def test_warnings_are_logged(tree, load, caplog):
    tree({"tools/bad.py": "raise ValueError('nope')\n"})
    with caplog.at_level("WARNING", logger="navai"):
        registry = load("tools")
    assert registry.warnings[0] in caplog.text


def test_modules_are_registered_so_dataclasses_and_future_annotations_work(one):
    registry = one(
        """
        from __future__ import annotations
        import dataclasses

        @dataclasses.dataclass
        class Point:
            x: int
            y: int = 0

        def norm(point: Point) -> int:
            return abs(point.x) + abs(point.y)
        """
    )
    assert registry.names == ["norm"]
    assert registry.execute("norm", {"point": {"x": -2, "y": 3}}) == 5


def test_sys_path_is_untouched(tree, load):
    before = list(sys.path)
    tree({"tools/a.py": fn("a1")})
    load("tools")
    assert sys.path == before


def test_module_names_are_unique_and_distinct_per_base(tree, load):
    tree({"tools/a-b.py": fn("dash"), "tools/a_b.py": fn("under"), "tools/1st.py": fn("first")})
    registry = load("tools")
    assert sorted(registry.names) == ["dash", "first", "under"]


# --- reload -------------------------------------------------------------------------------


def test_reload_picks_up_new_and_changed_files(tree, load, base):
    tree({"tools/a.py": fn("a1"), "tools/gone.py": fn("gone")})
    registry = load("tools")
    assert registry.names == ["a1", "gone"]
    first = registry.items
    tree({"tools/b.py": fn("b1"), "tools/a.py": "def a1():\n    return 'changed'\n"})
    (base / "tools" / "gone.py").unlink()
    assert registry.reload() is registry
    assert registry.names == ["a1", "b1"]
    assert registry.execute("a1") == "changed"
    assert first[0].name == "a1"  # the old snapshot is untouched
    assert not any(name.endswith(".tools.gone") for name in sys.modules)


def test_wildcard_under_a_missing_folder_matches_nothing(tree, load):
    tree({"tools/a.py": fn("a1"), "file.py": fn("f1")})
    registry = load("tools, missing/*, file.py/*")
    assert registry.names == ["a1"]
    assert len(registry.warnings) == 2
