"""A bound on what a graded notebook's outputs may cost the grader.

nbclient keeps every output a kernel sends, so a submission that prints in a loop until its
time runs out makes the process that grades it hold all of it (over 1 GiB in a few seconds).
:class:`CappedOutputs` is a mixin for any ``nbclient.NotebookClient`` (nbgrader's ``Execute``
among them) that keeps at most :attr:`~CappedOutputs.max_cell_output_bytes` of output per cell
and :attr:`~CappedOutputs.max_notebook_output_bytes` per notebook; past either it drops the
outputs and says so once in the cell. Error outputs are always kept (nbgrader scores a test
cell by them), with their traceback cut to the same bound. A single message larger than
:attr:`~CappedOutputs.max_message_bytes` is refused by ZeroMQ before it is read at all (its
connection is dropped and made again; the kernel's later messages still arrive).

Use it before the client class: ``class Executor(CappedOutputs, Execute): ...``.
"""

from __future__ import annotations

import json

from traitlets import Integer
from traitlets.config import Configurable

__all__ = ["CappedOutputs", "output_size"]

TRUNCATED = ("[output truncated by the grader: this {what} printed more than {limit:,} bytes; "
             "the rest was dropped]\n")


def output_size(content: dict) -> int:
    """Bytes of an output message's content, as stored in a notebook (roughly: its JSON)."""
    try:
        return len(json.dumps(content, default=str))
    except (TypeError, ValueError):
        return len(repr(content))


def _cut_error(content: dict, limit: int) -> dict:
    """An error output no longer than about ``limit`` bytes: name kept, the rest cut."""
    evalue = str(content.get("evalue", ""))[:limit // 2]
    traceback, kept = [], len(evalue)
    for line in content.get("traceback", []) or []:
        line = str(line)[:limit // 4]
        if kept + len(line) > limit:
            traceback.append("[traceback truncated by the grader]")
            break
        traceback.append(line)
        kept += len(line)
    return {**content, "ename": str(content.get("ename", ""))[:200], "evalue": evalue,
            "traceback": traceback}


class CappedOutputs(Configurable):
    """Mixin for an ``nbclient.NotebookClient``: capped output per cell and per notebook."""

    max_cell_output_bytes = Integer(
        2 * 1024 * 1024, help="Output kept per cell (bytes); past it outputs are dropped."
    ).tag(config=True)
    max_notebook_output_bytes = Integer(
        16 * 1024 * 1024, help="Output kept per notebook (bytes); past it outputs are dropped."
    ).tag(config=True)
    max_message_bytes = Integer(
        64 * 1024 * 1024, help="Largest kernel message read at all (ZeroMQ MAXMSGSIZE)."
    ).tag(config=True)

    _OUTPUTS = frozenset({"stream", "display_data", "execute_result", "update_display_data"})

    def _cap_state(self) -> dict:
        state = self.__dict__.get("_capped_outputs")
        if state is None or state["nb"] is not getattr(self, "nb", None):
            state = {"nb": getattr(self, "nb", None), "total": 0, "cells": {}, "noted": set()}
            self.__dict__["_capped_outputs"] = state
        return state

    async def async_start_new_kernel(self, **kwargs):
        if getattr(self, "km", None) is not None:  # sockets made from now on refuse huge messages
            import zmq

            self.km.context.setsockopt(zmq.MAXMSGSIZE, self.max_message_bytes)
        return await super().async_start_new_kernel(**kwargs)

    def process_message(self, msg, cell, cell_index):
        msg_type = msg.get("msg_type", "")
        if msg_type == "error":
            limit = self.max_cell_output_bytes
            if output_size(msg["content"]) > limit:
                msg = {**msg, "content": _cut_error(msg["content"], limit)}
            return super().process_message(msg, cell, cell_index)
        state = self._cap_state()
        if msg_type == "execute_input":  # the cell (re)starts with no output
            state["total"] -= state["cells"].pop(cell_index, 0)
            state["noted"].discard(cell_index)
        if msg_type not in self._OUTPUTS and not msg_type.startswith("comm"):
            return super().process_message(msg, cell, cell_index)
        size = output_size(msg.get("content", {}))
        used = state["cells"].get(cell_index, 0)
        over = ("cell", self.max_cell_output_bytes) if used + size > self.max_cell_output_bytes \
            else ("notebook", self.max_notebook_output_bytes) \
            if state["total"] + size > self.max_notebook_output_bytes else None
        if over is None:
            state["cells"][cell_index] = used + size
            state["total"] += size
            return super().process_message(msg, cell, cell_index)
        if cell_index not in state["noted"]:
            state["noted"].add(cell_index)
            from nbformat import NotebookNode

            note = TRUNCATED.format(what=over[0], limit=over[1])
            cell.setdefault("outputs", []).append(
                NotebookNode(output_type="stream", name="stderr", text=note))
        return None
