"""The principle library: the shipped file, lookups, search, combine, user files and the CLI."""

from __future__ import annotations

import json
import re
import tomllib
from importlib import resources
from pathlib import Path

import pytest

from ra_agents import Criterion, Principle, UsageError
from ra_agents.cli import main
from ra_agents.principles import COMPOSITE, DEFAULT_INTRO, Library, combine, default_library, get, load, search

ROOT = Path(__file__).resolve().parents[2]
CATEGORIES = {"content", "structure", "tone", "logic", "style", "safety", "agent"}


def flat(text: str) -> str:
    return " ".join(text.split())


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


# ---------------------------------------------------------------- the shipped file


def test_the_shipped_file_is_package_data_that_loads() -> None:
    text = resources.files("ra_agents.data").joinpath("principles.toml").read_text(encoding="utf-8")
    assert len(tomllib.loads(text)["principle"]) == len(default_library())
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]
    assert "ra_agents*" in pyproject["packages"]["find"]["include"]
    assert "*.toml" in pyproject["package-data"]["ra_agents.data"]


def test_the_library_has_at_least_60_principles_in_every_category() -> None:
    library = default_library()
    plain = [p for p in library if p.category != COMPOSITE]
    assert len(plain) >= 60
    assert set(library.categories()) == CATEGORIES | {COMPOSITE}
    for category in CATEGORIES:
        assert sum(p.category == category for p in plain) >= 7, category
    assert sum(p.category == COMPOSITE for p in library) >= 5
    assert library is default_library()  # cached


def test_every_entry_is_complete_valid_and_states_its_priorities() -> None:
    library = default_library()
    ids = library.ids()
    assert len(ids) == len(set(ids)) == len(library)
    for p in library:
        assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", p.id or ""), p.id
        assert p.tags and all(t == t.lower() for t in p.tags), p.id
        assert p.summary and "\n" not in p.summary and len(p.summary) <= 120, p.id
        assert Principle.from_dict(p.to_dict()) == p
        rendered = p.render()
        assert rendered.strip() and rendered == p.render()
        if p.criteria:
            assert p.priority and p.weights is not None, p.id  # criteria come weighted and ordered
            assert "For conflicting criteria, prioritize:" in rendered
        else:
            assert "first" in p.text and ("Then" in p.text or "When" in p.text), p.id


def test_agent_entries_cover_tool_use_plans_and_refusals() -> None:
    agent = [p for p in default_library() if p.category == "agent"]
    for tag in ("tool-use", "planning", "refusals", "prompt-injection"):
        assert any(tag in p.tags for p in agent), tag
    assert {"minimal-tool-calls", "clear-plan", "helpful-refusal", "confirm-irreversible-actions"} <= {
        p.id for p in agent
    }


def test_composites_resolve_to_one_criterion_per_library_entry() -> None:
    library = default_library()
    composites = [p for p in library if p.category == COMPOSITE]
    assert {"helpful-and-harmless", "concise-expert-answer", "safe-tool-use"} <= {p.id for p in composites}
    for p in composites:
        assert p.criteria and p.weights is not None
        for c in p.criteria:
            part = library.get(c.name)
            assert part.category != COMPOSITE
            assert "\n" not in c.description
            if not part.criteria:
                assert c.description == flat(part.text)
        assert p.priority and set(p.priority) == {c.name for c in p.criteria}


def test_a_composite_renders_its_parts_with_shares_and_priority() -> None:
    p = get("safe-tool-use")
    lines = p.render().splitlines()
    assert lines[0] == "Judge the agent's trajectory and final answer on these parts:"
    assert lines[1] == f"1. **resist-prompt-injection** (27.3%): {flat(get('resist-prompt-injection').text)}"
    assert lines[4].startswith(
        "4. **correct-tool-calls** (18.2%): Right tool (30%): the tool chosen is the one suited to the step"
    )
    assert lines[4].endswith("When these conflict: Valid arguments > Right tool > Use of results > Error handling.")
    assert lines[-1] == (
        "For conflicting criteria, prioritize: resist-prompt-injection > confirm-irreversible-actions > "
        "least-privilege > correct-tool-calls > minimal-tool-calls."
    )


# ------------------------------------------------------------------- get/search


def test_get_returns_the_entry_and_an_unknown_id_suggests_close_ones() -> None:
    p = get("concise")
    assert (p.id, p.category, p.summary) == (
        "concise",
        "style",
        "The shortest response that fully answers the request.",
    )
    assert p.render().startswith("Completeness first: the response must contain everything")
    with pytest.raises(UsageError) as info:
        get("concis")
    message = str(info.value)
    assert "unknown principle id 'concis'" in message
    assert "did you mean 'concise' or 'concise-expert-answer'?" in message
    assert "ra-agents principles list" in message


