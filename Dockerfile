# One image for the API and the workers (the command differs). Build: docker build -t slatrack .
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY sla sla
COPY adapters adapters
COPY cli cli
COPY workflows workflows
COPY activities activities
COPY store store
COPY api api
COPY worker worker
COPY runtime runtime
COPY clients clients
COPY readmodel readmodel
COPY web web
COPY simulator simulator
COPY catalog catalog
COPY calendars calendars
# The pages' PDFs (WeasyPrint) need Pango, and Chinese text a CJK font.
RUN apt-get update && apt-get install -y --no-install-recommends libpango-1.0-0 libpangoft2-1.0-0 fonts-noto-cjk \
    && rm -rf /var/lib/apt/lists/*
RUN pip install --no-cache-dir '.[postgres]' && useradd --system --uid 10001 slatrack
USER slatrack
EXPOSE 8000 9464
CMD ["slatrack", "api", "--host", "0.0.0.0", "--port", "8000"]
