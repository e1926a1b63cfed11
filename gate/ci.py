"""Which CI we run in, from the environment alone -> ``input.ci``."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any


def _pull_request_github(env: Mapping[str, str]) -> int | None:
    """The PR number from the event payload GitHub writes to GITHUB_EVENT_PATH."""
    path = env.get("GITHUB_EVENT_PATH")
    if not path:
        return None
    from gate.documents import load_file
    from gate.errors import DocumentError

    try:  # strict like every document: a duplicated "number" must not pick a PR
        event = load_file(Path(path), default="json")
    except DocumentError:
        return None  # the payload is a nicety; the gate does not depend on it
    pr = event.get("pull_request") if isinstance(event, dict) else None
    number = pr.get("number") if isinstance(pr, dict) else None
    return number if isinstance(number, int) else None


def detect(env: Mapping[str, str]) -> dict[str, Any]:
    """``input.ci``: platform (github, gitlab, local), repository, ref, sha, actor, event, PR."""
    if env.get("GITHUB_ACTIONS") == "true":
        return {
            "platform": "github",
            "repository": env.get("GITHUB_REPOSITORY"),
            "ref": env.get("GITHUB_HEAD_REF") or env.get("GITHUB_REF"),
            "sha": env.get("GITHUB_SHA"),
            "actor": env.get("GITHUB_ACTOR"),
            "event": env.get("GITHUB_EVENT_NAME"),
            "pull_request": _pull_request_github(env),
        }
    if env.get("GITLAB_CI") == "true":
        iid = env.get("CI_MERGE_REQUEST_IID")
        return {
            "platform": "gitlab",
            "repository": env.get("CI_PROJECT_PATH"),
            "ref": env.get("CI_MERGE_REQUEST_SOURCE_BRANCH_NAME") or env.get("CI_COMMIT_REF_NAME"),
            "sha": env.get("CI_COMMIT_SHA"),
            "actor": env.get("GITLAB_USER_LOGIN"),
            "event": env.get("CI_PIPELINE_SOURCE"),
            "pull_request": int(iid) if iid and iid.isdigit() else None,
        }
    return {
        "platform": "local",
        "repository": None,
        "ref": None,
        "sha": None,
        "actor": env.get("USER") or env.get("USERNAME"),
        "event": None,
        "pull_request": None,
    }
