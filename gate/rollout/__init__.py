"""Staged rollout: judge a canary stage from monitoring data (promote, hold, rollback).

``judge`` is pure; ``stats`` holds the tests; ``monitoring`` reads samples;
``state`` keeps the sequential tests between polls; ``runner`` is one poll
(``gate.commands.rollout`` is the CLI around it).
"""
