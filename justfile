# Sluice development recipes. Each is one cargo command; `just --list` shows them.

# Run the tests (the README's test command).
test:
    cargo test --workspace

# Run the demo pipeline (the README's demo command: installs Go and gcc if missing).
demo:
    ./demo

# Build, image, sign and push the demo service to a local registry on 127.0.0.1:5000 (installs
# Debian's docker-registry and skopeo when missing, makes the demo's key pair like ./demo,
# starts the registry, runs examples/go-service/push.toml, shows the pushed manifest and
# cosign's signature manifest beside it, stops the registry).
push-demo: build
    #!/usr/bin/env bash
    set -euo pipefail
    if ! command -v docker-registry >/dev/null || ! command -v skopeo >/dev/null; then
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker-registry skopeo >/dev/null
    fi
    keys=target/demo-keys
    if [ ! -f "$keys/cosign.key" ]; then
      mkdir -p "$keys"
      (umask 077 && head -c 24 /dev/urandom | base64 > "$keys/password")
      COSIGN_PASSWORD="$(cat "$keys/password")" target/release/sluice keys generate --output-key-prefix "$keys/cosign"
    fi
    export COSIGN_PASSWORD="$(cat "$keys/password")" COSIGN_KEY="$(cat "$keys/cosign.key")"
    docker-registry serve examples/go-service/registry.yml & registry=$!
    trap 'kill $registry' EXIT
    until (exec 3<>/dev/tcp/127.0.0.1/5000) 2>/dev/null; do sleep 0.1; done
    target/release/sluice run examples/go-service/push.toml
    skopeo inspect --tls-verify=false docker://127.0.0.1:5000/demo/go-service:0.1.0
    digest=$(skopeo inspect --tls-verify=false docker://127.0.0.1:5000/demo/go-service:0.1.0 | python3 -c 'import json, sys; print(json.load(sys.stdin)["Digest"])')
    skopeo inspect --raw --tls-verify=false "docker://127.0.0.1:5000/demo/go-service:${digest/:/-}.sig"

# Build the release binary (embeds the built-in plugins).
build:
    cargo build --release

# The release pipeline end to end: build, image, push to a registry on 127.0.0.1:5000, sign,
# push the signature, deploy to podman (verified, health-checked, rolled back if unhealthy).
# Installs Go, podman + runc and docker-registry when missing; starts the registry and
# podman's API service (/run/podman/podman.sock) unless they run; see
# examples/go-service/release-demo.
release-demo:
    examples/go-service/release-demo

# The deploy tests against real engines (podman, and dockerd when installed), alone.
test-deploy:
    cargo test -p sluice --test deploy -- --nocapture

# All benchmarks: per-step overhead, the Go analysers over the stdlib, the cost of confining
# programs, the step cache and cold start (figures in the README).
bench: bench-runtime bench-analysers bench-exec bench-net bench-sign bench-deploy bench-cache bench-polyglot bench-report

# The step-result cache and cold start: the demo fully cached, the stdlib analysers cached, a
# new clone, a fresh install, one uncached step against /bin/true (needs Go and gcc).
bench-cache *ARGS:
    cargo bench -p sluice --bench cache -- {{ARGS}}

# Per-step overhead against fork+exec of /bin/true.
bench-runtime *ARGS:
    cargo bench -p sluice --bench runtime -- {{ARGS}}

# golint and gosec steps over the whole Go 1.19 stdlib source, with go-staticcheck and go vet
# timed in the same run (needs `apt-get install golang-go go-staticcheck`). `--compare BIN`
# also runs another sluice build (say, of an earlier commit) alternately and prints the ratios.
bench-analysers *ARGS:
    cargo bench -p sluice --bench analysers -- {{ARGS}}

# Confined spawn of /bin/true vs fork+exec; the demo's go test and go build through their
# steps vs run directly (needs `apt-get install golang-go gcc`).
bench-exec *ARGS:
    cargo bench -p sluice --bench exec -- {{ARGS}}

# oci-push vs skopeo copy of the same ~20 MB image, a re-push with every blob present, and
# the egress check per request (needs `apt-get install docker-registry skopeo`).
bench-net *ARGS:
    cargo bench -p sluice --bench net -- {{ARGS}}

# The sign step over a 200 MiB artifact against `openssl dgst -sha256 -sign` on the same file
# (needs `openssl`).
bench-sign *ARGS:
    cargo bench -p sluice --bench sign -- {{ARGS}}

# The downtime of a release switch (last answer of v1 → first answer of v2) over 10 deploys
# by the deploy step, against `docker-compose up -d` recreating the same service on the same
# podman in the same run (needs `apt-get install podman runc docker-registry docker-compose
# golang-go`).
bench-deploy *ARGS:
    cargo bench -p sluice --bench deploy -- {{ARGS}}

# golint against staticcheck's ST1003/5/6/12/16/20/21/22 on the Go stdlib, per check
# (needs `apt-get install golang-go go-staticcheck`).
fidelity MIN_CONFIDENCE="0.8": build
    python3 plugins/golint/tools/fidelity.py --min-confidence {{MIN_CONFIDENCE}}

# The gosec step on gosec's own rule-test samples, one `sluice run` per sample, with per-rule
# agreement (exact issue counts). gosec is not vendored: clone it anywhere
# (`git clone --depth 1 https://github.com/securego/gosec /tmp/gosec`) and pass the checkout.
# Needs `go` (to read the samples with go/parser).
fidelity-gosec CHECKOUT *ARGS:
    cargo build -p sluice
    python3 plugins/gosec/tools/fidelity.py {{CHECKOUT}} {{ARGS}}

# The golint step on golint's own testdata, one `sluice run` per file, as golint's test reads
# it (`// MATCH /regexp/`). golint is not vendored: clone it anywhere
# (`git clone --depth 1 https://github.com/golang/lint /tmp/golint`) and pass the checkout;
# `--dir DIR --exact` reads revive's testdata/golint instead. Needs `go`.
fidelity-golint CHECKOUT *ARGS:
    cargo build -p sluice
    python3 plugins/golint/tools/testdata.py {{CHECKOUT}} {{ARGS}}

# go-syntax against go/parser on the Go stdlib (needs `apt-get install golang-go`).
conformance:
    cargo test -p go-syntax --test conformance -- --nocapture

# go-syntax speed: native, inside a wasm component, and go/parser, in one run.
bench-parse:
    cargo bench -p sluice --bench parse

# Fuzz the Go parser (nightly + `cargo install cargo-fuzz`), e.g. `just fuzz 600`.
fuzz SECONDS="600":
    cd plugins/go-syntax && cargo +nightly fuzz run parse -- -max_total_time={{SECONDS}}

# Fuzz the manifest parser and the `${{ }}` reference parser, each for SECONDS, from the seeds in
# host/fuzz/seeds (the generated corpus stays in host/fuzz/corpus, not in git).
fuzz-host SECONDS="600":
    cd host/fuzz && mkdir -p corpus/manifest corpus/refs && \
      cargo +nightly fuzz run manifest corpus/manifest seeds/manifest -- -max_total_time={{SECONDS}} && \
      cargo +nightly fuzz run refs corpus/refs seeds/refs -- -max_total_time={{SECONDS}}

# Format everything.
fmt:
    cargo fmt --all

# Lint everything, warnings as errors.
lint:
    cargo clippy --workspace --all-targets -- -D warnings

# Build the docs, warnings as errors.
doc:
    RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps

# Build and run the SDK guide's standalone plugin crate.
first-plugin: build
    cargo build --release --target wasm32-wasip2 --manifest-path examples/first-plugin/Cargo.toml
    cd examples/first-plugin && ../../target/release/sluice run sluice.toml

# Builds a Python plugin directory (plugin.py) into DIR/plugin.wasm with componentize-py,
# pinned, installed into target/plugin-tools/python on first use.
plugin-py DIR:
    sdk/python/build-plugin {{DIR}}

# Builds a JavaScript or TypeScript plugin directory (plugin.js / plugin.ts) into
# DIR/plugin.wasm with componentize-js, pinned, installed into target/plugin-tools/js.
plugin-js DIR *ARGS:
    sdk/js/build-plugin {{DIR}} {{ARGS}}

# The per-step cost of a Python and a JavaScript plugin against the Rust no-op: component
# size, first compile, fresh process with the compile cache warm, warm step in-process.
bench-polyglot *ARGS:
    cargo bench -p sluice --bench polyglot -- {{ARGS}}

# The HTML run report of golint + gosec over the Go stdlib (~54k findings): its write time
# against run.json's, its size, and its opening in headless Chromium (apt-get install chromium).
bench-report *ARGS:
    cargo bench -p sluice --bench report -- {{ARGS}}

# What CI runs.
ci:
    bash .ci/run
