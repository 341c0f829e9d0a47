"""The `main()` every tmrl node shares: init, spin, clean shutdown, and a clear message (not a
traceback) when the node cannot start.

Nodes whose callbacks return quickly spin a single-threaded executor: it costs about 2 ms less per
action round trip than the multi-threaded one (measured on these 2 cores), and under load rclpy's
multi-threaded executor now and then leaves a ready service request waiting 0.8-3.7 s. A node with a
callback that blocks (a driver executing a chunk while a cancel request must get through) asks for
threads."""

from __future__ import annotations

import sys

import rclpy
from rclpy.executors import ExternalShutdownException, MultiThreadedExecutor, SingleThreadedExecutor


class StartupError(RuntimeError):
    """A node cannot start (missing checkpoint, unknown task...): the message says why."""


def run(node_class, args: list[str] | None = None, threads: int = 1) -> None:
    rclpy.init(args=args)
    node = None
    try:
        node = node_class()
        threads = getattr(node, "executor_threads", threads)  # a node may choose from its parameters
        executor = MultiThreadedExecutor(num_threads=threads) if threads > 1 else SingleThreadedExecutor()
        executor.add_node(node)
        executor.spin()
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    except (StartupError, FileNotFoundError, KeyError, ValueError) as err:
        if node is not None:
            raise
        print(f"[{node_class.__name__}] cannot start: {err}", file=sys.stderr, flush=True)
        rclpy.try_shutdown()
        sys.exit(2)
    finally:
        if node is not None:
            close = getattr(node, "close", None)
            if close:
                close()
            node.destroy_node()
        rclpy.try_shutdown()
