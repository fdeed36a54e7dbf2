"""The two official Helm charts `export helm` targets, pinned, and the names both sides share.

The values written for a chart only mean what they say at the chart version they were checked
against, so each chart is pinned here and the README's install commands use these versions.
Release and object names live here too: the values files refer to the Secrets and the
ConfigMap by these names, and the manifests are written under the same names.
"""

from __future__ import annotations

from dataclasses import dataclass

NAMESPACE = "llmops"


@dataclass(frozen=True)
class Chart:
    """A chart as `helm install` names it, and the release the kit installs it as."""

    release: str
    reference: str
    version: str
    # What the chart itself runs when no image tag is set; the kit always sets the tag.
    app_version: str


# langfuse/langfuse-k8s, charts/langfuse. 2.0.0 is the first (and, when this was written, the
# newest) chart for Langfuse v4; its appVersion is 4.4.0, the values override the tag with the
# image compose pins (4.59.0), as the chart's README allows (`langfuse.image.tag`).
LANGFUSE = Chart(
    release="langfuse",
    reference="oci://ghcr.io/langfuse/langfuse-k8s/charts/langfuse",
    version="2.0.0",
    app_version="4.4.0",
)

# BerriAI/litellm, litellm-helm (deploy/charts/litellm-helm, later helm/litellm-helm). Since
# LiteLLM v1.81 the published chart version equals the LiteLLM release without its "v", so
# 1.106.2 is the chart built for the image compose pins (v1.106.2).
LITELLM = Chart(
    release="litellm",
    reference="oci://ghcr.io/berriai/litellm-helm",
    version="1.106.2",
    app_version="v1.106.2",
)

# The label LiteLLM's chart puts on its pods with the release name (its selector labels).
INSTANCE_LABEL = "app.kubernetes.io/instance"

# Objects the kit writes as manifests (kubectl apply) and the values refer to.
LANGFUSE_SECRET = "llmops-langfuse"
LITELLM_SECRET = "llmops-litellm"
LITELLM_KEYS_SECRET = "llmops-litellm-keys"
LITELLM_CONFIGMAP = "llmops-litellm-config"
LITELLM_SPOOL_CLAIM = "llmops-litellm-spool"

# The service name the Langfuse chart gives the web pods: "<release>-web", port 3000. With
# both releases in one namespace the proxy reaches Langfuse as in compose, http://langfuse-web:3000.
LANGFUSE_WEB_SERVICE = f"{LANGFUSE.release}-web"
