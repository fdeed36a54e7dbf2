"""Settings every test process needs before anything imports LiteLLM."""

import os

# Without it, importing litellm fetches the price map from the internet (and retries for
# seconds when it cannot): tests use the map inside the pinned package, as the proxy does.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
