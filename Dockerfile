# mdr controller image: small, non-root, with git for --git-url.
# Build: docker build -t mdr:latest .   Run: see deploy/controller.yaml
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY reconciler ./reconciler
RUN pip install --no-cache-dir --prefix=/install .

FROM python:3.11-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends git ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --create-home --uid 10001 mdr
COPY --from=build /install /usr/local
USER 10001
WORKDIR /home/mdr
ENV MDR_STATE_DIR=/home/mdr/.mdr PYTHONUNBUFFERED=1
EXPOSE 9000
ENTRYPOINT ["mdr"]
CMD ["controller", "--help"]
