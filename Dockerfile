# mdr controller image: small, non-root, with git for --git-url.
# Build: docker build -t mdr:0.1.0 .   Run: see deploy/controller.yaml
#
# Both stages use the Debian release the apt pins below belong to (bookworm). Debian keeps only the newest
# version of a package in each suite, so a pin stops resolving once a security update replaces it: then look
# the new versions up (apt-get update && apt-cache policy git ca-certificates in a bookworm container) and
# bump them here, which also makes the update visible in review.
FROM python:3.11-slim-bookworm AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY reconciler ./reconciler
RUN pip install --no-cache-dir --prefix=/install .

FROM python:3.11-slim-bookworm
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        git=1:2.39.5-0+deb12u3 \
        ca-certificates=20250419~deb12u2 \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --create-home --uid 10001 mdr
COPY --from=build /install /usr/local
USER 10001
WORKDIR /home/mdr
# The journal, audit log and git clone live here: mount a persistent volume at this path (deploy/controller.yaml)
ENV MDR_STATE_DIR=/home/mdr/.mdr PYTHONUNBUFFERED=1
EXPOSE 9000
ENTRYPOINT ["mdr"]
CMD ["controller", "--help"]
