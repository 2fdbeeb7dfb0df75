"""What a step was seen to read and write, with a digest of each: made from the step process's
record (``kalec.runtime.observe``) after the step, checked again before its values are reused.

A read is kept as what the step could have learnt from it:

- ``files``: the content of a file it opened, or only stat'ed (a reader in native code, such as
  ``read_parquet``, looks at the file first), as it was when the step first looked; ``None``
  for a file that was not there;
- ``kinds``: whether a path existed and was a file or a folder, where that is all it asked
  (``os.path.exists``, ``os.remove``, ``isdir``);
- ``listings``: the names in a folder it listed;
- ``env``: environment variables it read (a digest of each value), or the whole environment;
- ``packages``: the version of each installed distribution whose modules it imported, and
  ``code``: the files of modules that are not an installed distribution's (beside the notebook,
  through ``sys.path.insert``, an editable install);
- ``named``: paths the step's code names (``pd.read_csv('data/x.csv')``, ``DATA = 'x.csv'``),
  as they were before it ran: a reader in native code may read them unobserved. A named path the
  step was seen to create, write first or only append to is its product, not its input.

Writes are the final state of every path it wrote, created or removed, which a hit puts back.

Paths inside the notebook's folder are kept relative to it. A read whose file changed while the
step ran (between the step's look and the end of the step, and not by the step's own write)
means the values may come from newer data than the entry would claim: such a step is not
stored (``Unstable``).
"""

from __future__ import annotations

import contextlib
import functools
import os
import sysconfig
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kalec.local.memory.digests import DigestMemo
from kalec.packaging import installed
from kalec.runtime.observe import (
    environment_digest,
    environment_digests,
    listing_digest,
    stat_of,
)
from kalec.runtime.protocol import Observation, PathSeen


class Unstable(Exception):
    """Something the step read changed while it ran: its values are not stored."""


class Unseen(Unstable):
    """The step reached files through a channel kalec could not observe (a child process or
    native code where the system offers no observer): its values are not stored, unless the
    step is tagged ``cache:enabled``."""


def unseen_reason(observed: Observation, origin: Any = None) -> str | None:
    """Why a step's record cannot vouch for it, in words; None when it can. ``origin``: how to
    name a cell number (the notebook's own numbering in a composition)."""
    if not observed.unseen:
        return None
    first = observed.unseen[0]
    cell = first.cell
    where = f" in {origin(cell) if origin else f'cell {cell}'}" if cell else ""
    return (
        f"kalec cannot see what {first.detail} ({first.kind}{where}) reads or writes: {first.why}"
    )


@dataclass
class Manifest:
    """What a step was seen to read while it ran, each with the digest it had then."""

    files: dict[str, str | None] = field(default_factory=dict)
    kinds: dict[str, str] = field(default_factory=dict)
    listings: dict[str, str | None] = field(default_factory=dict)
    env: dict[str, str | None] = field(default_factory=dict)
    env_all: str | None = None
    packages: dict[str, str | None] = field(default_factory=dict)
    code: dict[str, str | None] = field(default_factory=dict)
    named: dict[str, str | None] = field(default_factory=dict)
    writes: dict[str, dict[str, Any]] = field(default_factory=dict)

    def reads(self) -> dict[str, Any]:
        return {
            "files": self.files,
            "kinds": self.kinds,
            "listings": self.listings,
            "env": self.env,
            "env_all": self.env_all,
            "packages": self.packages,
            "code": self.code,
            "named": self.named,
        }

    def as_json(self) -> dict[str, Any]:
        return {"reads": self.reads(), "writes": self.writes}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Manifest:
        reads = data.get("reads") or {}
        return cls(
            files=dict(reads.get("files") or {}),
            kinds=dict(reads.get("kinds") or {}),
            listings=dict(reads.get("listings") or {}),
            env=dict(reads.get("env") or {}),
            env_all=reads.get("env_all"),
            packages=dict(reads.get("packages") or {}),
            code=dict(reads.get("code") or {}),
            named=dict(reads.get("named") or {}),
            writes=dict(data.get("writes") or {}),
        )

    def object_digests(self) -> list[str]:
        """The stored copies of the files it wrote."""
        return [w["digest"] for w in self.writes.values() if "digest" in w]