def test_search_ranks_id_and_tag_matches_before_text_matches() -> None:
    assert [p.id for p in search("plans")] == ["clear-plan", "replan-on-failure"]
    assert [p.id for p in search("prompt-injection")] == ["resist-prompt-injection", "safe-tool-use"]
    assert [p.id for p in search("json")] == ["strict-json-output"]
    brevity = [p.id for p in search("brevity")]
    assert brevity[:3] == ["accuracy-then-brevity", "concise", "beginner-friendly"]
    assert "concise-expert-answer" in brevity  # matched in its text
    assert [p.id for p in search("Tool Use")] == [p.id for p in search("tool-use")]
    assert search("tool-use")[-2].id == "safe-tool-use"
    assert search("no such thing anywhere") == []
    with pytest.raises(UsageError, match="search needs something"):
        search("  ")


def test_a_library_iterates_in_order_and_rejects_duplicate_ids() -> None:
    a, b = Principle(text="A first.", id="a", category="x"), Principle(text="B first.", id="b", category="y")
    library = Library([a, b], source="mine")
    assert list(library) == [a, b] and len(library) == 2 and "a" in library and "c" not in library
    assert library.ids() == ["a", "b"] and library.categories() == ["x", "y"]
    with pytest.raises(UsageError, match="mine: id 'a' appears twice"):
        Library([a, a], source="mine")
    with pytest.raises(UsageError, match="with an id"):
        Library([Principle(text="no id")])


# ----------------------------------------------------------------------- combine


def test_combine_makes_one_criterion_per_part_with_weights_and_priority() -> None:
    style = Principle.weighted(
        {"Brevity": 1, "Clarity": 3}, descriptions={"Brevity": "short."}, priority=["Clarity", "Brevity"]
    )
    p = combine({"safety": "Never help with weapons.", "style": style}, weights={"safety": 2, "style": 1})
    assert p.render() == (
        f"{DEFAULT_INTRO}\n"
        "1. **safety** (66.7%): Never help with weapons.\n"
        "2. **style** (33.3%): Brevity (25%): short; Clarity (75%). When these conflict: Clarity > Brevity.\n"
        "For conflicting criteria, prioritize: safety > style."
    )


def test_combine_reads_library_ids_and_keeps_the_given_order_as_priority() -> None:
    p = combine(["concise", "no-filler"], text="Judge the reply:")
    assert p.criteria == (
        Criterion("concise", flat(get("concise").text)),
        Criterion("no-filler", flat(get("no-filler").text)),
    )
    assert p.priority == ("concise", "no-filler")
    assert p.render().startswith("Judge the reply:\n1. **concise**: Completeness first:")
    mixed = combine({"core": "accuracy-then-brevity", "extra": "Answers in French."}, priority=["extra", "core"])
    assert mixed.criteria[0].description == flat(get("accuracy-then-brevity").text)
    assert mixed.criteria[1].description == "Answers in French."
    assert mixed.priority == ("extra", "core")
    assert combine(["concise"], priority=()).priority == ()


def test_combine_uses_the_library_it_is_given() -> None:
    mine = Library([Principle(text="Mine first, then yours.", id="concise")])
    assert combine(["concise"], library=mine).criteria[0].description == "Mine first, then yours."


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        ((["concis"],), {}, "unknown principle id 'concis'"),
        (({"a": "no-fillr"},), {}, "'no-fillr', which is not a library id; did you mean 'no-filler'?"),
        (({"a": "concise", "b": "Be kind."},), {"weights": {"a": 1, "c": 2}}, "weights name unknown part(s) 'c'"),
        (({"a": "concise", "b": "Be kind."},), {"weights": {"a": 1}}, "but not for 'b'"),
        (({"a": "concise"},), {"priority": ["z"]}, "unknown criterion 'z'"),
        (({"a": "  "},), {}, "part 'a': principle is empty"),
        (({"": "Be kind."},), {}, "part names must be non-empty strings"),
        (([],), {}, "needs at least one principle"),
        (("concise",), {}, "or a list of library ids, got str"),
        ((["concise", "concise"],), {}, "appears twice"),
    ],
)
def test_combine_errors_say_what_to_fix(args, kwargs, message: str) -> None:
    with pytest.raises(UsageError) as info:
        combine(*args, **kwargs)
    assert message in str(info.value)


# -------------------------------------------------------------------- user files

GOOD_TOML = """\
# my principles
[[principle]]
id = "short"
category = "style"
tags = ["brevity"]
summary = "Short wins."
text = "Correct first, then short."

[[principle]]
id = "kind"
category = "tone"
criteria = [
  { name = "Kindness", weight = 2 },
  { name = "Honesty", weight = 1 },
]
priority = ["Honesty", "Kindness"]

[[principle]]
id = "kind-and-safe"
combine = [{ id = "kind", weight = 1 }, { id = "refuse-serious-harm", weight = 3 }]
priority = ["refuse-serious-harm", "kind"]
"""


