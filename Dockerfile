# codexbard in a container: docs/service.md ("Docker") explains the token, allowed_hosts and credential mounts.
#   docker build -t codexbard .
#   docker run -d --name codexbard -p 127.0.0.1:8765:8765 -e CODEXBARD_TOKEN=... -v codexbard-data:/data codexbard

ARG PYTHON_IMAGE=python:3.12-slim-bookworm

# ---- build: a virtualenv with codexbard and its dependencies; pip and any build step stay here ----
FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY codexbard ./codexbard
RUN python -m venv /opt/codexbard \
    && /opt/codexbard/bin/pip install --no-cache-dir . \
    && /opt/codexbard/bin/pip uninstall --yes pip

# ---- run: the same Python, the virtualenv, a non-root user, the database on /data ----
FROM ${PYTHON_IMAGE}
RUN groupadd --system --gid 10001 codexbard \
    && useradd --system --uid 10001 --gid codexbard --home-dir /home/codexbard --create-home \
       --shell /usr/sbin/nologin codexbard \
    && install -d -o codexbard -g codexbard -m 0700 /data
COPY --from=build /opt/codexbard /opt/codexbard
# Inside a container the daemon must listen on every interface, so it refuses to start without
# CODEXBARD_TOKEN; requests by name or IP also need that name in CODEXBARD_ALLOWED_HOSTS (a JSON list).
ENV PATH=/opt/codexbard/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    HOME=/home/codexbard \
    CODEXBARD_HOST=0.0.0.0 \
    CODEXBARD_PORT=8765 \
    CODEXBARD_DATA_DIR=/data
USER 10001:10001
WORKDIR /home/codexbard
VOLUME ["/data"]
EXPOSE 8765
# /health needs no token and 127.0.0.1 is always an allowed Host; no curl in the image, so Python asks.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request as u; u.build_opener(u.ProxyHandler({})).open('http://127.0.0.1:%s/health' % os.environ.get('CODEXBARD_PORT', '8765'), timeout=4)"]
ENTRYPOINT ["codexbard"]
CMD ["serve"]
