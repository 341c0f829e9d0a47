"""The policy server serves a pi0 VLA (a tmrl pi0 folder) over the same action interface as the small flow
policy: the context is pi0's prefix, flattened."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from rclpy.action import ActionClient

from tmrl_learning.vla.pi0 import CspPi0, CspPi0Config, save_csp_pi0, tiny_pi0_config
from tmrl_learning.vla.sampler import Pi0Sampler
from tmrl_msgs.action import SampleChunk
from tmrl_msgs.msg import Context, SteeringCommand
from tmrl_ros.graph import NodeSpec
from tmrl_ros.processes import GraphProcesses

from ros_helpers import spin_until

pytestmark = pytest.mark.ros


def test_the_policy_server_serves_a_pi0_folder(node, tmp_path):
    torch.manual_seed(0)
    from transformers import PI0ForConditionalGeneration

    policy = CspPi0(PI0ForConditionalGeneration(tiny_pi0_config(horizon=4)), CspPi0Config(7, 0, 4)).eval()
    folder = save_csp_pi0(tmp_path / "pi0", policy)
    ids = torch.cat([torch.full((1, policy.image_tokens()), policy.pi0.config.vlm_config.image_token_id),
                     torch.tensor([[5, 6, 7]])], 1)
    prefix = policy.embed_prefix(torch.rand(1, 3, 32, 32), ids).detach().reshape(-1).numpy()
    local = Pi0Sampler(policy)
    steer = SteeringCommand(action_noise=[0.1] * 7, context_timestep=400,
                            context_noise=[0.05] * local.context_noise_dim,
                            guidance_weight=float("nan"))
    client = ActionClient(node, SampleChunk, "/tmrl/sample_chunk")
    spec = NodeSpec("policy_server", "policy_server", parameters={"checkpoint": str(folder), "backend": "torch"})
    with GraphProcesses([spec], tmp_path / "logs") as graph:
        assert client.wait_for_server(timeout_sec=60.0), graph.logs()
        sent = client.send_goal_async(SampleChunk.Goal(context=Context(context=prefix.tolist()), steering=steer))
        assert spin_until(node, sent.done, 30.0)
        result = sent.result().get_result_async()
        assert spin_until(node, result.done, 30.0)
        answer = result.result().result
        assert answer.accepted, answer.message
        expected = local.sample(prefix[None], np.zeros((1, 0)), np.full((1, 7), 0.1, np.float32), np.array([400]),
                                np.full((1, local.context_noise_dim), 0.05, np.float32))[0]
        assert (answer.chunk.horizon, answer.chunk.action_dim) == (4, 7)
        assert np.abs(np.asarray(answer.chunk.data).reshape(4, 7) - expected).max() < 1e-5
        assert not graph.dead(), graph.logs()
