"""The pipeline's settings: flags built from `PipelineConfig`, checked on entry."""

from __future__ import annotations

from drawing import flags
from pipeline import config


def test_simplify_flag():
    argv = ["--input", "in", "--output", "out"]
    assert config.parse_args(argv)[0].simplify is False
    assert config.parse_args([*argv, "--simplify"])[0].simplify is True
    assert "simplified input does not need it" in " ".join(
        flags.build_parser(config.PipelineConfig, "pipeline.main").format_help().split()
    )
