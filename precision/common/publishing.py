"""Results folders: one protocol for every command that writes one (`publishing`). One config per folder and kind
(`<kind>.config.json`, another config refused; a refused run gives its claim back); the folder's lock
(`precision.common.locks`) while a run writes; the run's files written into a staging folder and published together
(one commit point: a journal), with a manifest that says which files a run of this tool wrote (the only ones a
later run may replace or remove); what a killed run left settled by the next one, in one line each.
"""
from __future__ import annotations

import json
import os
import shutil
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path

from precision.common.errors import InputError
from precision.common.files import regular_file, strict_json, write_json_atomic, write_text_atomic
from precision.common.locks import holding_lock, remove_dead_lockers_names

STAGING = ".staging-"  # `<out>/.staging-<pid>`: a run's files before they are published
JOURNAL = ".publishing.json"  # written before the renames of a publish, removed after: the commit point


def _saved_config(saved: Path) -> dict:
    try:
        old = json.loads(regular_file(saved, "out").read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise InputError("out", f"{saved} is not a config this program wrote ({e}); use another folder, or "
                         "remove this one") from None
    if not isinstance(old, dict):
        raise InputError("out", f"{saved} is not a config this program wrote (not a JSON object)")
    return old


def claim(out: Path, config: dict, write: bool = True, name: str = "config.json") -> bool:
    """Refuse `out` if it holds a run of another config (naming the keys that differ); else record `config`
    in `out/name`. True when this call wrote it (the folder was not claimed before): then `release` gives a
    refused run's claim back."""
    saved = Path(out) / name
    config = json.loads(strict_json(config))  # tuples read back as lists: compare what is saved
    if saved.exists() or saved.is_symlink():
        old = _saved_config(saved)
        if old != config:
            changed = sorted(k for k in set(old) | set(config) if old.get(k) != config.get(k))
            raise InputError("out", f"{out} holds results of another config (differs in: {', '.join(changed)}); "
                             "use the same config to continue it, another folder, or remove this one")
        return False
    if write:
        Path(out).mkdir(parents=True, exist_ok=True)
        write_text_atomic(saved, strict_json(config, indent=1))
        return True
    return False


def release(out: Path, config: dict, name: str = "config.json") -> bool:
    """Give back a claim: remove `out/name` if it holds exactly `config` (a run refused after it claimed the
    folder, so that the corrected command runs into the same folder). True if it was removed."""
    saved = Path(out) / name
    try:
        if json.loads(saved.read_text()) != json.loads(strict_json(config)):
            return False
    except (OSError, ValueError):
        return False
    saved.unlink(missing_ok=True)
    return True


@contextmanager
def claimed(out: Path, config: dict, write: bool = True, name: str = "config.json"):
    """`claim` for the duration of a block that may still refuse the run: if the block raises `InputError` and
    this call wrote the config, the claim is released (the folder is left as it was found, config-wise). Any
    other exception (a kill, Ctrl-C, a bug) keeps the claim, so that the same command resumes."""
    wrote = claim(out, config, write, name)
    try:
        yield wrote
    except InputError:
        if wrote:
            release(out, config, name)
        raise


def staging_folder(out: Path) -> Path:
    """A fresh, empty `out/.staging-<pid>` to write a run into before `publish` (the caller holds the lock)."""
    staging = Path(out) / f"{STAGING}{os.getpid()}"
    _remove(staging)
    staging.mkdir(parents=True)
    return staging


def _remove(path: Path) -> None:
    """Remove a folder of this tool's, or a link or file planted at its name (never what a link points to)."""
    if path.is_symlink() or path.is_file():
        path.unlink(missing_ok=True)
    else:
        shutil.rmtree(path, ignore_errors=True)


EXIT_AT = "SOFTMAX_SAT_TEST_EXIT_AT"  # tests only: a publish step at which the process dies (os._exit, no cleanup)


def _step(name: str) -> None:
    """A step of a publish: "staged" (before the journal), "committed" (journal written), "moved-K" (K files
    renamed), "removed" (old files removed); a test kills the process here by naming it in EXIT_AT."""
    if os.environ.get(EXIT_AT) == name:
        os._exit(70)


def publish(staging: Path, out: Path, outputs: tuple[str, ...] = ()) -> list[Path]:
    """Make a run's files (every file in `staging`) the folder's, as one set: a journal naming them is written
    first (the commit point), then the files are renamed over the old ones, then the outputs in `outputs` that
    this run did not write are removed, then the journal. A kill before the journal leaves the old set (the
    staging folder is removed by the next run); a kill after it is finished by the next run (`recover`), which
    leaves the new set. Returns the published paths."""
    staging, out = Path(staging), Path(out)
    names = sorted(p.name for p in staging.iterdir())
    journal = {"staging": staging.name, "move": names, "remove": sorted(set(outputs) - set(names))}
    _step("staged")
    write_text_atomic(out / JOURNAL, strict_json(journal, indent=1))
    _step("committed")
    _finish(out, journal)
    return [out / n for n in names]


def _finish(out: Path, journal: dict) -> None:
    """The renames of a committed publish: the old files first removed (while the old manifest, which authorizes
    their removal, is still in place), then the new ones moved in, manifests last (a run killed anywhere here is
    finished by the next one, which the manifests in place still authorize)."""
    staging = out / journal["staging"]
    for name in journal["remove"]:
        (out / name).unlink(missing_ok=True)
    _step("removed")
    moved = 0
    for name in sorted(journal["move"], key=lambda n: n.endswith(".manifest.json")):
        if (staging / name).exists() or (staging / name).is_symlink():
            os.replace(staging / name, out / name)
            moved += 1
            _step(f"moved-{moved}")
    _remove(staging)
    (out / JOURNAL).unlink(missing_ok=True)


def recover(out: Path) -> list[str]:
    """Settle what a killed run left in `out` (the caller holds its lock, so no other run is writing): finish a
    publish whose journal was written, then remove every other run's staging folder and temporary lock files.
    Returns what was done, one line each (empty when nothing was left)."""
    out = Path(out)
    done = []
    journal_path = out / JOURNAL
    if journal_path.exists() or journal_path.is_symlink():
        journal = _journal(out)
        if journal is not None:
            # a journal found in a folder is data: it removes only files a manifest there says a run published
            ours = published_names(out)
            journal["remove"] = [n for n in journal["remove"] if n in ours]
            try:
                _finish(out, journal)
            except OSError as e:
                raise InputError("out", f"cannot finish publishing an interrupted run in {out}: {e.strerror}: "
                                        f"{e.filename}; move that away and run again") from None
            done.append(f"finished publishing {len(journal['move'])} files of an interrupted run")
        else:
            journal_path.unlink(missing_ok=True)
            done.append(f"removed {JOURNAL}, which was not a journal of this tool's (nothing it names was moved)")
    mine = f"{STAGING}{os.getpid()}"
    for p in sorted(out.glob(f"{STAGING}*")):
        if p.name != mine:
            _remove(p)  # a link planted at such a name goes, never what it points to
            done.append(f"removed {p.name}, left by a killed run")
    remove_dead_lockers_names(out)
    return done


def _journal(out: Path) -> dict | None:
    """The journal of a publish in `out` if it is one this tool wrote, whose staging folder is a folder of `out`
    (not a link out of it); else None."""
    path = out / JOURNAL
    if path.is_symlink() or not path.is_file():
        return None
    try:
        journal = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    ok = isinstance(journal, dict) and isinstance(journal.get("staging"), str) \
        and journal["staging"].startswith(STAGING) and "/" not in journal["staging"] \
        and all(isinstance(journal.get(k), list) and all(isinstance(n, str) and "/" not in n
                and n not in ("", ".", "..") for n in journal[k]) for k in ("move", "remove"))
    if not ok:
        return None
    staging = out / journal["staging"]  # gone: a run killed after its last rename
    return journal if not staging.is_symlink() and (staging.is_dir() or not staging.exists()) else None


# --- what a run published: its manifest --------------------------------------------------------------------
def _manifest(kind: str) -> str:
    """The file that lists what the last `kind` run published here: the only files a later run may remove."""
    return f"{kind}.manifest.json"


def _manifest_names(path: Path) -> list[str]:
    """The names a manifest lists (none when it is not one this tool wrote)."""
    try:
        names = json.loads(path.read_text())
    except (OSError, ValueError):
        return []
    return [n for n in names if isinstance(n, str) and "/" not in n] if isinstance(names, list) else []


def published_names(folder: Path) -> set[str]:
    """The files a run of this tool published in `folder` (every manifest's list): results, never inputs."""
    return {n for m in Path(folder).glob("*.manifest.json") if m.is_file() for n in _manifest_names(m)}


def _ours(out: Path, kind: str, outputs: tuple[str, ...] = (), config_name: str | None = None) -> tuple[str, ...]:
    """The files a run of this tool published in `out`: its manifest's list; in a folder that holds this kind's
    config but no manifest (an older version's run, or one killed before it published), `outputs`."""
    path = out / _manifest(kind)
    if not path.is_file():
        return outputs if (out / (config_name or f"{kind}.config.json")).is_file() else ()
    try:
        names = json.loads(path.read_text())
    except (OSError, ValueError):
        raise InputError("out", f"{path} is not the manifest this tool writes (not JSON); remove it or choose "
                                  "another folder") from None
    if not isinstance(names, list) or not all(isinstance(n, str) and "/" not in n for n in names):
        raise InputError("out", f"{path} is not the manifest this tool writes (a list of file names)")
    return tuple(names)


def release_unpublished(out: Path, kind: str, outputs: tuple[str, ...], config_name: str | None = None) -> bool:
    """A `kind` run that claimed `out` and was killed before it published holds no results (no manifest, none of
    its outputs, which include what it writes straight into `out` to resume from): its claim is released, so that a
    run of another config may take the folder. Call under the lock. Whether a claim was released."""
    config = out / (config_name or f"{kind}.config.json")
    if not config.is_file() or (out / _manifest(kind)).exists() or any((out / n).exists() for n in outputs):
        return False
    config.unlink()
    return True


def refuse_foreign(out: Path, kind: str, outputs: tuple[str, ...], config_name: str | None = None) -> None:
    """A file this run would write that no run of this tool wrote (the user's own), or that is not a file (a
    folder at its name), is never overwritten: refused before any computing."""
    in_the_way = [n for n in outputs if (out / n).exists() and not (out / n).is_file()]
    if in_the_way:
        raise InputError("out", f"{out / in_the_way[0]} is a folder (or not a file), where this run writes a file; "
                                "move it, or choose another folder")
    ours = set(_ours(out, kind, outputs, config_name))
    foreign = [n for n in outputs if (out / n).exists() and n not in ours]
    if foreign:
        raise InputError("out", f"{out} already holds {', '.join(foreign)}, which no {kind} run of this tool "
                                  "wrote; choose another folder or move them")


def publish_run(staging: Path, out: Path, kind: str) -> None:
    """The run's files and its manifest become the folder's as one set; the last run's files that this one did
    not write go (only those: the manifest says which)."""
    names = sorted(p.name for p in staging.iterdir())
    write_json_atomic(staging / _manifest(kind), names + [_manifest(kind)])
    publish(staging, out, tuple(n for n in _ours(out, kind) if n not in names))


def locked(out: Path, say: Callable[[str], object] | None = None):
    """Hold `out`'s lock (`precision.common.locks`) for a `with` block, what a killed run left settled first
    (`recover`): `say` gets one line per thing done (default: stderr)."""
    say = say or _stderr

    def settle(folder: Path) -> None:
        for line in recover(folder):
            say(f"{folder}: {line}")
    return holding_lock(out, then=settle)


def _stderr(line: str) -> None:
    print(line, file=sys.stderr)


@contextmanager
def publishing(out: Path, kind: str, config: dict | None, outputs: tuple[str, ...], *, option: str = "out",
               config_name: str | None = None, work: tuple[str, ...] = (),
               say: Callable[[str], object] | None = None) -> Iterator[Path]:
    """The one protocol of a command that writes a results folder `out` (its option `option` named in every
    refusal): the lock taken, what a killed run left settled (one line each to `say`); files in the way of
    `outputs` refused (a folder, or a file no `kind` run wrote); a claim of a killed run that left nothing released;
    the folder claimed for `config` in `config_name` (default `<kind>.config.json`; None: no claim), another config
    refused; a fresh staging folder yielded, into which the run writes its `outputs`. When the block ends, they and
    the kind's manifest are published as one set (`publish_run`); when it raises, nothing is published, the staging
    folder goes, and a refusal (`InputError`) gives a claim it made back. `work`: what the run writes straight into
    `out` to resume from after a kill (records), which keeps a claim held."""
    say = say or _stderr
    out = Path(out)
    try:
        with locked(out, say), _published(out, kind, config, outputs, config_name, work, say) as staging:
            yield staging
    except InputError as e:
        if e.argument == "out" and option != "out":  # the folder's own refusals, under the option that named it
            raise InputError(option, e.message) from None
        raise


@contextmanager
def _published(out: Path, kind: str, config: dict | None, outputs: tuple[str, ...], config_name: str | None,
               work: tuple[str, ...], say: Callable[[str], object]) -> Iterator[Path]:
    """`publishing` once the lock is held."""
    name = config_name or f"{kind}.config.json"
    refuse_foreign(out, kind, outputs, name)
    if config is not None and release_unpublished(out, kind, outputs + work, name):
        say(f"{out}: a {kind} run killed before it published held no results; its claim is released")
    with claimed(out, config, name=name) if config is not None else nullcontext():
        staging = staging_folder(out)
        try:
            yield staging
            publish_run(staging, out, kind)
        finally:
            _remove(staging)
