"""Files shipped inside the project's packages (YAML defaults, feature views, log4j settings) as paths on disk.

From a source tree or an installed wheel, a package's files lie beside its modules. Under
``spark-submit --py-files dist/sensorlake.zip`` the driver and the executors import the packages
from the zip, where ``open()`` cannot read them: the archive is then extracted once into a folder
of the temporary directory named by its content hash, and the path returned points there.

Example::

    DEFAULTS_FILE = packaged_path(__file__, "defaults.yaml")   # in sensorlake/config/__init__.py
"""
from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import zipfile
from pathlib import Path


def packaged_path(module_file: str, *parts: str) -> Path:
    """The file or folder ``parts`` beside the module ``module_file`` (its ``__file__``), readable on disk."""
    folder = Path(module_file).parent
    if folder.is_dir():
        return folder.joinpath(*parts)
    for archive in folder.parents:
        if archive.is_file() and zipfile.is_zipfile(archive):
            return extracted(archive) / folder.relative_to(archive) / Path(*parts)
    return folder.joinpath(*parts)


def extracted(archive: Path) -> Path:
    """``archive`` extracted into ``<tmp>/sensorlake-code-<sha256 prefix>`` (once per content; safe across processes)."""
    digest = hashlib.sha256(Path(archive).read_bytes()).hexdigest()[:16]
    target = Path(tempfile.gettempdir()) / f"sensorlake-code-{digest}"
    if target.is_dir():
        return target
    staging = Path(tempfile.mkdtemp(prefix=f"{target.name}.", dir=target.parent))
    with zipfile.ZipFile(archive) as zf:
        zf.extractall(staging)
    try:
        os.rename(staging, target)
    except OSError:   # another process extracted the same archive first
        shutil.rmtree(staging, ignore_errors=True)
    return target
