"""Score an app with LangSmith's own `evaluate`, offline, using the judge as the evaluator.

Against a served model (``ra-agents vllm serve`` serves the bundled one as ``smollm2``; any
OpenAI-compatible server works), it takes seconds:
    RA_AGENTS_MODEL=hosted_vllm/smollm2 RA_AGENTS_API_BASE=http://127.0.0.1:8000/v1 python examples/langsmith_eval.py
With neither variable set it runs on the bundled model in-process; on 2 CPU cores,
two judge calls: about a minute and a half
(one judge call takes 20-45 s there; a terminal shows the tokens generated so far). Nothing is uploaded.
"""

import os
import uuid

os.environ.setdefault("LANGSMITH_TRACING", "false")

from langsmith import Client, evaluate
from langsmith.schemas import Example

from ra_agents import Judge
from ra_agents.integrations.langsmith import create_run_evaluator

dataset = uuid.uuid4()
examples = [
    Example(id=uuid.uuid4(), dataset_id=dataset, inputs={"question": "2+2?"}, outputs={"answer": "4"}),
    Example(id=uuid.uuid4(), dataset_id=dataset, inputs={"question": "Capital of France?"}, outputs={}),
]


def app(inputs: dict) -> dict:
    return {"answer": {"2+2?": "5", "Capital of France?": "Paris."}[inputs["question"]]}


evaluator = create_run_evaluator(Judge(), "Correct first, then as short as possible.", key="correct")
# A client that never leaves the machine: loopback URL, nothing sampled, no server info fetched.
client = Client(api_url="http://127.0.0.1:9", api_key="offline", info={}, tracing_sampling_rate=0.0)
for row in evaluate(app, data=examples, evaluators=[evaluator], upload_results=False, client=client):
    (feedback,) = row["evaluation_results"]["results"]
    question = (row["example"].inputs or {})["question"]
    print(question, "->", feedback.score, "|", (feedback.comment or "").splitlines()[0])
