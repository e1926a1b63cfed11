"""`gate signoff` and `gate trust`: help people sign waivers, and pin trusted bundles.

`gate signoff --rule ID --role ROLE --signer EMAIL` prints the exact bytes to
sign for the waiver of ID in the bundle's exceptions file, for this model
version, and the `ssh-keygen -Y sign` line; with `--key` it runs it and prints
the `signatures:` entry to paste under the waiver.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from datetime import datetime, timezone
from pathlib import Path

import click

from gate.commands.common import debug_option
from gate.errors import ManifestError, UsageError
from gate.governance.signoff import NAMESPACE, payload, sign_command
from gate.governance.trusted import tree_digest
from gate.manifest import find_manifest, load_manifest


@click.command()
@click.option("-c", "--config", metavar="PATH", help="The manifest (default: ./gate.yaml).")
@click.option("--rule", required=True, metavar="ID",
              help="The waiver to sign: its `rule` in the exceptions file.")
@click.option("--role", required=True, metavar="ROLE", help="The role you sign in.")
@click.option("--signer", required=True, metavar="PRINCIPAL",
              help="Your principal in the trusted allowed_signers file (an e-mail address).")
@click.option("--key", metavar="PATH",
              help="Sign with this SSH private key (ssh-keygen -Y sign); without it, print "
              "the payload and the command.")
@click.option("--date", "signed_at", metavar="YYYY-MM-DD",
              help="The day of signing (default: today, UTC).")
@debug_option
def signoff(config: str | None, rule: str, role: str, signer: str, key: str | None,
            signed_at: str | None) -> None:
    """Sign a waiver of exceptions.yaml for this model version, as a role."""
    manifest = load_manifest(find_manifest(config, Path.cwd()))
    if not manifest.exceptions:
        raise ManifestError("gate.yaml names no exceptions file", path=manifest.path.name)
    from gate.waivers import load_waivers

    entries = [e for e in load_waivers(manifest) if e.rule == rule]
    if not entries:
        raise UsageError(f"no waiver of '{rule}' in {manifest.exceptions}",
                         hint="sign the waiver exactly as written under `rule:`")
    entry = entries[0]
    day = signed_at or datetime.now(timezone.utc).date().isoformat()
    data = payload(rule=entry.rule, reason=entry.reason, ticket=entry.ticket,
                   expires=entry.expires.isoformat() if entry.expires else None,
                   model=manifest.model_name, version=manifest.model_version, role=role,
                   signed_at=day)
    if key is None:
        click.echo("# the payload (one line, with a final newline):")
        click.echo(data.decode("utf-8"), nl=False)
        click.echo("# save it to waiver.json, then:")
        click.echo(sign_command("waiver.json"))
        return
    program = shutil.which("ssh-keygen")
    if program is None:
        raise UsageError("ssh-keygen is not installed", hint="install OpenSSH's client")
    with tempfile.TemporaryDirectory(prefix="gate-sign-") as tmp:
        file = Path(tmp) / "waiver.json"
        file.write_bytes(data)
        proc = subprocess.run([program, "-Y", "sign", "-f", key, "-n", NAMESPACE, str(file)],
                              capture_output=True, text=True, timeout=120, check=False)
        if proc.returncode != 0:
            raise UsageError(f"ssh-keygen could not sign: {proc.stderr.strip()}")
        armored = (Path(tmp) / "waiver.json.sig").read_text()
    click.echo(f"# paste under the waiver of {rule} in {manifest.exceptions}:")
    click.echo("signatures:")
    click.echo(f"  - role: {role}\n    signer: {signer}\n    signed_at: \"{day}\"")
    click.echo("    signature: |")
    for line in armored.strip().splitlines():
        click.echo(f"      {line}")


@click.group()
def trust() -> None:
    """Pin trusted policy bundles."""


@trust.command()
@click.argument("folder", type=click.Path(exists=True, file_okay=False, path_type=Path))
@debug_option
def digest(folder: Path) -> None:
    """Print the sha256 that --trusted-sha256 pins for a policy bundle FOLDER."""
    click.echo(tree_digest(folder))
