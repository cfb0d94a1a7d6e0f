"""Sharded corpora: a split manifest packed into webdataset-style tar shards, streamed per rank and worker.

    python -m avfmae.shards write --manifest split.tsv[@ROOT] --out DIR [--clips-per-shard N] [--workers W]
    python -m avfmae.shards bench --shards DIR --manifest split.tsv[@ROOT] [--workers W] [--limit N]

Layout (format.py), writing (write.py), streaming with exact resume (stream.py), throughput (bench.py).
"""
from .format import INDEX_NAME, ShardError, read_index, shard_name
from .stream import ShardDataset, decode_views, resume_point
from .write import write_shards

__all__ = ["INDEX_NAME", "ShardError", "read_index", "shard_name", "ShardDataset", "decode_views", "resume_point",
           "write_shards"]
