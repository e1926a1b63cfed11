"""May the CI event that started this job execute a rollback plan?

A plan's steps run with the deploy job's credentials, and a plan is built from
gate.yaml, which is part of the change under review: on a pull request (or a
merge request, or a fork) the plan and the scripts it calls (``./deploy.sh``)
are whatever the change says. So ``gate rollback --execute`` refuses to run on
an event that carries unreviewed code, unless ``--allow-untrusted-execute``
says otherwise (and then it warns loudly). Trusted is:

* GitHub Actions: an event that is not about a pull request (push,
  workflow_dispatch, schedule, release, deployment, ...) on the default branch
  or a protected ref; ``workflow_run`` only when the run that triggered it was
  not a pull request's, came from this repository, and ran on the default branch.
* GitLab CI: a pipeline that is not a merge request's, on the default branch or
  a protected ref.
* Anywhere else (a terminal, another CI): gate cannot tell, and trusts the
  person who typed ``--execute``.

Everything is read from the environment the platform sets (and GitHub's event
payload). Missing information counts against trust: fail closed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gate.ci import platform

GITHUB_UNTRUSTED_EVENTS = frozenset({
    "pull_request", "pull_request_target", "pull_request_review",
    "pull_request_review_comment", "merge_group", "issue_comment", "discussion",
    "discussion_comment", "fork", "issues",
})
GITLAB_UNTRUSTED_SOURCES = frozenset({"merge_request_event", "external_pull_request_event"})


@dataclass(frozen=True)
class Verdict:
    """Whether this job may execute a plan, and why (for the refusal or the warning)."""

    trusted: bool
    platform: str  # github, gitlab, local
    reason: str


def _github_event(env: Mapping[str, str]) -> dict[str, Any]:
    path = env.get("GITHUB_EVENT_PATH")
    if not path:
        return {}
    from gate.documents import load_file
    from gate.errors import DocumentError

    try:  # strict like every document: a duplicated key must not pick what is trusted
        event = load_file(Path(path), default="json")
    except DocumentError:
        return {}  # missing information counts against trust
    return event if isinstance(event, dict) else {}


def _get(doc: Any, *keys: str) -> Any:
    for key in keys:
        doc = doc.get(key) if isinstance(doc, dict) else None
    return doc


def _github(env: Mapping[str, str]) -> Verdict:
    name = env.get("GITHUB_EVENT_NAME", "")
    event = _github_event(env)

    def no(why: str) -> Verdict:
        return Verdict(False, "github", why)

    if not name:
        return no("GITHUB_EVENT_NAME is not set, so the event cannot be told")
    if name in GITHUB_UNTRUSTED_EVENTS:
        return no(f"a {name} event runs the change under review")
    if _get(event, "pull_request") is not None:
        return no(f"the {name} event is about a pull request")
    default = _get(event, "repository", "default_branch")
    if name == "workflow_run":
        run = _get(event, "workflow_run") or {}
        source, head = _get(run, "event"), _get(run, "head_branch")
        if source in GITHUB_UNTRUSTED_EVENTS or _get(run, "pull_requests"):
            return no(f"the workflow run that triggered this one ran on a {source} event")
        if _get(run, "head_repository", "full_name") != _get(event, "repository", "full_name"):
            return no("the workflow run that triggered this one ran on another repository "
                      "(a fork)")
        if not default or head != default:
            return no(f"the workflow run that triggered this one ran on '{head}', not on the "
                      "default branch")
        return Verdict(True, "github", f"workflow_run of a {source} on {head}")
    ref = env.get("GITHUB_REF", "")
    if env.get("GITHUB_REF_PROTECTED") == "true":
        return Verdict(True, "github", f"{name} on the protected ref {ref}")
    if default and ref == f"refs/heads/{default}":
        return Verdict(True, "github", f"{name} on the default branch {default}")
    return no(f"{ref or 'the ref'} is neither the default branch nor protected")


def _gitlab(env: Mapping[str, str]) -> Verdict:
    source = env.get("CI_PIPELINE_SOURCE", "")

    def no(why: str) -> Verdict:
        return Verdict(False, "gitlab", why)

    if source in GITLAB_UNTRUSTED_SOURCES or env.get("CI_MERGE_REQUEST_IID"):
        return no(f"a {source or 'merge request'} pipeline runs the change under review")
    if not source:
        return no("CI_PIPELINE_SOURCE is not set, so the pipeline cannot be told")
    ref = env.get("CI_COMMIT_REF_NAME", "")
    if env.get("CI_COMMIT_REF_PROTECTED") == "true":
        return Verdict(True, "gitlab", f"{source} pipeline on the protected ref {ref}")
    default = env.get("CI_DEFAULT_BRANCH")
    if default and env.get("CI_COMMIT_BRANCH") == default:
        return Verdict(True, "gitlab", f"{source} pipeline on the default branch {default}")
    return no(f"{ref or 'the ref'} is neither the default branch nor protected")


def judge(env: Mapping[str, str]) -> Verdict:
    """The verdict on the job this process runs in.

    A platform is recognised by its flag or by the variable that names the event
    (a runner that fakes one but not the other, like gitlab-ci-local, still counts).
    """
    where = platform(env, lenient=True)
    if where == "github":
        return _github(env)
    if where == "gitlab":
        return _gitlab(env)
    return Verdict(True, "local", "not in GitHub Actions or GitLab CI")


def warning(verdict: Verdict) -> list[str]:
    """The loud lines printed when an untrusted job executes anyway."""
    text = (f"executing a rollback plan on an untrusted event ({verdict.reason}), because "
            "--allow-untrusted-execute was given: the plan and the commands it runs come "
            "from code nobody has reviewed, with this job's credentials")
    lines = ["!" * 72, f"gate rollback: WARNING: {text}", "!" * 72]
    if verdict.platform == "github":
        lines.insert(0, f"::warning title=gate rollback on an untrusted event::{text}")
    return lines
