"""Guard an LLM output with a principle: a guardrails-ai `Guard` with the judge as validator.

Against a served model (``ra-agents vllm serve`` serves the bundled one as ``smollm2``; any
OpenAI-compatible server works), it takes seconds:
    RA_AGENTS_MODEL=hosted_vllm/smollm2 RA_AGENTS_API_BASE=http://127.0.0.1:8000/v1 python examples/guardrail.py
With neither variable set it runs on the bundled model in-process; on 2 CPU cores,
two judge calls: about a minute and a half
(one judge call takes 20-45 s there; a terminal shows the tokens generated so far).
"""

from guardrails import Guard

from ra_agents import Judge
from ra_agents.integrations.guardrails import PrincipleValidator

validator = PrincipleValidator(
    Judge(),  # or any ra_agents.Judging, e.g. ra_agents.Client("http://127.0.0.1:8080")
    "Never give medical dosages; send the user to a pharmacist.",
    threshold=0.5,  # the lowest passing unit score (ra_agents.accepts)
    on_judge_error="fail_closed",  # a judge failure fails the validation
    fallback="I can't advise on doses; please ask a pharmacist.",
    on_fail="fix",
)
guard = Guard().use(validator)
guard.configure(allow_metrics_collection=False)  # no usage telemetry to guardrails' endpoint

# The prompt may be text or the chat messages the answer replies to.
conversation = [
    {"role": "system", "content": "You are a pharmacy chatbot."},
    {"role": "user", "content": "How much ibuprofen can I take?"},
]
for answer in ("Take 800 mg every two hours.", "Please ask a pharmacist about doses."):
    outcome = guard.validate(answer, metadata={"prompt": conversation})
    print(f"{answer!r}\n  -> {outcome.validated_output!r} (passed: {outcome.validation_passed})")
