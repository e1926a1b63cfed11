"""Governance: what judges a change comes from where the change cannot write.

``trusted`` finds the trusted policies, data, waivers and sign-off rules for a
bundle (a git ref, or a policy bundle pinned by sha256); ``signoff`` verifies
that a waiver carries the signatures the trusted rules require.
"""
