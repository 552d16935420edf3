"""Regenerate the Python modules of proto/game.proto, or with --check fail when they are stale."""

from __future__ import annotations

import argparse
import filecmp
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROTO = Path("proto/game.proto")
GENERATED = ("game_pb2.py", "game_pb2.pyi", "game_pb2_grpc.py", "game_pb2_grpc.pyi")


def _plugin(name: str) -> str:
    # The mypy plugins live beside the interpreter; naming them avoids depending on PATH.
    return f"--plugin={name}={Path(sys.executable).parent / name}"


def generate(out_dir: Path) -> None:
    """Run protoc (from grpcio-tools) on the contract, writing into out_dir/proto/."""
    (out_dir / "proto").mkdir(parents=True, exist_ok=True)
    command = [
        sys.executable,
        "-m",
        "grpc_tools.protoc",
        "-I",
        str(ROOT),
        _plugin("protoc-gen-mypy"),
        _plugin("protoc-gen-mypy_grpc"),
        f"--python_out={out_dir}",
        f"--grpc_python_out={out_dir}",
        f"--mypy_out={out_dir}",
        f"--mypy_grpc_out={out_dir}",
        str(ROOT / PROTO),
    ]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"protoc failed: {done.stderr.strip()}")


def stale_files() -> list[str]:
    """Names of generated modules that differ from what protoc produces now."""
    with tempfile.TemporaryDirectory() as tmp:
        generate(Path(tmp))
        fresh = Path(tmp) / "proto"
        return [
            name
            for name in GENERATED
            if not (ROOT / "proto" / name).exists()
            or not filecmp.cmp(fresh / name, ROOT / "proto" / name, shallow=False)
        ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="exit 1 if the modules are stale")
    args = parser.parse_args(argv)
    if args.check:
        stale = stale_files()
        if stale:
            print(f"stale generated modules: {', '.join(stale)}; run python proto/generate.py")
            return 1
        print("generated modules are up to date")
        return 0
    generate(ROOT)
    print(f"generated {', '.join(GENERATED)} from {PROTO}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
