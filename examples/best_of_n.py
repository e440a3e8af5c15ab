"""Best-of-n with LangGraph: 3 answers in parallel, one judge call keeps the best.

Run against a vLLM server:
    RA_AGENTS_MODEL=hosted_vllm/smollm2 RA_AGENTS_API_BASE=http://127.0.0.1:8000/v1 python examples/best_of_n.py
or with neither set, on the bundled model in-process.
"""

import asyncio

from ra_agents import Judge
from ra_agents.graphs.best_of_n import build_best_of_n
from ra_agents.integrations.chat_litellm import BackendChatModel


async def main() -> None:
    model = BackendChatModel.from_config(max_tokens=48)  # the generator
    graph = build_best_of_n(model, Judge(model.backend), n=3)
    config = {"configurable": {"principle": "Be correct, then be as short as possible."}}
    async for mode, chunk in graph.astream(
        {"prompt": "Why is the sky blue?"}, config, stream_mode=["custom", "values"]
    ):
        if mode == "custom":
            print("verdict:", chunk["ra_verdict"].get("scores"), "ranking:", chunk["ra_verdict"].get("ranking"))
        else:
            final = chunk
    for i, text in enumerate(final["candidates"]):
        print(f"[{i}] {text!r}")
    print("chosen:", final["answer"])


if __name__ == "__main__":
    asyncio.run(main())
