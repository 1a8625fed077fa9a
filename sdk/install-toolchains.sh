#!/usr/bin/env bash
# Installs what `tidemark plugin build` needs for Python, JavaScript and C plugins, where it is
# missing (Rust needs only rustup's wasm32-wasip2 target). Safe to run again: each step is
# skipped when its tool is already there. A step that fails is reported and the others go on;
# the plugin_langs tests then report that language as skipped, with the reason.
#
# Where things go: $TIDEMARK_TOOLCHAINS (default ~/.cache/tidemark/toolchains) for the Python
# venv (componentize-py) and the npm packages (componentize-js, which brings rolldown);
# ~/.cargo/bin for wit-bindgen and wasm-tools; Debian packages for clang, lld and wasi-libc.
set -uo pipefail

DIR="${TIDEMARK_TOOLCHAINS:-$HOME/.cache/tidemark/toolchains}"
COMPONENTIZE_PY=0.25.1
COMPONENTIZE_JS=0.23.0
WIT_BINDGEN=0.61.1
WASM_TOOLS=1.263.0
mkdir -p "$DIR"
status=0

step() { # name, check command, install command
    local name=$1 check=$2 install=$3 started
    if bash -c "$check" >/dev/null 2>&1; then
        echo "toolchains: $name already installed"
        return
    fi
    started=$(date +%s)
    echo "toolchains: installing $name"
    if bash -c "$install"; then
        echo "toolchains: $name installed in $(( $(date +%s) - started )) s"
    else
        echo "toolchains: FAILED to install $name; its language's tests will be skipped" >&2
        status=1
    fi
}

step "componentize-py $COMPONENTIZE_PY" \
    "'$DIR/python/bin/componentize-py' --version | grep -q ' $COMPONENTIZE_PY\$'" \
    "python3 -m venv '$DIR/python' && '$DIR/python/bin/pip' install -q componentize-py==$COMPONENTIZE_PY"

step "componentize-js $COMPONENTIZE_JS" \
    "test -x '$DIR/js/node_modules/.bin/componentize-js' && test -x '$DIR/js/node_modules/.bin/rolldown' && grep -q '\"version\": \"$COMPONENTIZE_JS\"' '$DIR/js/node_modules/@bytecodealliance/componentize-js/package.json'" \
    "mkdir -p '$DIR/js' && cd '$DIR/js' && (test -f package.json || echo '{\"private\":true}' > package.json) && npm install --no-audit --no-fund --silent @bytecodealliance/componentize-js@$COMPONENTIZE_JS"

step "clang 16 with wasi-libc" \
    "command -v clang-16 && command -v wasm-ld-16 && test -f /usr/include/wasm32-wasi/stdlib.h && test -f /usr/lib/llvm-16/lib/clang/16/lib/wasi/libclang_rt.builtins-wasm32.a" \
    "(apt-get update -qq || true) && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq clang-16 lld-16 libclang-rt-16-dev-wasm32 wasi-libc >/dev/null"

step "wit-bindgen $WIT_BINDGEN" \
    "wit-bindgen --version | grep -q ' $WIT_BINDGEN'" \
    "cargo install --quiet --locked wit-bindgen-cli@$WIT_BINDGEN --no-default-features --features c"

step "wasm-tools $WASM_TOOLS" \
    "wasm-tools --version | grep -q ' $WASM_TOOLS'" \
    "cargo install --quiet --locked wasm-tools@$WASM_TOOLS --no-default-features --features component,validate,print,parse"

exit $status
