"""The only grading code that runs inside a student's kernel: call a student function, send back data.

The grader (:mod:`gdcourse.grader.check`) sends the kernel one line of code per request,
``serve('<json>')``, holding a function name and plain inputs (:mod:`gdcourse.grader.wire`).
:func:`serve` looks the function up among the notebook's names, calls it under the reference
guard of :mod:`gdcourse.grading`, and publishes the outcome as one display message of type
:data:`MIME`: the value returned (plain data or a refusal), the exception raised, and the
arguments as they are after the call (a function may change them in place). A callable input
becomes a stub that asks the grader to run it (through Jupyter's stdin channel, ``input()``).

Nothing here knows an expected value, a tolerance or a check: code in the kernel may replace this
module, and all it can change is what the student's own functions appear to return.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from gdcourse.grader import wire

MIME = "application/x-gdcourse-reply+json"
CALLBACK_PROMPT = "\x00gdcourse-callback:"
MESSAGE_LENGTH = 300


def _namespace() -> dict:
    from IPython import get_ipython

    shell = get_ipython()
    return shell.user_ns if shell is not None else {}


def _publish(reply: dict) -> None:
    from IPython.display import publish_display_data

    try:
        text = wire.dumps(reply)
    except (wire.NotData, TypeError, ValueError) as error:
        text = wire.dumps({"rejected": str(error)})
    publish_display_data({MIME: text})


def _callback(tag: str, body):
    """A function passed by the grader: one of the notebook's own (by name), or a stub that
    asks the grader to run its function. While it runs, the grader may ask for the notebook's
    functions in turn (a check's helper calling the student's code): answered here."""
    if tag == "__gd_student__":
        return _function(body)
    number = body

    def call(*args, **kwargs):
        request = wire.dumps({"callback": number, "args": wire.encode(list(args)),
                              "kwargs": wire.encode(dict(kwargs))})
        answer = json.loads(input(CALLBACK_PROMPT + request))
        while isinstance(answer, dict) and "call" in answer:
            nested = answer["call"]
            try:
                reply = call_function(nested) if nested.get("do") == "call" else \
                    trajectory(nested)
            # Like serve(): the grader waits for an answer, and the request touches the
            # student's objects (a Mapping's __getitem__...), which may raise anything.
            except Exception as error:  # noqa: BLE001  (always answer; the error is data)
                reply = {"failed": f"{type(error).__name__}: {str(error)[:MESSAGE_LENGTH]}"}
            try:
                text = wire.dumps({"result": reply})
            except (wire.NotData, TypeError, ValueError) as error:
                text = wire.dumps({"result": {"rejected": str(error)}})
            answer = json.loads(input(CALLBACK_PROMPT + text))
        if "error" in answer:
            raise RuntimeError(f"the function the grader passed failed: {answer['error']}")
        return wire.decode(answer["value"], callback=_callback)

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


def serve(text: str) -> None:
    """Answer one request of the grader (the code it sends is ``serve('<json>')``)."""
    try:
        request = wire.loads(text)
        kind = request["do"]
        reply = call_function(request) if kind == "call" else trajectory(request)
    # A malformed request, inputs this side cannot rebuild, a missing function, or an error
    # raised by the student's objects outside the guarded call: a reply is always published.
    except Exception as error:  # noqa: BLE001  (always reply; the error is data)
        reply = {"failed": f"{type(error).__name__}: {str(error)[:MESSAGE_LENGTH]}"}
    _publish(reply)
