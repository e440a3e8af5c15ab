"""A guarded answer: accept, retry with the judge's feedback, or ask a human.

Against a served model (``ra-agents vllm serve`` serves the bundled one as ``smollm2``; any
OpenAI-compatible server works), it takes seconds:
    RA_AGENTS_MODEL=hosted_vllm/smollm2 RA_AGENTS_API_BASE=http://127.0.0.1:8000/v1 python examples/guarded_answer.py
With neither variable set it runs on the bundled model in-process; on 2 CPU cores,
one generation and one judge call per attempt, up to two attempts: one to three minutes
(one judge call takes 20-45 s there; a terminal shows the tokens generated so far).
"""

import asyncio

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.memory import MemorySaver
from langgraph.types import Command

from ra_agents import Judge
from ra_agents.graphs.guarded_answer import build_guarded_answer
from ra_agents.integrations.chat_litellm import BackendChatModel
from ra_agents.integrations.langgraph import GuardPolicy


async def main() -> None:
    model = BackendChatModel.from_config(max_tokens=48)
    policy = GuardPolicy(threshold=0.75, max_retries=1, escalate=True)
    graph = build_guarded_answer(model, Judge(model.backend), policy=policy, checkpointer=MemorySaver())
    config: RunnableConfig = {"configurable": {"thread_id": "demo"}}
    state = await graph.ainvoke({"prompt": "How do I pick a strong password?"}, config)
    if "__interrupt__" in state:  # the judge accepted nothing: a human decides
        pending = state["__interrupt__"][0].value
        print("judge scores:", pending["verdict"].get("scores"), "\ncandidate:", pending["answer"])
        reply = (await asyncio.to_thread(input, "accept / reject / or type a better answer: ")).strip() or "accept"
        state = await graph.ainvoke(Command(resume=reply), config)
    print(f"{state['decision']} after {state.get('attempts', 0)} retries:\n{state['answer']}")


if __name__ == "__main__":
    asyncio.run(main())
