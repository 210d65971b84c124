"""The container image that trains and serves, and where it is pushed.

`cloudbuild.yaml` builds the Dockerfile and pushes it to Artifact Registry
under these names (its _REPOSITORY, _IMAGE and _TAG substitutions; a test
holds the two to each other). `trainer.submit` runs training in it and
`serving.deploy` serves from it, so both default to the same address.
"""

from __future__ import annotations

REPOSITORY, IMAGE_NAME, IMAGE_TAG = "quickdraw", "trainer", "latest"


def default_image(project: str, region: str) -> str:
    """The Artifact Registry URI that cloudbuild.yaml pushes the image to."""
    return f"{region}-docker.pkg.dev/{project}/{REPOSITORY}/{IMAGE_NAME}:{IMAGE_TAG}"


def describe() -> str:
    """The default image in words, for flags' help."""
    return f"REGION-docker.pkg.dev/PROJECT/{REPOSITORY}/{IMAGE_NAME}:{IMAGE_TAG}"
