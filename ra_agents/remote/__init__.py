"""The judge over HTTP: the wire shapes (:mod:`.wire`), the server that answers them
(:mod:`.server`, ``ra-agents serve``) and the clients that send them (:mod:`.client`;
``ra_agents.Client`` and ``ra_agents.AsyncClient``).
"""

__all__: list[str] = []
