"""Contract drivers for the RL reward adapters: verl's group reward manager (the batch shape)."""

from __future__ import annotations

import asyncio
from typing import Any

import numpy as np

from ra_agents import Judging
from tests.contract.drivers import BAD, CONVERSATION, GOOD, PRINCIPLE, Driver
from tests.integrations.test_verl import CharTokenizer, FakeDataProto, _tensors


def _batch(responses: list[str]) -> FakeDataProto:
    """One uid group as verl holds it: token tensors, the prompt's messages in ``raw_prompt``."""
    n = len(responses)
    return FakeDataProto(
        _tensors(["prompt tokens"] * n, responses),
        {
            "uid": np.array(["u0"] * n, dtype=object),
            "data_source": np.array(["contract"] * n, dtype=object),
            "raw_prompt": np.array([CONVERSATION] * n, dtype=object),
        },
    )


async def _verl_prompt(judge: Judging) -> None:
    from ra_agents.integrations.verl import UidGroupReward

    await UidGroupReward(judge, CharTokenizer(), principle=PRINCIPLE).ascore(_batch([GOOD, BAD]))


async def _verl_remote(judge: Judging) -> Any:
    from ra_agents.integrations.verl import UidGroupReward

    reward = UidGroupReward(judge, CharTokenizer(), principle=PRINCIPLE)
    out = await asyncio.to_thread(reward, _batch([BAD, GOOD]), True)  # verl calls it from sync code
    return {"rewards": out["reward_tensor"].sum(-1).tolist(), "extra": out["reward_extra_info"]}


DRIVERS = [Driver("verl.reward", prompt=_verl_prompt, remote=_verl_remote)]
