"""Exports of a pin as token shards trainers read (Megatron's indexed dataset, datatrove's ``.ds`` files),
with a sidecar per shard mapping every token document back to its row, a held-out validation split, a
manifest (``export.json``) and a record in the lake: :func:`corpuslake.export.pin_export.export_pin`.

The tokenizer libraries are the service's: importing this package loads none of them.
"""
