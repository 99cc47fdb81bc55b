"""`buf breaking` of the working tree's protos against main: CI's compatibility gate.

Against what:
- on a branch other than main: the commit where it left main (`git merge-base HEAD main`), so
  fields main gained since do not read as fields this branch deleted;
- on main itself (a clean clone in CI, or after a merge): the previous commit;
- `--against REF` names the commit outright.
With no such commit (a single-commit clone) or no protos in it, it says so and passes.

The against tree is materialised from git (`git archive`) into a temporary folder, with the
Google API protos copied beside it: they are not in git (tools/gen_protos.py copies them from
googleapis-common-protos) but buf needs them to build either side. buf.yaml excludes them from
the comparison: they are not ours to keep compatible.
"""

from __future__ import annotations

import argparse
import io
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

THIRD_PARTY = Path("gen") / "third_party"


def _git(repo: Path, *args: str) -> str | None:
    """Return git's stripped output, or None when the command fails."""
    done = subprocess.run(  # noqa: S603
        ["git", "-C", str(repo), *args],  # noqa: S607 - git from PATH, as CI has it
        check=False,
        capture_output=True,
        text=True,
    )
    return done.stdout.strip() if done.returncode == 0 else None


def _main_ref(repo: Path) -> str | None:
    for ref in ("refs/heads/main", "refs/remotes/origin/main"):
        if _git(repo, "rev-parse", "--verify", "--quiet", ref):
            return ref
    return None


def choose_base(repo: Path) -> tuple[str | None, str]:
    """Return (commit to compare against, why) or (None, why not)."""
    head = _git(repo, "rev-parse", "HEAD")
    if head is None:
        return None, "no commit yet"
    main = _main_ref(repo)
    on_main = _git(repo, "symbolic-ref", "--short", "-q", "HEAD") == "main"
    if main is not None and not on_main:
        base = _git(repo, "merge-base", "HEAD", main)
        if base is not None:
            return base, f"where this branch left main ({base[:12]})"
    previous = _git(repo, "rev-parse", "--verify", "--quiet", "HEAD~1")
    if previous is None:
        return None, "HEAD is main's only commit: nothing earlier to compare against"
    return previous, f"the previous commit ({previous[:12]}), HEAD being main"


def materialise(repo: Path, commit: str, target: Path) -> bool:
    """Write the commit's buf.yaml and protos/ into `target`; return False if it has no protos."""
    archive = subprocess.run(  # noqa: S603
        ["git", "-C", str(repo), "archive", "--format=tar", commit, "buf.yaml", "protos"],  # noqa: S607
        check=False,
        capture_output=True,
    )
    if archive.returncode != 0:
        return False
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        tar.extractall(target, filter="data")
    shutil.copytree(repo / THIRD_PARTY, target / THIRD_PARTY)
    return True


def _buf() -> str:
    beside = Path(sys.executable).parent / "buf"
    found = str(beside) if beside.exists() else shutil.which("buf")
    if found is None:
        raise SystemExit("buf not found (./run.sh setup installs it into .venv)")
    return found


def _ensure_third_party(repo: Path) -> None:
    if (repo / THIRD_PARTY / "google" / "api").is_dir():
        return
    sys.path.insert(0, str(repo))
    from tools.gen_protos import _copy_third_party, _googleapis_root

    _copy_third_party(_googleapis_root())


def check(repo: Path, against: str | None = None) -> int:
    """Run the comparison; return buf's exit status (0 when compatible or skipped)."""
    if against is None:
        against, why = choose_base(repo)
        if against is None:
            print(f"buf breaking: skipped, {why}")
            return 0
    else:
        why = against
    _ensure_third_party(repo)
    with tempfile.TemporaryDirectory(prefix="buf-against-") as folder:
        if not materialise(repo, against, Path(folder)):
            print(f"buf breaking: skipped, {why} has no protos")
            return 0
        print(f"buf breaking: protos/ against {why}")
        done = subprocess.run(  # noqa: S603
            [_buf(), "breaking", ".", "--against", folder],
            check=False,
            cwd=repo,
        )
    if done.returncode != 0:
        print("buf breaking: incompatible change (see above); docs/CONTRACTS.md says what to do")
    return done.returncode


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--against", help="commit or ref to compare against")
    parser.add_argument("--repo", type=Path, default=Path.cwd())
    args = parser.parse_args()
    root = _git(args.repo, "rev-parse", "--show-toplevel")
    if root is None:
        raise SystemExit(f"{args.repo} is not a git checkout")
    return check(Path(root), args.against)


if __name__ == "__main__":
    sys.exit(main())