def test_a_user_toml_library_loads_and_its_composites_may_name_shipped_entries(tmp_path: Path) -> None:
    library = load(write(tmp_path / "mine.toml", GOOD_TOML))
    assert library.ids() == ["short", "kind", "kind-and-safe"]
    assert library.categories() == ["style", "tone", COMPOSITE]
    composite = library.get("kind-and-safe")
    assert [(c.name, c.weight) for c in composite.criteria] == [("kind", 1), ("refuse-serious-harm", 3)]
    assert (
        composite.criteria[0].description
        == "Kindness (66.7%); Honesty (33.3%). When these conflict: Honesty > Kindness."
    )
    assert [p.id for p in library.search("brevity")] == ["short"]


@pytest.mark.parametrize(
    ("replace", "message"),
    [
        (('{ name = "Honesty", weight = 1 }', '{ name = "Honesty", weight = -1 }'), "mine.toml line 9: "),
        (('{ name = "Honesty", weight = 1 }', '{ name = "Honesty" }'), "line 9: principle 'kind': weights are given"),
        (('priority = ["Honesty", "Kindness"]', 'priority = ["Truth"]'), "line 9: principle 'kind': priority names"),
        (('id = "kind"\n', 'id = "short"\n'), "line 9: id 'short' is already used at line 2; ids must be unique"),
        (('id = "kind"\n', 'id = "Kind Words"\n'), "line 9: every principle needs an id"),
        (('text = "Correct first, then short."', 'txt = "x"'), "line 2: unknown principle field(s) txt"),
        (
            ('{ id = "kind", weight = 1 }', '{ id = "knd", weight = 1 }, { id = "nope-at-all", weight = 1 }'),
            "line 18: composite 'kind-and-safe' names unknown principle id(s): 'knd' (did you mean 'kind'?), "
            "'nope-at-all'",
        ),
        (('id = "kind", weight = 1', 'id = "kind"'), "line 18: principle: weights are given for some criteria"),
        (('priority = ["refuse-serious-harm", "kind"]', "criteria = []"), "line 18: composite 'kind-and-safe' has"),
        (('{ id = "kind", weight = 1 }', '{ id = "helpful-and-harmless" }'), "names the composite 'helpful-and-"),
        (('id = "kind"', 'id = "kind = oops'), "mine.toml is not valid TOML"),
    ],
)
def test_a_bad_user_toml_entry_names_the_file_and_line(tmp_path: Path, replace: tuple[str, str], message: str) -> None:
    old, new = replace
    assert old in GOOD_TOML
    path = write(tmp_path / "mine.toml", GOOD_TOML.replace(old, new, 1))
    with pytest.raises(UsageError) as info:
        load(path)
    assert message in str(info.value)
    assert str(path) in str(info.value)


def test_toml_line_numbers_survive_a_principle_header_inside_a_string(tmp_path: Path) -> None:
    text = '[[principle]]\nid = "a"\ntext = """\n[[principle]]\nA first."""\n\n[[principle]]\nid = "b"\ntext = ""\n'
    with pytest.raises(UsageError, match=r"mine\.toml line 8: principle 'b' is empty"):
        load(write(tmp_path / "mine.toml", text))


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("one.toml", '[principle]\nid = "a"\ntext = "t"\n', "[[principle]] (double brackets)"),
        ("none.toml", "# nothing yet\n", "holds no principles"),
        ("extra.toml", 'title = "x"\n[[principle]]\nid = "a"\ntext = "t"\n', "unknown top-level key(s) title"),
        ("lib.yaml", "- id: a\n", "a .toml file of [[principle]] tables or a .jsonl file"),
        ("empty.jsonl", "\n\n", "holds no principles"),
    ],
)
def test_unusable_library_files_say_what_to_write(tmp_path: Path, name: str, text: str, message: str) -> None:
    with pytest.raises(UsageError) as info:
        load(write(tmp_path / name, text))
    assert message in str(info.value)


def test_a_missing_library_file_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=r"missing\.toml does not exist"):
        load(tmp_path / "missing.toml")


