"""One service of a simulation running as a process of its own: its ports, log and CPU."""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

__all__ = ["ServiceProcess"]

_TICKS_PER_S = os.sysconf("SC_CLK_TCK")


@dataclass
class ServiceProcess:
    """One service process: its name, replica number, ports and log."""

    name: str
    replica: int
    process: subprocess.Popen[bytes]
    http_port: int
    log: Path

    @property
    def label(self) -> str:
        return self.name if self.replica == 0 else f"{self.name}#{self.replica}"

    def cpu_s(self) -> float:
        """User and system CPU time the process has used so far (Linux ``/proc``)."""
        try:
            fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return 0.0
        # After the command name: state is field 3, utime and stime are fields 14 and 15.
        return (int(fields[11]) + int(fields[12])) / _TICKS_PER_S

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"
