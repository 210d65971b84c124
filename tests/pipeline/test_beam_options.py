"""Beam's options: where a local run runs, and what remote workers install."""

from __future__ import annotations

from pathlib import Path

from pipeline import beam_options


def test_remote_workers_get_the_pipeline_extra_as_a_requirements_file():
    args = beam_options.worker_requirements(
        ["--runner=DataflowRunner", "--setup_file", "./setup.py"]
    )
    path = args[args.index("--requirements_file") + 1]
    lines = Path(path).read_text().splitlines()
    assert lines == beam_options.pipeline_requirements()
    assert "apache-beam[gcp]==2.77.*" in lines
    assert "tensorflow-transform==1.21.*" in lines
    assert args[args.index("--requirements_cache") + 1] == "skip"
    # Local runs, and a requirements file of the caller's own, are left alone.
    assert beam_options.worker_requirements(["--runner=FnApiRunner"]) == [
        "--runner=FnApiRunner"
    ]
    own = ["--setup_file=./setup.py", "--requirements_file=mine.txt"]
    assert beam_options.worker_requirements(own) == own


def test_a_small_input_runs_in_this_process_a_big_one_on_every_core():
    small = beam_options.pipeline_options([], beam_options.IN_PROCESS_MAX_BYTES)
    big = beam_options.pipeline_options([], beam_options.IN_PROCESS_MAX_BYTES + 1)
    assert beam_options.in_process(small)
    assert not beam_options.in_process(big)
    assert big.get_all_options()["direct_running_mode"] == "multi_processing"
    assert big.get_all_options()["direct_num_workers"] == 0
    # A runner the caller names is left as given.
    dataflow = beam_options.pipeline_options(["--runner=DataflowRunner"], 0)
    assert not beam_options.in_process(dataflow)
    assert beam_options.in_process(
        beam_options.pipeline_options(["--runner=FnApiRunner"], 10**12)
    )
