# syntax=docker/dockerfile:1
# unixid: build native addons against libpam, compile TypeScript, then run on a slim image.

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
# npm ci runs node-gyp (native PAM/NSS binding) and the TypeScript build (prepare).
RUN npm ci --no-audit --no-fund \
 && npm prune --omit=dev --no-audit --no-fund

FROM node:${NODE_VERSION}-bookworm-slim AS runtime
# libpam-runtime/libpam-modules: the PAM stack; libnss-* can be added for SSSD/LDAP NSS sources.
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

# Runs as an unprivileged user. Checking passwords of other accounts with pam_unix needs to read
# /etc/shadow (root, or the shadow group); with SSSD mount its socket (/var/lib/sss/pipes) instead.
RUN useradd --system --uid 10001 --home /var/lib/unixid --create-home unixid
USER unixid
ENV NODE_ENV=production \
    UNIXID_HOST=0.0.0.0 \
    UNIXID_PORT=8080 \
    UNIXID_DATA_DIR=/var/lib/unixid \
    UNIXID_CONFIG=/etc/unixid/unixid.yaml
EXPOSE 8080
HEALTHCHECK --interval=15s --timeout=3s --start-period=10s \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.UNIXID_PORT||8080)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
ENTRYPOINT ["node", "dist/src/cli/main.js"]
CMD ["serve"]
