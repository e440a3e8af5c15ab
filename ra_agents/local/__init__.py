"""The judge model on this machine: the bundled model's files (:mod:`.model`), vLLM's
environment and server (:mod:`.vllm_server`), and the child processes that live and die
with ours (:mod:`.processes`). Imported only by the commands and backends that need them.
"""

__all__: list[str] = []
