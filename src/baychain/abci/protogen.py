"""Generate Python protobuf modules from the pinned CometBFT release's own .proto files.

The ABCI wire format is defined by `proto/tendermint/abci/types.proto` of the release
we run against, so the Python classes are compiled from exactly those files (found in
the Go module cache, where `scripts/install-cometbft.sh` puts them) rather than copied
into the repository. The output lands in `baychain/abci/proto_gen/` (gitignored):

    baychain/abci/proto_gen/tendermint/{abci,types,crypto,version}/*_pb2.py
    baychain/abci/proto_gen/gogoproto/gogo_pb2.py

protoc writes absolute imports such as `from tendermint.crypto import keys_pb2`; they
are rewritten to `from baychain.abci.proto_gen.tendermint.crypto import keys_pb2`, so
the modules are an ordinary subpackage and nothing is added to `sys.path`. The `.proto`
file names registered in the descriptor pool stay the canonical `tendermint/...` ones.

Run `python -m baychain.abci.protogen` (add `--force` to regenerate). Generation is
idempotent: a stamp file records the CometBFT version and the protoc it was built with.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from baychain.abci.version import COMETBFT_MODULE, COMETBFT_VERSION, GOGOPROTO_MODULE

PACKAGE = "baychain.abci.proto_gen"
OUTPUT_DIR = Path(__file__).resolve().parent / "proto_gen"
STAMP_FILE = ".stamp.json"
PROTO_PACKAGES = ("abci", "types", "crypto", "version")
_TOP_LEVEL = ("tendermint", "gogoproto")


class ProtoGenError(RuntimeError):
    """The protobuf sources cannot be found or compiled."""


def _escape_module_path(path: str) -> str:
    """Go module cache escaping: upper-case letters become '!' + lower-case."""
    return re.sub(r"[A-Z]", lambda m: "!" + m.group(0).lower(), path)


def go_mod_cache() -> Path:
    """The Go module cache directory (`go env GOMODCACHE`)."""
    env = os.environ.get("GOMODCACHE")
    if env:
        return Path(env)
    try:
        out = subprocess.run(
            ["go", "env", "GOMODCACHE"], check=True, capture_output=True, text=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError) as exc:
        raise ProtoGenError(
            "cannot ask Go for its module cache (`go env GOMODCACHE`): "
            f"{exc}; install Go and run scripts/install-cometbft.sh"
        ) from exc
    if not out:
        raise ProtoGenError("`go env GOMODCACHE` printed nothing")
    return Path(out)


def cometbft_source_dir(modcache: Path | None = None) -> Path:
    """The pinned CometBFT module's source directory in the module cache."""
    modcache = modcache or go_mod_cache()
    path = modcache / f"{_escape_module_path(COMETBFT_MODULE)}@{COMETBFT_VERSION}"
    if not (path / "proto" / "tendermint" / "abci" / "types.proto").is_file():
        raise ProtoGenError(
            f"CometBFT {COMETBFT_VERSION} sources not found at {path}; "
            "run scripts/install-cometbft.sh first"
        )
    return path


def gogoproto_source_dir(cometbft_dir: Path, modcache: Path | None = None) -> Path:
    """The github.com/cosmos/gogoproto module that the pinned CometBFT's go.mod requires."""
    modcache = modcache or go_mod_cache()
    gomod = (cometbft_dir / "go.mod").read_text()
    match = re.search(
        r"^\s*(?:require\s+)?" + re.escape(GOGOPROTO_MODULE) + r"\s+(v\S+)", gomod, re.M
    )
    if not match:
        raise ProtoGenError(f"{cometbft_dir}/go.mod does not require {GOGOPROTO_MODULE}")
    path = modcache / f"{_escape_module_path(GOGOPROTO_MODULE)}@{match.group(1)}"
    if not (path / "gogoproto" / "gogo.proto").is_file():
        raise ProtoGenError(
            f"gogoproto {match.group(1)} not found at {path}; run scripts/install-cometbft.sh"
        )
    return path


def _protoc_version() -> str:
    from grpc_tools import protoc  # noqa: F401  (import error is reported by caller)

    try:
        from importlib.metadata import version

        return "grpcio-tools " + version("grpcio-tools")
    except Exception:  # pragma: no cover - metadata missing is harmless
        return "grpcio-tools ?"


def _stamp() -> dict[str, str]:
    import google.protobuf

    return {
        "cometbft": COMETBFT_VERSION,
        "protoc": _protoc_version(),
        "protobuf_runtime": google.protobuf.__version__,
    }


