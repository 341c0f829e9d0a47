"""A Sampler served over openpi's websocket policy protocol, for a VLA (or any policy) on a GPU box.

The protocol is openpi's (openpi-client, `WebsocketClientPolicy` / openpi's `WebsocketPolicyServer`):
the server sends its metadata on connect (msgpack with numpy arrays, `openpi_client.msgpack_numpy`),
then answers every observation dict with an action dict; a str frame is an error message. The steering
inputs travel inside the observation under `tmrl/...` keys, so a server that understands them (an openpi
policy with CSP conditioning, or `serve` below) returns the chunk for exactly those inputs:

    observation  {"context": (B, C), "proprio": (B, P), "tmrl/action_noise": (B, H, d) or (B, d),
                  "tmrl/timestep": (B,), "tmrl/context_noise": (B, E)[, "tmrl/guidance": (B,)]}
    actions      {"actions": (B, H, d) float32, "server_timing": {"infer_ms": ...}}
    metadata     {"horizon": H, "action_dim": d, "context_dim": C, "proprio_dim": P, "num_timesteps": T,
                  "context_noise_dim": E (C when absent), ...}

`RemoteSampler` is the client side (the policy server's `backend: openpi`); `serve` puts any Sampler
(e.g. a tmrl checkpoint) behind the protocol: `tmrl serve CHECKPOINT --port 8000`.
"""

from __future__ import annotations

import time
import traceback

import numpy as np

REQUIRED = ("horizon", "action_dim", "context_dim", "proprio_dim", "num_timesteps")


class RemoteSampler:
    def __init__(self, address: str, timeout_s: float = 60.0, api_key: str | None = None):
        from openpi_client.websocket_client_policy import WebsocketClientPolicy

        self.address = address
        deadline, last = time.monotonic() + timeout_s, None
        while True:  # openpi-client connects once: wait here for a server that is still starting
            try:
                self.client = WebsocketClientPolicy(address, api_key=api_key)
                break
            except OSError as err:
                last = err
                if time.monotonic() > deadline:
                    raise ConnectionError(f"no openpi policy server at {address} within {timeout_s} s: {last}") \
                        from err
                time.sleep(0.2)
        meta = self.client.get_server_metadata()
        missing = [k for k in REQUIRED if k not in meta]
        if missing:
            raise ValueError(f"the policy server at {address} does not describe its chunks: metadata lacks {missing} "
                             f"(has {sorted(meta)}); it must serve tmrl's steering inputs")
        self.metadata = meta
        self.horizon, self.action_dim = int(meta["horizon"]), int(meta["action_dim"])
        self.context_dim, self.proprio_dim = int(meta["context_dim"]), int(meta["proprio_dim"])
        self.context_noise_dim = int(meta.get("context_noise_dim", self.context_dim))
        self.num_timesteps = int(meta["num_timesteps"])

    def sample(self, context, proprio, action_noise, timestep, context_noise, guidance=None) -> np.ndarray:
        obs = {"context": np.asarray(context, np.float32), "proprio": np.asarray(proprio, np.float32),
               "tmrl/action_noise": np.asarray(action_noise, np.float32),
               "tmrl/timestep": np.asarray(timestep, np.int64),
               "tmrl/context_noise": np.asarray(context_noise, np.float32)}
        if guidance is not None:
            obs["tmrl/guidance"] = np.asarray(guidance, np.float32)
        try:
            result = self.client.infer(obs)
        except RuntimeError as err:  # the server's own error message
            raise ValueError(f"the policy server at {self.address} refused the request: {err}") from err
        chunk = np.asarray(result["actions"], np.float32)
        b = np.asarray(context).shape[0]
        if chunk.shape != (b, self.horizon, self.action_dim):
            raise ValueError(f"the policy server at {self.address} returned actions of shape {chunk.shape}, "
                             f"expected {(b, self.horizon, self.action_dim)}")
        return chunk


def metadata_of(sampler) -> dict:
    return {k: int(getattr(sampler, k)) for k in (*REQUIRED, "context_noise_dim")} | {
        "protocol": "openpi-websocket", "server": "tmrl"}


def serve(sampler, host: str = "0.0.0.0", port: int = 8000, ready=None) -> None:
    """Serve `sampler` over openpi's websocket protocol until interrupted; `ready()` is called once
    listening. One request at a time per connection, as openpi's server does."""
    from openpi_client import msgpack_numpy
    from websockets.sync.server import serve as ws_serve

    packer, metadata = msgpack_numpy.Packer(), metadata_of(sampler)

    def handler(connection) -> None:
        connection.send(packer.pack(metadata))
        for frame in connection:
            try:
                obs = msgpack_numpy.unpackb(frame)
                started = time.perf_counter()
                chunk = sampler.sample(obs["context"], obs["proprio"], obs["tmrl/action_noise"], obs["tmrl/timestep"],
                                       obs["tmrl/context_noise"], obs.get("tmrl/guidance"))
                connection.send(packer.pack({"actions": np.asarray(chunk, np.float32),
                                             "server_timing": {"infer_ms": 1000 * (time.perf_counter() - started)}}))
            except Exception:  # the client shows this text as the server's error, as with openpi
                connection.send(traceback.format_exc())

    with ws_serve(handler, host, port, compression=None, max_size=None) as server:
        if ready is not None:
            ready()
        server.serve_forever()
