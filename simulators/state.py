"""Where a simulator keeps what the real partner keeps across a restart of its servers: one JSON file
per partner in the state folder the plan names. A save is atomic (a temporary file, then a rename),
so a process killed mid-save leaves the previous state whole, never half a file."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


class StateFile:
    def __init__(self, path: Path):
        self.path = path
        self._written: str | None = None

    def load(self) -> dict[str, Any] | None:
        """The saved state, or None when there is none (a first start) or it cannot be read; a
        partner whose state is lost starts empty, as a new shop would."""
        try:
            text = self.path.read_text()
            state = json.loads(text)
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            log.warning("simulator state %s unreadable (%s); starting empty", self.path, exc)
            return None
        self._written = text
        return state if isinstance(state, dict) else None

    def save(self, state: dict[str, Any]) -> bool:
        """Write the state when it differs from what the file holds; True when it wrote."""
        text = json.dumps(state, sort_keys=True, separators=(",", ":"))
        if text == self._written:
            return False
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_name(f".{self.path.name}.tmp")
        with temporary.open("w") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, self.path)
        self._written = text
        return True
