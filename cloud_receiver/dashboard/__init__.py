"""The city supervision dashboard (issue 6): static zh-CN pages under ``/dashboard/`` that talk
to the JSON API with the caller's token, the aggregate endpoints they need
(:mod:`cloud_receiver.api_dashboard`) and the daily computation behind them (:mod:`.daily`)."""

from pathlib import Path

STATIC_DIR = Path(__file__).resolve().parent / "static"
