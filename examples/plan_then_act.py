"""Plan then act: rank 3 alternative tool plans per step; only the winner's tool runs.

Run against a vLLM server:
    RA_AGENTS_MODEL=hosted_vllm/smollm2 RA_AGENTS_API_BASE=http://127.0.0.1:8000/v1 python examples/plan_then_act.py
or with neither set, on the bundled model in-process.
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
