"""Where RM-Bench data comes from: ``--data``, the environment, the cache, or a one-time download.

The hub is never contacted: ``huggingface_hub`` is replaced by a fake module whose
``hf_hub_download`` returns a local file in the published layout (one
``total_dataset.json`` whose items carry a ``domain``) and counts its calls.
"""

from __future__ import annotations

import json
import shutil
import sys
import types
from pathlib import Path
from typing import Any

import pytest

from ra_agents import Judge, UsageError
from ra_agents.cli import eval as eval_cli
from ra_agents.evals import rmbench
from ra_agents.testing import ScriptedBackend, prefer

FIXTURE = Path(__file__).parent / "data" / "rm-bench"


def _published_item(domain: str, n: int, **extra: Any) -> dict[str, Any]:
    return {
        "id": n,
        "prompt": f"{domain} question {n}?",
        "chosen": [f"right {n}", f"right {n}, explained at length.", f"**right {n}**"],
        "rejected": [f"wrong {n}", f"wrong {n}, explained at length.", f"**wrong {n}**"],
        "domain": domain,
        **extra,
    }


PUBLISHED = [
    _published_item("chat", 1, subset="alpacaeval"),
    _published_item("chat", 2),  # no subset: the domain stands in
    _published_item("code", 3, subset="humanevalpack", language="py"),
    _published_item("math", 4, subset="prm"),
    _published_item("safety-refuse", 5, subset="refusals"),
    _published_item("safety-response", 6, subset="xstest"),
    _published_item("safety-response", 7, subset="xstest"),
]


class FakeHub:
    """Stands in for ``huggingface_hub``: ``hf_hub_download`` returns ``source`` or raises ``error``."""

    def __init__(self, source: Path | None = None, error: BaseException | None = None) -> None:
        self.source = source
        self.error = error
        self.calls: list[dict[str, Any]] = []

    def hf_hub_download(self, **kwargs: Any) -> str:
        self.calls.append(kwargs)
        if self.error is not None:
            raise self.error
        assert self.source is not None
        return str(self.source)


