"""Replayable grades: each submission's grading seed, and ``--replay STUDENT ASSIGNMENT``.

The random inputs of the hidden checks (:func:`gdcourse.grading.fresh_rng`) are drawn from a
*grading seed* per submission: an HMAC of the student, the assignment and the submission's
checksum under a key kept in the grading folder (``seed.key``, created on first use, never
visible to a kernel). So the same notebook gets the same inputs at every run (a regrade, or a
rerun after the instructions changed, asks the same questions), two students get different
ones, and nobody can predict them without the key. Each test cell draws from its own stream
of the seed (:mod:`gdcourse.grader.check`).

The seed is recorded in ``report.json`` and ``grades.csv`` with a digest of every input the
checks sent to the student's kernel (``check_inputs``). :func:`replay` grades the very same
submission again, in the sandbox, in a scratch grading folder (the real one is not touched),
with the recorded seed, and compares: the same check inputs and the same score per question
mean the grade is reproduced.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from gdcourse.grader.record import Result, _load_report, _sha256

SEED_KEY = "seed.key"

__all__ = ["SEED_KEY", "Replay", "grading_seed", "replay"]


def _seed_key(grading_dir: Path) -> bytes:
    """The grading folder's secret seed key, created (readable by its owner only) if missing."""
    path = Path(grading_dir) / SEED_KEY
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            handle.write(secrets.token_hex(32) + "\n")
    key = path.read_text().strip()
    if len(key) < 32:
        raise ValueError(f"{path} is not a seed key (expected 64 hex digits); delete it to "
                         f"make a new one (earlier grades keep their recorded seeds)")
    return key.encode()


def grading_seed(grading_dir: Path, student: str, assignment: str,
                 submission_sha256: str) -> int:
    """The grading seed of one submission (a 60-bit int): the same for the same notebook,
    unpredictable without the grading folder's key."""
    for name, value in (("student", student), ("assignment", assignment),
                        ("submission_sha256", submission_sha256)):
        if not isinstance(value, str) or not value:
            raise ValueError(f"{name} must be a non-empty string, got {value!r}")
    message = f"{student}\0{assignment}\0{submission_sha256}".encode()
    return int(hmac.new(_seed_key(grading_dir), message, hashlib.sha256).hexdigest()[:15], 16)


@dataclass
class Replay:
    """A replayed grade: what was recorded and what grading it again gave."""

    recorded: Result
    replayed: Result

    @property
    def same_inputs(self) -> bool:
        return bool(self.recorded.check_inputs) and \
            self.recorded.check_inputs == self.replayed.check_inputs

    @property
    def same_score(self) -> bool:
        return (self.recorded.score, self.recorded.max_score, self.recorded.questions) == \
            (self.replayed.score, self.replayed.max_score, self.replayed.questions)

    @property
    def matches(self) -> bool:
        return self.same_inputs and self.same_score

    def lines(self) -> list[str]:
        """The verdict, for the instructor."""
        old, new = self.recorded, self.replayed
        lines = [f"replayed {old.student} {old.assignment} with grading seed {old.seed} "
                 f"(graded {old.graded_at or 'earlier'})",
                 f"recorded score {old.score:g}/{old.max_score:g}, replayed "
                 f"{new.score:g}/{new.max_score:g}: "
                 + ("the same" if self.same_score else "DIFFERENT")]
        for name in sorted(set(old.questions) | set(new.questions)):
            before, after = old.questions.get(name), new.questions.get(name)
            if before != after:
                lines.append(f"  {name}: recorded {before}, replayed {after}")
        lines.append(f"check inputs {new.check_inputs or '(none)'}: "
                     + ("identical to the recorded ones" if self.same_inputs
                        else f"DIFFERENT from the recorded {old.check_inputs or '(none)'}"))
        if old.checks_sha256 and old.checks_sha256 != new.checks_sha256:
            lines.append("the checks of this assignment changed since it was graded: the "
                         "replay ran today's checks")
        if not self.matches and old.checks_sha256 == new.checks_sha256:
            lines.append("same checks, same seed, different outcome: the student's code does "
                         "not compute the same thing twice (its own randomness, time?)")
        lines.append("MATCH: the grade is reproduced" if self.matches
                     else "NO MATCH: see the lines above")
        return lines


def replay(submissions: Path, student: str, assignment: str, grading_dir: Path, timeout: int = 30,
           *, sandbox: bool = True, limits=None, echo: Callable[[str], object] = print) -> Replay:
    """Grade ``student``'s ``assignment`` again, as recorded in ``grading_dir``: the same
    notebook (found in ``submissions`` as when grading, checked against the recorded
    checksum), the recorded seed, in the sandbox, in a scratch grading folder."""
    from gdcourse.grader.collect import collect_submissions
    from gdcourse.grader.pipeline import grade

    for name, value in (("student", student), ("assignment", assignment)):
        if not isinstance(value, str) or not value:
            raise ValueError(f"{name} must be a non-empty string, got {value!r}")
    grading_dir = Path(grading_dir)
    report = _load_report(grading_dir)
    entry = report.get(f"{student}/{assignment}")
    if entry is None:
        known = sorted(e["student"] for e in report.values() if e.get("assignment") == assignment)
        raise ValueError(f"no grade of {student!r} for {assignment!r} in {grading_dir / 'report.json'}"
                         + (f" (graded for {assignment}: {', '.join(known[:20])})" if known else ""))
    recorded = Result(**{k: v for k, v in entry.items() if k in Result.__dataclass_fields__})
    if recorded.seed is None:
        raise ValueError(f"{student} {assignment} has no recorded grading seed (status "
                         f"{recorded.status!r}; graded before seeds were recorded, or nothing "
                         f"ran): it cannot be replayed")
    with tempfile.TemporaryDirectory() as scratch_name:
        scratch = Path(scratch_name)
        found = collect_submissions(Path(submissions), [assignment], scratch / "collect")
        path = found.get((student, assignment))
        if path is None:
            raise ValueError(f"no notebook of {student} for {assignment} in {submissions}")
        if _sha256(path) != recorded.submission_sha256:
            raise ValueError(f"the notebook of {student} for {assignment} in {submissions} is not "
                             f"the one that was graded (its checksum differs): a replay needs "
                             f"the graded submission")
        folder = scratch / "class" / student
        folder.mkdir(parents=True)
        shutil.copyfile(path, folder / f"{assignment}.ipynb")
        keys = list(collect_submissions(scratch / "class", [assignment], scratch / "again"))
        if len(keys) != 1:
            raise RuntimeError(f"could not stage {student}'s notebook for the replay")
        results = grade(scratch / "class", [assignment], scratch / "grading", timeout,
                        sandbox=sandbox, limits=limits, workers=1,
                        seeds={keys[0]: recorded.seed}, echo=echo)
    (replayed,) = [r for r in results if (r.student, r.assignment) == keys[0]]
    replayed.student = student
    return Replay(recorded, replayed)
