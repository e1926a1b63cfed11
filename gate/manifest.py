"""gate.yaml -> a frozen, schema-checked Manifest whose paths are confined to its folder."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gate.documents import InputFiles
from gate.errors import DocumentError, GateError, ManifestError
from gate.schemas import validate

DEFAULT_NAMES = ("gate.yaml", "gate.yml")


@dataclass(frozen=True)
class Manifest:
    """The release manifest: what the bundle holds and how to judge it."""

    path: Path
    files: InputFiles = field(compare=False, repr=False)
    raw: dict[str, Any] = field(compare=False, repr=False)

    @staticmethod
    def _optional(value: Any) -> str | None:
        return None if value is None else str(value)

    @property
    def root(self) -> Path:
        """The bundle folder every relative path starts from."""
        return self.files.root

    @property
    def model_name(self) -> str:
        return str(self.raw["model"]["name"])

    @property
    def model_version(self) -> str:
        return str(self.raw["model"]["version"])

    @property
    def artifacts(self) -> list[str]:
        return list(self.raw["model"].get("artifacts", []))

    @property
    def card(self) -> str | None:
        return self._optional(self.raw["model"].get("card"))

    @property
    def lineage(self) -> str | None:
        """The lineage file or folder (``lineage:`` or ``lineage.path``)."""
        value = self.raw.get("lineage")
        return self._optional(value.get("path") if isinstance(value, dict) else value)

    @property
    def lineage_run(self) -> dict[str, str]:
        """Which run of an OpenLineage log to judge: ``run_id``, ``job``, ``parent`` if given."""
        value = self.raw.get("lineage")
        if not isinstance(value, dict):
            return {}
        return {k: str(value[k]) for k in ("run_id", "job", "parent") if k in value}

    @property
    def report(self) -> str | None:
        return self._optional(self.raw.get("evaluation", {}).get("report"))

    @property
    def baseline(self) -> str | None:
        return self._optional(self.raw.get("evaluation", {}).get("baseline"))

    @property
    def validations(self) -> list[dict[str, Any]]:
        return list(self.raw.get("validations", []))

    @property
    def drift(self) -> list[dict[str, Any]]:
        """``drift:``: the data drift checks (reference against current data)."""
        return list(self.raw.get("drift", []))

    @property
    def recalibration(self) -> dict[str, Any]:
        """``recalibration:``: the steps `gate drift` plans when the drift rules fail."""
        return dict(self.raw.get("recalibration", {}))

    @property
    def policies(self) -> list[str]:
        return list(self.raw.get("policies", ["policies/"]))

    @property
    def policies_explicit(self) -> bool:
        """Whether gate.yaml names its policies (the default folder may be absent)."""
        return "policies" in self.raw

    @property
    def engine(self) -> str | None:
        """``engine:``: the Rego engine this bundle pins (None: the best one installed)."""
        value = self.raw.get("engine")
        return str(value) if value is not None else None

    @property
    def library(self) -> bool | list[str]:
        """``library:``: the built-in packages it enables. ``true`` is every package but the
        opt-in ones (``gate.library.OPT_IN``, enabled by naming them), a list names some,
        false none."""
        value = self.raw.get("library", False)
        if isinstance(value, list):
            return list(value)
        if value:
            from gate.library import DEFAULT_PACKAGES

            return list(DEFAULT_PACKAGES)
        return False

    @property
    def data(self) -> list[str]:
        return list(self.raw.get("data", []))

    @property
    def exceptions(self) -> str | None:
        return self._optional(self.raw.get("exceptions"))

    @property
    def enforcement(self) -> dict[str, str]:
        return dict(self.raw.get("enforcement", {}))

    @property
    def rollout(self) -> dict[str, Any] | None:
        return self.raw.get("rollout")

    @property
    def rollback(self) -> dict[str, Any]:
        return dict(self.raw.get("rollback", {}))


def manifest_in(folder: Path) -> Path | None:
    """The manifest a bundle folder holds (gate.yaml, else its other accepted names)."""
    for name in DEFAULT_NAMES:
        if (folder / name).is_file():
            return folder / name
    return None


def find_manifest(config: str | None, cwd: Path | None = None) -> Path:
    """The manifest path: ``--config`` if given, else gate.yaml in the working directory."""
    base = cwd or Path.cwd()
    if config:
        path = (base / config) if not Path(config).is_absolute() else Path(config)
        if path.is_dir():
            found = manifest_in(path)
            if found is None:
                raise ManifestError(f"no gate.yaml in the folder {config}", path=config)
            return found
        if not path.exists():
            raise ManifestError("manifest not found", path=config,
                                hint="pass --config PATH, or run `gate init` to create one")
        return path
    found = manifest_in(base)
    if found is not None:
        return found
    raise ManifestError(
        "no gate.yaml in the working directory",
        path="gate.yaml",
        hint="run gate in the bundle's folder, pass --config PATH, or run `gate init`",
    )


def load_manifest(path: Path) -> Manifest:
    """Read and validate gate.yaml; paths in it are later resolved inside its folder."""
    files = InputFiles(path.parent)
    shown = path.name
    try:
        raw = files.load_path(path.resolve(), "manifest")
    except DocumentError as e:
        raise ManifestError(e.message, path=shown, line=e.line, col=e.col,
                            pointer=e.pointer) from e
    except GateError as e:
        raise ManifestError(e.message, path=shown) from e
    if raw is None:
        raise ManifestError("the manifest is empty", path=shown,
                            hint="start from `gate init`, or see `gate schema manifest`")
    validate(raw, "manifest", path=shown, what="the manifest", error=ManifestError)
    return Manifest(path=path, files=files, raw=raw)
