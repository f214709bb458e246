# syntax=docker/dockerfile:1
# The one-shot database job: create the role and database if missing, then apply pending
# migrations (scripts/db/init.sh && scripts/db/migrate.sh up, both reading IHR_DATABASE_URL).
#   docker build -f deployments/migrate.Dockerfile -t ihr/migrate .
# Other scripts run the same way: docker compose run --rm migrate 'scripts/db/migrate.sh status'
# The PostgreSQL 15 image brings bash, psql and coreutils matching the server, and shares its
# layers with the compose postgres service.
FROM postgres:15-bookworm
WORKDIR /app
RUN groupadd --system --gid 65532 migrate \
 && useradd --system --uid 65532 --gid 65532 --home-dir /app --no-create-home migrate
COPY scripts/db scripts/db
# Numeric, so that Kubernetes' runAsNonRoot can verify it.
USER 65532:65532
ENV PGCONNECT_TIMEOUT=10
ENTRYPOINT ["/bin/bash", "-ec"]
CMD ["bash scripts/db/init.sh && bash scripts/db/migrate.sh up"]
