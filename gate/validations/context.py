"""Importing Great Expectations quietly, and the one ephemeral GX context of a run.

The context lives in memory only: no ``gx/`` folder, no stores, no data docs,
so a run writes no files. Analytics are off (before import, through the
environment variable GX reads, and in the context's config), and progress
bars are off through GX's own ``ProgressBarsConfig`` (GX ignores TQDM_DISABLE).
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from gate.errors import ValidationError


@contextmanager
def quiet() -> Iterator[None]:
    """Library deprecation chatter (GX, pandas, pyspark) is not for gate's users."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", FutureWarning)
        warnings.simplefilter("ignore", PendingDeprecationWarning)
        # GX's advice to use a dialect-specific data source, for dialects it has no such source for
        warnings.filterwarnings("ignore", message="You are using a generic SQLDatasource")
        yield


def import_gx(manifest: str = "gate.yaml") -> Any:
    """The ``great_expectations`` module, imported with analytics off.

    ``manifest`` names the manifest in the error raised when GX cannot be imported.
    """
    os.environ["GX_ANALYTICS_ENABLED"] = "false"
    try:
        with quiet():
            import great_expectations
    except ImportError as e:
        raise ValidationError(
            f"the manifest has validations, but Great Expectations cannot be imported: {e}",
            path=manifest, pointer="$.validations",
            hint='install the extra: pip install "gate-release[gx]"',
        ) from e
    except SystemExit as e:
        # pyspark's Spark Connect module calls sys.exit(0) on import when Python
        # runs code from `python -c` without grpc installed; GX imports it when
        # pyspark is installed. Exit 0 would be a pass, so fail closed instead.
        raise ValidationError(
            "importing Great Expectations tried to end the process "
            f"(exit status {e.code}; pyspark's Spark Connect import check)",
            path=manifest, pointer="$.validations",
            hint="run gate as a command or a script rather than `python -c`, or install "
                 "pyspark's connect extras (pip install 'pyspark[connect]')",
        ) from e
    return great_expectations


def ephemeral_context(manifest: str = "gate.yaml") -> Any:
    """A fresh in-memory GX context: no files, no analytics, no progress bars."""
    gx = import_gx(manifest)
    from great_expectations.data_context.types.base import (
        DataContextConfig,
        InMemoryStoreBackendDefaults,
        ProgressBarsConfig,
    )

    config = DataContextConfig(
        store_backend_defaults=InMemoryStoreBackendDefaults(init_temp_docs_sites=False),
        progress_bars=ProgressBarsConfig(globally=False),
        analytics_enabled=False,
    )
    with quiet():
        return gx.get_context(project_config=config, mode="ephemeral")
