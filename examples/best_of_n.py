"""Best-of-n with LangGraph: 3 answers in parallel, one judge call keeps the best.

Against a served model (``ra-agents vllm serve`` serves the bundled one as ``smollm2``; any
OpenAI-compatible server works), it takes seconds:
    RA_AGENTS_MODEL=hosted_vllm/smollm2 RA_AGENTS_API_BASE=http://127.0.0.1:8000/v1 python examples/best_of_n.py
With neither variable set it runs on the bundled model in-process; on 2 CPU cores,
three generations of up to 48 tokens (batched) and one judge call: one to two minutes
(one judge call takes 20-45 s there; a terminal shows the tokens generated so far).
"""

import asyncio
from typing import Any, cast

from langchain_core.runnables import RunnableConfig

from ra_agents import Judge
from ra_agents.graphs.best_of_n import build_best_of_n
from ra_agents.integrations.chat_litellm import BackendChatModel


async def main() -> None:
    model = BackendChatModel.from_config(max_tokens=48)  # the generator
    graph = build_best_of_n(model, Judge(model.backend), n=3)
    config: RunnableConfig = {"configurable": {"principle": "Be correct, then be as short as possible."}}
    final: dict[str, Any] = {}
    async for part in graph.astream({"prompt": "Why is the sky blue?"}, config, stream_mode=["custom", "values"]):
        mode, chunk = cast("tuple[str, dict[str, Any]]", part)  # (stream mode, payload) with several modes
        if mode == "custom":
            print("verdict:", chunk["ra_verdict"].get("scores"), "ranking:", chunk["ra_verdict"].get("ranking"))
        else:
            final = chunk
    for i, text in enumerate(final["candidates"]):
        print(f"[{i}] {text!r}")
    print("chosen:", final["answer"])


if __name__ == "__main__":
    asyncio.run(main())
