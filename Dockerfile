# syntax=docker/dockerfile:1
# unixid: build the native PAM/NSS addon against libpam and compile TypeScript, then run on a slim
# Debian image with the current Node.js LTS.
#
#   docker build -t unixid .
#   docker run -p 8080:8080 -v $PWD/unixid.yaml:/etc/unixid/unixid.yaml:ro unixid
#
# docker-compose.yml runs it with Redis and OpenLDAP; deploy/kubernetes/ has the manifests.

ARG NODE_VERSION=24

FROM node:${NODE_VERSION}-bookworm-slim AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ libpam0g-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json binding.gyp tsconfig.json ./
COPY native ./native
COPY src ./src
COPY views ./views
# npm ci runs the package's own scripts: `install` (node-gyp builds build/Release/unixid_native.node
# against libpam) and `prepare` (tsc into dist/). Then the dev dependencies go.
RUN --mount=type=cache,target=/root/.npm \
    npm ci --no-audit --no-fund \
 && npm prune --omit=dev --no-audit --no-fund \
 && test -f build/Release/unixid_native.node \
 && test -f dist/src/cli/main.js

FROM node:${NODE_VERSION}-bookworm-slim AS runtime
# libpam-runtime/libpam-modules: the PAM stack (pam_unix, pam_access, common-auth/common-account).
# Add libpam-sss/libnss-sss for SSSD, or libnss-ldapd for nslcd, and list them in nsswitch.conf.
RUN apt-get update \
 && apt-get install -y --no-install-recommends libpam0g libpam-modules libpam-runtime ca-certificates \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/build/Release/unixid_native.node ./build/Release/unixid_native.node
COPY views ./views
COPY config ./config
COPY config/pam.d/unixid /etc/pam.d/unixid
COPY config/nsswitch.conf /etc/nsswitch.conf

# Unprivileged by default (numeric, so Kubernetes' runAsNonRoot can verify it). That is enough for
# the LDAP backend, and for PAM through SSSD: mount the host's /var/lib/sss/pipes and add "sss" to
# nsswitch.conf (pam_sss needs no privilege). Root (`--user 0`), or the shadow group
# (`--group-add shadow`), is only needed when pam_unix checks passwords against this container's own
# /etc/shadow: its helper unix_chkpwd verifies only the caller's own password otherwise.
RUN groupadd --system --gid 10001 unixid \
 && useradd --system --uid 10001 --gid 10001 --home-dir /var/lib/unixid --create-home --shell /usr/sbin/nologin unixid \
 && install -d -m 0755 /etc/unixid \
 && echo '# Mount your configuration here (every key: config/unixid.example.yaml in the image).' > /etc/unixid/unixid.yaml
USER 10001:10001

# Environment variables win over the config file: UNIXID_DATA_DIR points the generated keys (refused
# with NODE_ENV=production, allowed in development) at the only writable place, the home directory.
ENV NODE_ENV=production \
    UNIXID_CONFIG=/etc/unixid/unixid.yaml \
    UNIXID_DATA_DIR=/var/lib/unixid
EXPOSE 8080
# Liveness only (/readyz also checks Redis and the backend). With server.tls set, point
# UNIXID_HEALTHCHECK_URL at https://127.0.0.1:8080/healthz and NODE_EXTRA_CA_CERTS at its CA.
HEALTHCHECK --interval=15s --timeout=3s --start-period=10s --retries=3 \
  CMD ["node", "-e", "fetch(process.env.UNIXID_HEALTHCHECK_URL||'http://127.0.0.1:'+(process.env.UNIXID_PORT||8080)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# The same command as `npm start`.
ENTRYPOINT ["node", "--max-semi-space-size=4", "--heap-growing-percent=50", "dist/src/cli/main.js"]
CMD ["serve"]
