# exoguard API / worker image. Build: docker build -t exoguard .
# The partial Plotly bundle the pages load (package.json, pinned by package-lock.json), as
# `make install` builds it; without it the pages fall back to the wheel's full bundle.
FROM node:20-slim AS charts
WORKDIR /build
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --ignore-scripts

FROM python:3.11-slim AS base
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
RUN apt-get update && apt-get install -y --no-install-recommends gcc g++ poppler-utils \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY pyproject.toml README.md ./
COPY src ./src
COPY --from=charts /build/node_modules/plotly.js-cartesian-dist-min/plotly-cartesian.min.js \
    ./src/exoguard/web/static/vendor/plotly-cartesian.min.js
# torch is pinned to 2.13.0; the CPU index keeps the image small.
RUN pip install --extra-index-url https://download.pytorch.org/whl/cpu . \
    && useradd --create-home --uid 1000 exoguard \
    && mkdir -p /app/var/numba-cache && chown -R exoguard /app/var
USER exoguard
ENV EXOGUARD_ENV=production EXOGUARD_VAR_DIR=/var/lib/exoguard EXOGUARD_DATA_DIR=/data \
    NUMBA_CACHE_DIR=/app/var/numba-cache
# Compile the search kernels into the image's numba cache, so that no worker or API process
# spends its first minute compiling (a different CPU at run time recompiles once, here).
RUN python -c "from exoguard.core.search.warmup import warm_up; warm_up()"
EXPOSE 8000
HEALTHCHECK CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz')"
CMD ["exoguard", "serve", "--host", "0.0.0.0", "--port", "8000"]
