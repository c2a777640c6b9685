#!/usr/bin/env bash
# The one generator of Python code from protos/: messages, .pyi stubs and gRPC stubs
# go into libs/zhixing/v1/ (git-ignored), imported everywhere as `zhixing.v1`.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
python="$(realpath -ms "${PYTHON:-$root/.venv/bin/python}")"
out="$root/libs"
rm -rf "$out/zhixing/v1"
mkdir -p "$out/zhixing/v1"
cd "$root/protos"
mapfile -t files < <(find zhixing -name '*.proto' | sort)
"$python" -m grpc_tools.protoc -I . \
  --python_out="$out" --pyi_out="$out" --grpc_python_out="$out" "${files[@]}"
touch "$out/zhixing/v1/__init__.py" "$out/zhixing/v1/py.typed"
echo "generated ${#files[@]} proto files into libs/zhixing/v1"
