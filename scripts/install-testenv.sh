#!/usr/bin/env bash
# Installs what gitgate's real-parts tests and `gitgate dev` need on a Debian machine:
#   etcd (package etcd-server), git, jq, rsync, and kube-apiserver, kube-controller-manager and kubectl
#   built once from Debian's `kubernetes` source package (1.20.x) and cached in $GITGATE_CACHE/k8s/bin.
# For tests with a real node (src/testenv/node.ts): kubelet, kube-scheduler and kube-proxy built from
#   the same source tree, the pause binary (gcc -static), and Debian's containerd, runc, CNI plugins,
#   iptables, conntrack, iproute2 and buildah (gitgate's image, `npm run image`).
# Idempotent: a warm machine returns in a second. Honours KUBEBUILDER_ASSETS (then only checks it).
set -euo pipefail

CACHE="${GITGATE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/gitgate}"
BIN="$CACHE/k8s/bin"
log() { printf '[testenv] %s\n' "$*" >&2; }

if [[ -n "${KUBEBUILDER_ASSETS:-}" ]]; then
  for b in etcd kube-apiserver kubectl; do
    [[ -x "$KUBEBUILDER_ASSETS/$b" ]] || { log "KUBEBUILDER_ASSETS=$KUBEBUILDER_ASSETS lacks an executable '$b'"; exit 1; }
  done
  log "using binaries from KUBEBUILDER_ASSETS=$KUBEBUILDER_ASSETS"
  exit 0
fi

# Tests, `gitgate dev` and CI may all call this at once: one installs, the others wait, then find it done.
mkdir -p "$CACHE"
exec 9>"$CACHE/.install.lock"
if ! flock -n 9; then
  log "another install is running; waiting for it"
  flock 9
fi

SUDO=""
if [[ $(id -u) -ne 0 ]]; then
  if command -v sudo >/dev/null; then SUDO="sudo"; else log "not root and no sudo: install etcd-server git jq rsync golang-go dpkg-dev by hand"; fi
fi

need_pkgs=()
command -v etcd >/dev/null || [[ -x /usr/bin/etcd ]] || need_pkgs+=(etcd-server)
command -v git >/dev/null || need_pkgs+=(git)
command -v jq >/dev/null || need_pkgs+=(jq)
command -v rsync >/dev/null || need_pkgs+=(rsync)
# Git over SSH: a real sshd with git-shell (test/sources-git-ssh.test.ts), and the ssh client gitgate runs.
[[ -x /usr/sbin/sshd ]] || need_pkgs+=(openssh-server)
command -v ssh >/dev/null || [[ -x /usr/bin/ssh ]] || need_pkgs+=(openssh-client)
# The allocator the image runs node on (Dockerfile LD_PRELOAD; src/testenv/image.ts copies it).
compgen -G "/usr/lib/*/libjemalloc.so.2" >/dev/null || need_pkgs+=(libjemalloc2)
command -v chromium >/dev/null || [[ -x /usr/bin/chromium ]] || need_pkgs+=(chromium) # dashboard browser tests
# A real node: container runtime, CNI plugins, kube-proxy's tools, image builder, static pause.
command -v containerd >/dev/null || need_pkgs+=(containerd)
command -v runc >/dev/null || [[ -x /usr/sbin/runc ]] || need_pkgs+=(runc)
[[ -x /usr/lib/cni/bridge ]] || need_pkgs+=(containernetworking-plugins)
command -v iptables >/dev/null || [[ -x /usr/sbin/iptables ]] || need_pkgs+=(iptables)
command -v conntrack >/dev/null || [[ -x /usr/sbin/conntrack ]] || need_pkgs+=(conntrack)
command -v ip >/dev/null || [[ -x /usr/sbin/ip ]] || need_pkgs+=(iproute2)
command -v buildah >/dev/null || need_pkgs+=(buildah)
# Chart sources: a real OCI registry (tests run their own instance on 127.0.0.1, not the system service).
command -v docker-registry >/dev/null || need_pkgs+=(docker-registry)
# Its htpasswd auth in tests: bcrypt entries made with `htpasswd -B`.
command -v htpasswd >/dev/null || need_pkgs+=(apache2-utils)
# Bump when the build recipe changes, so machines with an older cached build rebuild once.
BUILD_ID="reflect2-1.0.2+json-iterator-1.1.12+openapi-zero"
# The node's binaries have their own id: adding them did not rebuild the control plane.
NODE_BUILD_ID="node-1"
WHAT=()
if [[ ! -x "$BIN/kube-apiserver" || ! -x "$BIN/kube-controller-manager" || ! -x "$BIN/kubectl" || "$(cat "$BIN/.build-id" 2>/dev/null)" != "$BUILD_ID" ]]; then
  WHAT+=(kube-apiserver kube-controller-manager kubectl)
