"""Options that several commands share, defined once: policy selection and the engine."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import click

from gate.engines import CHOICES, EngineOptions
from gate.errors import UsageError

F = TypeVar("F", bound=Callable[..., Any])


def _apply(f: F, options: list[Callable[[F], F]]) -> F:
    for option in reversed(options):
        f = option(f)
    return f


def policy_options(f: F) -> F:
    """``--policy``, ``--data``, ``--namespace``."""
    return _apply(f, [
        click.option("-p", "--policy", "policies", multiple=True, metavar="PATH",
                     help="Rego file or folder; replaces the manifest's `policies:` "
                     "(repeatable)."),
        click.option("-d", "--data", "data", multiple=True, metavar="PATH",
                     help="JSON/YAML data document or folder, added to the manifest's `data:`."),
        click.option("-n", "--namespace", "namespaces", multiple=True, metavar="PKG",
                     help="Only evaluate this Rego package and those under it (repeatable)."),
    ])


def engine_options(f: F) -> F:
    """``--engine`` and the OPA server's options; ``engine_settings`` turns them into one value."""
    return _apply(f, [
        click.option("--engine", type=click.Choice(CHOICES), default=None,
                     help="The Rego engine (default: gate.yaml's `engine:`, else auto: OPA's "
                     "Go engine when installed, else regorus). differential runs both and "
                     "refuses any disagreement."),
        click.option("--eval-timeout", type=click.FloatRange(min=0),
                     default=EngineOptions.eval_timeout_s,
                     show_default=True, metavar="SECONDS",
                     help="Stop an in-process policy evaluation after this long (exit 2); "
                     "0: no limit."),
        click.option("--opa-url", metavar="URL", help="OPA server URL (with --engine opa)."),
        click.option("--opa-token-env", metavar="VAR",
                     help="Environment variable holding the OPA bearer token."),
        click.option("--opa-mode", type=click.Choice(["upload", "server"]), default="upload",
                     show_default=True, help="upload: send this run's policies; server: query "
                     "policies already on the server."),
        click.option("--opa-timeout", type=click.FloatRange(min=0, min_open=True), default=10.0,
                     show_default=True, metavar="SECONDS", help="Timeout of each call to OPA."),
        click.option("--opa-retries", type=click.IntRange(min=0), default=2, show_default=True,
                     metavar="N",
                     help="Retries of a call to OPA that fails to connect or gets a 5xx."),
    ])


def engine_settings(
    *,
    engine: str | None,
    opa_url: str | None,
    opa_token_env: str | None,
    opa_mode: str,
    opa_timeout: float,
    opa_retries: int,
    env: Mapping[str, str],
    eval_timeout: float = EngineOptions.eval_timeout_s,
) -> EngineOptions:
    """The EngineOptions the ``engine_options`` flags ask for; misuse is a UsageError."""
    if engine == "opa" and not opa_url:
        raise UsageError("--engine opa needs --opa-url", hint="pass the OPA server's base URL")
    token = None
    if opa_token_env:
        token = env.get(opa_token_env)
        if not token:
            raise UsageError(f"--opa-token-env {opa_token_env}: the variable is not set")
    return EngineOptions(opa_url=opa_url, opa_token=token, opa_mode=opa_mode,
                         timeout_s=opa_timeout, retries=opa_retries,
                         eval_timeout_s=eval_timeout)
