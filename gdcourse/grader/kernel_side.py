"""The only grading code that runs inside a student's kernel: call a student function, send back data.

The grader (:mod:`gdcourse.grader.check`) talks to the kernel once per test cell: it runs one line,
``session()``, and the kernel then converses over Jupyter's stdin channel (``input()``): it shows
a ready prompt, the grader answers with a request (JSON: a function name and plain inputs, see
:mod:`gdcourse.grader.wire`), the kernel looks the function up among the notebook's names, calls
it under the reference guard of :mod:`gdcourse.grading` and shows the outcome as its next prompt
(the value returned, as plain data or a refusal; the exception raised; the arguments as they are
after the call, since a function may change them in place), and so on until the grader ends the
session. A callable input becomes a stub whose call is a callback prompt: the grader runs its
function and answers with the value (meanwhile it may send requests of its own, answered here).

Why a conversation and not one execution per request: an ``execute_request`` goes through
IPython's whole cell machinery (transformers, compilation, events, busy/idle status, the echo of
the code on IOPub) and cost about 10 ms a request; a prompt and its answer cost a fraction of that,
and training-loop checks make hundreds of them per notebook.

Nothing here knows an expected value, a tolerance or a check: code in the kernel may replace this
module, and all it can change is what the student's own functions appear to return.
"""

from __future__ import annotations

import io
import sys
from typing import Any

import numpy as np

from gdcourse.grader import wire

READY_PROMPT = "\x00gdcourse-ready:"
REPLY_PROMPT = "\x00gdcourse-reply:"
CALLBACK_PROMPT = "\x00gdcourse-callback:"
MESSAGE_LENGTH = 300


def _namespace() -> dict:
    from IPython import get_ipython

    shell = get_ipython()
    return shell.user_ns if shell is not None else {}


def _reply_text(reply: dict) -> str:
    try:
        return wire.dumps(reply)
    except (wire.NotData, TypeError, ValueError) as error:
        return wire.dumps({"rejected": str(error)})


def _handle(request: Any) -> dict:
    """The reply to one request of the grader. A malformed request, inputs this side cannot
    rebuild, a missing function, or an error raised by the student's objects outside the
    guarded call: a reply is always made."""
    try:
        local = request.get("local")
        if type(local) is dict:
            _LOCAL.update(local)
        kind = request["do"]
        if kind == "call":
            return call_function(request)
        if kind == "steps":
            return trajectory(request)
        return {"failed": f"unknown request {str(kind)[:40]!r}"}
    except Exception as error:  # noqa: BLE001  (always reply; the error is data)
        return {"failed": f"{type(error).__name__}: {str(error)[:MESSAGE_LENGTH]}"}


def _converse(prompt: str, profile: Any = None) -> Any:
    """Show the grader ``prompt`` (an ``input()`` request on Jupyter's stdin channel) and answer
    every request it sends back, each with a reply prompt, until it sends something that is
    not a request (the end of the session, or the value of one of its own functions), which
    is returned. A request may come while the grader runs a function of its own that the
    student's code called (a check's helper calling the student's function in turn): it is
    answered here, at whatever depth, the same way, under ``profile``: the reference guard
    that was watching the student's code when it called the grader's function."""
    text = input(prompt)
    while True:
        message = wire.loads(text)
        if type(message) is not dict or "do" not in message:
            return message
        sys.setprofile(profile)
        try:
            reply = _handle(message)
        finally:
            sys.setprofile(None)
        text = input(REPLY_PROMPT + _reply_text(reply))


class _Discard(io.TextIOBase):
    """Where prints go while the kernel answers the grader: nowhere. The grader never reads
    them (nothing the student's code prints during the hidden checks may reach the feedback),
    and Jupyter's streams cost two waits on the kernel's IO thread per prompt (``input()``
    flushes both)."""

    encoding, errors = "utf-8", "strict"

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        return len(text)


_LOCAL: dict = {}  # callbacks of this session that are methods of gdcourse's problems


def _local_method(description: Any):
    """The grader's ``problem.grad`` (say) rebuilt here from its description ``[class,
    method, fields]`` (see gdcourse.grader.check._library_method), called as a callback is:
    inputs and value through the wire's encoding (the same checks, copies, refusals), the
    grader's message on an error, the reference guard off (it is not the student's code).
    None when it cannot be rebuilt here: then the grader runs it."""
    try:
        from gdcourse import data

        name, method, fields = description
        if name not in ("LinearRegression", "LogisticRegression") or \
                method not in ("grad", "loss", "loss_and_grad") or type(fields) is not dict:
            return None
        bound = getattr(getattr(data, name)(**{key: wire.decode(value)
                                              for key, value in fields.items()}), method)
    # gdcourse.data withheld or changed in this kernel, or a malformed description: the
    # grader's own copy answers instead
    except Exception:  # noqa: BLE001  (any failure here means: use the callback)
        return None

    def local(*args, **kwargs):
        profile = sys.getprofile()
        sys.setprofile(None)
        try:
            args = wire.decode(wire.encode(list(args)))
            kwargs = wire.decode(wire.encode(dict(kwargs)))
            try:
                value = bound(*args, **kwargs)
            except Exception as error:  # noqa: BLE001  (reported as the grader's callback is)
                raise RuntimeError(f"the function the grader passed failed: "
                                   f"{type(error).__name__} (its message stays with the "
                                   f"grader)") from None
            return wire.decode(wire.encode(value))
        finally:
            sys.setprofile(profile)

    local.__name__ = local.__qualname__ = method
    return local


