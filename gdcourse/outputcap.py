"""A bound on what a graded notebook's outputs may cost the grader.

nbclient keeps every output a kernel sends, so a submission that prints in a loop until its
time runs out makes the process that grades it hold all of it (over 1 GiB in a few seconds).
:class:`CappedOutputs` is a mixin for any ``nbclient.NotebookClient`` (nbgrader's ``Execute``
among them) that keeps at most :attr:`~CappedOutputs.max_cell_output_bytes` of output per cell
and :attr:`~CappedOutputs.max_notebook_output_bytes` per notebook; past either it drops the
outputs and says so once in the cell. Error outputs are always kept (nbgrader scores a test
cell by them), with their traceback cut to the same bound, and a cell whose execution reply
says it failed gets one even if its error message never came on IOPub.

Messages are bounded before they are read, in ZeroMQ: at most
:attr:`~CappedOutputs.max_queued_messages` wait per channel (the kernel drops IOPub messages
past that) and none is larger than :attr:`~CappedOutputs.max_message_bytes`. A larger one
breaks the IOPub connection for the rest of the notebook: later outputs are lost (each later
cell then waits ``iopub_timeout`` for its end), but errors still come with the execution
replies, so test cells are scored as before. The grader then holds at most about
``max_queued_messages * max_message_bytes`` of messages plus the kept outputs.

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
    for entry in content.get("traceback", []) or []:
        line = str(entry)[:limit // 4]
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

    _OUTPUTS = frozenset({"stream", "display_data", "execute_result", "update_display_data"})

    def _cap_state(self) -> dict:
        state = self.__dict__.get("_capped_outputs")
        if state is None or state["nb"] is not getattr(self, "nb", None):
            state = {"nb": getattr(self, "nb", None), "total": 0, "cells": {}, "noted": set()}
            self.__dict__["_capped_outputs"] = state
        return state

    max_message_bytes = Integer(
        16 * 1024 * 1024, help="Largest kernel message the grader reads (ZeroMQ MAXMSGSIZE; "
                               "a larger one drops the connection, which is made again)."
    ).tag(config=True)
    max_queued_messages = Integer(
        32, help="Kernel messages queued in the grader per channel (ZeroMQ RCVHWM; past it "
                 "the kernel's IOPub drops them)."
    ).tag(config=True)

    async def async_start_new_kernel_client(self):
        """Connect to the kernel with at most :attr:`max_queued_messages` queued a channel: a
        kernel printing faster than the grader reads must not fill the grader's memory."""
        import zmq

        make_client = self.km.client

        def capped_client(**kwargs):  # the client makes its own ZeroMQ context: set it there
            client = make_client(**kwargs)
            client.context.setsockopt(zmq.RCVHWM, self.max_queued_messages)
            client.context.setsockopt(zmq.MAXMSGSIZE, self.max_message_bytes)
            return client

        self.km.client = capped_client
        try:
            return await super().async_start_new_kernel_client()
        finally:
            del self.km.client

    async def _check_raise_for_error(self, cell, cell_index, exec_reply):
        """A cell whose execution failed keeps an error output even if the kernel's error
        message never arrived on IOPub (nbgrader scores test cells by their error outputs)."""
        content = (exec_reply or {}).get("content", {})
        if content.get("status") == "error" and not any(
                output.get("output_type") == "error" for output in cell.get("outputs", [])):
            from nbformat import NotebookNode

            error = _cut_error({"ename": content.get("ename", "Error"),
                                "evalue": content.get("evalue", ""),
                                "traceback": content.get("traceback", [])},
                               self.max_cell_output_bytes)
            cell.setdefault("outputs", []).append(NotebookNode(output_type="error", **error))
        return await super()._check_raise_for_error(cell, cell_index, exec_reply)

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
