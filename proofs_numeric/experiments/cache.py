"""One run cache for every experiment: JSON files keyed by configuration AND code version.

A cache entry is ``DIR/<key>.json`` holding ``{"key": material, "payload": run}``, where ``material`` is the
run's configuration plus the experiment name, the experiment's ``CACHE_VERSION`` (an integer each experiment
bumps when its training code or its recorded fields change) and the installed package version, and
``key = sha256(json(material, sorted keys))[:20]``. So a code-version change (either number) gives new keys and
the old entries are never read.

Writes are atomic: the JSON goes to ``<key>.tmp<pid>`` and is renamed over ``<key>.json`` (``os.replace``), so an
interrupted run leaves no entry and two processes never see half a file. Reading an entry that is not JSON,
whose stored ``key`` differs from the expected material, or whose payload the caller's ``validate`` rejects,
emits a ``CacheWarning`` naming the file and returns None: the caller recomputes and overwrites it.

``hits`` and ``misses`` count what this cache object served; experiments report them (``summary_line``), so the
report says which results were reused.
"""
from __future__ import annotations

import hashlib
import json
import os
import warnings
from importlib import metadata
from pathlib import Path
from typing import Callable


class CacheWarning(UserWarning):
    """A cache entry could not be used (corrupt or wrong content); it is recomputed."""


def package_version() -> str:
    try:
        return metadata.version("kktcheck")
    except metadata.PackageNotFoundError:  # running from a source tree without installing
        return "unknown"


class RunCache:
    """The cache of one experiment in ``directory`` (created on first write)."""

    def __init__(self, directory, experiment: str, version: int):
        self.dir = Path(directory)
        self.experiment = str(experiment)
        self.version = int(version)
        self.hits = 0
        self.misses = 0

    def material(self, cfg: dict) -> dict:
        """What the key hashes: the configuration, experiment name, CACHE_VERSION and package version."""
        return dict(cfg, _experiment=self.experiment, _cache_version=self.version, _package=package_version())

    def key(self, cfg: dict) -> str:
        return hashlib.sha256(json.dumps(self.material(cfg), sort_keys=True).encode()).hexdigest()[:20]

    def path(self, cfg: dict) -> Path:
        return self.dir / f"{self.key(cfg)}.json"

    def load(self, cfg: dict, validate: Callable | None = None):
        """The stored payload for ``cfg``, or None (missing, or unusable: then a CacheWarning). ``validate(payload)``
        may raise (any exception) to reject a payload of the wrong shape."""
        path = self.path(cfg)
        if not path.is_file():
            self.misses += 1
            return None
        try:
            entry = json.loads(path.read_text())
            if not isinstance(entry, dict) or "payload" not in entry:
                raise ValueError("not a cache entry (no 'payload')")
            if entry.get("key") != json.loads(json.dumps(self.material(cfg))):
                raise ValueError("stored configuration differs from the requested one")
            if validate is not None:
                validate(entry["payload"])
        except Exception as exc:  # noqa: BLE001 - any unusable entry is recomputed, loudly
            warnings.warn(f"cache entry {path} is unusable ({type(exc).__name__}: {exc}); recomputing it",
                          CacheWarning, stacklevel=2)
            self.misses += 1
            return None
        self.hits += 1
        return entry["payload"]

    def save(self, cfg: dict, payload) -> Path:
        """Write ``payload`` for ``cfg`` atomically (temporary file, then rename)."""
        path = self.path(cfg)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".tmp{os.getpid()}")
        tmp.write_text(json.dumps({"key": self.material(cfg), "payload": payload}))
        os.replace(tmp, path)
        return path

    def summary_line(self) -> str:
        """E.g. "12 of 12 runs reused from the cache (DIR), 0 trained"."""
        total = self.hits + self.misses
        return f"{self.hits} of {total} runs reused from the cache ({self.dir}), {self.misses} trained"


__all__ = ["RunCache", "CacheWarning", "package_version"]