def test_a_user_jsonl_library_loads_and_a_bad_line_is_named(tmp_path: Path) -> None:
    good = [
        {"id": "short", "category": "style", "text": "Correct first, then short."},
        {"id": "mix", "combine": ["short", "concise"], "priority": ["concise", "short"]},
    ]
    library = load(write(tmp_path / "mine.jsonl", "".join(json.dumps(e) + "\n" for e in good)))
    assert library.ids() == ["short", "mix"]
    assert library.get("mix").priority == ("concise", "short")
    assert library.get("mix").weights is None

    lines = [json.dumps(good[0]), "", json.dumps({"id": "bad", "criteria": [{"name": "", "weight": 1}]})]
    with pytest.raises(UsageError, match=r"mine\.jsonl line 3: a criterion has an empty name"):
        load(write(tmp_path / "mine.jsonl", "\n".join(lines)))
    with pytest.raises(UsageError, match=r"mine\.jsonl line 2 is not valid JSON"):
        load(write(tmp_path / "mine.jsonl", json.dumps(good[0]) + "\n{oops\n"))
    with pytest.raises(UsageError, match=r"mine\.jsonl line 4: id 'short' is already used at line 1"):
        load(write(tmp_path / "mine.jsonl", "\n".join([json.dumps(good[0]), "", "", json.dumps(good[0])])))
    with pytest.raises(UsageError, match=r"mine\.jsonl line 1: a principle must be a table/object, got list"):
        load(write(tmp_path / "mine.jsonl", "[1]\n"))


def test_the_shipped_library_round_trips_through_jsonl(tmp_path: Path) -> None:
    path = tmp_path / "all.jsonl"
    path.write_text("".join(json.dumps(p.to_dict()) + "\n" for p in default_library()), encoding="utf-8")
    again = load(path)
    assert [p.render() for p in again] == [p.render() for p in default_library()]
    assert [p.category for p in again] == [p.category for p in default_library()]


# --------------------------------------------------------------------------- CLI


def test_cli_list_prints_every_principle_and_filters_by_category(capsys) -> None:
    assert main(["principles", "list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == len(default_library())
    assert lines[0].split()[:2] == ["accuracy-then-brevity", "content"]
    assert lines[0].endswith("A correct answer beats a short one; among correct answers, the shortest wins.")

    assert main(["principles", "list", "--category", "AGENT"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 14 and all(line.split()[1] == "agent" for line in lines)

    assert main(["principles", "list", "--category", "composite", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [d["id"] for d in data] == [p.id for p in default_library() if p.category == COMPOSITE]


def test_cli_show_prints_metadata_and_the_rendered_text(capsys) -> None:
    assert main(["principles", "show", "concise"]) == 0
    out = capsys.readouterr().out
    assert out == (
        "id:       concise\n"
        "category: style\n"
        "tags:     brevity, concision, short\n"
        "summary:  The shortest response that fully answers the request.\n"
        "\n" + get("concise").render() + "\n"
    )
    assert main(["principles", "show", "safe-tool-use", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["category"] == COMPOSITE and data["rendered"] == get("safe-tool-use").render()
    assert Principle.from_dict({k: v for k, v in data.items() if k != "rendered"}) == get("safe-tool-use")


def test_cli_search_prints_matches_best_first(capsys) -> None:
    assert main(["principles", "search", "plans"]) == 0
    assert [line.split()[0] for line in capsys.readouterr().out.splitlines()] == ["clear-plan", "replan-on-failure"]
    assert main(["principles", "search", "tool", "use"]) == 0
    first = capsys.readouterr().out.splitlines()[0]
    assert first.split()[:2] == ["minimal-tool-calls", "agent"]
    assert first.endswith("Uses a tool only when it is needed, and no more calls than the task requires.")
    assert main(["principles", "search", "zebra-crossing"]) == 1
    captured = capsys.readouterr()
    assert captured.out == "" and "no principle matches 'zebra-crossing'" in captured.err


def test_cli_unknown_id_exits_2_with_a_hint(capsys) -> None:
    assert main(["principles", "show", "concis"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("ra-agents: error: unknown principle id 'concis'")
    assert "did you mean 'concise'" in err
    assert main(["principles", "list", "--category", "vibes"]) == 2
    assert "no principles in category 'vibes'; categories: content, structure" in capsys.readouterr().err


def test_cli_library_flag_uses_a_user_file(tmp_path: Path, capsys) -> None:
    path = write(tmp_path / "mine.toml", GOOD_TOML)
    assert main(["principles", "list", "--library", str(path)]) == 0
    assert [line.split()[0] for line in capsys.readouterr().out.splitlines()] == ["short", "kind", "kind-and-safe"]
    assert main(["principles", "show", "concise", "--library", str(path)]) == 2
    assert f"unknown principle id 'concise' in {path}" in capsys.readouterr().err
    bad = write(tmp_path / "bad.toml", GOOD_TOML.replace('id = "kind"\n', 'id = "short"\n'))
    assert main(["principles", "search", "x", "--library", str(bad)]) == 2
    assert "bad.toml line 9: id 'short' is already used at line 2" in capsys.readouterr().err
