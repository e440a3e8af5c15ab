"""A principle-steered GRPO run: TRL's GRPOTrainer with the principle judge as the ONLY reward.

The policy is the bundled SmolLM2-135M-Instruct (the safetensors export ``ra-agents vllm
prepare`` makes, found with :func:`ra_agents.local.model.ensure_bundled_model`), trained on CPU for
a few dozen steps under a brevity principle. Each step logs the mean reward and the mean
completion length (the statistic the principle is about) to ``<out>/steps.jsonl`` and plots
both in ``<out>/grpo_principle.png``.

The judge, by default, is the deterministic SCRIPTED judge (``ra_agents.testing``):
it ranks a group's completions shortest first and scores each by its length (5 for up to 4
words, 4 up to 10, 3 up to 20, 2 up to 30, else 1), the verdict a judge following the brevity
principle gives (scores on the judge's absolute 1-5 scale, so the mean reward can rise). The
curve therefore shows what GRPO does with a principle judge's listwise rewards, not how well
a model follows the principle: the bundled 135M judge is too weak and too slow on CPU for a
training curve. ``--judge-url`` uses a served judge instead (``ra-agents serve``, through the
HTTP client), e.g. the real RewardAnything model; every group is then one listwise call to it.

On 2 CPU cores a step took 20 s to 2 minutes (BENCHMARKS.md, 32-token completions), nearly
all of it the policy's generation and update: the scripted judge answers at once. A served
judge adds one call per group; the bundled judge in-process would add 20-45 s per group,
which is why it is not an option here.

    pip install "ra-agents[trl,local]"
    python examples/grpo_principle.py --steps 40 --out grpo-run
    python examples/grpo_principle.py --judge-url http://127.0.0.1:8080   # a served judge
"""

from __future__ import annotations

import argparse
import json
import logging
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ra_agents import Judge, Judging
from ra_agents._types import GenerationSettings, Message
from ra_agents.integrations.trl import grpo_reward
from ra_agents.testing import ScriptedBackend, shown_responses

PRINCIPLE = "Brevity: the shortest answer that still answers the question is best; every extra word is worse."

QUESTIONS = [
    "What is the capital of France?",
    "How many legs does a spider have?",
    "What colour is the sky on a clear day?",
    "What is 7 times 6?",
    "Name a planet in our solar system.",
    "What do bees make?",
    "Which ocean is the largest?",
    "What is the boiling point of water in Celsius?",
]


def _brevity_score(text: str) -> int:
    """5 for up to 4 words, 4 up to 10, 3 up to 20, 2 up to 30, else 1."""
    words = len(text.split())
    return next((score for score, most in ((5, 4), (4, 10), (3, 20), (2, 30)) if words <= most), 1)


def shortest_first(messages: Sequence[Message], settings: GenerationSettings) -> str:
    """The scripted judge's verdict: the group ranked shortest first, each scored by its word count."""
    shown = shown_responses(messages)
    ranking = sorted(shown, key=lambda name: (len(shown[name]), name))
    return json.dumps({"scores": {name: _brevity_score(shown[name]) for name in shown}, "best-to-worst": ranking})


def make_judge(judge_url: str | None) -> Judging:
    """The scripted brevity judge, or the judge served at ``judge_url``."""
    if judge_url:
        from ra_agents import Client

        return Client(judge_url)
    return Judge(ScriptedBackend(default=shortest_first))


