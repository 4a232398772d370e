# Build: the same module download and build command the Makefile runs.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN make build TAGS=nodemo && mkdir -p /out/data

# Run: a static binary on distroless, as a non-root user.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /src/bin/portal /portal
# The SQLite default lives here; mount a volume, or use PostgreSQL.
COPY --from=build --chown=65532:65532 /out/data /data
ENV PORTAL_ADDR=:8080 \
    PORTAL_DATABASE_URL=sqlite:/data/portal.db
EXPOSE 8080
USER 65532:65532
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 CMD ["/portal", "healthcheck"]
ENTRYPOINT ["/portal"]
CMD ["serve"]
