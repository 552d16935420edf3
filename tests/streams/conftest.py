"""Tests of the streams package; tests/streams/streams_harness.py holds shared helpers."""
