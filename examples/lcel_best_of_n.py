"""Best-of-n as a plain LangChain chain: 3 answers at once, one judge call keeps the best.

Against a served model (``ra-agents vllm serve`` serves the bundled one as ``smollm2``; any
OpenAI-compatible server works), it takes seconds:
    RA_AGENTS_MODEL=hosted_vllm/smollm2 RA_AGENTS_API_BASE=http://127.0.0.1:8000/v1 python examples/lcel_best_of_n.py
With neither variable set it runs on the bundled model in-process; on 2 CPU cores,
three generations (batched) and two judge calls: about two minutes
(one judge call takes 20-45 s there; a terminal shows the tokens generated so far).
"""

from langchain_core.prompts import ChatPromptTemplate
from langchain_core.runnables import RunnableConfig

from ra_agents import Judge
from ra_agents.integrations.chat_litellm import BackendChatModel
from ra_agents.integrations.lcel import JudgeRunnable, best_of_n

model = BackendChatModel.from_config(max_tokens=48)  # the generator (sampled at temperature 0.8)
judge = Judge(model.backend)
prompt = ChatPromptTemplate.from_messages([("human", "{question}")])

# Any runnable can be sampled; the principle can also come from config["configurable"]["principle"].
chain = prompt | best_of_n(model, judge, n=3, principle="Be correct, then be as short as possible.")
result = chain.invoke({"question": "Why is the sky blue?"})
for i, candidate in enumerate(result.candidates):
    print(f"[{i}] score {result.verdict.scores[str(i)]:g}: {candidate.content!r}")
print("chosen:", result.output.content)

# The judge alone, as a step of a chain: {"prompt", "responses"} -> JudgeResult.
rank = JudgeRunnable(judge) | (lambda verdict: verdict.ranking)
config: RunnableConfig = {"configurable": {"principle": "Prefer the polite answer."}}
print(rank.invoke({"prompt": "Can you help?", "responses": {"a": "No.", "b": "Gladly, what do you need?"}}, config))