@functools.cache
def _installation_folders() -> tuple[str, ...]:
    folders = []
    for name in ("stdlib", "platstdlib", "purelib", "platlib"):
        with contextlib.suppress(KeyError):
            folders.append(sysconfig.get_paths()[name])
    with contextlib.suppress(Exception):
        import site

        folders += [*site.getsitepackages(), site.getusersitepackages()]
    return tuple(os.path.normpath(f) + os.sep for f in folders if f)


@functools.cache
def _stdlib_folders() -> tuple[str, ...]:
    paths = sysconfig.get_paths()
    return tuple(
        os.path.normpath(paths[n]) + os.sep for n in ("stdlib", "platstdlib") if n in paths
    )


class Places:
    """Paths as a manifest keeps them: relative inside the notebook's folder; and the
    environment the steps working there are given."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = str(workdir)
        self.prefix = self.workdir.rstrip(os.sep) + os.sep
        self._environment: dict[str, str] | None = None

    def environment(self) -> dict[str, str]:
        """What a step is given of the environment, as digests (``environment_digests``)."""
        if self._environment is None:
            from kalec.local.processes import step_environment

            self._environment = environment_digests(step_environment(Path(self.workdir)))
        return self._environment

    def kept(self, path: str) -> str:
        return path[len(self.prefix) :] if path.startswith(self.prefix) else path

    def real(self, kept: str) -> str:
        return kept if os.path.isabs(kept) else os.path.join(self.workdir, kept)


def _changed(then: list[Any] | None, now: list[Any] | None) -> bool:
    return (then is None) != (now is None) or (then is not None and then != now)


def resolve(
    observed: Observation,
    places: Places,
    memo: DigestMemo,
    native_writes: set[str],
    named: dict[str, str | None],
) -> Manifest:
    """The manifest of a step that succeeded, from its record; ``native_writes``: absolute
    paths its code writes through a literal path (perhaps in native code, which is not
    observed); ``named``: the paths its code names (relative to the notebook's folder, or
    absolute) with their content before it ran. Raises ``Unstable`` naming what changed while
    it ran."""
    manifest = Manifest()
    _resolve_named(manifest, named, observed, places, memo, native_writes)
    for path, seen in observed.paths.items():
        kept = places.kept(path)
        if not seen.created:
            _resolve_read(manifest, path, kept, seen, memo, native_writes, observed)
        if seen.written:
            manifest.writes[kept] = _final_state(path, memo)
    for path in sorted(native_writes):
        kept = places.kept(path)
        if kept not in manifest.writes and os.path.isfile(path):
            manifest.writes[kept] = _final_state(path, memo)
    manifest.env = dict(observed.env)
    manifest.env_all = observed.env_all
    _resolve_modules(manifest, observed.modules, places, memo)
    return manifest


def _resolve_named(
    manifest: Manifest,
    named: dict[str, str | None],
    observed: Observation,
    places: Places,
    memo: DigestMemo,
    native_writes: set[str],
) -> None:
    """Named paths still as they were before the step, except its own products."""
    for path, before in named.items():
        real = os.path.normpath(places.real(os.path.expanduser(path)))
        seen = observed.paths.get(real) or PathSeen()
        if seen.created or real in native_writes:
            continue  # made, written first or appended to by the step: not an input
        if seen.written and not seen.prior_seen:
            continue
        try:
            now = memo.path(Path(real))
        except OSError:
            now = "unreadable"
        except Exception:  # a folder grown past the limit while it ran
            now = "too large"
        if now != before and not seen.written:
            raise Unstable(f"{path} changed while the step ran")
        manifest.named[path] = before


def _resolve_read(
    manifest: Manifest,
    path: str,
    kept: str,
    seen: PathSeen,
    memo: DigestMemo,
    native_writes: set[str],
    observed: Observation,
) -> None:
    first = seen.stat
    kind = first[4] if first else "missing"
    content = "read" in seen.uses or ("stat" in seen.uses and kind == "file")
    if seen.prior_seen:  # the step changed it: its content was hashed before the change
        if _changed(first, seen.before_write):
            raise Unstable(f"{kept} changed while the step ran")
        if content:
            manifest.files[kept] = seen.prior
        else:
            manifest.kinds[kept] = kind
        return
    if seen.written or path in native_writes:
        manifest.kinds[kept] = kind  # what it looked for before making it
        return
    now = stat_of(path)
    if kind == "dir":
        manifest.kinds[kept] = "dir"
        if "list" in seen.uses:
            inside = path.rstrip(os.sep) + os.sep
            wrote_inside = any(
                p.startswith(inside) and (other.written or other.created)
                for p, other in observed.paths.items()
            )
            if not wrote_inside and listing_digest(path) != seen.listing:
                raise Unstable(f"the files in {kept} changed while the step ran")
            manifest.listings[kept] = seen.listing
        return
    if _changed(first, now):
        what = "appeared" if first is None else "changed"
        raise Unstable(
            f"{kept} {what} while the step ran (written by another program, or by code of the "
            "step kalec cannot observe)"
        )
    if kind == "missing":
        manifest.files[kept] = None
    elif kind == "file" and content:
        manifest.files[kept] = memo.file(path)
    else:
        manifest.kinds[kept] = kind


def _final_state(path: str, memo: DigestMemo) -> dict[str, Any]:
    try:
        if os.path.isdir(path):
            return {"dir": True}
        return {"digest": memo.file(path), "size": os.path.getsize(path)}
    except FileNotFoundError:
        return {"gone": True}


def _resolve_modules(
    manifest: Manifest, modules: list[tuple[str, str]], places: Places, memo: DigestMemo
) -> None:
    installation, stdlib = _installation_folders(), _stdlib_folders()
    for name, file in modules:
        if file.startswith(stdlib):
            continue
        top = name.partition(".")[0]
        if file.startswith(installation):
            if top not in manifest.packages:
                found = installed.providing(top)
                if found is not None:
                    manifest.packages[top] = found.version
                    continue
            else:
                continue
        source = file[:-1] if file.endswith(".pyc") and os.path.isfile(file[:-1]) else file
        with contextlib.suppress(OSError):
            manifest.code[places.kept(source)] = memo.file(source)


def mismatch(manifest: Manifest, places: Places, memo: DigestMemo) -> str | None:
    """What no longer holds of the manifest's reads, in words; None when all do."""
    for kept, digest in manifest.files.items():
        now = _content(places.real(kept), memo)
        if now != digest:
            if digest is None:
                return f"{kept} appeared, read at run time"
            return f"{kept} {'is gone' if now is None else 'changed'}, read at run time"
    for kept, kind in manifest.kinds.items():
        status = stat_of(places.real(kept))
        now = status[4] if status else "missing"
        if now != kind:
            happened = (
                "appeared" if kind == "missing" else "is gone" if now == "missing" else "changed"
            )
            return f"{kept} {happened}, looked at run time"
    for kept, listing in manifest.listings.items():
        if listing_digest(places.real(kept)) != listing:
            return f"the files in {kept} changed, listed at run time"
    if manifest.env or manifest.env_all is not None:
        given = places.environment()
        for name, digest in manifest.env.items():
            if given.get(name) != digest:
                return f"environment variable {name} changed"
        if manifest.env_all is not None and environment_digest(given) != manifest.env_all:
            return "the environment changed (the step read all of it)"
    for top, version in manifest.packages.items():
        found = installed.providing(top)
        now = found.version if found else None
        if now != version:
            return f"package {top} changed ({version} -> {now or 'not installed'})"
    for kept, digest in manifest.code.items():
        if _content(places.real(kept), memo) != digest:
            return f"module file {kept} changed"
    for path, digest in manifest.named.items():
        try:
            now = memo.path(Path(places.real(os.path.expanduser(path))))
        except Exception:
            now = "unreadable"
        if now != digest:
            what = "appeared" if digest is None else "is gone" if now is None else "changed"
            return f"{path} {what}"
    return None


def _content(path: str, memo: DigestMemo) -> str | None:
    try:
        return memo.file(path)
    except FileNotFoundError:
        return None
    except OSError:
        return "unreadable"
