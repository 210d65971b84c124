"""The two sides of bench/pipeline_bench.py: its input, our core path (from
ndjson and from .bin) and the tutorial-style baseline, each as a function."""

from __future__ import annotations

import gc
import json
import random
import time
from pathlib import Path

from tools import sample

CORE_PATHS = ("ours", "baseline", "binary")  # binary: ours from .bin input


def build_input(directory: Path, repeats: int) -> int:
    """The sample repeated `repeats` times per class file, each copy a new key_id."""
    directory.mkdir(parents=True, exist_ok=True)
    total = 0
    for path in sorted(sample.SAMPLE.glob("*.ndjson")):
        lines = path.read_bytes().splitlines()
        out = []
        for r in range(repeats):
            for line in lines:
                record = json.loads(line)
                record["key_id"] = f"{record['key_id']}{r:03d}"
                out.append(json.dumps(record, separators=(",", ":")))
        (directory / path.name).write_text("\n".join(out) + "\n")
        total += len(out)
    return total


def all_lines(directory: Path) -> list[bytes]:
    return [
        line
        for path in sorted(directory.glob("*.ndjson"))
        for line in path.read_bytes().splitlines()
    ]


def _serialize(columns, class_bytes: dict[bytes, int]) -> list[bytes]:
    """The Example bytes of parsed columns, as `pipeline.chunk_encoder` makes them."""
    from pipeline import chunk_encoder, records

    words, recognized, key_ids = zip(*columns.fields, strict=True)
    return records.serialize_many(
        chunk_encoder.ink_bytes(columns),
        key_ids,
        [r == b"true" for r in recognized],
        [class_bytes[w] for w in words],
    )


def core_ours(lines: list[bytes], classes: dict[str, int]) -> None:
    """parse -> validate -> normalise -> serialised Example, as the encoder does
    it for the dataset's own lines (`pipeline.chunk_encoder`): a chunk at a time."""
    from drawing import ndjson_batch
    from pipeline import chunk_parser

    class_bytes = {c.encode(): i for c, i in classes.items()}
    for i in range(0, len(lines), chunk_parser.CHUNK):
        columns = ndjson_batch.parse_columns(lines[i : i + chunk_parser.CHUNK], classes)
        if len(columns.index) < len(lines[i : i + chunk_parser.CHUNK]):
            raise SystemExit("the bench's input must be in the dataset's layout")
        _serialize(columns, class_bytes)


def core_binary(files: list[tuple[str, bytes]], classes: dict[str, int]) -> None:
    """The same path from `.bin` bytes, as pipeline.bin_reader and the encoder do."""
    from drawing import binary, binary_batch
    from pipeline import chunk_parser

    class_bytes = {c.encode(): i for c, i in classes.items()}
    drawings, words = [], []  # every file's drawings, as a work unit's reader gives
    for word, data in files:
        starts, stop, _ = binary.scan(data)
        ends = [*starts[1:], stop]
        drawings += [data[s:e] for s, e in zip(starts, ends, strict=True)]
        words += [word] * len(starts)
    for i in range(0, len(drawings), chunk_parser.CHUNK):
        columns = binary_batch.parse_columns(
            drawings[i : i + chunk_parser.CHUNK],
            words[i : i + chunk_parser.CHUNK],
            classes,
        )
        if len(columns.index) < len(drawings[i : i + chunk_parser.CHUNK]):
            raise SystemExit("the bench's binary input must be all valid drawings")
        _serialize(columns, class_bytes)


def as_binary(lines: list[bytes]) -> list[tuple[str, bytes]]:
    """The lines as one `<class>.bin` file's bytes per class (untimed)."""
    from tests.synthetic import from_record, pack

    per_class: dict[str, list[bytes]] = {}
    for line in lines:
        record = json.loads(line)
        packed = pack(from_record(record))
        per_class.setdefault(record["word"], []).append(packed)
    return [(word, b"".join(parts)) for word, parts in sorted(per_class.items())]


def core_baseline(lines: list[bytes], classes: dict[str, int]) -> None:
    """The same path as the tutorial writes it."""
    from tools.tutorial import tutorial_example, tutorial_parse_line

    for line in lines:
        ink, word = tutorial_parse_line(line)
        tutorial_example(ink, classes[word]).SerializeToString()


def measure_core(name: str, input_dir: Path, count: int) -> float:
    """Drawings per CPU-second of one core path, on a fixed shuffled subset."""
    lines = all_lines(input_dir)
    random.Random(0).shuffle(lines)
    lines = lines[:count]
    classes = {p.stem: i for i, p in enumerate(sorted(input_dir.glob("*.ndjson")))}
    # Import costs stay outside the timing: TensorFlow's (the baseline's
    # tf.train.Example) and the encoder's own.
    import tensorflow  # noqa: F401

    from pipeline import chunk_encoder  # noqa: F401

    fn = {"ours": core_ours, "baseline": core_baseline, "binary": core_binary}[name]
    data = as_binary(lines) if name == "binary" else lines
    gc.freeze()  # as EncodeStripeFn.setup does; the same for both sides
    start = time.process_time()
    fn(data, classes)
    return len(lines) / (time.process_time() - start)


def baseline_conversion(input_dir: Path, output_dir: Path) -> None:
    """The tutorial's conversion loop: one process, random shard per example."""
    import tensorflow as tf

    from tools.tutorial import tutorial_example, tutorial_parse_line

    output_dir.mkdir(parents=True, exist_ok=True)
    files = sorted(input_dir.glob("*.ndjson"))
    classes = {p.stem: i for i, p in enumerate(files)}
    writers = [
        tf.io.TFRecordWriter(str(output_dir / f"training.tfrecord-{i:05d}-of-00010"))
        for i in range(10)
    ]
    rng = random.Random(0)
    for path in files:
        with open(path, "rb") as f:
            for line in f:
                ink, word = tutorial_parse_line(line)
                example = tutorial_example(ink, classes[word])
                writers[rng.randrange(10)].write(example.SerializeToString())
    for w in writers:
        w.close()
