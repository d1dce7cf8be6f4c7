"""Load with faults, short form: concurrent clients while the index is rebuilt and swapped."""

from __future__ import annotations

import sys
from pathlib import Path

from helpers import SEEDS

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))

from load import run_load  # noqa: E402


def test_no_request_fails_while_the_index_is_rebuilt_underneath(archive_index):
    """Three clients search on from before a rebuild until the server has moved to the new
    build (no restart): every answer is a full one."""
    figures = run_load(archive_index, SEEDS, clients=3, seconds=1, rebuilds=1,
                       queries=["bridge", "Aleppo rebels", "interest rates"])
    assert figures["failed"] == 0, figures["failures"]
    assert figures["requests"] >= 3
    assert figures["builds_served"] == 2  # the server moved to the new build without a restart
