"""The command line starts without torch: `--help` and the import of the CLI load no torch (the lazy
imports in cli/ say so with `# lazy: start-up cost (torch, ...)`; this keeps them honest)."""

from __future__ import annotations

import subprocess
import sys


def test_importing_the_cli_loads_no_torch():
    code = "import sys, hadamard_restore.cli; sys.exit(1 if 'torch' in sys.modules else 0)"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0, "importing hadamard_restore.cli loaded torch"
