"""The fake registry's rollout route, read through the real client (serving's tests use it)."""

from __future__ import annotations

from continuum.registry_client.testing import FakeRegistry


async def test_rollout_is_none_until_set_then_the_set_document() -> None:
    fake = FakeRegistry()
    async with fake.client() as registry:
        assert await registry.rollout("flights") is None
        fake.set_rollout("flights", traffic_share=0.5, step=1, state="advanced")
        rollout = await registry.rollout("flights")
    assert rollout is not None
    assert (rollout.candidate_version, rollout.step, rollout.traffic_share) == (2, 1, 0.5)
    assert rollout.live
    fake.set_rollout("flights", state="rolled_back", reason="worse")
    async with fake.client() as registry:
        ended = await registry.rollout("flights")
    assert ended is not None and not ended.live and ended.reason == "worse"
    assert fake.calls[-1] == "/v1/pipelines/flights/rollout"