@pytest.fixture
def env(tmp_path, monkeypatch):
    """An empty cache, no data override, the hub allowed (the fake one)."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("RA_AGENTS_CACHE", str(cache))
    monkeypatch.delenv(rmbench.DATA_ENV, raising=False)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    return cache


def _install_hub(
    monkeypatch, tmp_path: Path, content: Any = None, *, text: str | None = None, error: BaseException | None = None
) -> FakeHub:
    source = tmp_path / "hub" / rmbench.HF_FILE
    source.parent.mkdir(parents=True, exist_ok=True)
    source.write_text(text if text is not None else json.dumps(PUBLISHED if content is None else content))
    hub = FakeHub(source, error)
    module = types.ModuleType("huggingface_hub")
    module.hf_hub_download = hub.hf_hub_download  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "huggingface_hub", module)
    return hub


def _chosen_texts(data_dir: Path) -> set[str]:
    return {t for d in rmbench.DOMAINS for item in rmbench.load_domain(data_dir, d) for t in item["chosen"]}


def _run_cli(monkeypatch, tmp_path: Path, chosen: set[str], *args: str) -> int:
    """``ra-agents eval rm-bench`` on a scripted judge that always prefers a chosen text."""
    judge = Judge(ScriptedBackend(default=prefer(lambda text: text in chosen)), seed=0)
    monkeypatch.setattr(eval_cli, "judge_from_args", lambda _args: judge)
    return eval_cli.main(
        [
            "rm-bench",
            *args,
            "--limit",
            "1",
            "--cells",
            "00,02",
            "--permutations",
            "1",
            "--out",
            str(tmp_path / "out"),
            "--no-progress",
            "--no-plot",
        ]
    )


# ------------------------------------------------------------------ the fixture


def test_fixture_is_in_the_real_format():
    for domain in rmbench.DOMAINS:
        items = rmbench.load_domain(FIXTURE, domain)
        assert len(items) == 2
        for item in items:
            assert set(item) == {"id", "subset", "prompt", "chosen", "rejected"}
            assert item["chosen"] != item["rejected"]


def test_data_flag_reads_the_fixture(env, monkeypatch, tmp_path, capsys):
    hub = _install_hub(monkeypatch, tmp_path)
    assert rmbench.resolve_data_dir(FIXTURE) == FIXTURE
    assert _run_cli(monkeypatch, tmp_path, _chosen_texts(FIXTURE), "--data", str(FIXTURE)) == 0
    out = capsys.readouterr().out
    assert "| chat | 1 | 2 |" in out and "| safety-response | 1 | 2 |" in out
    results = json.loads((tmp_path / "out" / "rm-bench.json").read_text())
    assert results["summary"]["all"]["accuracy"]["overall"] == 1.0
    assert hub.calls == [] and not env.exists()


def test_env_var_reads_the_fixture(env, monkeypatch, tmp_path, capsys):
    hub = _install_hub(monkeypatch, tmp_path)
    monkeypatch.setenv(rmbench.DATA_ENV, str(FIXTURE))
    assert rmbench.resolve_data_dir() == FIXTURE and rmbench.default_data_dir() == FIXTURE
    assert _run_cli(monkeypatch, tmp_path, _chosen_texts(FIXTURE)) == 0
    assert "| code | 1 | 2 |" in capsys.readouterr().out
    assert hub.calls == [] and not env.exists()


def test_flag_and_env_must_name_folders(env, tmp_path, monkeypatch):
    with pytest.raises(UsageError, match=r"--data .* is not a folder; pass --data DIR"):
        rmbench.resolve_data_dir(tmp_path / "nowhere")
    monkeypatch.setenv(rmbench.DATA_ENV, str(tmp_path / "nowhere"))
    with pytest.raises(UsageError, match=f"{rmbench.DATA_ENV}=.* is not a folder"):
        rmbench.resolve_data_dir()


# ------------------------------------------------------------ resolution order


def test_resolution_order_flag_env_cache_download(env, monkeypatch, tmp_path):
    hub = _install_hub(monkeypatch, tmp_path)
    env_dir = tmp_path / "from-env"
    shutil.copytree(FIXTURE, env_dir)
    flag_dir = tmp_path / "from-flag"
    flag_dir.mkdir()
    cached = env / "rm-bench"
    assert rmbench.cache_data_dir() == cached
    shutil.copytree(FIXTURE, cached)
    monkeypatch.setenv(rmbench.DATA_ENV, str(env_dir))

    assert rmbench.resolve_data_dir(flag_dir) == flag_dir  # the flag first, even over filled folders
    assert rmbench.resolve_data_dir() == env_dir  # then the environment
    monkeypatch.delenv(rmbench.DATA_ENV)
    assert rmbench.resolve_data_dir() == cached  # then the filled cache
    assert hub.calls == []
    (cached / "code.json").unlink()  # a cache missing a domain is not filled: download
    assert rmbench.resolve_data_dir() == cached
    assert len(hub.calls) == 1 and (cached / "code.json").is_file()


# -------------------------------------------------------------------- download


def test_download_converts_the_published_file_once(env, monkeypatch, tmp_path, capsys):
    hub = _install_hub(monkeypatch, tmp_path)
    data = rmbench.resolve_data_dir()
    assert data == env / "rm-bench"
    assert hub.calls == [{"repo_id": "THU-KEG/RM-Bench", "repo_type": "dataset", "filename": "total_dataset.json"}]
    assert sorted(p.name for p in data.iterdir()) == sorted(f"{d}.json" for d in (*rmbench.DOMAINS, "math"))
    chat = json.loads((data / "chat.json").read_text())
    assert chat == [
        {
            "id": 1,
            "subset": "alpacaeval",
            "prompt": "chat question 1?",
            "chosen": PUBLISHED[0]["chosen"],
            "rejected": PUBLISHED[0]["rejected"],
        },
        {
            "id": 2,
            "subset": "chat",
            "prompt": "chat question 2?",
            "chosen": PUBLISHED[1]["chosen"],
            "rejected": PUBLISHED[1]["rejected"],
        },
    ]
    assert [i["id"] for i in rmbench.load_domain(data, "safety-response")] == [6, 7]
    assert "language" not in rmbench.load_domain(data, "code")[0]

    # later calls, and a whole benchmark run, reuse the cache
    assert rmbench.resolve_data_dir() == data and rmbench.download_rm_bench() == data
    assert _run_cli(monkeypatch, tmp_path, _chosen_texts(data)) == 0
    assert "| safety-refuse | 1 | 2 |" in capsys.readouterr().out
    assert len(hub.calls) == 1


def test_download_reads_json_lines_too(env, monkeypatch, tmp_path):
    hub = _install_hub(monkeypatch, tmp_path, text="".join(json.dumps(i) + "\n" for i in PUBLISHED))
    data = rmbench.download_rm_bench(tmp_path / "elsewhere")
    assert data == tmp_path / "elsewhere" and len(rmbench.load_domain(data, "chat")) == 2
    assert len(hub.calls) == 1 and not env.exists()


def test_offline_does_not_try_the_hub(env, monkeypatch, tmp_path, capsys):
    hub = _install_hub(monkeypatch, tmp_path)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(UsageError, match=r"HF_HUB_OFFLINE is set.*pass --data DIR with chat\.json, code\.json") as err:
        rmbench.resolve_data_dir()
    assert rmbench.DATA_ENV in str(err.value) and "_filtered.json" in str(err.value)
    assert _run_cli(monkeypatch, tmp_path, set()) == 2
    assert "pass --data DIR" in capsys.readouterr().err
    assert hub.calls == [] and not (env / "rm-bench").exists()


def test_unreachable_hub_is_a_usage_error(env, monkeypatch, tmp_path, capsys):
    hub = _install_hub(monkeypatch, tmp_path, error=ConnectionError("no route to host"))
    with pytest.raises(UsageError, match=r"could not download RM-Bench .*ConnectionError: no route to host.*--data"):
        rmbench.resolve_data_dir()
    assert _run_cli(monkeypatch, tmp_path, set()) == 2
    err = capsys.readouterr().err
    assert "could not download RM-Bench" in err and "--data DIR" in err and rmbench.DATA_ENV in err
    assert len(hub.calls) == 2 and not (env / "rm-bench").exists()


def test_missing_huggingface_hub_is_a_usage_error(env, monkeypatch):
    monkeypatch.setitem(sys.modules, "huggingface_hub", None)  # import fails
    with pytest.raises(UsageError, match=r"needs huggingface_hub .*--data DIR"):
        rmbench.resolve_data_dir()


# -------------------------------------------------------------- malformed data


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "neither JSON nor JSON lines"),
        ("[]", "expected a non-empty list"),
        (json.dumps({"chat": []}), "expected a non-empty list"),
        (json.dumps([{k: v for k, v in PUBLISHED[0].items() if k != "domain"}]), r"item 0 has no string 'domain'"),
        (json.dumps([PUBLISHED[0], {**PUBLISHED[2], "chosen": ["only one"]}]), r"item 1: 'chosen' must hold 3 texts"),
        (json.dumps([{**PUBLISHED[0], "prompt": None}]), "item 0 needs a string 'prompt'"),
        (json.dumps(PUBLISHED[:3]), "holds no items of domain.*safety-refuse, safety-response"),
        (json.dumps([{**PUBLISHED[0], "domain": "../chat"}]), "item 0 has domain '../chat', not a plain name"),
    ],
)
def test_malformed_download_is_a_usage_error(env, monkeypatch, tmp_path, content, message):
    _install_hub(monkeypatch, tmp_path, text=content)
    with pytest.raises(UsageError, match=message):
        rmbench.resolve_data_dir()
    assert not (env / "rm-bench").exists()  # nothing half-written


def test_malformed_domain_file_is_a_usage_error(env, monkeypatch, tmp_path, capsys):
    data = tmp_path / "data"
    shutil.copytree(FIXTURE, data)
    (data / "code.json").write_text(json.dumps([{"id": 1, "prompt": "p", "chosen": ["a", "b"], "rejected": []}]))
    with pytest.raises(UsageError, match=r"code.json: item 0 \(id 1\): 'chosen' must hold 3 texts"):
        rmbench.load_domain(data, "code")
    assert _run_cli(monkeypatch, tmp_path, set(), "--data", str(data)) == 2
    assert "'chosen' must hold 3 texts" in capsys.readouterr().err
    (data / "chat.json").unlink()
    with pytest.raises(UsageError, match=r"chat\.json not found; pass --data DIR"):
        rmbench.load_domain(data, "chat")
