"""GRPO group rewards: one listwise judge call per group of completions, TRL's reward shape.

TRL is not needed to run this: it calls the reward function the way GRPOTrainer does.
Pass `reward` in `GRPOTrainer(reward_funcs=[reward], ...)` for real training.

Run against a vLLM server:
    RA_AGENTS_MODEL=hosted_vllm/smollm2 RA_AGENTS_API_BASE=http://127.0.0.1:8000/v1 python examples/grpo_reward.py
or with neither set, on the bundled model in-process.
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
