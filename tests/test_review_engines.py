"""gate.engines.bounded: an evaluation that dies, fails or overruns is an EngineError, never a hang.

The slow-policy test in test_engines.py goes through a whole `gate check`; these
pin each way out of the forked child, the forked worker and the thread on its
own. The forked ones run in a fresh interpreter: once OPA's library is loaded
in this test process (other tests load it), forking it is what the module
refuses to do.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from gate.engines.bounded import _in_thread
from gate.errors import EngineError, PolicyError

FORKED = textwrap.dedent("""
    import os, time
    from gate.engines.bounded import ForkedWorker, _in_child
    from gate.errors import EngineError, PolicyError

    def fails(what, fn, *args):
        try:
            fn(*args)
        except Exception as e:
            return e
        raise AssertionError(f"{what}: no error")

    def policy_error():
        raise PolicyError("does not compile", path="p.rego", line=3)

    def value_error():
        raise ValueError("boom")

    assert _in_child(lambda: {"a": [1]}, 5, "x") == {"a": [1]}
    e = fails("policy", _in_child, policy_error, 5, "x")
    assert type(e) is PolicyError and (e.message, e.path, e.line) == (
        "does not compile", "p.rego", 3), e
    e = fails("other", _in_child, value_error, 5, "x")
    assert type(e) is EngineError and e.message == "the engine failed: ValueError: boom", e
    e = fails("died", _in_child, lambda: os._exit(3), 5, "evaluation")
    assert type(e) is EngineError and "evaluation ended without an answer" in e.message, e
    e = fails("slow", _in_child, lambda: time.sleep(30), 0.5, "evaluation")
    assert type(e) is EngineError and "took longer than 0.5 s" in e.message, e

    worker = ForkedWorker(lambda req: req["n"] * 2)
    assert worker.call({"n": 21}, 5, "x") == 42 and worker.alive
    worker.close()
    assert not worker.alive
    e = fails("gone", worker.call, {"n": 1}, 5, "evaluation")
    assert "evaluation: the evaluating process is gone" in e.message, e

    dying = ForkedWorker(lambda req: os._exit(3))
    e = fails("died", dying.call, {}, 5, "evaluation")
    assert "ended without an answer" in e.message and not dying.alive, e

    slow = ForkedWorker(lambda req: time.sleep(30))
    e = fails("slow", slow.call, {}, 0.5, "evaluation")
    assert "took longer than 0.5 s" in e.message and not slow.alive, e

    failing = ForkedWorker(lambda req: policy_error())
    e = fails("policy", failing.call, {}, 5, "x")
    assert type(e) is PolicyError and e.line == 3 and failing.alive, e
    failing.close()
    print("ok")
""")


def test_the_forked_child_and_worker_fail_closed() -> None:
    proc = subprocess.run([sys.executable, "-c", FORKED], capture_output=True, text=True,
                          timeout=60, check=False)
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", proc.stderr


def test_the_thread_hands_back_its_value_its_error_or_a_timeout() -> None:
    import threading

    assert _in_thread(lambda: 7, 5, "x") == 7

    def refuse() -> None:
        raise PolicyError("does not compile", path="p.rego", line=3)

    with pytest.raises(PolicyError, match="does not compile"):
        _in_thread(refuse, 5, "x")
    release = threading.Event()
    try:
        with pytest.raises(EngineError, match=r"evaluation took longer than 0\.2 s"):
            _in_thread(lambda: release.wait(30), 0.2, "evaluation")
    finally:
        release.set()  # let the abandoned thread end


def test_a_regorus_engine_that_failed_is_not_left_for_another_thread_to_drop(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A regorus Engine may only be dropped on the thread that made it. One held by the
    frames of a kept error (outline_module keeps regorus's while OPA's parser tries; the
    differential engine keeps regorus's refusal while OPA compiles in its thread) sat in a
    reference cycle until the collector ran, on an evaluation thread: "unsendable"."""
    import gc
    import threading

    pytest.importorskip("opa_bindings")  # OPA's parser reads what regorus's refuses
    problems: list[str] = []
    monkeypatch.setattr(sys, "unraisablehook",
                        lambda u: problems.append(f"{u.exc_type.__name__}: {u.exc_value}"))
    gc.collect()
    gc.disable()  # else the main thread may happen to collect the cycles first
    try:
        _leave_failed_engines_in_cycles()
        collector = threading.Thread(target=gc.collect)
        collector.start()
        collector.join()
    finally:
        gc.enable()
    assert problems == []


def _leave_failed_engines_in_cycles() -> None:
    from gate.engines import EngineOptions
    from gate.engines.regorus import RegorusEngine
    from gate.errors import GateError
    from gate.policy.source import parse_module

    unknown = parse_module('package p\n\ndeny contains "x" if nosuch.fn(1)\n', "p.rego")

    def refused() -> bool:
        kept = None
        try:
            RegorusEngine().prepare([unknown], {})
        except GateError as e:
            kept = e  # this frame is in the error's traceback: a cycle, as a kept error makes
        return kept is not None

    assert refused()
    dividing = parse_module("package d\n\nx := 1 / 0\n", "d.rego")
    engine = RegorusEngine(EngineOptions(eval_timeout_s=0))  # evaluated here, not forked
    engine.prepare([dividing], {})

    def failed() -> bool:
        kept = None
        try:
            engine.evaluate(["data.d.x"], {})
        except GateError as e:
            kept = e
        finally:
            engine.close()  # as the pipeline closes an engine that failed
        return kept is not None

    assert failed()
    only_opa = parse_module('package q\n\ndeny contains $"x {input.a}" if true\n', "q.rego")
    assert only_opa.parser == "opa-go"  # regorus's parse failed, and its error was kept
