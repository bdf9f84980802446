"""Partitions: one dynamic partition per crawl dump (a folder of the landing zone)."""

import dagster as dg

DUMP_PARTITIONS_NAME = "dump"

dump_partitions = dg.DynamicPartitionsDefinition(name=DUMP_PARTITIONS_NAME)
