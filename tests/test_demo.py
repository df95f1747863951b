"""The README's main job: the demo walkthrough runs end to end against a real node."""

from __future__ import annotations

from baychain.demo import run_demo


def test_demo_walkthrough_runs_every_step(tmp_path):
    lines: list[str] = []
    result = run_demo(tmp_path / "demo", "127.0.0.1", 0, serve=False, say=lines.append)
    text = "\n".join(lines)
    for expected in ("verified", "proven absent", "conserved", "NONCE_REPLAYED", "BAD_SIGNATURE", "MALFORMED_TX",
                     "INSUFFICIENT_BALANCE"):
        assert expected in text, expected
    assert result["status"]["height"] >= 10
