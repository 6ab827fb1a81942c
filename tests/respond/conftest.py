"""Fixtures: a store holding hand-built campaigns and a directory (EVENTS.md sections 2 and 5), and a
real SMTP server on loopback (aiosmtpd) that keeps what it receives."""

from __future__ import annotations

import email
import email.policy
import json
import socket
from pathlib import Path

import pyarrow as pa
import pytest
from aiosmtpd.controller import Controller

from idwatch.store import DIRECTORY_SCHEMA, Store

FIXTURE = json.loads((Path(__file__).parent / "data" / "fixture.json").read_text())


def build_store(root: Path, campaigns: list | None = None, directory: list | None = None) -> Store:
    store = Store(root)
    store.write_directory(pa.Table.from_pylist(directory or FIXTURE["directory"], schema=DIRECTORY_SCHEMA))
    store.write_state_json("campaigns", FIXTURE["campaigns"] if campaigns is None else campaigns)
    return store


@pytest.fixture
def fixture_data() -> dict:
    return json.loads(json.dumps(FIXTURE))


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return build_store(tmp_path / "store")


@pytest.fixture
def make_store(tmp_path: Path):
    """A store with other campaigns or directory rows: ``make_store(name, campaigns=..., directory=...)``."""

    def make(name: str, **kwargs) -> Store:
        return build_store(tmp_path / name, **kwargs)

    return make


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _Collect:
    def __init__(self) -> None:
        self.mails: list[tuple[list[str], email.message.EmailMessage]] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd hook name
        msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.mails.append((list(envelope.rcpt_tos), msg))
        return "250 OK"


@pytest.fixture
def smtp_server():
    """``(handler, controller)``: ``handler.mails`` holds ``(recipients, message)`` per mail received."""
    handler = _Collect()
    controller = Controller(handler, hostname="127.0.0.1", port=_free_port())
    controller.start()
    try:
        yield handler, controller
    finally:
        controller.stop()
