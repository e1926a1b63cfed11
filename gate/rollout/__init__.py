"""Staged rollout: judge a canary stage from monitoring data (promote, hold, rollback).

``judge`` is pure; ``stats`` holds the tests; ``monitoring`` reads samples;
``state`` keeps the sequential tests between polls; ``command`` is the CLI.
"""