def run(
    *,
    steps: int = 40,
    out: Path = Path("grpo-run"),
    judge_url: str | None = None,
    prompts: int = 4,
    num_generations: int = 4,
    max_completion_length: int = 48,
    learning_rate: float = 2e-5,
    seed: int = 0,
    plot: bool = True,
) -> list[dict[str, float]]:
    """Train for ``steps`` GRPO steps; return one record per step (reward, completion length, ...).

    Args:
        steps: optimiser steps.
        out: folder for ``steps.jsonl`` and the plot.
        judge_url: a ``ra-agents serve`` URL; ``None`` is the scripted brevity judge.
        prompts: prompts per step (each gets ``num_generations`` completions).
        num_generations: the GRPO group size, judged in one listwise call.
        max_completion_length: tokens per completion at most.
        learning_rate: the optimiser's learning rate.
        seed: the run's seed.
        plot: write the PNG (needs matplotlib).
    """
    from datasets import Dataset  # type: ignore[import-untyped]  # no type information
    from transformers import TrainerCallback
    from trl import GRPOConfig, GRPOTrainer

    from ra_agents.local.model import ensure_bundled_model

    out.mkdir(parents=True, exist_ok=True)
    records: list[dict[str, float]] = []

    class StepLog(TrainerCallback):
        def on_log(self, args: Any, state: Any, control: Any, logs: dict[str, float] | None = None, **_: Any) -> None:
            if logs and "reward" in logs:
                record = {
                    "step": float(state.global_step),
                    "reward": float(logs["reward"]),
                    "reward_std": float(logs.get("reward_std", float("nan"))),
                    "completion_length": float(logs.get("completions/mean_length", float("nan"))),
                    "loss": float(logs.get("loss", float("nan"))),
                }
                records.append(record)
                print(json.dumps(record), flush=True)

    dataset = Dataset.from_dict({"prompt": [[{"role": "user", "content": q}] for q in QUESTIONS]})
    reward = grpo_reward(make_judge(judge_url), PRINCIPLE, num_generations=num_generations, name="ra_brevity")
    config = GRPOConfig(
        output_dir=tempfile.mkdtemp(prefix="grpo-principle-"),
        max_steps=steps,
        per_device_train_batch_size=prompts * num_generations,
        num_generations=num_generations,
        max_completion_length=max_completion_length,
        learning_rate=learning_rate,
        logging_steps=1,
        save_strategy="no",
        report_to="none",
        use_cpu=True,
        bf16=False,
        model_init_kwargs={"dtype": "float32"},  # the export is bf16, slow on CPU
        seed=seed,
        disable_tqdm=True,
    )
    trainer = GRPOTrainer(
        model=str(ensure_bundled_model()),
        reward_funcs=[reward],
        args=config,
        train_dataset=dataset,
        callbacks=[StepLog()],
    )
    trainer.train()
    (out / "steps.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    if plot and records:
        _plot(records, out / "grpo_principle.png", "scripted brevity judge" if judge_url is None else judge_url)
    return records


def _plot(records: list[dict[str, float]], path: Path, judge: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps = [r["step"] for r in records]
    fig, (top, bottom) = plt.subplots(2, 1, sharex=True, figsize=(6, 5))
    top.plot(steps, [r["reward"] for r in records], marker=".")
    top.set_ylabel("mean reward")
    top.set_title(f"GRPO on SmolLM2-135M, principle reward only ({judge})", fontsize=9)
    bottom.plot(steps, [r["completion_length"] for r in records], marker=".", color="tab:orange")
    bottom.set_ylabel("mean completion length (tokens)")
    bottom.set_xlabel("step")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv: Sequence[str] | None = None) -> None:
    """The command line (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=40, help="GRPO steps (default 40)")
    parser.add_argument("--out", type=Path, default=Path("grpo-run"), help="output folder (default grpo-run/)")
    parser.add_argument("--judge-url", help="a ra-agents serve URL (default: the scripted brevity judge)")
    parser.add_argument("--prompts", type=int, default=4, help="prompts per step (default 4)")
    parser.add_argument("--num-generations", type=int, default=4, help="completions per prompt (default 4)")
    parser.add_argument("--max-completion-length", type=int, default=48, help="tokens per completion (default 48)")
    parser.add_argument("--learning-rate", type=float, default=2e-5, help="(default 2e-5)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    records = run(
        steps=args.steps,
        out=args.out,
        judge_url=args.judge_url,
        prompts=args.prompts,
        num_generations=args.num_generations,
        max_completion_length=args.max_completion_length,
        learning_rate=args.learning_rate,
    )
    if records:
        first, last = records[0], records[-1]
        print(
            f"step {first['step']:.0f}: reward {first['reward']:.3f}, length {first['completion_length']:.1f}; "
            f"step {last['step']:.0f}: reward {last['reward']:.3f}, length {last['completion_length']:.1f}"
        )


if __name__ == "__main__":
    main()
