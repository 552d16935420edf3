"""Regenerate squidstream/proto/ (the Python modules of proto/game.proto), or with --check fail when
they are stale.

The .proto source stays in proto/; protoc maps it to the virtual path squidstream/proto/game.proto,
so the generated modules import each other as squidstream.proto and cannot collide with another
distribution's top-level `proto` package (proto-plus has one)."""

from __future__ import annotations

import argparse
import filecmp
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PROTO = Path("proto/game.proto")
PACKAGE = Path("squidstream/proto")
GENERATED = ("game_pb2.py", "game_pb2.pyi", "game_pb2_grpc.py", "game_pb2_grpc.pyi")


def _plugin(name: str) -> str:
    # The mypy plugins live beside the interpreter; naming them avoids depending on PATH.
    return f"--plugin={name}={Path(sys.executable).parent / name}"


def generate(out_dir: Path) -> None:
    """Run protoc (from grpcio-tools) on the contract, writing into out_dir/squidstream/proto/."""
    (out_dir / PACKAGE).mkdir(parents=True, exist_ok=True)
    command = [
        sys.executable,
        "-m",
        "grpc_tools.protoc",
        f"--proto_path={PACKAGE}={ROOT / PROTO.parent}",
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
        fresh = Path(tmp) / PACKAGE
        return [
            name
            for name in GENERATED
            if not (ROOT / PACKAGE / name).exists()
            or not filecmp.cmp(fresh / name, ROOT / PACKAGE / name, shallow=False)
        ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="exit 1 if the modules are stale")
    args = parser.parse_args(argv)
    if args.check:
        stale = stale_files()
        if stale:
            print(f"stale generated modules: {', '.join(stale)}; run make proto")
            return 1
        print("generated modules are up to date")
        return 0
    generate(ROOT)
    print(f"generated {', '.join(GENERATED)} from {PROTO}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
