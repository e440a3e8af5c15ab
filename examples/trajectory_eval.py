"""Judge agent trajectories: rank three recorded runs in one call, then score one against a reference.

Against a served model (``ra-agents vllm serve`` serves the bundled one as ``smollm2``; any
OpenAI-compatible server works), it takes seconds:
    RA_AGENTS_MODEL=hosted_vllm/smollm2 RA_AGENTS_API_BASE=http://127.0.0.1:8000/v1 python examples/trajectory_eval.py
With neither variable set it runs on the bundled model in-process; on 2 CPU cores,
two judge calls: measured 51 s, the model's load included
(one judge call takes 20-45 s there; a terminal shows the tokens generated so far).
"""

from ra_agents import Judge
from ra_agents.integrations.trajectory import (
    create_trajectory_principle_evaluator,
    rank_trajectories,
    trajectory_rewards,
)

ask = {"role": "user", "content": "What's the weather in Paris today?"}
call = {"id": "c1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}}
runs = {
    "tool": [
        ask,
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": "c1", "content": '{"temp_c": 18, "sky": "sunny"}'},
        {"role": "assistant", "content": "It is 18 °C and sunny."},
    ],
    "guess": [ask, {"role": "assistant", "content": "It is 25 °C and rainy."}],
}
principle = "Weather facts must come from the get_weather tool; never guess."

judge = Judge()
result = rank_trajectories(judge, principle, None, runs)  # one listwise call; the shared question is the task
print("ranking:", result.ranking, "rewards:", trajectory_rewards(result))

evaluator = create_trajectory_principle_evaluator(principle=principle, judge=judge)
feedback = evaluator(outputs=runs["guess"], reference_outputs=runs["tool"])
print(feedback["score"], "|", feedback["comment"].splitlines()[0])
