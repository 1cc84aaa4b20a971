"""Read an offline W&B run file (``run-<id>.wandb``) back: LevelDB-style log records of protobufs."""

import glob
import json
import os
import struct

_HEADER = 7  # ":W&B" + 2-byte magic + 1-byte version
_BLOCK = 32 * 1024
_FULL, _FIRST, _MIDDLE, _LAST = 1, 2, 3, 4


def _payloads(data):
    offset, pending = _HEADER, b""
    while offset + 7 <= len(data):
        left_in_block = _BLOCK - offset % _BLOCK
        if left_in_block < 7:
            offset += left_in_block
            continue
        length, kind = struct.unpack("<HB", data[offset + 4:offset + 7])
        chunk = data[offset + 7:offset + 7 + length]
        offset += 7 + length
        if kind == 0:
            continue
        pending = chunk if kind in (_FULL, _FIRST) else pending + chunk
        if kind in (_FULL, _LAST):
            yield pending


def records(path):
    from wandb.proto import wandb_internal_pb2

    with open(path, "rb") as f:
        data = f.read()
    for payload in _payloads(data):
        record = wandb_internal_pb2.Record()
        record.ParseFromString(payload)
        yield record


def run_files(folder):
    return sorted(glob.glob(os.path.join(folder, "wandb", "offline-run-*", "run-*.wandb")))


def history(path):
    """Every logged row: ``[{key: value}, ...]`` (``_step`` included)."""
    rows = []
    for record in records(path):
        if record.WhichOneof("record_type") == "history":
            rows.append({item.key or "/".join(item.nested_key): json.loads(item.value_json)
                         for item in record.history.item})
    return rows


def config(path):
    """The run's config: what ``wandb.init`` got plus later updates (W&B's ``_wandb`` entry dropped)."""
    found = {}
    for record in records(path):
        kind = record.WhichOneof("record_type")
        updates = record.run.config.update if kind == "run" else record.config.update if kind == "config" else []
        for item in updates:
            found[item.key or "/".join(item.nested_key)] = json.loads(item.value_json)
    found.pop("_wandb", None)
    return found


def kinds(path):
    return [record.WhichOneof("record_type") for record in records(path)]


def run_info(path):
    for record in records(path):
        if record.WhichOneof("record_type") == "run":
            return record.run
    return None
