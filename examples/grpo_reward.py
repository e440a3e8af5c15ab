"""GRPO group rewards: one listwise judge call per group of completions, TRL's reward shape.

TRL is not needed to run this: it calls the reward function the way GRPOTrainer does.
Pass `reward` in `GRPOTrainer(reward_funcs=[reward], ...)` for real training.

Against a served model (``ra-agents vllm serve`` serves the bundled one as ``smollm2``; any
OpenAI-compatible server works), it takes seconds:
    RA_AGENTS_MODEL=hosted_vllm/smollm2 RA_AGENTS_API_BASE=http://127.0.0.1:8000/v1 python examples/grpo_reward.py
With neither variable set it runs on the bundled model in-process; on 2 CPU cores,
the two groups batched into one judge pass: measured 20 s
(one judge call takes 20-45 s there; a terminal shows the tokens generated so far).
"""

from ra_agents import Judge
from ra_agents.integrations.trl import grpo_reward

reward = grpo_reward(Judge(), "Correct first, then concise.")

# Two prompts, three generations each, as GRPOTrainer lays them out (conversational format).
prompts = [[{"role": "user", "content": "2+2?"}]] * 3 + [[{"role": "user", "content": "Capital of France?"}]] * 3
completions = [
    [{"role": "assistant", "content": text}] for text in ("4", "5", "It is 4.", "Paris.", "Lyon.", "Paris, France.")
]

for completion, value in zip(completions, reward(prompts=prompts, completions=completions), strict=True):
    print(f"{completion[0]['content']!r:>18} -> {value}")  # None: that group's verdict failed
print(reward.stats)