fi
if [[ ! -x "$BIN/kubelet" || ! -x "$BIN/kube-scheduler" || ! -x "$BIN/kube-proxy" || ! -x "$BIN/pause" || "$(cat "$BIN/.node-build-id" 2>/dev/null)" != "$NODE_BUILD_ID" ]]; then
  WHAT+=(kubelet kube-scheduler kube-proxy)
  command -v gcc >/dev/null || need_pkgs+=(gcc)
  [[ -f /usr/lib/x86_64-linux-gnu/libc.a || -f /usr/lib/aarch64-linux-gnu/libc.a ]] || need_pkgs+=(libc6-dev)
fi
if ((${#WHAT[@]})); then
  command -v go >/dev/null || need_pkgs+=(golang-go)
  command -v dpkg-source >/dev/null || need_pkgs+=(dpkg-dev)
  # Kubernetes 1.20 vendors reflect2 1.0.1, whose unsafe map iteration segfaults when built with
  # Go >= 1.18 (kube-apiserver dies on the first custom resource it encodes). Debian ships 1.0.2
  # and the json-iterator 1.1.12 made for it (with 1.1.10, "" in a custom resource decodes as null).
  [[ -d /usr/share/gocode/src/github.com/modern-go/reflect2 ]] || need_pkgs+=(golang-github-modern-go-reflect2-dev)
  [[ -d /usr/share/gocode/src/github.com/json-iterator/go ]] || need_pkgs+=(golang-github-json-iterator-go-dev)
fi

if ! command -v apt-get >/dev/null; then
  if ((${#need_pkgs[@]})); then log "missing: ${need_pkgs[*]} (no apt-get here: install them, or set KUBEBUILDER_ASSETS)"; exit 1; fi
fi

if ((${#need_pkgs[@]})) || ((${#WHAT[@]})); then
  # kube-apiserver has no binary package: enable deb-src with the URIs of the existing deb entries.
  if ((${#WHAT[@]})) && ! grep -rqs '^Types:.*deb-src\|^deb-src' /etc/apt/sources.list /etc/apt/sources.list.d/; then
    if [[ -f /etc/apt/sources.list.d/debian.sources ]]; then
      log "enabling deb-src in /etc/apt/sources.list.d/debian.sources"
      $SUDO sed -i 's/^Types: deb$/Types: deb deb-src/' /etc/apt/sources.list.d/debian.sources
    elif [[ -f /etc/apt/sources.list ]]; then
      log "enabling deb-src in /etc/apt/sources.list"
      grep '^deb ' /etc/apt/sources.list | sed 's/^deb /deb-src /' | $SUDO tee /etc/apt/sources.list.d/gitgate-src.list >/dev/null
    fi
  fi
  log "apt-get update"
  $SUDO apt-get update -qq
  if ((${#need_pkgs[@]})); then
    log "apt-get install ${need_pkgs[*]}"
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need_pkgs[@]}" >/dev/null
  fi
fi

if ((${#WHAT[@]})); then
  SRC="$CACHE/k8s/src"
  mkdir -p "$SRC" "$BIN"
  cd "$SRC"
  if ! ls kubernetes_*.orig.tar.* >/dev/null 2>&1; then
    log "downloading Debian's kubernetes source package"
    apt-get source --download-only kubernetes >/dev/null
  fi
  tarball=$(ls kubernetes_*.orig.tar.* | head -n1)
  if [[ ! -d tree ]]; then
    log "unpacking $tarball"
    rm -rf tree.tmp && mkdir tree.tmp
    tar -xf "$tarball" -C tree.tmp --strip-components=1
    mv tree.tmp tree
  fi
  cd tree
  log "replacing vendored reflect2 and json-iterator with Debian's 1.0.2 and 1.1.12 (Go >= 1.18)"
  for mod in github.com/modern-go/reflect2 github.com/json-iterator/go; do
    rsync -a --delete --exclude '*_test.go' --exclude go.mod --exclude go.sum --exclude '.*' \
      --exclude 'skip_tests' --exclude 'benchmarks' --exclude 'api_tests' --exclude 'any_tests' --exclude 'extension_tests' \
      --exclude 'misc_tests' --exclude 'type_tests' --exclude 'value_tests' \
      "/usr/share/gocode/src/$mod/" "vendor/$mod/"
  done
  # Go 1.18 changed reflect.Zero, so OpenAPI validation's DeepEqual(reflect.Zero(T), ValueOf(v))
  # now sees "" and 0 as null and rejects them in custom resources. Upstream reduced it to v == nil.
  for f in vendor/k8s.io/kube-openapi/pkg/validation/validate/type.go vendor/github.com/go-openapi/validate/type.go; do
    [[ -f "$f" ]] && sed -i 's/data == nil || reflect.DeepEqual(reflect.Zero(reflect.TypeOf(data)), reflect.ValueOf(data))/data == nil/' "$f"
  done
  export GOPATH="$PWD/.go" HOME="${HOME:-$CACHE}" GOFLAGS=-mod=vendor GO111MODULE=on CGO_ENABLED=0
  export GOCACHE="$CACHE/k8s/gocache"
  mkdir -p .go/src/k8s.io
  [[ -e .go/src/k8s.io/kubernetes ]] || ln -s ../../.. .go/src/k8s.io/kubernetes
  log "building ${WHAT[*]} (about 6 minutes on 2 cores for the control plane, 2 more for the node; once per machine)"
  start=$(date +%s)
  # The Go compile is silent for minutes: a heartbeat shows it is alive.
  ( while sleep 30; do log "build $(( $(date +%s) - start ))s: still compiling"; done ) &
  heartbeat=$!
  trap 'kill "$heartbeat" 2>/dev/null || true' EXIT
  ( make WHAT="${WHAT[*]/#/cmd/}" 2>&1 | while IFS= read -r line; do
      printf '[testenv] build %4ss | %s\n' "$(( $(date +%s) - start ))" "${line:0:120}" >&2
    done ) || true
  kill "$heartbeat" 2>/dev/null || true
  out=_output/local/bin/linux/$(go env GOARCH)
  for b in "${WHAT[@]}"; do
    [[ -x "$out/$b" ]] || { log "build failed: $out/$b missing (see output above)"; exit 1; }
    install -m 0755 "$out/$b" "$BIN/$b"
  done
  if [[ " ${WHAT[*]} " == *" kubelet "* ]]; then
    # The pod sandbox's process, for a pause image made FROM scratch (nothing can be pulled here).
    gcc -Os -static -DVERSION=3.4 -o "$BIN/pause" build/pause/linux/pause.c
    echo "$NODE_BUILD_ID" > "$BIN/.node-build-id"
  fi
  if [[ " ${WHAT[*]} " == *" kube-apiserver "* ]]; then echo "$BUILD_ID" > "$BIN/.build-id"; fi
  log "built in $(( $(date +%s) - start ))s into $BIN"
fi

etcd_path=$(command -v etcd || echo /usr/bin/etcd)
ln -sf "$etcd_path" "$BIN/etcd"
log "ready: $BIN ($("$BIN/kube-apiserver" --version 2>/dev/null))"
