# The one-shot database job: scripts/db/init.sh then scripts/db/migrate.sh up.
FROM postgres:15-bookworm
RUN useradd --system --uid 65532 migrate
COPY scripts/db /app/scripts/db
USER migrate
WORKDIR /app
ENTRYPOINT ["/bin/bash", "-c", "scripts/db/init.sh && scripts/db/migrate.sh up"]
