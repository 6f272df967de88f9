#!/usr/bin/env python3
"""Reads a steady checkpoint with plain json + numpy (no safetensors package), as an independent
check of the file format: prints the metadata and each tensor's name, dtype, shape and a checksum,
and verifies that the data offsets tile the data section exactly.

    python3 tests/check_safetensors.py run.safetensors
"""
import json
import struct
import sys

import numpy as np


def read_safetensors(path):
    with open(path, "rb") as f:
        blob = f.read()
    if len(blob) < 8:
        raise ValueError(f"{path}: {len(blob)} bytes, too short for the header length")
    (n,) = struct.unpack("<Q", blob[:8])
    if 8 + n > len(blob):
        raise ValueError(f"{path}: header length {n} runs past the end ({len(blob)} bytes)")
    header = json.loads(blob[8 : 8 + n].decode("utf-8"))
    data = blob[8 + n :]
    metadata = header.pop("__metadata__", {})
    tensors = {}
    at = 0
    for name, entry in sorted(header.items(), key=lambda kv: kv[1]["data_offsets"][0]):
        begin, end = entry["data_offsets"]
        if begin != at:
            raise ValueError(f"{name}: starts at {begin}, previous tensor ended at {at}")
        if entry["dtype"] != "F32":
            raise ValueError(f"{name}: dtype {entry['dtype']}")
        count = int(np.prod(entry["shape"], dtype=np.int64))
        if end - begin != 4 * count:
            raise ValueError(f"{name}: {end - begin} bytes for shape {entry['shape']}")
        tensors[name] = np.frombuffer(data, dtype="<f4", count=count, offset=begin).reshape(
            entry["shape"])
        at = end
    if at != len(data):
        raise ValueError(f"tensors cover {at} bytes of a {len(data)}-byte data section")
    return n, metadata, tensors


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: check_safetensors.py CHECKPOINT")
    n, metadata, tensors = read_safetensors(sys.argv[1])
    print(f"header: {n} bytes (multiple of 8: {n % 8 == 0})")
    for key, value in metadata.items():
        print(f"metadata {key} = {value!r}")
    for name, t in tensors.items():
        print(f"{name:28s} f32{list(t.shape)}  sum={float(t.astype(np.float64).sum()):.6g}")
    print(f"{len(tensors)} tensors, {sum(t.size for t in tensors.values())} values: OK")


if __name__ == "__main__":
    main()
