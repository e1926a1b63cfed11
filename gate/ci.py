"""What gate knows about the CI platforms it runs on, from the environment alone.

The one home of GitHub Actions' and GitLab CI's variables: which platform this
is (:func:`platform`), ``input.ci`` (:func:`detect`), the checkout report paths
are relative to (:func:`repo_root`), and a link to a file of the commit under
test (:func:`blob_url`). How each platform's own files are written (GitHub's
workflow commands and $GITHUB_OUTPUT, GitLab's dotenv and code quality) is
the business of its report format (gate.reports.github, gate.reports.gitlab);
which events may execute a rollback, of gate.rollback.trust.
"""

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


def platform(env: Mapping[str, str], *, lenient: bool = False) -> str:
    """``github``, ``gitlab`` or ``local``, by the flag each platform sets.

    ``lenient`` also recognises a platform by the variable that names its event,
    for checks that must fail closed on a runner that sets one but not the other
    (gitlab-ci-local sets CI_PIPELINE_SOURCE without GITLAB_CI).
    """
    if env.get("GITHUB_ACTIONS") == "true" or (lenient and "GITHUB_EVENT_NAME" in env):
        return "github"
    if env.get("GITLAB_CI") == "true" or (lenient and "CI_PIPELINE_SOURCE" in env):
        return "gitlab"
    return "local"


def detect(env: Mapping[str, str]) -> dict[str, Any]:
    """``input.ci``: platform (github, gitlab, local), repository, ref, sha, actor, event, PR."""
    where = platform(env)
    if where == "github":
        return {
            "platform": "github",
            "repository": env.get("GITHUB_REPOSITORY"),
            "ref": env.get("GITHUB_HEAD_REF") or env.get("GITHUB_REF"),
            "sha": env.get("GITHUB_SHA"),
            "actor": env.get("GITHUB_ACTOR"),
            "event": env.get("GITHUB_EVENT_NAME"),
            "pull_request": _pull_request_github(env),
        }
    if where == "gitlab":
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


def repo_root(env: Mapping[str, str]) -> Path:
    """The folder CI paths are relative to: the checkout on GitHub and GitLab, else cwd.

    A checkout that does not contain the working directory is not where gate
    runs (a job copied elsewhere, as gitlab-ci-local's shell isolation does), so
    the working directory is used instead.
    """
    cwd = Path.cwd().resolve()
    for var in ("GITHUB_WORKSPACE", "CI_PROJECT_DIR"):
        if env.get(var):
            root = Path(env[var]).resolve()
            if root == cwd or root in cwd.parents:
                return root
    return cwd


def blob_url(env: Mapping[str, str], path: str, line: int | None = None) -> str | None:
    """A link to ``path`` (relative to the checkout) at the commit under test, or None."""
    anchor = f"#L{line}" if line else ""
    where = platform(env)
    if where == "github" and env.get("GITHUB_REPOSITORY") and env.get("GITHUB_SHA"):
        server = env.get("GITHUB_SERVER_URL", "https://github.com")
        return f"{server}/{env['GITHUB_REPOSITORY']}/blob/{env['GITHUB_SHA']}/{path}{anchor}"
    if where == "gitlab" and env.get("CI_PROJECT_URL") and env.get("CI_COMMIT_SHA"):
        return f"{env['CI_PROJECT_URL']}/-/blob/{env['CI_COMMIT_SHA']}/{path}{anchor}"
    return None
