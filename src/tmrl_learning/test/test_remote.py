"""The openpi-protocol backend: a tmrl checkpoint served by `tmrl serve` (openpi's websocket policy
protocol, openpi-client's own serialisation) gives the same chunks as the local sampler."""

from __future__ import annotations

import socket
import subprocess
import sys

import numpy as np
import pytest
import torch

from tmrl_learning.csp.sampler import load_sampler
from tmrl_learning.csp.toy import save_lineworld_checkpoint
from tmrl_learning.sampler import draw_inputs
from tmrl_learning.system.policy_service import ChunkRequest, PolicyService


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    checkpoint = save_lineworld_checkpoint(tmp_path_factory.mktemp("policy") / "checkpoint.pt", steps=50)
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "tmrl_learning.cli", "serve", str(checkpoint), "--host",
                               "127.0.0.1", "--port", str(port)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True)
    try:
        yield checkpoint, f"127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(10)


def test_the_remote_sampler_returns_the_local_chunks(served):
    checkpoint, address = served
    local, remote = load_sampler(checkpoint), load_sampler(address, backend="openpi")
    assert (remote.horizon, remote.action_dim, remote.context_dim, remote.num_timesteps) == \
        (local.horizon, local.action_dim, local.context_dim, local.num_timesteps)
    inputs = draw_inputs(local, 4, torch.Generator().manual_seed(0))
    context = np.array([[1.0], [-1.0], [0.3], [1.0]], np.float32)
    timestep = np.array([0, 5, 10, 20])
    a = local.sample(context, np.zeros((4, 0), np.float32), inputs["action_noise"], timestep, inputs["context_noise"])
    b = remote.sample(context, np.zeros((4, 0), np.float32), inputs["action_noise"], timestep, inputs["context_noise"])
    assert a.shape == b.shape == (4, 2, 1) and np.abs(a - b).max() == 0.0  # the same computation, bit for bit
    service = PolicyService(remote, address)  # the policy server's path, with its checks, over the remote backend
    req = ChunkRequest(context=np.ones(1), proprio=np.zeros(0), action_noise=np.full(1, 0.3), context_timestep=7,
                       context_noise=np.full(1, -0.2))
    assert np.abs(service.sample(req)[0] - PolicyService(local).sample(req)[0]).max() == 0.0
    with pytest.raises(ValueError, match="refused the request"):
        remote.sample(np.ones((1, 3), np.float32), np.zeros((1, 0), np.float32), np.zeros((1, 1), np.float32),
                      np.zeros(1), np.zeros((1, 3), np.float32))


def test_no_server_is_named():
    with pytest.raises(ConnectionError, match="no openpi policy server at 127.0.0.1:"):
        from tmrl_learning.remote.openpi import RemoteSampler

        RemoteSampler(f"127.0.0.1:{free_port()}", timeout_s=0.5)
