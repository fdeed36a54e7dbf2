"""What a check reports: one frozen Finding with a status, the cause, and the exact fix."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from enum import StrEnum


class Status(StrEnum):
    """OK and WARN and SKIP leave the exit code at 0; any FAIL makes it 1."""

    OK = "OK"
    WARN = "WARN"
    FAIL = "FAIL"
    SKIP = "SKIP"


@dataclass(frozen=True, slots=True)
class Finding:
    """One check's verdict. `fix` is a command or the `.env` line to change; empty when OK."""

    id: str
    status: Status
    message: str
    fix: str = ""

    def as_dict(self) -> dict[str, str]:
        return {key: str(value) for key, value in asdict(self).items()}


@dataclass(frozen=True, slots=True)
class Verdicts:
    """Builds the Findings of one check, so a check never spells its own id twice."""

    check_id: str

    def ok(self, message: str) -> Finding:
        return Finding(self.check_id, Status.OK, message)

    def warn(self, message: str, fix: str) -> Finding:
        return Finding(self.check_id, Status.WARN, message, fix)

    def fail(self, message: str, fix: str) -> Finding:
        return Finding(self.check_id, Status.FAIL, message, fix)

    def skip(self, reason: str) -> Finding:
        return Finding(self.check_id, Status.SKIP, reason)
