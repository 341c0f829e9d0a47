"""The `main()` every tmrl node shares: init, spin with a multi-threaded executor, clean shutdown,
and a clear message (not a traceback) when the node cannot start."""

from __future__ import annotations

import sys

import rclpy
from rclpy.executors import ExternalShutdownException, MultiThreadedExecutor


class StartupError(RuntimeError):
    """A node cannot start (missing checkpoint, unknown task...): the message says why."""


def run(node_class, args: list[str] | None = None, threads: int = 4) -> None:
    rclpy.init(args=args)
    node = None
    try:
        node = node_class()
        executor = MultiThreadedExecutor(num_threads=threads)
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
