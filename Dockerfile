# The trainer image: `python -m trainer.task` on Debian's Python 3.11 with only
# what training and serving need (TensorFlow, Keras, tensorboard, numpy, orjson,
# aiohttp, ai-edge-litert; the drawing, trainer and serving packages): no Beam,
# no tf.Transform. Its exports hold the on-device model too (TensorFlow's own
# converter writes it, the LiteRT interpreter checks it); the page's browser
# runtime (npm) is not in the image, so its page runs the model on the server.
#
#   docker build -t quickdraw-trainer .                         # GPU: CUDA 12 from pip
#   docker build --build-arg VARIANT=cpu -t quickdraw-trainer:cpu .
#   docker run IMAGE --training_data=gs://... --model_dir=...   # trainer.task's flags
#   docker run --entrypoint python IMAGE -m serving.predict --model DIR lines.ndjson
#
# `make image` builds it locally; cloudbuild.yaml builds it and pushes it to
# Artifact Registry, where `python -m trainer.submit` finds it by default.
FROM debian:bookworm-slim

ENV LANG=C.UTF-8 \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      ca-certificates python3 python3-venv \
 && rm -rf /var/lib/apt/lists/*
# Debian marks its Python as externally managed (PEP 668): pip goes in a venv.
RUN python3 -m venv /opt/venv
ENV VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

# gpu: TensorFlow with its CUDA 12 and cuDNN libraries from pip (setup.py's
# [gpu] extra); cpu: the same TensorFlow and no CUDA wheels. Declared here, so
# both variants share the layers above.
ARG VARIANT=gpu
WORKDIR /opt/quickdraw
# The dependencies first, from setup.py alone, so that a code change does not
# reinstall gigabytes of wheels.
COPY setup.py ./
RUN set -eu; \
    case "$VARIANT" in \
      gpu) extra="[gpu]" ;; \
      cpu) extra="" ;; \
      *) echo "VARIANT must be gpu or cpu, not '$VARIANT'" >&2; exit 1 ;; \
    esac; \
    pip install --no-cache-dir ".$extra"; \
    if [ "$VARIANT" = cpu ] && pip list 2>/dev/null | grep -i '^nvidia-'; then \
      echo "the cpu variant must hold no CUDA wheels" >&2; exit 1; \
    fi
COPY drawing/ drawing/
COPY trainer/ trainer/
COPY serving/ serving/
RUN pip install --no-cache-dir --no-deps --force-reinstall . && rm -rf build *.egg-info

WORKDIR /
ENTRYPOINT ["python", "-m", "trainer.task"]
