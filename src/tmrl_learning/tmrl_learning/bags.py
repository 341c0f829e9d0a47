"""Rosbag2 files of tmrl topics, written and read with the `rosbags` library (no ROS needed).

Bags are standard rosbag2 folders (metadata.yaml + an mcap or sqlite3 file, CDR serialization), so
they open in `ros2 bag info/play` and any rosbag2 tool. The tmrl_msgs types are registered from
their `.msg` files, found in the ament index (an installed workspace) or in this repository.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rosbags.highlevel import AnyReader
from rosbags.rosbag2 import StoragePlugin, Writer
from rosbags.typesys import Stores, get_types_from_msg, get_typestore
from rosbags.typesys.store import Typestore

INTERFACE_PACKAGE = "tmrl_msgs"
STORAGES = {"mcap": StoragePlugin.MCAP, "sqlite3": StoragePlugin.SQLITE3}


def interface_msg_dir() -> Path:
    """The folder holding tmrl_msgs' `.msg` files: the installed share dir, else the source tree."""
    for prefix in filter(None, os.environ.get("AMENT_PREFIX_PATH", "").split(os.pathsep)):
        candidate = Path(prefix) / "share" / INTERFACE_PACKAGE / "msg"
        if candidate.is_dir():
            return candidate
    source = Path(__file__).resolve().parents[2] / INTERFACE_PACKAGE / "msg"
    if source.is_dir():
        return source
    raise FileNotFoundError(
        f"cannot find the {INTERFACE_PACKAGE} .msg files: source a built workspace (AMENT_PREFIX_PATH) "
        f"or run from a checkout that has src/{INTERFACE_PACKAGE}/msg"
    )


def tmrl_typestore(msg_dir: Path | None = None) -> Typestore:
    """The ROS 2 Kilted typestore plus every tmrl_msgs message type."""
    store = get_typestore(Stores.ROS2_KILTED)
    types: dict[str, Any] = {}
    for path in sorted((msg_dir or interface_msg_dir()).glob("*.msg")):
        types.update(get_types_from_msg(path.read_text(), f"{INTERFACE_PACKAGE}/msg/{path.stem}"))
    store.register(types)
    return store


class BagWriter:
    """Write CDR-serialized messages into a new rosbag2 folder.

    Topics are added on first write with their type name (`pkg/msg/Name`); the message definition
    comes from the typestore so standard tools can decode the bag.
    """

    def __init__(self, path: str | Path, storage: str = "mcap", typestore: Typestore | None = None):
        if storage not in STORAGES:
            raise ValueError(f"unknown bag storage {storage!r}; expected one of {sorted(STORAGES)}")
        self.path = Path(path)
        if self.path.exists():
            raise FileExistsError(f"bag {self.path} already exists; choose a new path")
        self.typestore = typestore or tmrl_typestore()
        self._writer = Writer(self.path, version=9, storage_plugin=STORAGES[storage])
        self._connections: dict[str, Any] = {}
        self.count = 0

    def __enter__(self) -> BagWriter:
        self._writer.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._writer.close()

    def write_cdr(self, topic: str, msgtype: str, timestamp_ns: int, data: bytes | memoryview) -> None:
        """Append one already-serialized message. `msgtype` like `tmrl_msgs/msg/Transition`."""
        connection = self._connections.get(topic)
        if connection is None:
            if msgtype not in self.typestore.fielddefs:
                raise KeyError(f"message type {msgtype!r} of topic {topic!r} is not known to the typestore")
            connection = self._writer.add_connection(topic, msgtype, typestore=self.typestore)
            self._connections[topic] = connection
        elif connection.msgtype != msgtype:
            raise ValueError(f"topic {topic!r} was recorded as {connection.msgtype}, got {msgtype}")
        self._writer.write(connection, int(timestamp_ns), bytes(data))
        self.count += 1

    def write(self, topic: str, msgtype: str, timestamp_ns: int, message: Any) -> None:
        """Append one rosbags message object (serialized here)."""
        self.write_cdr(topic, msgtype, timestamp_ns, self.typestore.serialize_cdr(message, msgtype))


@dataclass(frozen=True)
class BagMessage:
    topic: str
    msgtype: str
    timestamp_ns: int
    message: Any  # a rosbags dataclass with the message's fields


def read_bag(path: str | Path, topics: Iterable[str] | None = None,
             typestore: Typestore | None = None) -> Iterator[BagMessage]:
    """Messages of a rosbag2 folder (or a single .mcap file) in time order, decoded."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no bag at {path}")
    wanted = set(topics) if topics is not None else None
    with AnyReader([path], default_typestore=typestore or tmrl_typestore()) as reader:
        connections = [c for c in reader.connections if wanted is None or c.topic in wanted]
        for connection, timestamp, raw in reader.messages(connections=connections):
            message = reader.deserialize(raw, connection.msgtype)
            yield BagMessage(connection.topic, connection.msgtype, timestamp, message)
