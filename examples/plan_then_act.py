"""Plan then act: rank 3 alternative tool plans per step; only the winner's tool runs.

Against a served model (``ra-agents vllm serve`` serves the bundled one as ``smollm2``; any
OpenAI-compatible server works), it takes seconds:
    RA_AGENTS_MODEL=hosted_vllm/smollm2 RA_AGENTS_API_BASE=http://127.0.0.1:8000/v1 python examples/plan_then_act.py
With neither variable set it runs on the bundled model in-process; on 2 CPU cores,
per agent step three plans of up to 96 tokens and one judge call: several minutes
(one judge call takes 20-45 s there; a terminal shows the tokens generated so far).
"""

import asyncio

from langchain_core.messages import HumanMessage

from ra_agents import Judge
from ra_agents.graphs.plan_then_act import build_plan_then_act, calculator
from ra_agents.integrations.chat_litellm import BackendChatModel


async def main() -> None:
    model = BackendChatModel.from_config(max_tokens=96)  # tool calls come back as schema-bound JSON
    graph = build_plan_then_act(model, Judge(model.backend), [calculator], n=3)
    question = HumanMessage(content="What is 17 * 23? Use the calculator.")
    state = await graph.ainvoke({"messages": [question]}, {"recursion_limit": 12})
    for message in state["messages"]:
        message.pretty_print()
    print("last step's scores:", state["verdict"].get("scores"))


if __name__ == "__main__":
    asyncio.run(main())