def _callback(tag: str, body):
    """A function passed by the grader: one of the notebook's own (by name), a method of a
    gdcourse problem run here (:func:`_local_method`), or a stub that asks the grader to run
    its function (a callback prompt), answering the grader's requests while it waits
    (:func:`_converse`)."""
    if tag == "__gd_student__":
        return _function(body)
    number = body
    if str(number) in _LOCAL:
        local = _local_method(_LOCAL[str(number)])
        if local is not None:
            return local

    def call(*args, **kwargs):
        # The conversation is not the student's code: the reference guard (a profile hook,
        # see gdcourse.grading.no_reference_calls) is off while it runs (it made every round
        # trip about 40 % slower) and back on for the student's functions called meanwhile.
        profile = sys.getprofile()
        sys.setprofile(None)
        try:
            request = wire.dumps({"callback": number, "args": wire.encode(list(args)),
                                  "kwargs": wire.encode(dict(kwargs))})
            answer = _converse(CALLBACK_PROMPT + request, profile)
            if type(answer) is not dict or "value" not in answer:
                error = answer.get("error") if type(answer) is dict else "no answer"
                raise RuntimeError(f"the function the grader passed failed: {error}")
            return wire.decode(answer["value"], callback=_callback)
        finally:
            sys.setprofile(profile)

    call.__name__ = call.__qualname__ = f"grader_function_{number}"
    return call


def _raised(error: BaseException) -> dict:
    message = str(error)
    if len(message) > MESSAGE_LENGTH:
        message = message[:MESSAGE_LENGTH] + "..."
    return {"raised": [type(error).__name__, message]}


def _value(value: Any) -> dict:
    try:
        return {"value": wire.encode(value)}
    except wire.NotData as error:
        return {"rejected": str(error)}


def _after(values: list) -> list:
    """The arguments after a call, where they are data (None where not)."""
    after = []
    for value in values:
        try:
            after.append(wire.encode(value))
        except wire.NotData:
            after.append(None)
    return after


def _function(name: str):
    function = _namespace().get(name)
    if function is None:
        raise NameError(f"name {name!r} is not defined: run the cell that defines it")
    return function


def _copy(value: Any) -> Any:
    return value.copy() if isinstance(value, np.ndarray) else value


def call_function(request: dict) -> dict:
    from gdcourse import grading

    args = wire.decode(request["args"], callback=_callback)
    kwargs = wire.decode(request["kwargs"], callback=_callback)
    guard = request.get("guard")
    try:
        function = _function(request["function"])
        if guard:
            what, forbid = guard
            grading._check_no_references(function, what, forbid)
            with grading.no_reference_calls(what, forbid):
                value = function(*args, **kwargs)
        else:
            value = function(*args, **kwargs)
    except grading.ReferenceCallError as error:
        return {"reference": str(error)[:1000]}
    except Exception as error:  # noqa: BLE001  (the student's error, whatever it is, is data)
        return {**_raised(error), "after": _after([*args, *kwargs.values()])}
    return {**_value(value), "after": _after([*args, *kwargs.values()])}


def trajectory(request: dict) -> dict:
    """What :func:`gdcourse.grading.compare_steps` feeds the student's step function, run here
    in one request: init (or the grader's initial state), then one step per gradient, passing
    back the student's own x and state. Returns the x and the named state entries of each step."""
    from collections.abc import Mapping

    from gdcourse import grading

    x0 = wire.decode(request["x0"], callback=_callback)
    gradients = wire.decode(request["gradients"], callback=_callback)
    hyperparameters = wire.decode(request["hyperparameters"], callback=_callback)
    fields = request["state_fields"]
    forbid = request["forbid"]
    steps: list = []
    try:
        step_function = _function(request["step"])
        init = _function(request["init"]) if request.get("init") else None
        if init is not None:
            grading._check_no_references(init, "your init function", forbid)
        grading._check_no_references(step_function, "your step function", forbid)
        if init is not None:
            with grading.no_reference_calls("your init function", forbid):
                try:
                    state = init(_copy(x0))
                except grading.ReferenceCallError:
                    raise
                except Exception as error:  # noqa: BLE001  (the student's error is data)
                    return {"steps": steps, **_raised(error), "in init": True}
        else:
            state = wire.decode(request["state0"], callback=_callback)
        x = _copy(x0)
        for grad in gradients:
            with grading.no_reference_calls("your step function", forbid):
                try:
                    result = step_function(_copy(x), _copy(grad), state, **hyperparameters)
                except grading.ReferenceCallError:
                    raise
                except Exception as error:  # noqa: BLE001  (the student's error is data)
                    return {"steps": steps, **_raised(error)}
            if not (isinstance(result, tuple) and len(result) == 2):
                return {"steps": steps, "not a pair": type(result).__name__}
            x, state = result
            is_mapping = isinstance(state, Mapping)
            view = {key: state[key] for key in fields if is_mapping and key in state}
            try:
                steps.append([wire.encode(x), wire.encode(view), is_mapping])
            except wire.NotData as error:
                return {"steps": steps, "rejected": str(error)}
    except grading.ReferenceCallError as error:
        return {"steps": steps, "reference": str(error)[:1000]}
    return {"steps": steps}


def session() -> None:
    """One test cell's conversation with the grader (the code it runs is ``session()``): a
    ready prompt, then one reply prompt for each request, until the grader ends it."""
    _LOCAL.clear()
    streams = sys.stdout, sys.stderr
    sys.stdout = sys.stderr = _Discard()
    try:
        _converse(READY_PROMPT)
    finally:
        sys.stdout, sys.stderr = streams