def is_current(output_dir: Path = OUTPUT_DIR) -> bool:
    """True if `output_dir` holds modules generated for the pinned version by this protoc."""
    try:
        stamp = json.loads((output_dir / STAMP_FILE).read_text())
    except (OSError, ValueError):
        return False
    return stamp == _stamp() and (output_dir / "tendermint" / "abci" / "types_pb2.py").is_file()


_IMPORT_RE = re.compile(r"^(from|import) (tendermint|gogoproto)([.\s])", re.M)
_BUILDER_RE = re.compile(r"(BuildTopDescriptorsAndMessages\(DESCRIPTOR, ')(tendermint|gogoproto)\.")


def _rewrite_imports(source: str) -> str:
    source = _IMPORT_RE.sub(lambda m: f"{m.group(1)} {PACKAGE}.{m.group(2)}{m.group(3)}", source)
    return _BUILDER_RE.sub(lambda m: f"{m.group(1)}{PACKAGE}.{m.group(2)}.", source)


def _compile(proto_root: Path, gogo_root: Path, out: Path) -> None:
    try:
        import grpc_tools
        from grpc_tools import protoc
    except ImportError as exc:
        raise ProtoGenError("grpcio-tools is not installed (pip install grpcio-tools)") from exc

    well_known = Path(grpc_tools.__file__).resolve().parent / "_proto"
    files = sorted(
        str(p.relative_to(proto_root))
        for pkg in PROTO_PACKAGES
        for p in (proto_root / "tendermint" / pkg).glob("*.proto")
    )
    args = [
        "grpc_tools.protoc",
        f"-I{proto_root}",
        f"-I{gogo_root}",
        f"-I{well_known}",
        f"--python_out={out}",
        "gogoproto/gogo.proto",
        *files,
    ]
    code = protoc.main(args)
    if code != 0:
        raise ProtoGenError(f"protoc failed with exit code {code}: {' '.join(args)}")


@contextlib.contextmanager
def _exclusive(output_dir: Path):
    """Serialize generation between processes (several nodes may start at once)."""
    digest = hashlib.sha256(str(output_dir).encode()).hexdigest()[:16]
    lock_path = Path(tempfile.gettempdir()) / f"baychain-protogen-{digest}.lock"
    with open(lock_path, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def generate(force: bool = False, output_dir: Path = OUTPUT_DIR) -> Path:
    """Compile the pinned release's ABCI protos into `output_dir`; return it.

    Does nothing if the output is already current. Writes into a temporary directory
    first and swaps it in, so an importer never sees a half-written package, and holds
    a lock so that concurrent generators take turns.
    """
    if not force and is_current(output_dir):
        return output_dir
    with _exclusive(output_dir):
        if not force and is_current(output_dir):  # another process just did it
            return output_dir
        _generate(output_dir)
    return output_dir


def _generate(output_dir: Path) -> None:
    modcache = go_mod_cache()
    cometbft_dir = cometbft_source_dir(modcache)
    gogo_dir = gogoproto_source_dir(cometbft_dir, modcache)

    output_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".proto_gen-", dir=output_dir.parent))
    try:
        _compile(cometbft_dir / "proto", gogo_dir, tmp)
        for py in tmp.rglob("*_pb2.py"):
            py.write_text(_rewrite_imports(py.read_text()))
        for directory in [tmp, *(d for d in tmp.rglob("*") if d.is_dir())]:
            (directory / "__init__.py").touch()
        (tmp / "__init__.py").write_text(
            f'"""Generated from CometBFT {COMETBFT_VERSION} protos by baychain.abci.protogen.'
            ' Do not edit."""\n'
        )
        (tmp / STAMP_FILE).write_text(json.dumps(_stamp(), indent=2, sort_keys=True) + "\n")
        old = None
        if output_dir.exists():
            old = output_dir.with_name(f".proto_gen-old-{os.getpid()}")
            os.replace(output_dir, old)
        os.replace(tmp, output_dir)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m baychain.abci.protogen",
        description=f"Generate ABCI protobuf modules from CometBFT {COMETBFT_VERSION}.",
    )
    parser.add_argument("--force", action="store_true", help="regenerate even if current")
    ns = parser.parse_args(argv)
    try:
        was_current = not ns.force and is_current()
        out = generate(force=ns.force)
    except ProtoGenError as exc:
        print(f"protogen: error: {exc}", file=sys.stderr)
        return 1
    state = "up to date" if was_current else "generated"
    print(f"protogen: {state}: {out} (CometBFT {COMETBFT_VERSION})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
