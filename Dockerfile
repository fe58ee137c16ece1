# Windwatch API image (CPU only). Built and run by docker-compose.yml; see README.
FROM python:3.11-slim

# MALLOC_*: glibc returning large temporaries to the OS after every request roughly halved CNN
# and STFT speed (PERFORMANCE-NOTES, "Traps"); keep them in the heap instead.
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    MALLOC_MMAP_THRESHOLD_=1073741824 \
    MALLOC_TRIM_THRESHOLD_=4294967296

WORKDIR /app

# 1. torch first, from the CPU index: the project's torch range would otherwise pull the
#    multi-GB CUDA build from PyPI. Same pin as the Makefile's TORCH_VERSION.
RUN pip install --index-url https://download.pytorch.org/whl/cpu torch==2.13.0

# 2. The other runtime dependencies, read from pyproject.toml so this layer stays cached
#    while only the source changes.
COPY pyproject.toml README.md ./
RUN python -c "import tomllib; deps = tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']; print('\n'.join(deps))" > /tmp/requirements.txt \
    && pip install -r /tmp/requirements.txt \
    && rm /tmp/requirements.txt

# 3. The project itself. Editable on purpose: migrations/ and alembic.ini are found relative to
#    the source tree (service.settings.REPO_ROOT), which a site-packages install would not have.
COPY alembic.ini ./
COPY migrations ./migrations
COPY models ./models
COPY pipelines ./pipelines
COPY service ./service
RUN pip install --no-deps -e .

RUN useradd --create-home --uid 10001 windwatch \
    && mkdir -p /data \
    && chown windwatch:windwatch /data
USER windwatch

ENV WINDWATCH_HOST=0.0.0.0 \
    WINDWATCH_PORT=8000 \
    WINDWATCH_DATA_ROOT=/data
VOLUME ["/data"]
EXPOSE 8000

CMD ["sh", "-c", "windwatch migrate && windwatch serve --host 0.0.0.0 --port 8000"]
